"""The command line: outputs, names as contracts, refusals with one line and exit code 2."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from intersim.cli import main
from intersim.report.results import BOOK_COLUMNS, REQUEST_COLUMNS, SUMMARY_COLUMNS, TIMELINE_COLUMNS

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "scenarios" / "default.toml"
RF_READER = REPO / "scenarios" / "rf_reader.toml"   # a scenario with a trace file (edited below)
ISSUE_SUMMARY = ("scheduler, requests, completed, dropped, unfinished, completion_rate, correct, "
                 "latency_mean_s, latency_p50_s, latency_p95_s, latency_max_s, throughput_per_h, "
                 "power_failures, verdict, energy_harvested_j, energy_supply_j, energy_input_loss_j, "
                 "energy_clamped_j, energy_stored_delta_j, energy_leakage_j, energy_esr_j, "
                 "energy_output_loss_j, energy_boot_j, energy_restore_j, energy_compute_j, "
                 "energy_checkpoint_j, energy_reexecution_j, energy_sleep_j").split(", ")
ISSUE_REQUESTS = ("scheduler, request, status, arrival_s, done_s, latency_s, correct, power_failures, "
                  "queue_s, off_s, compute_s, preserve_s, restore_s, reexecution_s").split(", ")
ISSUE_TIMELINE = "scheduler, t_start_s, t_end_s, state, harvest_w, load_w, v_start_v, v_end_v".split(", ")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    (out / "keep.txt").write_text("a user's file")
    rc = main(["run", str(DEFAULT), "--out", str(out), "--scheduler", "continuous",
               "--scheduler", "static", "--scheduler", "jit"])
    assert rc == 0
    return out


def test_names_are_contracts():
    for name in ISSUE_SUMMARY:
        assert name in SUMMARY_COLUMNS
    assert set(BOOK_COLUMNS) <= set(SUMMARY_COLUMNS)
    for name in ISSUE_REQUESTS:
        assert name in REQUEST_COLUMNS
    assert list(TIMELINE_COLUMNS) == ISSUE_TIMELINE


def test_run_writes_every_output(run_dir):
    for name in ("summary.csv", "requests.csv", "timeline.parquet", "run.json", "comparison.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert (run_dir / "keep.txt").read_text() == "a user's file"
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    summary = pd.read_csv(run_dir / "summary.csv")
    assert list(summary["scheduler"]) == ["continuous", "static", "jit"]
    for name in ISSUE_SUMMARY:
        assert name in summary.columns
    requests = pd.read_csv(run_dir / "requests.csv")
    assert list(requests.columns[:len(ISSUE_REQUESTS)]) == ISSUE_REQUESTS
    timeline = pd.read_parquet(run_dir / "timeline.parquet")
    assert list(timeline.columns) == ISSUE_TIMELINE
    assert set(timeline["state"]) <= {"off", "boot", "compute", "preserve", "restore", "sleep", "idle"}


def test_csv_floats_round_trip_so_books_re_add(run_dir):
    summary = pd.read_csv(run_dir / "summary.csv")
    from intersim.report.results import books_residual_j
    for _, row in summary.iterrows():
        assert books_residual_j(row) == row["energy_residual_j"]
    requests = pd.read_csv(run_dir / "requests.csv")
    done = requests[requests["status"] == "done"]
    parts = done[["queue_s", "off_s", "compute_s", "preserve_s", "restore_s", "reexecution_s"]].sum(axis=1)
    assert np.allclose(parts, done["latency_s"], rtol=1e-9, atol=1e-9)


def test_provenance_in_run_json_and_parquet(run_dir):
    prov = json.loads((run_dir / "run.json").read_text())
    for key in ("intersim_version", "git_hash", "scenario_sha256"):
        assert key in prov
    assert len(prov["scenario_sha256"]) == 64
    meta = pq.read_schema(run_dir / "timeline.parquet").metadata
    assert json.loads(meta[b"intersim"]) == prov


@pytest.mark.parametrize("edit, needle", [
    (("storage", "capacitance_f", "-1e-6"), "storage.capacitance_f = -1e-06"),
    (("storage", "capacitanse_f", "1e-6"), "did you mean 'capacitance_f'"),
    (("platform", "preset", '"msp431"'), "platform.preset = 'msp431'"),
    (("schedulers", "names", '["jit", "magic"]'), "schedulers.names"),
    (("model", "granularity", '"cols:3"'), "model.granularity = 'cols:3'"),
])
def test_bad_scenario_is_one_line_exit_2_nothing_written(tmp_path, capsys, edit, needle):
    text = RF_READER.read_text()
    section, key, value = edit
    text = text.replace(f"[{section}]\n", f"[{section}]\n{key} = {value}\n", 1)
    if key == "capacitance_f":
        text = text.replace("capacitance_f = 22e-6\n", "", 1)
    if key == "preset":
        text = text.replace('preset = "msp430fr5994"\n', "", 1)
    if key == "names":
        text = "\n".join(line for line in text.splitlines() if not line.startswith("names = [\"continuous\"")) + "\n"
    if key == "granularity":
        text = text.replace('granularity = "channel"', "", 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    (tmp_path / "traces").mkdir()
    out = tmp_path / "out"
    rc = main(["run", str(bad), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert needle in err and str(bad) in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_missing_key_and_bad_trace_file(tmp_path, capsys):
    text = RF_READER.read_text().replace("v_off_v = 2.2\n", "")
    bad = tmp_path / "missing.toml"
    bad.write_text(text)
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "missing key storage.v_off_v" in capsys.readouterr().err
    trace = tmp_path / "t.csv"
    trace.write_text("time_s,power_w\n0,0.001\n1,nan\n2,0.001\n")
    text = RF_READER.read_text().replace("../traces/rf_reader_duty_10min.csv", str(trace))
    sc = tmp_path / "badtrace.toml"
    sc.write_text(text)
    assert main(["run", str(sc), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(trace) in err and "nan" in err.lower()
    assert not (tmp_path / "o").exists()


def test_python_dash_m_and_console_script_agree():
    out = subprocess.run([sys.executable, "-m", "intersim", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "run" in out.stdout and "trace" in out.stdout


def test_plannings_line_says_why_plans_are_not_proven():
    """The run's line on ``optimal``'s plannings names the real reason a plan is not proven minimal:
    the exact search not attempted on a large model, or stopped at its budget."""
    from intersim.cli import _plannings_line
    big = {"plannings": 60, "plan_s": 0.2, "exact": 0, "budget_calls": 200_000, "rollout_calls": 5_000,
           "exact_calls": 0, "tasks": 122}
    line = _plannings_line("optimal", big)
    assert "not attempted on a model of 122 tasks" in line and "5000 kernel calls" in line
    small = dict(big, exact=3, exact_calls=100_000, tasks=6)
    line = _plannings_line("optimal", small)
    assert "3 proven minimal" in line and "budget of 100000 kernel calls" in line
    assert _plannings_line("optimal", dict(small, exact=60)).endswith("every one proven minimal")


def test_simulate_records_optimal_budget_split():
    """``simulate``'s planning record carries the per-planning split ``_plannings_line`` reads, as
    ``Optimal.prepare`` computed it from ``[schedulers] optimal_budget_calls``."""
    import intersim
    from intersim.sched.optimal import Optimal
    sc = intersim.load_scenario(REPO / "scenarios" / "default.toml")
    sc = sc.with_value("workload", "duration_s", 20.0).with_value("schedulers", "optimal_budget_calls", 4_000)
    res = intersim.simulate(sc, schedulers=["optimal"], record_timeline=False)
    p = res.setting["plannings"]["optimal"]
    assert p["budget_calls"] == 4_000 and p["rollout_calls"] == min(Optimal.rollout_budget, 2_000)
    assert p["tasks"] == 122 and p["exact_calls"] == 0 and p["exact"] == 0 and p["plannings"] >= 1
