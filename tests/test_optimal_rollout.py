"""The rollout's heuristics (issue 17, docs/optimal.md Algorithm step 2): the dominance cut
(``policies.Dominance``) and the finishing rule (``policies.finish_policy``). Both planners share
them (``tests/test_optimal_compiled.py`` compares the plans bit for bit); here their rules."""
import math

from hypothesis import assume, given
from hypothesis import strategies as st

from intersim.sched.optimal import Optimal
from intersim.sched.optimal.bounds import CKPT, CONT
from intersim.sched.optimal.planner import plan_request, rollout_policies
from intersim.sched.optimal.policies import Dominance, finish_policy, follow, online_policy
from intersim.sim.engine import Engine

from test_optimal import awake_energy_j, small_setup


def test_dominance_beats_a_state_the_reference_is_ahead_of():
    """At boundary 1 the reference runs task 1 at t = 2 s with 1 mJ and checkpoint 1; the rate
    is 1 mW, so 1 s is worth 1 mJ."""
    ref = Dominance(3, 1e-3)
    path = [(CONT, 0, 0, ()), (CKPT, 0, 0, ()), (CONT, 1, 0, ()), (CONT, 1, 0, ())]
    states = [(0.0, 5e-3, 0, 0), (1.0, 2e-3, 1, 0), (1.5, 1e-3, 1, 1), (2.0, 1e-3, 2, 1)]
    ref.set_path(path, states)
    assert ref.beats(1.5, 1e-3, 1, 1)             # the reference's own state
    assert ref.beats(1.6, 1e-3, 1, 0)             # later, same energy, an older checkpoint
    assert not ref.beats(1.6, 1e-3, 1, 2)         # a checkpoint further on: never beaten
    assert not ref.beats(1.4, 1e-3, 1, 1)         # earlier with the same energy
    assert ref.beats(1.4, 0.5e-3, 1, 1)           # 0.1 s earlier but 0.5 mJ short (worth 0.5 s)
    assert not ref.beats(2.0, 1.6e-3, 1, 1)       # 0.5 s later but 0.6 mJ more (worth 0.6 s)
    assert ref.beats(2.0, 1.4e-3, 1, 1)           # 0.5 s later, 0.4 mJ more
    assert ref.beats(0.0, 5e-3, 0, 0)             # the reference's CONT at boundary 0
    assert not ref.beats(9.0, 0.0, 3, 0)          # no reference at boundary 3
    still = Dominance(3, 0.0)                     # no harvest: no later and no more energy
    still.set_path(path, states)
    assert still.beats(1.5, 1e-3, 1, 1) and still.beats(1.6, 0.9e-3, 1, 1)
    assert not still.beats(1.4, 0.5e-3, 1, 1) and not still.beats(1.6, 1.1e-3, 1, 1)


@given(seed=st.integers(0, 2**32 - 1), granularity=st.sampled_from(["layer", "channels:2"]),
       capacitance_f=st.sampled_from([4.7e-6, 10e-6, 47e-6]), v_off_v=st.sampled_from([1.8, 2.2, 2.5]),
       v_start=st.floats(0.0, 1.0), i_frac=st.floats(0.0, 1.0), slept=st.booleans())
def test_finish_rule_sleeps_once_to_the_rest_and_runs_it(seed, granularity, capacitance_f, v_off_v, v_start,
                                                         i_frac, slept):
    """Where the rest fits below V_max with zero harvest the rule continues from that energy on,
    else sleeps to the least threshold holding the rest; where it never fits, or the boundary
    has slept below it, it is the lazy online rule (sleep before checkpointing)."""
    setup = small_setup(seed, granularity, capacitance_f, v_off_v, 2e6, 1e-3, 0.05)
    assume(setup is not None)
    model = Engine(setup, Optimal).plan["model"]
    e = awake_energy_j(setup.storage, v_start, setup.storage.v_max_v)
    i = int(round(i_frac * model.n))
    c = i // 2
    got = finish_policy(model)(0.0, e, i, c, slept)
    need = model.need_fin[i]
    if need <= model.e_max and e >= need:
        assert got == CONT
    elif need <= model.e_max and not slept:
        held = [u for u, ev in model.thresholds[i] if ev >= need]
        assert got == held[0] and model.threshold_energy[i][got] > e
    else:
        assert got == online_policy(model, lazy=True)(0.0, e, i, c, slept)


def test_rollout_finds_the_finishing_plan_from_a_low_start():
    """On a 47 uF instance whose rest fits below V_max from the start, the rollout (with the
    finishing rule among its completions) plans no later than the finishing rule followed from
    the start, and strictly earlier than every member."""
    setup = small_setup(3, "layer", 47e-6, 2.2, 2e6, 1e-3, 0.05)
    model = Engine(setup, Optimal).plan["model"]
    assert model.need_fin[0] <= model.e_max
    e0 = model.e_off * 1.05
    t_fin, _ = follow(model, (0.0, e0, 0, 0, False), rollout_policies(model)["finish"])
    got = plan_request(model, 0.0, e0, 0, 0, False, None, 0, 10_000)
    assert not got["exact"]
    assert t_fin < math.inf and got["t_done_s"] <= t_fin
    assert got["t_done_s"] < min(got["members"].values())


def test_compiled_rollout_equals_python_on_a_small_capacitor():
    """On ``scenarios/rf_reader.toml`` (122 tasks) at 8.2 uF the rest never fits below V_max at
    the start, so the finishing rule runs its lazy online phase; there the compiled planner's
    rollout (members, 5 000 calls of rollout) gives the Python planner's plan bit for bit
    (the small instances of ``test_optimal_compiled.py`` rarely reach that phase)."""
    import intersim
    from intersim.scenario import load_scenario
    from intersim.sched.optimal.compiled import plan_request_compiled
    from pathlib import Path

    models = []

    class Recording(Optimal):
        @classmethod
        def prepare(cls, setup, memory):
            plan = super().prepare(setup, memory)
            models.append(plan["model"])
            return plan

    sc = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "rf_reader.toml")
    sc = sc.with_value("storage", "capacitance_f", 8.2e-6).with_value("workload", "duration_s", 1.0)
    intersim.simulate(sc, schedulers=[Recording], record_timeline=False)
    model = models[0]
    assert model.n > 100 and model.need_fin[0] > model.e_max
    for e0 in (model.e_on, model.e_max):
        s0 = model.steps
        want = plan_request(model, 0.0, e0, 0, 0, False, None, 0, 5_000)
        s1 = model.steps
        got = plan_request_compiled(model, 0.0, e0, 0, 0, False, None, 0, 5_000)
        assert got == want and model.steps - s1 == s1 - s0
        assert want["steps"]["rollout"] > 1_000 and want["t_done_s"] < min(want["members"].values())
