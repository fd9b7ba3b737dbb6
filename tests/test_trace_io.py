"""Trace loaders and writers: real public files, every refusal, exact round trips."""
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from intersim.errors import TraceError
from intersim.energy.trace import Trace
from intersim.energy.trace_io import guess_format, load_trace, load_trace_pieces, save_trace

REPO = Path(__file__).resolve().parent.parent


def pvlib_data(name):
    pvlib = pytest.importorskip("pvlib")
    path = Path(pvlib.__file__).parent / "data" / name
    if not path.is_file():
        pytest.skip(f"pvlib does not ship {name}")
    return path


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def refused(path, *fragments, **kwargs):
    """Load must raise one TraceError line naming the file and each fragment."""
    with pytest.raises(TraceError) as info:
        load_trace(path, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


# --- real measured files ------------------------------------------------------------------------
def test_midc_real_file_clips_night_offsets(shared_traces):
    path = shared_traces / "nrel-midc-bms-golden" / "nrel_bms_ghi_cm3_2023jun_1min.csv"
    with pytest.warns(UserWarning, match=r"clipped 7238 negative irradiance values .* line 14"):
        t = load_trace(path)
    assert guess_format(path) == "midc"
    assert t.time_s.size == 43200 and t.time_s[0] == 0.0 and t.end_s == 30 * 86400.0
    assert t.meta["clipped_negative_rows"] == 7238
    assert t.meta["start_time"].startswith("2023-06-01T00:00:00-07:00")
    assert np.all(t.power_w >= 0)
    # June mean GHI 248.8 W/m^2 (README) + clipping -> mean power ~ area x eff x 248.9
    assert t.mean_power_w() == pytest.approx(248.8 * 1e-4 * 0.044, rel=0.01)


def test_midc_january(shared_traces):
    path = shared_traces / "nrel-midc-bms-golden" / "nrel_bms_ghi_cm3_2023jan_1min.csv"
    with pytest.warns(UserWarning, match="clipped 15375 negative"):
        t = load_trace(path, area_m2=1e-3, efficiency=0.2)
    assert t.time_s.size == 44640
    assert t.max_power_w() == pytest.approx(950.1 * 1e-3 * 0.2, rel=1e-3)


def test_lux_real_file(shared_traces):
    path = shared_traces / "fused-lux-outdoor" / "Lux_14Oct21.csv"
    assert guess_format(path) == "lux"
    t = load_trace(path, period_s=60.0)
    assert t.time_s.size == 239159 and t.end_s == 239159 * 60.0
    # mean 1406.7 lx -> W/m^2 by 110 lm/W -> area x efficiency
    assert t.mean_power_w() == pytest.approx(1406.7 / 110 * 1e-4 * 0.044, rel=1e-3)
    refused(path, "needs period_s")


def test_rf_voltage_real_contiguous(shared_traces):
    path = shared_traces / "mementos-wisp-rf" / "rf_trace_1.txt"
    assert guess_format(path) == "rf-voltage"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = load_trace(path, load_ohm=30e3)
    assert t.time_s.size == 25274 and t.meta["gaps"] == 0
    assert t.time_s[1] == pytest.approx(1e-3) and t.end_s == pytest.approx(25.274)
    assert t.max_power_w() == pytest.approx(5.28258 ** 2 / 30e3)
    refused(path, "needs load_ohm")


def test_rf_voltage_real_out_of_order_and_gaps(shared_traces):
    path = shared_traces / "mementos-wisp-rf" / "rf_trace_2.txt"
    # one mis-stamped sample (+1001 ms then -999 ms) costs that sample only
    with pytest.warns(UserWarning, match=r"dropped 1 out-of-order sample\(s\).*line 13735"):
        t = load_trace(path, load_ohm=30e3)
    assert t.meta["dropped_out_of_order"] == 1 and t.meta["gaps"] == 1
    # zero policy: the 40 s gap holds 0 W after one 1-ms step; one extra zero sample
    assert t.time_s.size == 39232 - 1 + 1
    gap_at = np.flatnonzero(np.diff(t.time_s) > 1)[0]
    assert t.power_w[gap_at] == 0.0 and t.time_s[gap_at + 1] - t.time_s[gap_at] == pytest.approx(40.0)
    with pytest.warns(UserWarning):
        pieces = load_trace_pieces(path, load_ohm=30e3, gap_policy="split")
    assert [p.meta["piece"] for p in pieces] == [0, 1]
    assert sum(p.time_s.size for p in pieces) == 39231
    assert pieces[1].meta["first_line"] > pieces[0].meta["first_line"]
    with pytest.warns(UserWarning):
        longest = load_trace(path, load_ohm=30e3, gap_policy="split")
    assert longest.duration_s == max(p.duration_s for p in pieces) and longest.time_s[0] == 0.0


@pytest.mark.parametrize("name,fmt", [("723170TYA.CSV", "tmy3"), ("703165TY.csv", "tmy3"), ("12839.tm2", "tmy2")])
def test_tmy_sample_files_from_pvlib(name, fmt):
    path = pvlib_data(name)
    assert guess_format(path) == "tmy"
    t = load_trace(path)
    assert t.time_s.size == 8760 and t.duration_s == 365 * 86400.0
    assert t.meta["format"] == fmt and t.meta["latitude"] is not None
    assert 0 < t.mean_power_w() < 1e-3


def test_tmy_hour_ending_shift():
    t = load_trace(pvlib_data("723170TYA.CSV"))
    # first TMY3 row is stamped 01:00 and covers 00:00-01:00
    assert t.meta["start_time"].startswith("1990-01-01T00:00:00")


def test_malformed_tmy_is_refused(tmp_path):
    pytest.importorskip("pvlib")
    p = write(tmp_path, "bad.csv", "723170,\"X\",NC,-5.0,36.1,-79.95,273\nDate (MM/DD/YYYY),nonsense\n1,2\n")
    refused(p, "TMY3", format="tmy")


# --- project formats: exact round trips -----------------------------------------------------------
AWKWARD = np.array([0.1, 1 / 3, 5e-324, 2.2250738585072014e-308, 1e-17, 0.0, 9.999999999999999e-4,
                    1.2345678901234567, 1e-3 + 1e-19])


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npz"])
def test_round_trip_bit_for_bit(tmp_path, suffix):
    rng = np.random.default_rng(7)
    t_s = np.cumsum(rng.random(500) + 1e-3) + 0.1
    p_w = np.concatenate([AWKWARD, rng.random(491) * 10.0 ** rng.integers(-12, 0, 491)])
    meta = {"seed": 7, "note": "x,y=z", "nested": {"a": [1, 2.5]}}
    tr = Trace(t_s, p_w, float(t_s[-1]) + 1 / 7, loop=True, name="awk", meta=meta)
    path = save_trace(tr, tmp_path / f"awk{suffix}")
    back = load_trace(path)
    assert back.time_s.tobytes() == tr.time_s.tobytes()
    assert back.power_w.tobytes() == tr.power_w.tobytes()
    assert back.end_s == tr.end_s and back.loop is True and back.name == "awk"
    assert back.meta["nested"] == {"a": [1, 2.5]} and back.meta["note"] == "x,y=z"
    assert guess_format(path) == suffix[1:]
    # a second save of the reloaded trace writes the same bytes (CSV) / arrays
    again = save_trace(back, tmp_path / f"again{suffix}")
    if suffix == ".csv":
        assert again.read_text().splitlines()[5:] == path.read_text().splitlines()[5:]


def test_shipped_traces_load():
    expected = {"solar_cloudy_1h.csv": 3600, "solar_day_24h.parquet": 86400,
                "indoor_office_8h.csv": 28800, "rf_reader_10min.csv": 60000}
    for name, rows in expected.items():
        path = REPO / "traces" / name
        t = load_trace(path)
        assert t.time_s.size == rows, name
        assert path.stat().st_size < 3e6, name
    solar = load_trace(REPO / "traces" / "solar_cloudy_1h.csv")
    assert solar.end_s == 3600.0 and 1e-3 <= solar.mean_power_w() <= 3e-3
    assert solar.fraction_above(5.7e-3) < 0.01  # an MSP430 at ~5.7 mW cannot run continuously


def test_csv_end_s_inferred_and_overridden(tmp_path):
    p = write(tmp_path, "a.csv", "time_s,power_w\n0,1e-3\n2,2e-3\n4,0\n")
    assert load_trace(p).end_s == 6.0
    assert load_trace(p, end_s=4.5).end_s == 4.5
    assert load_trace(p, loop=True).loop
    one = write(tmp_path, "one.csv", "# end_s=10\ntime_s,power_w\n0,1e-3\n")
    assert load_trace(one).energy_j() == pytest.approx(1e-2)


def test_save_refuses_unknown_suffix(tmp_path):
    with pytest.raises(TraceError, match=r"\.txt"):
        save_trace(Trace([0.0], [1.0], 1.0), tmp_path / "x.txt")


# --- refusals, one per error class ------------------------------------------------------------
@pytest.mark.parametrize("body,fragments", [
    ("time_s,power_w\n0,1e-3\n1,nan\n", ["line 3", "nan", "not a finite number"]),
    ("time_s,power_w\n0,1e-3\ninf,1e-3\n", ["line 3", "inf"]),
    ("time_s,power_w\n0,1e-3\n1,-2e-3\n", ["line 3", "-0.002", ">= 0"]),
    ("time_s,power_w\n0,1e-3\n1,abc\n", ["line 3", "'abc'", "not a number"]),
    ("time_s,power_w\n0,1e-3\n1,1e-3,5\n", ["line 3", "expected 2", "got 3"]),
    ("time,power\n0,1e-3\n", ["line 1", "'time,power'", "time_s,power_w"]),
    ("0,1e-3\n1,2e-3\n", ["line 1", "time_s,power_w"]),
    ("", ["empty"]),
    ("# end_s=3\n\n", ["empty"]),
    ("time_s,power_w\n", ["no data rows", "line 1"]),
    ("time_s,power_w\n0,1e-3\n", ["one-row", "end_s"]),
    ("time_s,power_w\n0,1e-3\n1,25\n", ["line 3", "25.0 W", "10.0 W", "wrong units"]),
    ("time_s,power_w\n0,1e-3\n2,1e-3\n2,1e-3\n", ["line 4", "strictly increasing"]),
    ("# end_s=1\ntime_s,power_w\n0,1e-3\n2,1e-3\n", ["end_s 1.0", "after the last sample time 2.0"]),
    ("# end_s=soon\ntime_s,power_w\n0,1e-3\n", ["line 1", "'soon'"]),
    ("# loop=yes\ntime_s,power_w\n0,1e-3\n1,0\n", ["line 1", "'yes'", "'true' or 'false'"]),
    ("# meta=[1\ntime_s,power_w\n0,1e-3\n1,0\n", ["line 1", "JSON"]),
])
def test_csv_refusals(tmp_path, body, fragments):
    p = write(tmp_path, "bad.csv", body)
    refused(p, *fragments, format="csv")


def test_blank_lines_keep_file_line_numbers(tmp_path):
    p = write(tmp_path, "gap.csv", "# x\n\ntime_s,power_w\n0,1e-3\n\n1,1e-3\n2,-1\n")
    refused(p, "line 7", "negative power")


def test_max_power_bound_is_adjustable(tmp_path):
    p = write(tmp_path, "big.csv", "time_s,power_w\n0,12\n1,0\n")
    refused(p, "line 2", "wrong units")
    assert load_trace(p, max_power_w=20.0).max_power_w() == 12.0


def test_parquet_refusals(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    p = tmp_path / "cols.parquet"
    pq.write_table(pa.table({"t": [0.0, 1.0], "power_w": [1e-3, 1e-3]}), p)
    refused(p, "lack ['time_s']")
    p = tmp_path / "null.parquet"
    pq.write_table(pa.table({"time_s": [0.0, 1.0, 2.0], "power_w": [1e-3, None, 1e-3]}), p)
    refused(p, "row 2", "nan")
    p = tmp_path / "str.parquet"
    pq.write_table(pa.table({"time_s": [0.0, 1.0], "power_w": ["a", "b"]}), p)
    refused(p, "power_w", "string")
    p = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"time_s": pa.array([], pa.float64()), "power_w": pa.array([], pa.float64())}), p)
    refused(p, "empty")
    p = write(tmp_path, "junk.parquet", "not parquet")
    refused(p, "Parquet")


