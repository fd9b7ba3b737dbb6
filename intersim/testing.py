"""Property-testing machinery for schedulers, public so users can test their own.

>>> from intersim.testing import check_scheduler
>>> check_scheduler(MyScheduler)            # from your own pytest suite          # doctest: +SKIP

``check_scheduler`` runs hypothesis over generated traces, capacitors, networks, granularities and
injected brown-outs (inside tasks, commits, checkpoints and restores) and fails with a shrunk
counterexample unless every completed request's output is bit-equal to continuous execution and
the energy books balance. :class:`InPlaceStatic` is the documented example of a wrong scheduler
it catches (a write-after-read hazard).
"""
from __future__ import annotations

import math

import numpy as np

from .energy.capacitor import Storage
from .nn.random_network import random_network  # noqa: F401  (public here)
from .report.results import books_residual_j
from .sched.registry import Static
from .energy.generators import random_trace  # noqa: F401  (public here)
from .simulate import run_case  # noqa: F401  (public here)

# ----------------------------------------------------------------------------------------------
# plain generators (seeded by an explicit numpy Generator)


# ----------------------------------------------------------------------------------------------
# a deliberately wrong scheduler


class InPlaceStatic(Static):
    """WRONG on purpose: ``static`` that accumulates input-channel partial sums in place in NVM
    (one buffer per tile instead of two) with no progress marker per accumulation. A failure
    after an accumulate task has written its sums but before the group's commit makes the
    re-executed group add that contribution twice: the write-after-read hazard the property
    tests must catch. (Identical to ``static`` at granularities without input-channel tiles.)"""

    name = "inplace-static"
    double_buffer_psums = False


# ----------------------------------------------------------------------------------------------
# running one generated case


def failure_places(run) -> list[str]:
    """Where brown-outs struck in a run: "task", "preservation" (commit, checkpoint, result copy,
    done flag), "restore", "boot", "sleep" (each listed once)."""
    names = {"compute": "task", "preserve": "preservation", "restore": "restore", "boot": "boot",
             "sleep": "sleep", "idle": "sleep"}
    return sorted({names[k[12:]] for k, v in run.counts.items() if k.startswith("failures_in_") and v})


def violations(run, requests) -> list[str]:
    """What a correct scheduler must never do, as readable sentences (empty: none)."""
    out = []
    done = requests[requests["status"] == "done"]
    wrong = done[~done["correct"]]
    if len(wrong):
        out.append(f"{len(wrong)} of {len(done)} completed requests differ from continuous execution "
                   f"(requests {list(wrong['request'])})")
    scale = run.books["energy_harvested_j"] + run.books["energy_supply_j"] + run.e_initial_j
    residual = books_residual_j(run.books)
    if abs(residual) > 1e-9 * scale + 1e-12:
        out.append(f"energy books do not balance: residual {residual!r} J")
    return out


# ----------------------------------------------------------------------------------------------
# hypothesis strategies and the property

def strategies():
    """Hypothesis strategies: ``networks``, ``granularities``, ``storages``, ``traces``,
    ``failure_schedules`` (imported lazily: hypothesis is a test dependency)."""
    from hypothesis import strategies as st

    seeds = st.integers(0, 2**32 - 1)
    networks = seeds.map(lambda s: random_network(np.random.default_rng(s)))
    granularities = st.sampled_from(["layer", "channel", "channels:2", "layer,ic:1", "channels:2,ic:2", "rows:2",
                                     "element"])
    storages = st.builds(
        lambda c, von, voff, leak: Storage(capacitance_f=c, v_on_v=von, v_off_v=voff, v_max_v=3.6,
                                           v_initial_v=0.0, leakage_ohm=leak, input_efficiency=0.8,
                                           output_efficiency=0.9),
        st.sampled_from([4.7e-6, 10e-6, 22e-6, 47e-6]), st.sampled_from([3.0, 3.3]),
        st.sampled_from([1.8, 2.2, 2.5]), st.sampled_from([math.inf, 2e6]))
    traces = st.builds(lambda s, m: random_trace(np.random.default_rng(s), mean_power_w=m), seeds,
                       st.sampled_from([1e-3, 3e-3, 10e-3]))
    # per boot: no injection, a brown-out after n active cycles, or after n NVM words written
    # (a random network takes ~0.2-0.35 M cycles on the MSP430 preset, after a 16 k-cycle boot)
    failure_schedules = st.lists(st.one_of(
        st.none(),
        st.tuples(st.just("cycles"), st.integers(0, 300_000)),
        st.tuples(st.just("cycles"), st.integers(16_000, 60_000)),
        st.tuples(st.just("words"), st.integers(0, 400)),
        st.tuples(st.just("words"), st.integers(0, 12))), min_size=2, max_size=12)
    return {"networks": networks, "granularities": granularities, "storages": storages,
            "traces": traces, "failure_schedules": failure_schedules}


