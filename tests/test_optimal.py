"""The ``optimal`` scheduler: equal to exhaustive enumeration of its class on small instances, never
slower than the members of the class (``restart``, ``jit-task``) on single requests, exact in its
prediction of the engine, and correct (bit-equal to continuous) like every scheduler;
``optimal-online`` is correct."""
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from intersim.energy.capacitor import Storage
from intersim.sim.engine import Engine, Setup
from intersim.sched.optimal import (
    EnumerationTooLarge, Optimal, OptimalOnline, enumerate_policies, follow, plan_request, restart_policy,
)
from intersim.hw.platform import PRESETS, get_platform
from intersim.sched.registry import SCHEDULERS
from intersim.nn.tasks import lower
from intersim.testing import budget, random_network, random_trace, run_case, strategies, violations
from intersim.sim.workload import Workload

S = strategies()


class Spy(Optimal):
    """``optimal`` that keeps its firmware plans (planning records) for inspection."""

    plans = []
    exact_budget = rollout_budget = 50_000  # quick property tests; the members still bound it

    @classmethod
    def prepare(cls, setup, memory):
        plan = super().prepare(setup, memory)
        cls.plans.append(plan)
        return plan


def awake_energy_j(storage, frac, v_top_v=None):
    """Stored energy [J] at the voltage ``frac`` of the way from V_off up to ``v_top_v`` [V]
    (default V_on): a state awake anywhere in its window."""
    top = storage.v_on_v if v_top_v is None else v_top_v
    v = storage.v_off_v + frac * (top - storage.v_off_v)
    return 0.5 * storage.capacitance_f * v * v


def small_setup(seed, granularity, capacitance_f, v_off_v, leakage_ohm, mean_power_w, period_s):
    """A single-request setup of a small random network with at most 8 base tasks (None if the
    granularity gives more)."""
    rng = np.random.default_rng(seed)
    net = random_network(rng, size=4, channels=2, classes=int(rng.integers(2, 4)))
    tasks = lower(net, granularity)
    if len(tasks) > 8:
        return None
    trace = random_trace(rng, duration_s=20.0, mean_power_w=mean_power_w, period_s=period_s)
    storage = Storage(capacitance_f=capacitance_f, v_on_v=3.0, v_off_v=v_off_v, v_max_v=3.6,
                      leakage_ohm=leakage_ohm, input_efficiency=0.8, output_efficiency=0.9)
    x = np.zeros((1,) + tuple(net.tensors[net.input_name]), np.int8)
    wl = Workload(period_s=5.0, duration_s=5.0, drain_s=20.0, queue_capacity=1)
    return Setup(network=net, tasks=tasks, platform=get_platform("msp430fr5994"), storage=storage,
                 trace=trace, workload=wl, inputs=x, labels=None, references=[net.run(x[0])],
                 record_timeline=False)


def test_plan_equals_exhaustive_enumeration():
    """On instances of at most 8 base tasks, the planner's minimum over the class equals plain
    enumeration of every policy with at most ``max_cycles`` (1..6) power cycles."""
    tally = Counter()

    @given(seed=st.integers(0, 2**32 - 1), granularity=st.sampled_from(["layer", "channels:2"]),
           capacitance_f=st.sampled_from([4.7e-6, 10e-6]), v_off_v=st.sampled_from([1.8, 2.2, 2.5]),
           leakage_ohm=st.sampled_from([math.inf, 2e6]), mean_power_w=st.sampled_from([0.3e-3, 1e-3]),
           period_s=st.sampled_from([0.01, 0.05, 0.5]), v_start=st.floats(0.0, 1.0),
           t_start=st.floats(0.0, 20.0), max_cycles=st.integers(1, 6))
    def prop(seed, granularity, capacitance_f, v_off_v, leakage_ohm, mean_power_w, period_s, v_start,
             t_start, max_cycles):
        setup = small_setup(seed, granularity, capacitance_f, v_off_v, leakage_ohm, mean_power_w, period_s)
        assume(setup is not None)
        model = Engine(setup, Optimal).plan["model"]
        e = awake_energy_j(setup.storage, v_start)
        try:
            want = enumerate_policies(model, t_start, e, max_cycles=max_cycles, max_nodes=20_000)
        except EnumerationTooLarge:
            assume(False)
        plan = plan_request(model, t_start, e, max_cycles=max_cycles, exact_budget=10**7)
        assert plan["exact"]
        assert plan["t_done_s"] == want
        if plan["path"]:
            assert 1 + sum(f for _, _, f, _ in plan["path"]) <= max_cycles
        # not trivial: the restart policy needs more than one power cycle
        t_restart, path = follow(model, (t_start, e, 0, 0, False), restart_policy(model), max_cycles - 1)
        hard = t_restart == math.inf or sum(f for _, _, f, _ in path) > 0
        event("restart needs several power cycles" if hard else "one power cycle suffices")
        tally["examples"] += 1
        tally["hard"] += hard

    prop()
    assert tally["hard"] >= 0.4 * tally["examples"], tally