def test_npz_refusals(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, time=np.arange(3.0), power_w=np.ones(3) * 1e-3)
    refused(p, "lack ['time_s']")
    np.savez(p, time_s=np.array([0.0, 1.0, 3.0]), power_w=np.array([1e-3, 1e-3, -1e-3]))
    refused(p, "row 3", "negative")
    np.savez(p, time_s=np.array([0.0]), power_w=np.array([1e-3]))
    refused(p, "one-row")
    np.savez(p, time_s=np.array([0.0, 1.0]), power_w=np.array([1e-3, 1e-3]), end_s=np.array([1.0, 2.0]))
    refused(p, "scalar")


def test_lux_refusals(tmp_path):
    refused(write(tmp_path, "l.txt", "10\n20\n-3\n"), "line 3", "negative illuminance -3.0 lx", period_s=1.0, format="lux")
    refused(write(tmp_path, "l2.txt", "10\nbright\n"), "line 2", "'bright'", period_s=1.0, format="lux")
    refused(write(tmp_path, "l3.txt", "10\n1 2\n"), "line 2", "expected 1", period_s=1.0, format="lux")
    refused(write(tmp_path, "l4.txt", "\n\n"), "empty", period_s=1.0, format="lux")
    refused(write(tmp_path, "l5.txt", "10\n"), "period_s", period_s=-1.0, format="lux")
    ok = load_trace(write(tmp_path, "l6.txt", "0\n1100\n"), period_s=2.0, format="lux")
    assert ok.end_s == 4.0 and ok.power_w[1] == pytest.approx(10.0 * 1e-4 * 0.044)


