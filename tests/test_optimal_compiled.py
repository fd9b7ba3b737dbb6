"""The compiled planner (``sched/optimal/compiled.py``) gives the Python planner's plans bit for
bit -- the same path, times, member results and kernel calls counted against the same budgets --
and its capacitor advance is the engine kernel's, also through ``.py_func``."""
import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from intersim.energy.capacitor import _advance
from intersim.sched.optimal import Optimal, plan_request
from intersim.sched.optimal.advance import advance
from intersim.sched.optimal.compiled import plan_request_compiled
from intersim.sim.engine import Engine
from intersim.testing import budget

from test_optimal import awake_energy_j, small_setup


@given(seed=st.integers(0, 2**32 - 1), granularity=st.sampled_from(["layer", "channels:2"]),
       capacitance_f=st.sampled_from([4.7e-6, 10e-6]), v_off_v=st.sampled_from([1.8, 2.2, 2.5]),
       leakage_ohm=st.sampled_from([math.inf, 2e6]), mean_power_w=st.sampled_from([0.3e-3, 1e-3]),
       period_s=st.sampled_from([0.01, 0.05, 0.5]), v_start=st.floats(0.0, 1.0), t_start=st.floats(0.0, 20.0),
       c_frac=st.floats(0.0, 1.0), restore=st.booleans(), max_cycles=st.sampled_from([None, 1, 3]),
       budgets=st.sampled_from([(10**6, 10**6), (100, 50), (0, 300), (0, 100_000), (10**6, 10**6, 0),
                                (10**6, 300, 50), (10**6, 10**6, None, 1), (10**6, 300, None, 2)]))
def test_compiled_planner_equals_python_planner(seed, granularity, capacitance_f, v_off_v, leakage_ohm,
                                                mean_power_w, period_s, v_start, t_start, c_frac, restore,
                                                max_cycles, budgets):
    setup = small_setup(seed, granularity, capacitance_f, v_off_v, leakage_ohm, mean_power_w, period_s)
    assume(setup is not None)
    model = Engine(setup, Optimal).plan["model"]
    e = awake_energy_j(setup.storage, v_start)
    c = int(round(c_frac * model.n))
    s0 = model.steps
    want = plan_request(model, t_start, e, c, c, restore, max_cycles, *budgets)
    s1 = model.steps
    got = plan_request_compiled(model, t_start, e, c, c, restore, max_cycles, *budgets)
    assert got == want
    assert model.steps - s1 == s1 - s0  # the same kernel calls


@settings(max_examples=budget(5))
@given(seed=st.integers(0, 2**32 - 1), loop=st.booleans(), t0=st.floats(-1.0, 25.0), v0=st.floats(0.0, 3.7),
       dur=st.floats(0.0, 30.0), load=st.sampled_from([0.0, 1e-5, 1e-3, 1e-2]), leak=st.sampled_from([0.0, 0.3]),
       lo=st.sampled_from([-1.0, 0.0, 1.8, 2.2]), hi=st.sampled_from([math.inf, 3.0, 3.6, 4.0]),
       py=st.booleans())
def test_planner_advance_is_the_engine_kernel(seed, loop, t0, v0, dur, load, leak, lo, hi, py):
    """``advance`` (no books, no record) returns ``_advance``'s ``(t, e, reason)`` bit for bit."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 50))
    tt = np.cumsum(rng.random(n) * 0.5)
    tt -= tt[0]
    pw = rng.random(n) * 2e-3 * (rng.random(n) > 0.3)
    c = 10e-6
    energy = lambda v: 0.5 * c * v * v if v >= 0 else -1.0  # noqa: E731
    e_max = energy(3.6)
    args = (tt, pw, 0.0, float(tt[-1] + 0.3), loop, 0.8, leak, e_max, t0, energy(v0), t0 + dur, load, energy(lo),
            energy(hi) if hi != math.inf else math.inf)
    none = np.empty(0)
    want = _advance(*args, np.zeros((6, 2)), none, none, none, none, none, 0)[:3]
    got = (advance.py_func if py else advance)(*args)
    assert tuple(got) == tuple(want)



def test_exact_search_skipped_above_exact_max_cycles():
    """``exact_max_cycles``: where the rollout's plan takes more power cycles than that, the exact
    search is given no budget (as above ``Optimal.exact_max_tasks``): the plan stays the rollout's,
    proven only if the search's first expansion proves it; a limit no plan reaches changes
    nothing. Both planners alike."""
    from collections import Counter
    tally = Counter()

    @given(seed=st.integers(0, 2**32 - 1), v_start=st.floats(0.0, 1.0))
    def prop(seed, v_start):
        setup = small_setup(seed, "layer", 4.7e-6, 2.2, math.inf, 0.3e-3, 0.05)
        assume(setup is not None)
        model = Engine(setup, Optimal).plan["model"]
        e = awake_energy_j(setup.storage, v_start)
        free = plan_request_compiled(model, 0.0, e, 0, 0, False, None, 10**6, 10**6)
        assume(free["path"])
        for planner in (plan_request, plan_request_compiled):
            assert planner(model, 0.0, e, 0, 0, False, None, 10**6, 10**6, None, 10**6) == free
            cut = planner(model, 0.0, e, 0, 0, False, None, 10**6, 10**6, None, 0)
            assert cut["members"] == free["members"]
            if "rollout" not in free["steps"]:  # restart completes at once: nothing searched
                assert cut == free
                continue
            assert cut["steps"]["rollout"] == free["steps"]["rollout"]
            assert cut["steps"]["exact"] <= free["steps"]["exact"]
            if cut["exact"]:
                assert cut["t_done_s"] == free["t_done_s"]
            else:
                assert cut["t_done_s"] >= free["t_done_s"]
            tally[f"proof dropped ({planner.__name__})"] += free["exact"] and not cut["exact"]
        tally["examples"] += 1

    prop()
    assert tally["proof dropped (plan_request)"] > 0, tally
    assert tally["proof dropped (plan_request_compiled)"] > 0, tally