CASE = dict(network=S["networks"], granularity=S["granularities"], storage=S["storages"], trace=S["traces"])


def test_optimal_no_slower_than_members_and_correct():
    """Single requests: ``optimal`` executed in the engine completes whenever ``restart`` or
    ``jit-task`` does, no later than either, exactly when it planned to, with the continuous
    output and balanced books."""
    tally = Counter()

    @given(**CASE)
    def prop(network, granularity, storage, trace):
        Spy.plans.clear()
        run, req = run_case(Spy, network, granularity, trace, storage, n_requests=1)
        assert not violations(run, req), violations(run, req)
        done = req["done_s"].iloc[0]
        record = Spy.plans[0]["requests"][0] if Spy.plans[0]["requests"] else None
        for name in ("restart", "jit-task"):
            other_run, other = run_case(SCHEDULERS[name], network, granularity, trace, storage, n_requests=1)
            t_other = other["done_s"].iloc[0]
            if other["status"].iloc[0] == "done":
                assert req["status"].iloc[0] == "done", f"{name} completes, optimal does not"
                # jit-task splits a task's advance at its comparator: equal up to rounding
                assert done <= t_other + 1e-9 * abs(t_other), (name, done, t_other)
                tally[f"strictly faster than {name}"] += done < t_other - 1e-9 * abs(t_other)
        if record is not None and req["status"].iloc[0] == "done":
            assert record["t_done_s"] == done  # the planning model is the engine
            # ... so every boot the plan predicted is found in it: planned once
            assert [r["why"] for r in Spy.plans[0]["requests"]] == ["request"]
            tally["planned brown-outs"] += record["power_cycles"] > 1
            tally["exact"] += record["exact"]
            event("exact plan" if record["exact"] else "rollout plan")
        tally["examples"] += 1

    prop()
    assert tally["strictly faster than jit-task"] > 0, tally
    assert tally["planned brown-outs"] > 0, tally


def test_optimal_and_online_correct_under_injected_failures():
    """Injected brown-outs (in tasks, checkpoints, restores) make reality leave the plan;
    ``optimal`` plans again from the true state at the next boot and stays correct; so does
    ``optimal-online``. Two requests each (FIFO, one plan per request)."""
    tally = Counter()

    @given(name=st.sampled_from(["optimal", "optimal-online"]), brownout_at=S["failure_schedules"], **CASE)
    def prop(name, network, granularity, storage, trace, brownout_at):
        cls = Spy if name == "optimal" else OptimalOnline
        Spy.plans.clear()
        run, req = run_case(cls, network, granularity, trace, storage, brownout_at)
        assert not violations(run, req), violations(run, req)
        if name == "optimal":
            whys = {r["why"] for r in Spy.plans[0]["requests"]}
            tally["replanned"] += bool(whys - {"request"})
        tally[name] += 1

    prop()
    assert tally["replanned"] > 0, tally


def test_plan_time_is_reported():
    rng = np.random.default_rng(3)
    Spy.plans.clear()
    run, req = run_case(Spy, random_network(rng), "channels:2", random_trace(rng),
                        Storage(10e-6, 3.0, 2.2, 3.6, 0.0, 2e6, 0.8, 0.9), n_requests=2)
    plan = Spy.plans[0]
    assert plan["plan_s"] > 0
    assert [r["why"] for r in plan["requests"]] == ["request", "request"]
    assert math.isclose(plan["plan_s"], sum(r["plan_s"] for r in plan["requests"]))
    assert list(req["status"]) == ["done", "done"] and not violations(run, req)