def test_rf_voltage_refusals_and_policies(tmp_path):
    refused(write(tmp_path, "r.txt", "0 1.0\n1 -0.5\n"), "line 2", "negative voltage -0.5 V", load_ohm=1e3)
    refused(write(tmp_path, "r2.txt", "0 1.0\n1 x\n"), "line 2", "'x'", load_ohm=1e3)
    refused(write(tmp_path, "r3.txt", "0 1.0\n1 1.0\n"), "load_ohm", load_ohm=0.0)
    body = "".join(f"{t} 1.0\n" for t in (100, 101, 102, 103, 500, 501, 502, 503, 504))
    p = write(tmp_path, "gappy.txt", body)
    z = load_trace(p, load_ohm=1e3)
    assert z.time_s.tolist() == pytest.approx([0, .001, .002, .003, .004, .4, .401, .402, .403, .404])
    assert z.power_w[4] == 0.0 and z.end_s == pytest.approx(0.405)
    assert z.energy_j() == pytest.approx(9 * 1e-3 * 1e-3)
    longest = load_trace(p, load_ohm=1e3, gap_policy="split")
    assert longest.time_s.size == 5 and longest.meta["first_line"] == 5
    assert load_trace(p, load_ohm=1e3, gap_factor=1000).meta["gaps"] == 0
    swapped = write(tmp_path, "swap.txt", "0 1\n1 1\n3 1\n2 1\n4 1\n")
    with pytest.warns(UserWarning, match=r"dropped 1 .* line [34]"):
        assert load_trace(swapped, load_ohm=1e3).time_s.size == 4


