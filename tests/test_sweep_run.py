"""Running sweeps: every engine gives the same table, a point equals ``simulate`` of its
scenario, a failing point is recorded, a changed sweep is refused, and a sweep killed with
SIGKILL several times and resumed gives the table of an uninterrupted one."""
import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from intersim.report.results import SUMMARY_COLUMNS
from intersim.scenario import Scenario
from intersim.simulate import simulate
from intersim.study.sweep import (PARTS_DIR, add_plot_arguments, add_sweep_arguments, load_results,
                            load_sweep, run_plot_command, run_sweep, run_sweep_command)

REPO = Path(__file__).resolve().parent.parent
DEFAULT = str(REPO / "scenarios" / "rf_reader.toml")  # a scenario with a trace file: sweeps vary trace.file
SHORT = {"workload.duration_s": 30.0, "workload.drain_s": 20.0}

# 3 capacitances x 3 schedulers: 9 runs of ~0.2 s each
SMALL = {"scenario": DEFAULT, "name": "small",
         "set": {**SHORT, "schedulers.names": ["restart", "static", "jit"]},
         "vary": {"storage.capacitance_f": {"logspace": [4.7e-6, 1e-3, 3]}}}


def comparable(df):
    """Rows in a canonical order without the wall_* columns (the only non-deterministic ones)."""
    keep = [c for c in df.columns if not c.startswith("wall_")]
    return df[keep].sort_values(["point", "scheduler"]).reset_index(drop=True)


def assert_same(a, b):
    pd.testing.assert_frame_equal(comparable(a), comparable(b), check_exact=True)


@pytest.fixture(scope="module")
def reference():
    """The SMALL sweep on one worker process, kept in memory."""
    return run_sweep(SMALL, workers=1)


def test_table_shape_and_dtypes(reference):
    df = reference
    assert len(df) == 9 and not df.duplicated(["point_id", "scheduler"]).any()
    assert list(df.columns[:4]) == ["point", "point_id", "scenario_sha256", "storage.capacitance_f"]
    assert all(c in df.columns for c in SUMMARY_COLUMNS)
    assert df["completed"].dtype == "Int64" and df["latency_p95_s"].dtype == "float64"
    assert df["error"].isna().all()
    assert set(df["verdict"]) <= {"ok", "infeasible", "starved", "boot_loop", "livelock", "does_not_fit"}
    assert [c for c in df.columns if c.startswith("wall_")] == ["wall_s", "wall_host", "wall_pid", "wall_traceback"]


def test_point_equals_simulate_of_its_scenario(reference):
    """A point's rows are the summary of ``simulate`` (= ``intersim run``) on its scenario."""
    sw = load_sweep(SMALL)
    for point in sw.points[:2]:
        res = simulate(Scenario(point.scenario, "x", sw.scenario_dir), record_timeline=False)
        assert res.provenance["scenario_sha256"] == point.scenario_sha256
        rows = reference[reference["point"] == point.index].set_index("scheduler")
        for _, expected in res.summary.iterrows():
            got = rows.loc[expected["scheduler"]]
            for c in SUMMARY_COLUMNS[1:]:  # [0] is the scheduler, the index here
                e, g = expected[c], got[c]
                if isinstance(e, float) and np.isnan(e):
                    assert pd.isna(g), c
                else:
                    assert e == g, (c, e, g)


