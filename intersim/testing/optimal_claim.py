"""``optimal``'s claim (docs/optimal.md, *The class*; issue 16 item 7): on a single request,
``optimal`` executed in the engine completes no later than each member of its class executed in
the engine -- ``restart``, ``jit-task`` and ``static-sram`` -- and the planner's model of each
member predicts that member's engine completion.

:func:`single_request_instances` draws the instances (structured random networks at every
granularity, multi-hour traces with zero-harvest gaps, 1 uF to 10 mF log-uniform); :func:`check_instance`
simulates one and reports what the claim needs. ``tests/test_optimal_claim.py`` runs a profile's
budget of them, ``benchmarks/check_optimal_claim.py`` 1,000 and more.
"""
from __future__ import annotations

import math

from ..nn import zoo
from ..sched.optimal import Optimal, StaticSram, follow, member_policies
from ..sched.registry import SCHEDULERS
from ..simulate import run_case
from .check import violations
from .strategies import (
    CAPACITANCE_RANGE_F, GRANULARITIES, log_uniform, long_trace, long_trace_params, network_names, storage_of,
    storage_params,
)

#: the members of ``optimal``'s class, as the schedulers the engine executes (docs/optimal.md)
MEMBERS = {"restart": SCHEDULERS["restart"], "jit-task": SCHEDULERS["jit-task"], "static-sram": StaticSram}
#: the engine's verdicts that need no simulation (:mod:`intersim.sim.prechecks`): the run is refused
PRECHECK_VERDICTS = ("does_not_fit", "boot_loop", "infeasible")
#: the first horizon [s] an instance is simulated to: the engine runs every scheduler to the horizon,
#: and after a request completes on a tiny capacitor the idle device can boot-loop for hours (~1e6
#: boots), which says nothing about the request. Each run is repeated at 4x the horizon (at most the
#: trace's duration) until every scheduler completed or was refused by the precheck. A member's
#: completion before a horizon is the same at any longer one (the engine is causal); ``optimal``
#: plans within the horizon it is given, and its claim holds within each.
FIRST_HORIZON_S = 600.0
#: relative tolerance [-] of "no later": ``jit-task`` in the engine splits a task's advance at
#: its comparator where the model advances the task whole (docs/optimal.md, *Members*), ~1e-16
RTOL = 1e-9


def single_request_instances(capacitance_range_f=CAPACITANCE_RANGE_F, granularities=GRANULARITIES, **trace_kwargs):
    """Strategy of single-request instances, dicts of ``model`` (a zoo name of a structured
    random CNN, :func:`~intersim.testing.strategies.network_names`), ``granularity`` (every one
    of ``GRANULARITIES``), ``storage`` (a ``[storage]`` table, capacitance log-uniform on
    ``capacitance_range_f`` [F]) and ``trace`` (:func:`~intersim.testing.strategies.long_trace_params`:
    multi-hour, zero-harvest gaps)."""
    from hypothesis import strategies as st
    return st.fixed_dictionaries({
        "model": network_names(), "granularity": st.sampled_from(list(granularities)),
        "storage": storage_params(log_uniform(*capacitance_range_f)), "trace": long_trace_params(**trace_kwargs)})


def _recording(budget_calls):
    """``optimal`` with a planning budget of ``budget_calls`` kernel calls (None: its default)
    that keeps its firmware plan for the report."""
    attrs = {"plans": [], "origins": []}
    if budget_calls is not None:
        attrs["budget_calls"] = int(budget_calls)

    def prepare(cls, setup, memory):
        plan = Optimal.prepare.__func__(cls, setup, memory)
        cls.plans.append(plan)
        return plan

    def _plan(self, dev, i, c, restore, why):
        type(self).origins.append((*dev.oracle_state(), i, c, restore))  # where each planning starts
        Optimal._plan(self, dev, i, c, restore, why)

    attrs["prepare"] = classmethod(prepare)
    attrs["_plan"] = _plan
    return type("RecordingOptimal", (Optimal,), attrs)


def _members_in_model(model, origin):
    """Each member rule followed in full in the planner's model from the first planning's
    state (the planner itself cuts a member that cannot beat the ones before it): name ->
    completion [s] or inf."""
    t, e, i, c, restore = origin
    if restore or i or c:
        return {}
    out = {}
    for name, rule in member_policies(model).items():
        if name in MEMBERS:
            out[name] = follow(model, (t, e, 0, 0, False), rule)[0]
    return out


