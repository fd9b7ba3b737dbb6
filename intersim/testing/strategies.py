"""Hypothesis strategies for scheduler property tests, drawn structurally so that shrinking
yields a small network, a short trace, a plain capacitor and few failures. Public and
composable: narrow any of them with hypothesis's own combinators (``.filter``, ``st.sampled_from``
of your own values, or the parameters below), e.g.::

    from intersim.testing import networks, failure_schedules, scenario_cases
    tiny = scenario_cases(networks=networks(max_layers=1), failure_schedules=failure_schedules(max_failures=2))

(hypothesis is a test dependency: imported when a strategy is made.)
"""
from __future__ import annotations

import math

import numpy as np

from ..energy.capacitor import Storage
from ..energy.generators import random_trace
from ..nn.zoo import RANDOM_PREFIX

GRANULARITIES = ("layer", "channel", "channels:2", "layer,ic:1", "channels:2,ic:2", "rows:2", "element")
CAPACITANCES_F = (4.7e-6, 10e-6, 22e-6, 47e-6)
MEAN_POWERS_W = (1e-3, 3e-3, 10e-3)
#: the capacitors of ``optimal``'s claim (issue 16 item 7): 1 uF to 10 mF [F]
CAPACITANCE_RANGE_F = (1e-6, 10e-3)
#: long traces: mean harvested power range [W] (a 10 uW indoor cell to a 30 mW outdoor one, [EST]
#: spanning the shipped generators' indoor and solar presets), duration range [s] (1 h to 6 h),
#: sample periods [s], zero-harvest gap lengths [s] (1 min to 2 h) and at most this many gaps
LONG_MEAN_POWER_RANGE_W = (10e-6, 30e-3)
LONG_DURATION_RANGE_S = (3600.0, 6 * 3600.0)
LONG_PERIODS_S = (0.5, 1.0, 10.0, 60.0)
GAP_RANGE_S = (60.0, 2 * 3600.0)
MAX_GAPS = 3


def network_names(max_layers: int = 2, max_channels: int = 4, sizes=(6, 4, 3), max_classes: int = 5):
    """Zoo names ``random_cnn:SEED:SIZE:C1-..:CLASSES[:nopool]`` of structured random CNNs: the
    structure is drawn (layers, channels, input size, classes, pooling), the weights from a seed
    that shrinks to 0. Shrinks towards one 1-channel layer on a 3x3 input."""
    from hypothesis import strategies as st

    def name(seed, size, channels, classes, pool):
        return f"{RANDOM_PREFIX}{seed}:{size}:{'-'.join(map(str, channels))}:{classes}" + ("" if pool else ":nopool")

    return st.builds(name, st.integers(0, 2**16), st.sampled_from(sorted(sizes)),
                     st.lists(st.integers(1, max_channels), min_size=1, max_size=max_layers),
                     st.integers(2, max_classes), st.booleans())


def networks(**kwargs):
    """Strategy of structured random networks (:func:`network_names`' keywords), as objects."""
    from ..nn import zoo
    return network_names(**kwargs).map(zoo.load)


def granularities(values=GRANULARITIES):
    """Strategy of task granularities (``intersim.nn.tasks.lower``), shrinking to ``layer``."""
    from hypothesis import strategies as st
    return st.sampled_from(list(values))


def log_uniform(lo: float, hi: float):
    """Strategy of floats log-uniform on ``[lo, hi]`` (both > 0), shrinking towards ``lo``.
    Hypothesis favours small and boundary values of what it draws (over half of a plain
    ``floats(0, 1)`` map lands in the lowest decade of 1 uF-10 mF); an integer scrambled by a
    multiplicative hash spreads them evenly, and 0 still maps to ``lo``."""
    from hypothesis import strategies as st
    if not 0 < lo <= hi:
        raise ValueError(f"log_uniform: range [{lo!r}, {hi!r}] is not allowed; it needs 0 < lo <= hi")
    a, b = math.log(lo), math.log(hi)
    m = 2**24
    return st.integers(0, m - 1).map(
        lambda k: min(hi, max(lo, math.exp(a + ((k * 0x9E3779B1) % m) / (m - 1) * (b - a)))))


