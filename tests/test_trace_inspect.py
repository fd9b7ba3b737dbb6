"""`intersim trace inspect`: statistics, plot, one-line refusals with exit status 2."""
import argparse
from pathlib import Path

import pytest

from intersim.energy import inspect as trace_inspect

REPO = Path(__file__).resolve().parent.parent


def run(argv):
    parser = trace_inspect.add_arguments(argparse.ArgumentParser())
    return trace_inspect.run(parser.parse_args([str(a) for a in argv]))


def test_inspect_prints_stats_and_plots(tmp_path, capsys):
    png = tmp_path / "p.png"
    assert run([REPO / "traces" / "solar_cloudy_1h.csv", "--threshold-w", "5.7e-3", "--out", png]) == 0
    out = capsys.readouterr().out
    assert "duration:         3600 s" in out and "mean power:" in out and "energy:" in out
    assert "time above 0.0057 W:" in out
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_inspect_real_rf_with_load(shared_traces, capsys):
    path = shared_traces / "mementos-wisp-rf" / "rf_trace_1.txt"
    assert run([path, "--format", "rf-voltage", "--load-ohm", "30e3"]) == 0
    assert "samples:          25274" in capsys.readouterr().out


@pytest.mark.parametrize("argv,fragment", [
    (["--format", "rf-voltage"], "needs load_ohm"),
    (["--format", "lux"], "needs period_s"),
])
def test_inspect_refusal_is_one_line(shared_traces, capsys, argv, fragment):
    path = shared_traces / "mementos-wisp-rf" / "rf_trace_1.txt"
    assert run([path, *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and fragment in err[0]


def test_inspect_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,power_w\n0,1e-3\n1,-1\n")
    assert run([bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 3" in err and str(bad) in err
    assert run([tmp_path / "nope.csv"]) == 2
    assert "no such file" in capsys.readouterr().err