MIDC_HEAD = "DATE (MM/DD/YYYY),MST,Global CM3 (cor) [W/m^2]\n"


def test_midc_refusals(tmp_path):
    pytest.importorskip("pvlib")
    refused(write(tmp_path, "m1.csv", MIDC_HEAD + "6/1/2023,00:00,1\n6/1/2023,00:01,-50\n"),
            "line 3", "-50.0 W/m^2", "below -20.0", format="midc")
    refused(write(tmp_path, "m2.csv", MIDC_HEAD + "6/1/2023,00:00,1\n6/1/2023,00:01,sunny\n"),
            "line 3", "'sunny'", format="midc")
    refused(write(tmp_path, "m3.csv", MIDC_HEAD + "6/1/2023,00:00,1\n6/31/2023,00:01,2\n"),
            "line 3", "6/31/2023", format="midc")
    refused(write(tmp_path, "m4.csv", MIDC_HEAD), "header only", format="midc")
    refused(write(tmp_path, "m5.csv", MIDC_HEAD + "6/1/2023,00:01,1\n6/1/2023,00:00,2\n"),
            "line 3", "strictly increasing", format="midc")
    refused(write(tmp_path, "m6.csv", "DATE (MM/DD/YYYY),MST,Temp [C]\n6/1/2023,00:00,1\n6/1/2023,00:01,2\n"),
            "Global", format="midc")
    rows = ["6/1/2023,00:00,-1.5", "6/1/2023,00:01,100", "6/1/2023,00:02,100", "6/1/2023,00:03,100",
            "6/1/2023,00:06,100"]
    p = write(tmp_path, "m7.csv", MIDC_HEAD + "\n".join(rows) + "\n")
    with pytest.warns(UserWarning, match=r"clipped 1 negative .*line 2"):
        t = load_trace(p, gap_factor=2.0)
    assert t.meta["clipped_negative_rows"] == 1 and t.power_w[0] == 0.0
    assert t.meta["gaps"] == 1 and t.time_s.tolist() == [0.0, 60.0, 120.0, 180.0, 240.0, 360.0]
    assert t.power_w[4] == 0.0 and t.end_s == 420.0


def test_format_guessing_and_unknown(tmp_path):
    refused(write(tmp_path, "what.dat", "hello world foo\n"), "cannot tell the trace format")
    refused(write(tmp_path, "x.csv", "time_s,power_w\n0,1\n"), "unknown trace format 'xls'", format="xls")
    refused(tmp_path / "missing.csv", "no such file")
    assert guess_format(write(tmp_path, "r.log", "12 0.5\n13 0.6\n")) == "rf-voltage"
    assert guess_format(write(tmp_path, "c.csv", "# end_s=1\ntime_s,power_w\n")) == "csv"


def test_bad_options(tmp_path):
    p = write(tmp_path, "a.csv", "time_s,power_w\n0,1e-3\n1,0\n")
    refused(p, "gap_policy 'drop'", gap_policy="drop")
    refused(p, "efficiency 2", efficiency=2)
    refused(p, "max_power_w", max_power_w=-1)


def test_save_leaves_no_temporary_file(tmp_path):
    # writes go to a temporary name and are renamed: no half-written trace under the real name
    tr = Trace([0.0, 1.0], [1e-3, 0.0], 2.0)
    target = tmp_path / "t.csv"
    save_trace(tr, target)
    assert sorted(os.listdir(tmp_path)) == ["t.csv"]
