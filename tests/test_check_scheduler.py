"""The public property-testing machinery: check_scheduler, its systematic failure placement, the
zoo of wrong schedulers it must catch, and `intersim check-scheduler`."""
import time

import pytest

from intersim.cli import main
from intersim.scenario import load_scenario
from intersim.sched.registry import JITTask
from intersim.testing import (
    WRONG_SCHEDULERS, SchedulerCheckFailed, active_examples, check_scheduler, placement_cases, scan,
)
from intersim.testing.check import PAIR_SHARE, PLACEMENTS_PER_EXAMPLE
from intersim.testing.zoo import _JITSteps, _StaticSteps


def test_a_correct_scheduler_passes():
    check_scheduler(JITTask)


@pytest.mark.parametrize("bug", sorted(WRONG_SCHEDULERS))
def test_each_wrong_scheduler_is_caught_by_systematic_placement(bug):
    """Each class of bug is caught within the default budget, before any random search."""
    cls = WRONG_SCHEDULERS[bug]
    budget = PLACEMENTS_PER_EXAMPLE * active_examples()
    pairs = int(budget * PAIR_SHARE)
    t0 = time.perf_counter()
    case, schedule, problems, runs = scan(cls, placement_cases(), budget - pairs, pairs)
    assert case is not None, f"{bug}: {cls.__name__} passed {runs} placements"
    assert "differ from continuous execution" in problems[0]
    print(f"{bug}: {cls.__name__} caught after {runs} runs, {time.perf_counter() - t0:.1f} s, at {schedule}")


@pytest.mark.parametrize("cls", [_StaticSteps, _JITSteps])
def test_the_zoo_bases_are_correct(cls):
    """The wrong schedulers differ from these in one place each: those places are the bugs."""
    budget = PLACEMENTS_PER_EXAMPLE * active_examples()
    case, schedule, problems, runs = scan(cls, placement_cases(), budget, 0)
    assert case is None, f"{cls.__name__} failed at {schedule}: {problems}"
    assert runs >= 500


def test_check_scheduler_reports_a_placement_counterexample():
    with pytest.raises(SchedulerCheckFailed, match="systematic placement") as info:
        check_scheduler(WRONG_SCHEDULERS["stale request result"])
    sc = info.value.scenario
    assert sc["faults"]["brownout_at"] and sc["workload"]["queue_capacity"] >= 2


def test_the_wrong_scheduler_fails_with_a_replayable_counterexample(tmp_path, capsys):
    rc = main(["check-scheduler", "intersim.testing:InPlaceStatic", "--out", str(tmp_path)])
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