def scenario_cases(scheduler_names=("continuous",)):
    """Hypothesis strategy of scenario dicts (the TOML schema of :mod:`intersim.scenario`):
    a random CNN, a bursty looping harvest, a small capacitor, a granularity, two requests and a
    failure schedule. Each case is a complete scenario ``intersim run`` can replay."""
    from hypothesis import strategies as st

    s = strategies()
    faults = s["failure_schedules"].map(
        lambda xs: ["none" if x is None else f"{x[0]}:{x[1]}" for x in xs])

    def build(seed, net_seed, trace_seed, mean_w, granularity, c, von, voff, leak, brownout_at):
        storage = {"capacitance_f": c, "v_on_v": von, "v_off_v": voff, "v_max_v": 3.6, "v_initial_v": 0.0}
        if math.isfinite(leak):
            storage["leakage_ohm"] = leak
        return {
            "name": "counterexample", "seed": seed,
            "trace": {"generator": "random",
                      "params": {"seed": trace_seed, "mean_power_w": mean_w, "duration_s": 60.0, "period_s": 0.5}},
            "source": {"input_efficiency": 0.8},
            "storage": storage,
            "load": {"output_efficiency": 0.9},
            "platform": {"preset": "msp430fr5994"},
            "model": {"name": f"random_cnn:{net_seed}", "granularity": granularity},
            "workload": {"period_s": 5.0, "duration_s": 10.0, "drain_s": 120.0, "queue_capacity": 2},
            "faults": {"brownout_at": brownout_at},
            "schedulers": {"names": list(scheduler_names)},
        }

    seeds = st.integers(0, 2**31 - 1)
    return st.builds(build, seeds, seeds, seeds, st.sampled_from([1e-3, 3e-3, 10e-3]), s["granularities"],
                     st.sampled_from([4.7e-6, 10e-6, 22e-6, 47e-6]), st.sampled_from([3.0, 3.3]),
                     st.sampled_from([1.8, 2.2, 2.5]), st.sampled_from([math.inf, 2e6]), faults)


class SchedulerCheckFailed(AssertionError):
    """``check_scheduler`` found a counterexample; ``.scenario`` holds it (a scenario dict)."""

    def __init__(self, message, scenario, traceback_text=None):
        super().__init__(message)
        self.scenario = scenario
        self.traceback_text = traceback_text  # the scheduler's own, when it raised


def check_scheduler(scheduler_cls, max_examples: int | None = None, name: str | None = None):
    """Property: under generated traces, capacitors, networks, granularities and injected
    brown-outs (inside tasks, commits, checkpoints and restores), ``scheduler_cls`` gives the
    continuous-power output for every completed request and the energy books balance.

    Raises :class:`SchedulerCheckFailed` whose ``.scenario`` is the shrunk minimal counterexample
    as a scenario dict (``Scenario.to_toml`` writes it; ``intersim run`` replays it). ``name`` is
    how the scenario file names the scheduler (``"package.module:Class"``; default: derived from
    the class, for classes importable by that path).
    """
    from hypothesis import event, given, settings

    from .scenario import scenario_from_dict
    from .simulate import simulate

    ref = name or f"{scheduler_cls.__module__}:{scheduler_cls.__qualname__}"
    failing = {}

    @given(case=scenario_cases((ref, "continuous")))
    def prop(case):
        sc = scenario_from_dict(case, source="<generated case>")
        res = simulate(sc, schedulers=[scheduler_cls], record_timeline=False)
        if res.failures:  # the scheduler raised: a failing example, with its traceback
            failing["case"], failing["traceback"] = case, res.failures[0].traceback_text
            raise AssertionError(res.failures[0].line())
        run = res.runs[0]
        for where in failure_places(run):
            event(f"brown-out inside {where}")
        problems = violations(run, res.requests)
        if problems:
            failing["case"], failing["traceback"] = case, None
        assert not problems, "; ".join(problems)

    # simulations are numba-compiled and vary in length: no deadline; the caller's profile
    # (e.g. derandomised under CI) still applies otherwise
    from hypothesis import HealthCheck
    extra = {} if max_examples is None else {"max_examples": max_examples}
    prop = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], **extra)(prop)
    try:
        prop()
    except AssertionError as exc:
        if "case" not in failing:
            raise
        raise SchedulerCheckFailed(str(exc).splitlines()[0], failing["case"], failing.get("traceback")) from exc
