"""The harvester in the scenario (issue 12, item 3): PV cell, lux efficacy, RF load and a dark
threshold as scenario keys with units, the conversion printed by `trace inspect` and in run.json."""
import json

import numpy as np
import pytest

from intersim.cli import main
from intersim.energy import harvester
from intersim.energy.trace_io import load_trace
from intersim.errors import ScenarioError
from intersim.scenario import load_scenario

from test_bad_inputs import MIDC, scenario

FILE_TRACE = {'generator = "constant"\npower_w = 0.02\nduration_s = 60.0\n': 'file = "golden.csv"\n'}


@pytest.fixture
def midc(tmp_path):
    pytest.importorskip("pvlib")
    p = tmp_path / "golden.csv"
    p.write_text(MIDC)
    return p


def test_dark_threshold_removes_a_positive_night_offset(midc):
    with pytest.warns(UserWarning, match="clipped 1 negative"):
        t = load_trace(midc)  # default for a pyranometer: 5 W/m^2
    area_eff = harvester.SMALL_CELL_AREA_M2 * harvester.SMALL_CELL_EFFICIENCY
    assert list(t.power_w[:3]) == [0.0, 0.0, 0.0]  # 0.8, 0.7 W/m^2 at midnight: offset, not light
    assert t.power_w[3] == pytest.approx(900.0 * area_eff) and t.power_w[-1] == 0.0
    assert t.meta["dark_rows"] == 3 and t.meta["dark_threshold_w_m2"] == 5.0
    with pytest.warns(UserWarning):
        raw = load_trace(midc, dark_threshold_w_m2=0.0)
    assert raw.power_w[0] == pytest.approx(0.8 * area_eff) and raw.meta["dark_rows"] == 0


def test_cell_preset_uses_its_iv_model(midc):
    with pytest.warns(UserWarning):
        t = load_trace(midc, pv_cell="KXOB25-02-X8F", efficacy_lm_per_w=100.0)
    assert t.power_w[3] == pytest.approx(harvester.KXOB25_02_X8F.mpp_power_w(900.0 * 100.0))
    assert "KXOB25-02-X8F I-V model at lux = G x 100 lm/W" in t.meta["conversion"]


def test_scenario_keys_reach_the_loader_and_run_json(tmp_path, midc, capsys):
    sc = scenario(tmp_path, **FILE_TRACE, **{"[storage]": "[harvester]\npv_area_m2 = 2e-4\npv_efficiency = 0.1\n"
                                                          "dark_threshold_w_m2 = 1.0\n\n[storage]",
                                             "period_s = 10.0": "period_s = 60.0",
                                             "duration_s = 30.0": "duration_s = 300.0"})
    with pytest.warns(UserWarning):
        t = load_scenario(sc).trace()
    assert t.power_w[0] == pytest.approx(0.0) and t.power_w[3] == pytest.approx(900.0 * 2e-4 * 0.1)
    out = tmp_path / "o"
    assert main(["run", str(sc), "--out", str(out), "--no-plot", "--no-timeline"]) == 0
    cap = capsys.readouterr()
    line = "P = G x 0.0002 m^2 x 0.1 (area x efficiency); G < 1 W/m^2 is dark (0 W)"
    assert f"trace conversion: {line}" in cap.out
    assert json.loads((out / "run.json").read_text())["trace_conversion"] == line
    # warnings are clean lines, not Python's with a source line
    assert "warning: " in cap.err and "UserWarning" not in cap.err and "warnings.warn" not in cap.err


@pytest.mark.parametrize("edits, fragment", [
    ({"[storage]": "[harvester]\npv_area_m2 = 2e-4\n[storage]"},
     "harvester.pv_area_m2 = 0.0002 applies to trace files (tmy, midc, lux); generator 'constant'"),
    ({"[storage]": "[harvester]\npv_cell = \"AM1417\"\npv_efficiency = 0.2\n[storage]"},
     "harvester.pv_efficiency = 0.2 does not apply with harvester.pv_cell = 'AM1417'"),
    ({"[storage]": "[harvester]\npv_cell = \"bigcell\"\n[storage]"}, "harvester.pv_cell = 'bigcell' is invalid"),
    ({"[storage]": "[harvester]\ndark_threshold_w_m2 = -1\n[storage]"}, "harvester.dark_threshold_w_m2 = -1"),
])
def test_harvester_keys_refused(tmp_path, edits, fragment):
    with pytest.raises(ScenarioError, match=None) as info:
        load_scenario(scenario(tmp_path, **edits))
    assert fragment in str(info.value)


def test_harvester_keys_refused_for_a_power_trace(tmp_path):
    (tmp_path / "golden.csv").write_text("time_s,power_w\n0,0.001\n1,0.002\n")
    sc = load_scenario(scenario(tmp_path, **FILE_TRACE, **{"[storage]": "[harvester]\npv_efficiency = 0.2\n[storage]"}))
    with pytest.raises(ScenarioError, match=r"harvester.pv_efficiency = 0.2 applies to irradiance and lux traces"):
        sc.trace()


def test_trace_inspect_prints_the_conversion_and_a_threshold_from_the_trace(tmp_path, capsys):
    lux = tmp_path / "office.txt"
    lux.write_text("".join(f"{v}\n" for v in [0, 300, 500, 500, 0]))
    assert main(["trace", "inspect", str(lux), "--period-s", "60", "--pv-area-m2", "1e-3",
                 "--lux-efficacy-lm-per-w", "300"]) == 0
    out = capsys.readouterr().out
    assert "conversion:       G = lux / 300 lm/W; P = G x 0.001 m^2 x 0.044 (area x efficiency); " \
           "G < 0 W/m^2 is dark (0 W)" in out
    # the default threshold is 10 % of the max power (500 lx -> 73.3 uW): 3 of 5 minutes above it
    assert "time above 7.33e-06 W: 60 %  (10% of the max power" in out


def test_rf_load_conversion_is_stated():
    t = load_trace(_rf(), load_ohm=30e3)
    assert t.meta["conversion"] == "P = V^2 / 30000 Ohm (DC voltage across the load)"


def _rf():
    import tempfile
    from pathlib import Path
    p = Path(tempfile.mkdtemp()) / "rf.txt"
    p.write_text("0 1.0\n1 1.2\n2 1.1\n")
    return p


def test_solar_start_with_a_utc_offset():
    pytest.importorskip("pvlib")
    from intersim.energy import generators
    a = generators.solar(39.74, -105.18, "2023-06-21T20:00:00+02:00", 3600.0, 60.0, cloud=None)
    b = generators.solar(39.74, -105.18, "2023-06-21 18:00", 3600.0, 60.0, cloud=None)  # the same instant, UTC
    c = generators.solar(39.74, -105.18, "2023-06-21T23:30:00+05:30", 3600.0, 60.0, cloud=None)
    assert a.mean_power_w() > 1e-3
    assert np.array_equal(a.power_w, b.power_w) and np.array_equal(c.power_w, b.power_w)
    assert a.meta["start_time"] == "2023-06-21T20:00:00+02:00"
    # what the generator writes into its metadata reads back
    d = generators.solar(39.74, -105.18, a.meta["start_time"], 3600.0, 60.0, cloud=None)
    assert np.array_equal(d.power_w, a.power_w)