def storage_params(capacitances_f=CAPACITANCES_F):
    """Strategy of ``[storage]`` tables (scenario schema), shrinking to the smallest capacitor.
    ``capacitances_f`` [F]: values to sample from, or a strategy of them (e.g.
    ``log_uniform(*CAPACITANCE_RANGE_F)``)."""
    from hypothesis import strategies as st
    if not isinstance(capacitances_f, st.SearchStrategy):
        capacitances_f = st.sampled_from(list(capacitances_f))

    def table(c, von, voff, leak):
        t = {"capacitance_f": c, "v_on_v": von, "v_off_v": voff, "v_max_v": 3.6, "v_initial_v": 0.0}
        if math.isfinite(leak):
            t["leakage_ohm"] = leak
        return t

    return st.builds(table, capacitances_f, st.sampled_from([3.0, 3.3]),
                     st.sampled_from([1.8, 2.2, 2.5]), st.sampled_from([math.inf, 2e6]))


def storage_of(t):
    """The :class:`~intersim.energy.capacitor.Storage` of a :func:`storage_params` table (input
    and output efficiencies 0.8 and 0.9, as in :func:`scenario_cases`)."""
    return Storage(capacitance_f=t["capacitance_f"], v_on_v=t["v_on_v"], v_off_v=t["v_off_v"], v_max_v=3.6,
                   v_initial_v=0.0, leakage_ohm=t.get("leakage_ohm", math.inf), input_efficiency=0.8,
                   output_efficiency=0.9)


def storages(capacitances_f=CAPACITANCES_F):
    """Strategy of :class:`~intersim.energy.capacitor.Storage` objects (see :func:`storage_params`)."""
    return storage_params(capacitances_f).map(storage_of)


def trace_params(mean_powers_w=MEAN_POWERS_W):
    """Strategy of ``random`` trace parameters (``seed``, ``mean_power_w``, 60 s at 0.5 s)."""
    from hypothesis import strategies as st
    return st.builds(lambda s, m: {"seed": s, "mean_power_w": m, "duration_s": 60.0, "period_s": 0.5},
                     st.integers(0, 2**16), st.sampled_from(list(mean_powers_w)))


def traces(mean_powers_w=MEAN_POWERS_W):
    """Strategy of bursty looping harvest traces (:func:`intersim.energy.generators.random_trace`)."""
    return trace_params(mean_powers_w).map(
        lambda p: random_trace(np.random.default_rng(p["seed"]), mean_power_w=p["mean_power_w"]))


def long_trace_params(mean_power_range_w=LONG_MEAN_POWER_RANGE_W, duration_range_s=LONG_DURATION_RANGE_S,
                      periods_s=LONG_PERIODS_S, gap_range_s=GAP_RANGE_S, max_gaps=MAX_GAPS):
    """Strategy of multi-hour trace parameters: a bursty ``random`` harvest (``seed``,
    ``mean_power_w`` log-uniform, ``duration_s`` [s], ``period_s`` [s]) with ``gaps``, a list of
    ``(start [s], length [s])`` zero-harvest intervals (lengths log-uniform). Shrinks towards one
    hour, the lowest power, the shortest period and no gaps."""
    from hypothesis import strategies as st

    @st.composite
    def draw(draw_):
        duration = draw_(st.floats(*duration_range_s).map(lambda d: float(round(d))))
        gap = st.tuples(st.floats(0.0, 1.0).map(lambda u: float(round(u * duration))), log_uniform(*gap_range_s))
        return {"seed": draw_(st.integers(0, 2**16)),
                "mean_power_w": draw_(log_uniform(*mean_power_range_w)),
                "duration_s": duration, "period_s": draw_(st.sampled_from(list(periods_s))),
                "gaps": draw_(st.lists(gap, max_size=max_gaps))}

    return draw()