def test_engines_and_directories_give_identical_tables(reference, tmp_path):
    from distributed import LocalCluster
    one = run_sweep(SMALL, out=tmp_path / "a", workers=0)  # in this process
    two = run_sweep(SMALL, out=tmp_path / "b" / "deeper", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask = run_sweep(SMALL, dask_address=cluster.scheduler_address)
    for df in (one, two, dask):
        assert_same(reference, df)
    assert len({*two["wall_pid"]}) >= 1
    # what is on disk is what was returned
    assert_same(load_results(tmp_path / "a"), one)
    # a second run on the same directory has nothing left to do
    again = run_sweep(SMALL, out=tmp_path / "a", workers=0)
    assert again.attrs["sweep"]["units_run"] == 0
    assert_same(again, one)
    pd.testing.assert_frame_equal(again, load_results(tmp_path / "a"))


def test_local_workers_are_kept_warm_between_sweeps(reference):
    """A second sweep of this process with as many workers runs on the processes the first one
    left running (the same pids), with the same table; ``keep_workers=False`` ends them, and the
    sweep after that starts new ones."""
    from intersim.study.sweep import live_workers
    first = run_sweep(SMALL, workers=1)
    second = run_sweep(SMALL, workers=1, keep_workers=False)
    assert second.attrs["sweep"]["workers_reused"]
    assert set(second["wall_pid"]) == set(first["wall_pid"]) and len(set(first["wall_pid"])) == 1
    assert not any(k[0] == 1 for k in live_workers())  # keep_workers=False ended the pool
    third = run_sweep(SMALL, workers=1)
    assert not third.attrs["sweep"]["workers_reused"] and set(third["wall_pid"]) != set(first["wall_pid"])
    for df in (first, second, third):
        assert_same(reference, df)


def test_failing_point_is_recorded(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,power_w\n0.0,0.001\n1.0,oops\n")
    raw = {"scenario": DEFAULT, "set": {**SHORT, "schedulers.names": ["restart", "jit"]},
           "vary": {"trace.file": [str(REPO / "traces" / "rf_reader_duty_10min.csv"), str(bad)]}}
    df = run_sweep(raw, out=tmp_path / "out", workers=0)
    assert len(df) == 4
    failed = df[df["trace.file"] == str(bad)]
    assert list(failed["verdict"]) == ["error", "error"]
    assert failed["error"].str.startswith("TraceError: ").all() and failed["error"].str.contains("oops").all()
    assert failed["completed"].isna().all()
    assert failed["wall_traceback"].str.contains("Traceback").all()
    good = df[df["trace.file"] != str(bad)]
    assert good["error"].isna().all() and (good["verdict"] != "error").all()


def _sweep_file(path: Path, caps: str, duration_s: float = 30.0):
    path.write_text(f'''name = "t"
scenario = "{DEFAULT}"
[set]
"workload.duration_s" = {duration_s}
"workload.drain_s" = 20.0
"schedulers.names" = ["static", "jit"]
[vary]
"storage.capacitance_f" = {caps}
''')


def _cli(argv):
    p = argparse.ArgumentParser()
    add_sweep_arguments(p)
    return run_sweep_command(p.parse_args(argv))


def test_changed_sweep_file_is_refused(tmp_path, capsys):
    f = tmp_path / "s.toml"
    _sweep_file(f, "[1e-4, 1e-3]")
    out = tmp_path / "out"
    assert _cli([str(f), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    assert "lowest p95 latency per scheduler" in capsys.readouterr().out
    _sweep_file(f, "[1e-4, 2.2e-3]")
    assert _cli([str(f), "--out", str(out), "--workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ") and "holds a different sweep" in err[0]
    assert "vary.storage.capacitance_f values changed (value 1: 0.001 -> 0.0022)" in err[0]
    assert len(load_results(out)) == 4  # untouched
    # plots of the finished directory
    p = argparse.ArgumentParser()
    add_plot_arguments(p)
    assert run_plot_command(p.parse_args([str(out)])) == 0
    names = sorted(x.name for x in (out / "plots").glob("*.png"))
    assert names == ["completion_rate.png", "energy_breakdown.png", "latency.png", "power_failures.png"]
    assert len(load_results(out)) == 4  # plots do not disturb the dataset


def _parts(out: Path) -> set:
    d = out / PARTS_DIR
    return set(d.glob("part-*.parquet")) if d.is_dir() else set()


def test_sigkill_and_resume_gives_the_uninterrupted_table(tmp_path):
    f = tmp_path / "kill.toml"
    # 40 runs of a few tens of ms: the sweep is still running when the kill lands
    _sweep_file(f, "{ logspace = [4.7e-6, 4.7e-3, 20] }", duration_s=60.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "intersim.study.sweep", "sweep", str(f), "--out", str(out), "--workers", "2",
           "--no-progress"]
    # Deterministic: no random delay. Each attempt kills the sweep the moment a new part file
    # appears (polled every 5 ms), while most of its 40 runs (hundreds of ms of work on
    # 2 workers) are still to do, so the kill always lands mid-sweep; a slow machine only makes
    # the margin larger. (A random 0-250 ms delay here let a fast machine finish first.)
    kills = 0
    for _ in range(3):
        before = _parts(out)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + 300
            while _parts(out) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)  # the sweep process only: workers must notice
                kills += 1
            proc.wait(30)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of this run
            except ProcessLookupError:
                pass
            proc.wait()
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr.read().decode()[-2000:]
        # parts are never torn: each one on disk reads back
        partial = load_results(out)
        assert not partial.duplicated(["point_id", "scheduler"]).any()
        if proc.returncode == 0:
            break
    assert kills >= 1
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = load_results(out)
    assert len(resumed) == 40 and not resumed.duplicated(["point_id", "scheduler"]).any()
    assert not list(out.glob(".tmp-*"))
    uninterrupted = run_sweep(f, workers=0)
    assert_same(resumed, uninterrupted)