def test_never_reaches_only_where_the_kernel_never_reaches():
    """The planner's shortcut (declare a charge or sleep DEAD without stepping the kernel) is
    conservative: whenever it fires, the kernel run to the horizon never reaches the target."""
    from intersim.sched.optimal import _step
    tally = Counter()

    @settings(max_examples=budget(3.75))
    @given(seed=st.integers(0, 2**32 - 1), leakage_ohm=st.sampled_from([math.inf, 2e5, 2e6]),
           mean_power_w=st.sampled_from([1e-6, 2e-5, 3e-4]), t_frac=st.floats(0.0, 1.0),
           v_start=st.floats(0.0, 1.2), v_target=st.floats(2.2, 3.6), horizon_frac=st.floats(0.2, 1.5))
    def prop(seed, leakage_ohm, mean_power_w, t_frac, v_start, v_target, horizon_frac):
        setup = small_setup(seed, "layer", 10e-6, 2.2, leakage_ohm, mean_power_w, 0.5)
        assume(setup is not None)
        model = Engine(setup, Optimal).plan["model"]
        model.horizon = setup.trace.start_s + horizon_frac * setup.trace.duration_s
        model._reach_tables()
        t = setup.trace.start_s + t_frac * (model.horizon - setup.trace.start_s)
        s_ = setup.storage
        e = 0.5 * s_.capacitance_f * (s_.v_off_v * v_start) ** 2
        e_target = 0.5 * s_.capacitance_f * v_target ** 2
        if model._never_reaches(t, e, e_target):
            _, e1, reason = _step(model._tt, model._tp, model._par, t, e, model.horizon, 0.0, -1.0, e_target)
            assert reason != 2 and e1 < e_target, (t, e, e_target, e1, reason)  # 2: STOP_HIGH
            tally["dead"] += 1
            event("shortcut: DEAD")
        tally["examples"] += 1

    prop()
    assert tally["dead"] >= 0.1 * tally["examples"], tally


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_planned_completion_is_executed_on_every_preset(preset):
    """The planned completion time is the executed one, bit for bit, on every shipped platform
    (max78000 included: cases with brown-outs before the request's service)."""
    checked, with_failures = 0, 0
    for seed, (c, mean_w) in enumerate([(10e-6, 0.2e-3), (22e-6, 0.5e-3)] * 3):
        rng = np.random.default_rng(seed)
        net = random_network(rng, size=8, channels=4, classes=3)
        trace = random_trace(rng, duration_s=30.0, mean_power_w=mean_w, period_s=0.5)
        storage = Storage(capacitance_f=c, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, v_initial_v=0.0,
                          leakage_ohm=math.inf, input_efficiency=0.8, output_efficiency=0.9)
        Spy.plans.clear()
        run, req = run_case(Spy, net, "channel", trace, storage, platform=preset, n_requests=1, drain_s=60.0)
        records = Spy.plans[0]["requests"] if Spy.plans else []
        if req["status"].iloc[0] != "done" or not records:
            continue
        assert not violations(run, req)
        assert records[0]["t_done_s"] == req["done_s"].iloc[0], (preset, seed)
        checked += 1
        with_failures += run.counts["power_failures"] > 0
    assert checked, f"{preset}: no generated case completed"
    if preset == "max78000":
        assert with_failures, "max78000: no case with a brown-out (the weight reload at a reboot)"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_boot_cost_is_one_rule(preset):
    """The engine, ``static``'s budget and ``optimal``'s / ``optimal-online``'s planning model all
    take every boot from ``contract.boot_cost_for`` (on max78000: the boot plus the CNN weight
    reload), so what is planned is what is executed."""
    from intersim.sched.contract import boot_cost_for
    from intersim.sched.optimal import OptimalOnline
    from intersim.hw.cost import transfer_cost
    setup = small_setup(3, "layer", 22e-6, 2.2, math.inf, 1e-3, 0.5)
    setup.platform = get_platform(preset)
    boot = boot_cost_for(setup)
    if preset == "max78000":
        assert boot.time_s > setup.platform.boot_time_s and boot.energy_j > setup.platform.boot_energy_j
    eta = setup.storage.output_efficiency
    for cls in (Optimal, OptimalOnline):
        eng = Engine(setup, cls)
        assert (eng.boot.time_s, eng.boot.energy_j) == (boot.time_s, boot.energy_j)
        model = eng.plan["model"] if cls is Optimal else eng.plan["ops"]
        assert model.boot == (boot.power_w / eta, boot.time_s)
    eng = Engine(setup, SCHEDULERS["static"])
    commit = transfer_cost(setup.platform, 4, "sram_to_nvm").energy_j
    need = [sum(setup.costs[i].energy_j for i in g) + boot.energy_j + commit for g in eng.plan["groups"]]
    for g, n, v in zip(eng.plan["groups"], need, eng.plan["charge_v"]):
        assert (v is None) == (n <= eng.plan["budget_j"]), (g, n, v)


def test_planning_budget_falls_back_to_the_flagged_rollout_plan():
    """``Setup.optimal_budget_calls`` (``[schedulers] optimal_budget_calls``) bounds a planning: a
    planning that needs more keeps the rollout's plan, flagged ``exact = False``, and the engine
    still completes correctly at exactly that plan's time, no earlier than the proven optimum and
    no later than the best member."""
    class Keep(Optimal):
        plans = []

        @classmethod
        def prepare(cls, setup, memory):
            plan = super().prepare(setup, memory)
            cls.plans.append(plan)
            return plan

    outcome = {}
    for calls in (None, 100):
        setup = small_setup(4, "layer", 10e-6, 2.2, 2e6, 2e-3, 0.5)
        setup.optimal_budget_calls = calls
        Keep.plans.clear()
        run = Engine(setup, Keep).run()
        record = Keep.plans[0]["requests"][0]
        assert run.requests["status"][0] == "done" and run.requests["correct"][0]
        assert run.requests["done_s"][0] == record["t_done_s"]  # executed exactly as planned
        outcome[calls] = record
    exact, capped = outcome[None], outcome[100]
    assert exact["exact"] and exact["steps"]["exact"] > 100  # the search needs more than the cap
    assert not capped["exact"]
    assert capped["steps"]["rollout"] + capped["steps"]["exact"] <= 100 + 20  # one successor set past it
    assert exact["t_done_s"] <= capped["t_done_s"] <= min(capped["members"].values())
