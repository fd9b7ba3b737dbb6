"""The corpus of bad inputs, by kind: each gets ONE clear line naming the file/key/value and what is
allowed, exit code 2, nothing written, never a traceback (issue 12, item 8). A user scheduler that
raises is the exception: its own traceback, then one line; the other schedulers' results survive."""
import json
import os
import stat
import textwrap

import numpy as np
import pandas as pd
import pytest

from intersim.cli import main
from intersim.errors import OutputError, ScenarioError, TraceError
from intersim.scenario import load_scenario
from intersim.simulate import simulate

TINY = """\
name = "tiny"
[trace]
generator = "constant"
power_w = 0.02
duration_s = 60.0
loop = true
[storage]
capacitance_f = 22e-6
v_on_v = 3.0
v_off_v = 2.2
v_max_v = 3.6
[platform]
preset = "msp430fr5994"
[model]
name = "digits_cnn"
granularity = "layer"
[workload]
period_s = 10.0
duration_s = 30.0
drain_s = 10.0
[schedulers]
names = ["continuous", "static"]
"""

MIDC = "DATE (MM/DD/YYYY),MST,Global CM3 (cor) [W/m^2]\n" + "".join(
    f"6/1/2023,{h:02d}:{m:02d},{g}\n" for (h, m), g in zip(
        [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 5)], [0.8, 0.7, -0.3, 900.0, 950.0, 3.0]))


def scenario(tmp_path, text=TINY, name="s.toml", **replace):
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def one_line_exit_2(capsys, argv, *fragments, nothing=None):
    """``main(argv)`` refuses with one ``error:`` line holding every fragment; ``nothing`` not created."""
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for f in fragments:
        assert str(f) in err, f"{f!r} not in {err!r}"
    if nothing is not None:
        assert not nothing.exists(), f"{nothing} was created"
    return err


# --- absurd sizes: refused up front with the estimate and the limit ----------------------------
def test_absurd_duration_is_refused_before_any_allocation(tmp_path, capsys):
    sc = scenario(tmp_path, **{"duration_s = 30.0": "duration_s = 1e12"})
    out = tmp_path / "out"
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(out)], str(sc), "1e+11 requests",
                    "at most 10,000,000", nothing=out)


def test_absurd_square_wave_is_refused_before_generation(tmp_path, capsys):
    sc = scenario(tmp_path, **{'generator = "constant"': 'generator = "square"\nsquare_period_s = 1.0',
                               "duration_s = 60.0": "duration_s = 1e12"})
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "o")], str(sc),
                    "trace.duration_s / trace.square_period_s", "2e+12 samples", "at most 50,000,000",
                    nothing=tmp_path / "o")


def test_huge_sweep_axis_is_refused_not_hung(tmp_path, capsys):
    scenario(tmp_path)
    sw = tmp_path / "sw.toml"
    sw.write_text('scenario = "s.toml"\n[vary]\n"storage.capacitance_f" = { logspace = [1e-6, 1e-3, 1000000000] }\n')
    out = tmp_path / "out"
    one_line_exit_2(capsys, ["sweep", str(sw), "--out", str(out), "--workers", "0"],
                    "vary.storage.capacitance_f", "1,000,000,000 values", "at most 100,000", nothing=out)
    sw.write_text('scenario = "s.toml"\n[vary]\n"storage.capacitance_f" = { logspace = [1e-6, 1e-3, 1000] }\n'
                  '"storage.v_on_v" = { linspace = [2.5, 3.5, 1000] }\n')
    one_line_exit_2(capsys, ["sweep", str(sw), "--out", str(out), "--workers", "0"],
                    "1,000,000 points", "at most 100,000 points", nothing=out)


def test_memory_estimate_refuses_with_numbers_and_no_timeline_fits(tmp_path):
    # a 1-s zero trace looping for 10 days: a starved node crosses every sample
    trace = tmp_path / "zero.csv"
    trace.write_text("# end_s=86400.0\n# loop=true\ntime_s,power_w\n"
                     + "".join(f"{t}.0,0.0\n" for t in range(86400)))
    sc = scenario(tmp_path, **{'generator = "constant"\npower_w = 0.02\nduration_s = 60.0\n': 'file = "zero.csv"\n',
                               "period_s = 10.0\nduration_s = 30.0": "period_s = 3600.0\nduration_s = 864000.0",
                               'names = ["continuous", "static"]': 'names = ["jit"]'})
    with pytest.raises(ScenarioError) as info:
        simulate(sc, memory_limit_bytes=100 * 2**20)
    msg = str(info.value)
    assert str(sc) in msg and "more than the 100 MiB of memory available" in msg and "--no-timeline" in msg
    assert "\n" not in msg
    res = simulate(sc, record_timeline=False, memory_limit_bytes=100 * 2**20)  # no timeline: fits
    assert len(res.timeline) == 0 and res.summary["verdict"].iloc[0] == "starved"
    # the estimate is honest: within 5 % of the rows a real run records
    from intersim.sim import budget
    full = simulate(sc)
    s = load_scenario(sc)
    est = budget.estimate_run(s.trace(), s.workload(), full.provenance["tasks"], 1, True)
    assert 0.95 * len(full.timeline) <= est.timeline_rows <= 1.05 * len(full.timeline)


