"""The report: completed-only quantiles, the table's who-wins line, the comparison figure on a run
in which nothing completes, progress bars, and optimal's planning budget."""
import io
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from intersim.cli import main
from intersim.report.compare import LATENCY_PARTS, latency_parts_mean, winner_line
from intersim.report.progress import ProgressBar
from intersim.report.results import BOOK_COLUMNS, request_columns, summary_row

REPO = Path(__file__).resolve().parent.parent


def fake_run(status, done_s, arrival_s):
    """A run as the engine returns it, with the given request outcomes (nothing else matters)."""
    n = len(status)
    nan = np.full(n, math.nan)
    zeros = np.zeros(n)
    requests = {"status": np.array(status), "arrival_s": np.array(arrival_s, float), "done_s": np.array(done_s, float),
                "service_s": np.array(arrival_s, float), "correct": np.array([s == "done" for s in status]),
                "power_failures": np.zeros(n, int), "off_s": zeros, "compute_s": zeros, "preserve_s": zeros,
                "restore_s": zeros, "reexecution_s": zeros, "predicted": np.zeros(n, int)}
    counts = dict.fromkeys(("power_failures", "checkpoints", "restores", "commits", "boots", "wasted_boots",
                            "reexecuted_cycles"), 0)
    return SimpleNamespace(scheduler="s", requests=requests, counts=counts, books=dict.fromkeys(BOOK_COLUMNS, 0.0),
                           horizon_s=100.0, verdict="ok", verdict_detail="", events=0), nan


def test_completed_only_quantiles_next_to_all_arrival_ones():
    # 10 arrivals: 4 done (latencies 1, 2, 3, 10 s), 3 unfinished, 3 dropped
    lat = [1.0, 2.0, 3.0, 10.0]
    status = ["done"] * 4 + ["unfinished"] * 3 + ["dropped"] * 3
    arrival = np.arange(10.0)
    done = [a + x for a, x in zip(arrival, lat)] + [math.nan] * 6
    run, _ = fake_run(status, done, arrival)
    row = summary_row(run, request_columns(run, None), 0.0)
    assert (row["completed"], row["unfinished"], row["dropped"]) == (4, 3, 3)
    assert math.isinf(row["latency_p50_s"]) and math.isinf(row["latency_p95_s"])  # 6 of 10 are +inf
    assert row["latency_done_p50_s"] == 2.0   # inverted CDF: the 2nd of 4
    assert row["latency_done_p95_s"] == 10.0
    assert row["latency_mean_s"] == 4.0
    # nothing completed: NaN, never an error
    run, _ = fake_run(["unfinished"] * 3, [math.nan] * 3, [0.0, 1.0, 2.0])
    row = summary_row(run, request_columns(run, None), 0.0)
    assert math.isnan(row["latency_done_p50_s"]) and math.isinf(row["latency_p95_s"])


def comparison(parts_by_name, completed=None):
    """A summary and requests table: one done request per scheduler with the given parts."""
    rows, reqs = [], []
    for name, parts in parts_by_name.items():
        n_done = (completed or {}).get(name, 1)
        lat = sum(parts.values())
        rows.append({"scheduler": name, "requests": 1, "completed": n_done, "latency_mean_s": lat if n_done else math.nan,
                     "energy_supply_j": 1.0 if name == "continuous" else 0.0, "verdict": "ok" if n_done else "starved"})
        reqs.append({"scheduler": name, "status": "done" if n_done else "unfinished", **parts})
    return pd.DataFrame(rows), pd.DataFrame(reqs)