def _done_s(req):
    return float(req["done_s"].iloc[0]) if req["status"].iloc[0] == "done" else math.inf


def check_instance(instance, budget_calls=None):
    """Simulate one instance of :func:`single_request_instances` under ``optimal`` and each member.

    Parameters
    ----------
    instance : dict  ``model``, ``granularity``, ``storage``, ``trace`` (see above)
    budget_calls : int or None  ``optimal``'s planning budget [kernel calls] (None: its default;
        a smaller one only makes the plan less often proven minimal, never later than a member)

    Returns a dict: ``tasks``; ``optimal_s`` [s] (inf: not completed before the horizon);
    ``members_s`` (name -> engine completion [s] or inf); ``predicted_s`` (name -> that member's rule
    followed in full in the planner's model from the first planning's state [s]; absent when
    ``optimal`` never planned);
    ``exact`` (the first planning proven minimal over the class); ``planned_s`` [s] (its
    predicted completion); ``slower`` (name -> seconds ``optimal`` finished after that member,
    beyond ``RTOL``); ``not_completed`` (members that completed where ``optimal`` did not);
    ``model_off`` (name -> (predicted, engine) where the model of a member is off by more than
    ``RTOL``); ``horizon_s`` [s] (the horizon the outcome is at: ``FIRST_HORIZON_S`` x 4^k, at
    most the trace's duration); ``refused`` (name -> the engine's precheck verdict for a member it did not
    simulate, ``PRECHECK_VERDICTS``); ``verdict`` (``optimal``'s run); ``problems``
    (correctness violations of any run); ``plan_s`` [s] (planning wall time).
    """
    net = zoo.load(instance["model"])
    trace = long_trace(instance["trace"])
    storage = storage_of(instance["storage"])
    duration = instance["trace"]["duration_s"]
    horizon = min(FIRST_HORIZON_S, duration)
    while True:
        out = _check_at(net, instance["granularity"], trace, storage, horizon, budget_calls)
        settled = [out["optimal_s"] < math.inf or out["verdict"] in PRECHECK_VERDICTS] + [
            t < math.inf or name in out["refused"] for name, t in out["members_s"].items()]
        if all(settled) or horizon >= duration:
            out["horizon_s"] = horizon
            return out
        horizon = min(4 * horizon, duration)


def _check_at(net, granularity, trace, storage, horizon, budget_calls):
    """:func:`check_instance` at one horizon [s]."""

    def run(cls):
        return run_case(cls, net, granularity, trace, storage, n_requests=1, period_s=1.0, drain_s=horizon)

    rec = _recording(budget_calls)
    run_o, req_o = run(rec)
    plan = rec.plans[0]
    first = plan["requests"][0] if plan["requests"] else None
    in_model = _members_in_model(plan["model"], rec.origins[0]) if rec.origins else {}
    out = {"tasks": len(plan["model"].dur), "optimal_s": _done_s(req_o), "members_s": {}, "predicted_s": {},
           "exact": None if first is None else bool(first["exact"]),
           "planned_s": None if first is None else float(first["t_done_s"]),
           "plan_s": float(plan["plan_s"]), "slower": {}, "not_completed": [], "model_off": {}, "refused": {},
           "verdict": run_o.verdict,
           "problems": list(violations(run_o, req_o))}
    for name, cls in MEMBERS.items():
        run_m, req_m = run(cls)
        t_m = _done_s(req_m)
        out["members_s"][name] = t_m
        out["problems"] += [f"{name}: {p}" for p in violations(run_m, req_m)]
        predicted = in_model.get(name)
        out["predicted_s"][name] = predicted
        if run_m.verdict in PRECHECK_VERDICTS:
            out["refused"][name] = run_m.verdict  # not simulated: nothing to compare the model with
        elif predicted is not None and not _close(predicted, t_m):
            out["model_off"][name] = (predicted, t_m)
        if t_m < math.inf:
            if out["optimal_s"] == math.inf:
                out["not_completed"].append(name)
            elif out["optimal_s"] > t_m + RTOL * abs(t_m):
                out["slower"][name] = out["optimal_s"] - t_m
    return out


def _close(a, b):
    if a == math.inf or b == math.inf:
        return a == b
    return abs(a - b) <= RTOL * max(abs(a), abs(b))