# --- output folders: checked before any work, written all or nothing ----------------------------
def test_out_under_a_regular_file(tmp_path, capsys):
    sc = scenario(tmp_path)
    (tmp_path / "afile").write_text("x")
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "afile" / "sub")],
                    "afile is a regular file, not a directory")
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "afile")], "exists and is not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: no unwritable directory to try")
def test_out_in_an_unwritable_place(tmp_path, capsys):
    sc = scenario(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(ro / "o")], "no permission to write in", nothing=ro / "o")


@pytest.mark.parametrize("text, fragment", [
    ("", "missing key storage.v_on_v"),
    ("storage = 5\n" + TINY.split("[storage]")[0], "[storage] must be a table, got 5"),
])
def test_refused_scenario_writes_nothing(tmp_path, capsys, text, fragment):
    sc = scenario(tmp_path, text=text)
    out = tmp_path / "out"
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(out)], str(sc), fragment, nothing=out)


def test_failed_write_is_all_or_nothing_and_names_the_file(tmp_path, monkeypatch):
    res = simulate(scenario(tmp_path))
    out = tmp_path / "new" / "out"
    import intersim.report.results as results

    def disk_full(df, path, provenance):
        with open(path, "wb") as fh:
            fh.write(b"PAR1")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(results, "_write_parquet", disk_full)
    with pytest.raises(OutputError) as info:
        res.write(out, plot=False)
    assert str(out / "timeline.parquet") in str(info.value) and "No space left" in str(info.value)
    assert not (tmp_path / "new").exists()  # the folders this call made are gone again
    # an existing folder keeps what it had, and gets nothing half
    out.mkdir(parents=True)
    (out / "summary.csv").write_text("old")
    with pytest.raises(OutputError):
        res.write(out, plot=False)
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]
    assert (out / "summary.csv").read_text() == "old"


def test_files_follow_the_umask(tmp_path):
    res = simulate(scenario(tmp_path))
    old = os.umask(0o022)
    try:
        written = res.write(tmp_path / "o", plot=False)
    finally:
        os.umask(old)
    assert {stat.S_IMODE(p.stat().st_mode) for p in written} == {0o644}


# --- errors name the scenario file and key -----------------------------------------------------
def test_trace_errors_name_scenario_file_and_key(tmp_path, capsys):
    bad = tmp_path / "t.csv"
    bad.write_text("time_s,power_w\n0,0.001\n1,nan\n2,0.001\n")
    sc = scenario(tmp_path, **{'generator = "constant"\npower_w = 0.02\nduration_s = 60.0\n': 'file = "t.csv"\n'})
    out = tmp_path / "out"
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(out)], f"{sc}: trace.file = 't.csv': {bad}: line 3",
                    nothing=out)


@pytest.mark.parametrize("file_value, fragment", [
    ('""', "trace.file = '' is empty; allowed: a trace file path"),
    ('"."', "is a directory, not a trace file"),
    ('"sub"', "is a directory, not a trace file"),
    ('"nope.csv"', "nope.csv: no such file"),
])
def test_trace_file_messages_name_the_right_thing(tmp_path, capsys, file_value, fragment):
    (tmp_path / "sub").mkdir()
    sc = scenario(tmp_path, **{'generator = "constant"\npower_w = 0.02\nduration_s = 60.0\n':
                               f"file = {file_value}\n"})
    err = one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "o")], str(sc), fragment)
    assert "scenarios: no such file" not in err


def test_unknown_model_and_unimportable_scheduler_name_file_and_key(tmp_path, capsys):
    sc = scenario(tmp_path, **{'name = "digits_cnn"': 'name = "digits_cnm"'})
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "o")], f"{sc}: model.name = 'digits_cnm'",
                    "unknown zoo model")
    sc = scenario(tmp_path, **{'names = ["continuous", "static"]': 'names = ["continuous", "nosuchmod:Cls"]'})
    one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "o")], f"{sc}: schedulers.names",
                    "'nosuchmod:Cls' cannot be imported")