def test_winner_line_names_the_fastest_and_where_the_others_lose():
    zero = dict.fromkeys(LATENCY_PARTS, 0.0)
    summary, requests = comparison({
        "continuous": {**zero, "compute_s": 0.1},
        "a": {**zero, "off_s": 4.0, "compute_s": 0.1},
        "b": {**zero, "off_s": 5.0, "compute_s": 0.1, "reexecution_s": 1.0},
        "c": {**zero, "off_s": 4.0, "compute_s": 0.1, "queue_s": 2.0},
        "d": zero,
    }, completed={"d": 0})
    line = winner_line(summary, requests)
    assert line.startswith("fastest: a (mean 4.1 s")
    assert "b +2 s (+49 %: off +1 s, re-execution +1 s)" in line
    assert "c +2 s (+49 %: queue +2 s)" in line
    assert "d completed nothing (starved)" in line
    assert "continuous" not in line  # the ideal supply is the reference, not a competitor
    parts = latency_parts_mean(requests)
    assert np.allclose(parts.sum(axis=1)[["a", "b", "c"]], summary.set_index("scheduler")["latency_mean_s"][["a", "b", "c"]])


def test_nothing_completes_plot_is_written_exit_0(tmp_path, capsys):
    sc = tmp_path / "dark.toml"
    sc.write_text('name = "dark"\n[trace]\ngenerator = "constant"\npower_w = 1e-6\nduration_s = 100.0\n'
                  '[storage]\ncapacitance_f = 100e-6\nv_on_v = 3.0\nv_off_v = 2.2\nv_max_v = 3.6\n'
                  '[platform]\npreset = "msp430fr5994"\n[model]\nname = "digits_cnn"\ngranularity = "channel"\n'
                  '[workload]\nperiod_s = 10.0\nduration_s = 30.0\ndrain_s = 30.0\n'
                  '[schedulers]\nnames = ["restart", "jit"]\n')
    out = tmp_path / "out"
    assert main(["run", str(sc), "--out", str(out)]) == 0
    png = out / "comparison.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000
    text = capsys.readouterr().out
    assert "who wins: none" in text and "jit completed nothing (starved)" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("scheduler"))
    for col in ("completed", "dropped", "unfinished", "p50_all_s", "p95_all_s", "p50_done_s", "p95_done_s",
                "mean_done_s"):
        assert col in header.split()
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["completed"] == 0).all() and summary["latency_done_p50_s"].isna().all()


def test_progress_plain_lines_off_a_terminal_and_silence_for_short_runs():
    out = io.StringIO()
    bar = ProgressBar("jit", 0.0, 100.0, stream=out, tty=False, plain_every_s=0.0)
    for t in (10.0, 50.0):
        bar(t)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("jit:  10 % (10 of 100 s simulated") and lines[-1].startswith("jit: 100 %")
    quiet = io.StringIO()
    bar = ProgressBar("jit", 0.0, 100.0, stream=quiet, tty=True, delay_s=60.0)
    bar(50.0)
    bar.close()
    assert quiet.getvalue() == ""


def test_bad_planning_budget_is_one_line_exit_2(tmp_path, capsys):
    rc = main(["run", str(REPO / "scenarios" / "default.toml"), "--out", str(tmp_path / "o"),
               "--optimal-budget-calls", "-5"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "schedulers.optimal_budget_calls = -5" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_throughput_of_a_run_of_zero_length_is_nan_not_an_error():
    """One arrival and no drain: the run has no length, so completed-per-hour is undefined (NaN),
    where it used to divide by zero."""
    import math

    from intersim.energy.capacitor import Storage
    from intersim.energy.trace import Trace
    from intersim.nn.random_network import random_network
    from intersim.report.results import summary_row
    from intersim.sched.registry import get_scheduler
    from intersim.simulate import run_case
    import numpy as np
    trace = Trace(np.array([0.0]), np.array([5e-3]), 1.0)
    run, req = run_case(get_scheduler("jit"), random_network(np.random.default_rng(3)), "layer", trace, Storage(capacitance_f=1e-3, v_on_v=3.0, v_off_v=1.8, v_max_v=3.6),
                        n_requests=1, period_s=1.0, drain_s=0.0)
    assert run.horizon_s == 0.0
    assert math.isnan(summary_row(run, req, 0.0)["throughput_per_h"])
