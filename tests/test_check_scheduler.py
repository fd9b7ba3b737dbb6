"""The public property-testing machinery: check_scheduler and `intersim check-scheduler`."""
from intersim.cli import main
from intersim.scenario import load_scenario
from intersim.sched.registry import JITTask
from intersim.testing import check_scheduler


def test_a_correct_scheduler_passes():
    check_scheduler(JITTask, max_examples=25)


def test_the_wrong_scheduler_fails_with_a_replayable_counterexample(tmp_path, capsys):
    rc = main(["check-scheduler", "intersim.testing:InPlaceStatic", "--examples", "150",
               "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "FAILED" in out and "differ from continuous execution" in out
    path = tmp_path / "counterexample.toml"
    sc = load_scenario(path)
    assert sc.scheduler_names() == ["intersim.testing:InPlaceStatic", "continuous"]
    # replaying it with `intersim run` shows the wrong output
    rc = main(["run", str(path), "--out", str(tmp_path / "replay"), "--no-plot"])
    assert rc == 0
    import pandas as pd
    s = pd.read_csv(tmp_path / "replay" / "summary.csv").set_index("scheduler")
    assert s.loc["inplace-static", "correct"] < s.loc["inplace-static", "completed"]
    assert s.loc["continuous", "correct"] == s.loc["continuous", "completed"]


def test_bad_target_is_one_line(capsys):
    assert main(["check-scheduler", "nosuchmodule:Nope"]) == 2
    err = capsys.readouterr().err
    assert "cannot be imported" in err and len(err.strip().splitlines()) == 1