def test_one_row_npz_without_end_s_is_refused_like_csv(tmp_path):
    p = tmp_path / "one.npz"
    np.savez(p, time_s=np.array([0.0]), power_w=np.array([1e-3]))
    with pytest.raises(TraceError, match=r"one\.npz: a one-row trace needs end_s \(store a scalar array 'end_s'"):
        from intersim.energy.trace_io import load_trace
        load_trace(p)
    np.savez(p, time_s=np.array([0.0]), power_w=np.array([1e-3]), end_s=np.float64(5.0))
    assert load_trace(p).end_s == 5.0


# --- the command line itself --------------------------------------------------------------------
def test_scheduler_option_takes_several_names_and_refuses_typos_as_its_own(tmp_path, capsys):
    sc = scenario(tmp_path)
    out = tmp_path / "o"
    assert main(["run", str(sc), "--out", str(out), "--scheduler", "static", "jit", "--no-plot"]) == 0
    assert list(pd.read_csv(out / "summary.csv")["scheduler"]) == ["static", "jit"]
    capsys.readouterr()
    err = one_line_exit_2(capsys, ["run", str(sc), "--out", str(tmp_path / "o2"), "--scheduler", "jitt"],
                          "--scheduler 'jitt' is not a scheduler; did you mean 'jit'?", nothing=tmp_path / "o2")
    assert "schedulers.names" not in err


def test_no_timeline_and_run_json(tmp_path, capsys):
    sc = scenario(tmp_path)
    out = tmp_path / "o"
    assert main(["run", str(sc), "--out", str(out), "--no-plot", "--no-timeline"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["requests.csv", "run.json", "summary.csv"]
    prov = json.loads((out / "run.json").read_text())
    assert prov["resolved_scenario"] == load_scenario(sc).data
    assert prov["wall_time_s"] > 0 and prov["timeline"] is False
    assert prov["trace_conversion"].startswith("generated")


def test_check_scheduler_misuse(tmp_path, capsys, monkeypatch):
    (tmp_path / "synt_mod.py").write_text("def broken(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    one_line_exit_2(capsys, ["check-scheduler", "synt_mod:X"], "'synt_mod:X' cannot be imported", "SyntaxError")
    for n in ("0", "-3"):
        one_line_exit_2(capsys, ["check-scheduler", "intersim.testing:InPlaceStatic", "--examples", n,
                                 "--out", str(tmp_path / "cx")], f"--examples {n} is invalid; allowed: an integer >= 1",
                        nothing=tmp_path / "cx")


# --- a user scheduler that raises: its traceback, then one line; the rest survives ---------------
BOOM = textwrap.dedent("""\
    from intersim.sched.registry import Static


    class Boom(Static):
        name = "boom"

        def next_action(self, dev):
            raise RuntimeError("my bug")
    """)


def test_user_scheduler_that_raises_under_run(tmp_path, capsys, monkeypatch):
    (tmp_path / "boom_run.py").write_text(BOOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    sc = scenario(tmp_path, **{'names = ["continuous", "static"]': 'names = ["continuous", "boom_run:Boom", "static"]'})
    out = tmp_path / "o"
    rc = main(["run", str(sc), "--out", str(out), "--no-plot"])
    err = capsys.readouterr().err
    assert rc == 1
    assert 'boom_run.py", line 8, in next_action' in err and "RuntimeError: my bug" in err
    assert "engine.py" not in err  # their traceback, not ours
    assert err.strip().splitlines()[-1].startswith(
        "error: scheduler 'boom_run:Boom' raised RuntimeError in its hook next_action: my bug")
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["scheduler"]) == ["continuous", "boom", "static"]
    assert list(summary["verdict"]) == ["ok", "error", "ok"]
    assert summary["completed"].iloc[2] == 3 and pd.isna(summary["completed"].iloc[1])
    assert set(pd.read_parquet(out / "timeline.parquet")["scheduler"]) == {"continuous", "static"}


def test_user_scheduler_that_raises_under_check_scheduler(tmp_path, capsys, monkeypatch):
    (tmp_path / "boom_check.py").write_text(BOOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    rc = main(["check-scheduler", "boom_check:Boom", "--examples", "3", "--out", str(tmp_path / "cx")])
    cap = capsys.readouterr()
    assert rc == 1 and "FAILED: boom_check:Boom: scheduler 'boom_check:Boom' raised RuntimeError in its hook " \
                       "next_action: my bug" in cap.out
    assert 'boom_check.py", line 8, in next_action' in cap.err
    assert load_scenario(tmp_path / "cx" / "counterexample.toml").scheduler_names()[0] == "boom_check:Boom"
