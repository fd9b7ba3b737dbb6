"""The planner's members stage (``plan_request`` step 1): ``restart`` is followed up to its first
brown-out, then the other members, each cut at the best before it, then ``restart`` cut at
their best -- the same incumbent as following every member in full, without walking a member
that cannot win to the horizon (issue 17: 149 M of the 185 M kernel calls of
``bench_optimal``'s ``cloudy_8u2`` case, 25 k calls per planning of ``event_dense``)."""
import math

from hypothesis import assume, event, given
from hypothesis import strategies as st

from intersim.sched.optimal import Optimal, follow, member_policies, plan_request
from intersim.sched.optimal.compiled import plan_request_compiled
from intersim.sim.engine import Engine

from test_optimal import awake_energy_j, small_setup


def full_members(model, state):
    """Every member followed in full, uncut: name -> (t_done [s], path, kernel calls)."""
    out = {}
    for name, rule in member_policies(model).items():
        s0 = model.steps
        t, path = follow(model, state, rule)
        out[name] = (t, path, model.steps - s0)
    return out


def first_best(full):
    """The incumbent of the members in their order (restart, online, jit-task, static-sram): the
    first with the least completion time."""
    best = None
    for name, (t, path, _) in full.items():
        if best is None or t < best[1]:
            best = (name, t, path)
    return best


@given(seed=st.integers(0, 2**32 - 1), granularity=st.sampled_from(["layer", "channels:2"]),
       capacitance_f=st.sampled_from([4.7e-6, 10e-6, 47e-6]), v_off_v=st.sampled_from([1.8, 2.2, 2.5]),
       mean_power_w=st.sampled_from([0.3e-3, 1e-3, 3e-3]), period_s=st.sampled_from([0.01, 0.5]),
       v_start=st.floats(0.0, 1.0), t_start=st.floats(0.0, 10.0))
def test_members_stage_gives_the_incumbent_of_every_member_in_full(seed, granularity, capacitance_f, v_off_v,
                                                                     mean_power_w, period_s, v_start, t_start):
    setup = small_setup(seed, granularity, capacitance_f, v_off_v, 2e6, mean_power_w, period_s)
    assume(setup is not None)
    model = Engine(setup, Optimal).plan["model"]
    e = awake_energy_j(setup.storage, v_start)
    full = full_members(model, (t_start, e, 0, 0, False))
    name, t_best, path_best = first_best(full)
    others = min(t for n, (t, _, _) in full.items() if n != "restart")
    for planner in (plan_request, plan_request_compiled):
        s0 = model.steps
        got = planner(model, t_start, e, 0, 0, False, None, 0, 0)  # no rollout; A* one expansion
        calls = model.steps - s0
        t_r = full["restart"][0]
        straight = t_r < math.inf and all(f == 0 for _, _, f, _ in full["restart"][1])
        if straight:  # the early proof: nothing else followed
            event("restart straight through")
            assert got["members"] == {"restart": t_r} and got["exact"] and got["t_done_s"] == t_r
            assert got["path"] == full["restart"][1]
            continue
        best = math.inf  # each later member is recorded only where it beats those before it
        for n, (t, _, _) in full.items():
            if n == "restart":
                continue
            if t < best or best == math.inf:
                assert got["members"][n] == t
                best = min(best, t)
            else:
                event("a member cut")
                assert n not in got["members"]
        if t_r <= others:
            event("restart the incumbent or nothing completes")
            assert got["members"]["restart"] == t_r
        else:
            event("restart cut")
            assert "restart" not in got["members"]
        assert got["t_done_s"] <= t_best
        if got["steps"]["exact"] == 0 or got["t_done_s"] == t_best:
            assert got["t_done_s"] == t_best
        # the members stage never makes more kernel calls than following every member in full,
        # plus restart's first power cycle once more
        assert got["steps"]["members"] <= sum(c for _, _, c in full.values()) + len(full["restart"][1]) + 2
        assert calls >= got["steps"]["members"]


def test_restart_that_never_completes_is_not_walked_to_the_horizon():
    """On a 4.7 uF instance where restart never completes (2519 kernel calls to the horizon) and
    online completes in 12, the members stage makes fewer calls than a tenth of restart's walk
    plus the other members' in full, and gives the incumbent of every member in full."""
    setup = small_setup(1, "layer", 4.7e-6, 2.2, 2e6, 1e-3, 0.05)
    model = Engine(setup, Optimal).plan["model"]
    full = full_members(model, (0.0, model.e_on, 0, 0, False))
    assert full["restart"][0] == math.inf and full["restart"][2] > 1000  # walked to the horizon
    name, t_best, _ = first_best(full)
    for planner in (plan_request, plan_request_compiled):
        got = planner(model, 0.0, model.e_on, 0, 0, False, None, 0, 0)
        assert "restart" not in got["members"] and got["t_done_s"] <= t_best < math.inf
        others = sum(c for n, (_, _, c) in full.items() if n != "restart")
        assert got["steps"]["members"] < others + full["restart"][2] / 10
