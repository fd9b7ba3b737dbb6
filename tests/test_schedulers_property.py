"""Every shipped scheduler returns the continuous-power output under any power failure; a
deliberately wrong scheduler is caught by the same property."""
from collections import Counter

import pytest
from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st

from intersim.schedulers import SCHEDULERS
from intersim.testing import InPlaceStatic, failure_places, run_case, strategies, violations

S = strategies()
PRESERVING = ("static", "jit", "jit-task")
CASE = dict(network=S["networks"], granularity=S["granularities"], storage=S["storages"],
            trace=S["traces"], brownout_at=S["failure_schedules"])


def test_shipped_schedulers_match_continuous_under_failures():
    tally = Counter()

    @settings(max_examples=160)
    @given(name=st.sampled_from(["restart", *PRESERVING]), **CASE)
    def prop(name, network, granularity, storage, trace, brownout_at):
        run, req = run_case(SCHEDULERS[name], network, granularity, trace, storage, brownout_at)
        places = failure_places(run)
        for where in places:
            event(f"brown-out inside {where}")
        if name in PRESERVING:
            tally["examples"] += 1
            tally["task"] += "task" in places
            tally["preservation"] += "preservation" in places
        problems = violations(run, req)
        assert not problems, f"{name}: " + "; ".join(problems)

    prop()
    n = tally["examples"]
    assert n > 0
    assert tally["task"] >= 0.30 * n, f"only {tally['task']}/{n} examples had a failure inside a task"
    assert tally["preservation"] >= 0.10 * n, (
        f"only {tally['preservation']}/{n} examples had a failure inside a commit or checkpoint")


def test_wrong_scheduler_is_caught():
    # being caught is the point; shrinking the counterexample would only cost time here
    @settings(max_examples=160, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    @given(**CASE)
    def prop(network, granularity, storage, trace, brownout_at):
        run, req = run_case(InPlaceStatic, network, granularity, trace, storage, brownout_at)
        problems = violations(run, req)
        assert not problems, "; ".join(problems)

    with pytest.raises(AssertionError, match="differ from continuous execution"):
        prop()