def long_trace(params):
    """The trace of :func:`long_trace_params`' ``params``: ``random_trace`` (exponential samples,
    30 % of them zero) over ``duration_s``, not looping, zero inside every gap."""
    from ..energy.trace import Trace
    base = random_trace(np.random.default_rng(params["seed"]), duration_s=params["duration_s"],
                        mean_power_w=params["mean_power_w"], period_s=params["period_s"])
    p = base.power_w.copy()
    for start, length in params.get("gaps", ()):
        p[(base.time_s + params["period_s"] > start) & (base.time_s < start + length)] = 0.0
    return Trace(base.time_s, p, base.end_s, loop=False, name="random with gaps")


def long_traces(**kwargs):
    """Strategy of multi-hour traces with zero-harvest gaps (:func:`long_trace_params`' keywords)."""
    return long_trace_params(**kwargs).map(long_trace)


def failure_schedules(max_failures: int = 12, max_cycles: int = 300_000, max_words: int = 400):
    """Strategy of per-boot injected brown-outs (``Setup.brownout_at``): each boot none, a
    brown-out after ``n`` active cycles or after ``n`` NVM words since boot. Shrinks towards no
    failures: fewer boots with one, then smaller ``n``."""
    from hypothesis import strategies as st
    one = st.one_of(st.none(),
                    st.tuples(st.just("words"), st.integers(0, 12)),
                    st.tuples(st.just("words"), st.integers(0, max_words)),
                    st.tuples(st.just("cycles"), st.integers(16_000, 60_000)),
                    st.tuples(st.just("cycles"), st.integers(0, max_cycles)))
    return st.lists(one, min_size=0, max_size=max_failures).map(_trim)


def _trim(xs):
    """Trailing boots without a failure say nothing: drop them (a smaller, equal schedule)."""
    xs = list(xs)
    while xs and xs[-1] is None:
        xs.pop()
    return xs


def strategies():
    """The strategies by name (``networks``, ``granularities``, ``storages``, ``traces``,
    ``failure_schedules``), at their defaults."""
    return {"networks": networks(), "granularities": granularities(), "storages": storages(),
            "traces": traces(), "failure_schedules": failure_schedules()}


def scenario_cases(scheduler_names=("continuous",), *, networks=None, granularities=None, storages=None,
                   traces=None, failure_schedules=None, requests=(2, 3)):
    """Strategy of scenario dicts (the TOML schema of :mod:`intersim.scenario`): a structured
    random CNN (``networks``: a strategy of zoo names, :func:`network_names`), a bursty looping
    harvest (``traces``: of :func:`trace_params`), a small capacitor (``storages``: of
    :func:`storage_params`), a granularity, several requests and a failure schedule. Each case is
    a complete scenario ``intersim run`` can replay. Pass narrowed strategies to narrow it."""
    from hypothesis import strategies as st
    g = globals()
    nets = networks if networks is not None else g["network_names"]()
    grans = granularities if granularities is not None else g["granularities"]()
    stor = storages if storages is not None else g["storage_params"]()
    trs = traces if traces is not None else g["trace_params"]()
    fails = failure_schedules if failure_schedules is not None else g["failure_schedules"]()
    faults = fails.map(lambda xs: ["none" if x is None else f"{x[0]}:{x[1]}" for x in xs])

    def build(model, granularity, storage, trace, n_req, brownout_at):
        return {
            "name": "counterexample", "seed": 0,
            "trace": {"generator": "random", "params": trace},
            "source": {"input_efficiency": 0.8},
            "storage": storage,
            "load": {"output_efficiency": 0.9},
            "platform": {"preset": "msp430fr5994"},
            "model": {"name": model, "granularity": granularity},
            "workload": {"period_s": 5.0, "duration_s": 5.0 * n_req, "drain_s": 120.0, "queue_capacity": n_req},
            "faults": {"brownout_at": brownout_at},
            "schedulers": {"names": list(scheduler_names)},
        }

    return st.builds(build, nets, grans, stor, trs, st.sampled_from(list(requests)), faults)
