"""Whole request cycles of an idle device in one kernel call (issue 17, target 3): the idle sleep
to the next arrival, the wake-up, the request's actions and ``Done`` (``power_cycles._request_cycles``,
``CompiledCycles.request_cycles``) give the run stepped in Python, bit for bit."""
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intersim.energy.capacitor import Storage
from intersim.errors import SchedulerError
from intersim.sched.registry import SCHEDULERS
from intersim.sim import power_cycles as cycles
from intersim.sim.timeline import Timeline
from intersim.testing import random_network, random_trace, run_case

from test_cycles import GRANULARITIES, NETWORKS, assert_same_run, compiled_and_stepped, storages, traces

#: schedulers whose classes declare nvm_determined (the kernel replays only those)
NAMES = ["static", "jit", "jit-task", "restart"]


@pytest.mark.parametrize("name", NAMES)
def test_request_kernel_equals_stepped_requests(name):
    """Arrivals sparse enough that the device idles between requests, on capacitors that mostly
    hold a request (brown-outs, checkpoints and queued arrivals in between): the request kernel
    takes the idle, the wake-up, the request's actions and ``Done``; the run -- books, counts,
    the events count and every request column -- is the one stepped in Python."""
    taken = Counter()

    @given(network=NETWORKS, granularity=GRANULARITIES,
           storage=storages([10e-6, 47e-6, 100e-6, 470e-6]), trace=traces([0.3e-3, 1e-3, 3e-3, 10e-3]),
           period_s=st.sampled_from([0.1, 0.3, 1.0, 2.5]), queue=st.integers(1, 3), timeline=st.booleans())
    def prop(network, granularity, storage, trace, period_s, queue, timeline):
        kw = dict(n_requests=int(30.0 / period_s), period_s=period_s, drain_s=8.0, record_timeline=timeline,
                  queue_capacity=queue)
        fast, slow = compiled_and_stepped(SCHEDULERS[name], network, granularity, trace, storage, **kw)
        assert slow.compiled_cycles["requests"] == 0
        taken["examples"] += 1
        taken["taken"] += fast.compiled_cycles["requests"] > 0
        taken["with timeline"] += timeline and fast.compiled_cycles["requests"] > 0

    prop()
    n = taken["examples"]
    # the comparison means something only where the kernel took request cycles
    assert taken["taken"] >= 0.15 * n, f"the request kernel took cycles in {taken['taken']}/{n} examples of {name}"
    assert taken["with timeline"] >= 1, f"the request kernel never took cycles of {name} recording a timeline"


def _idle_case():
    storage = Storage(capacitance_f=100e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, v_initial_v=0.0,
                      leakage_ohm=2e6, input_efficiency=0.8, output_efficiency=0.9)
    network = random_network(np.random.default_rng(0))
    trace = random_trace(np.random.default_rng(100), duration_s=40.0, mean_power_w=3e-3)
    return network, trace, storage, dict(n_requests=40, period_s=1.0, drain_s=8.0, record_timeline=False)


@pytest.mark.parametrize("name,timeline", [("static", False), ("jit", False), ("jit", True)])
def test_request_kernel_python_version_agrees(monkeypatch, name, timeline):
    """The request kernel as plain Python (``.py_func``) gives the compiled kernel's run."""
    network, trace, storage, kw = _idle_case()
    kw["record_timeline"] = timeline
    compiled, _ = run_case(SCHEDULERS[name], network, "layer", trace, storage, **kw)
    assert compiled.compiled_cycles["requests"] > 10
    monkeypatch.setattr(cycles, "_request_cycles", cycles._request_cycles.py_func)
    python, _ = run_case(SCHEDULERS[name], network, "layer", trace, storage, **kw)
    assert python.compiled_cycles == compiled.compiled_cycles
    assert_same_run(python, compiled)


@pytest.mark.parametrize("name", ["static", "jit"])
def test_request_kernel_records_the_timeline(monkeypatch, name):
    """With a timeline recorded the request kernel takes the request cycles it takes without, and
    the timeline -- its segments, states ("idle", "compute", "preserve") and pin loads -- is the
    one stepped in Python; 450 requests write more segments than the buffer first holds (4096),
    so the buffer grows between kernel calls where the stepped run grows it. The rest of the run
    is the one without a timeline. The buffer grows at the same segment count either way (where
    the stepped run grows it: before a run of tasks, ``Timeline.ensure``, or when an advance fills
    it), so the capacitor's books are flushed at the same points."""
    network, trace, storage, kw = _idle_case()
    kw["n_requests"] = 450
    bare, _ = run_case(SCHEDULERS[name], network, "layer", trace, storage, **kw)
    kw["record_timeline"] = True
    growths = []
    resize = Timeline._resize

    def logged(self, size):
        growths.append((self.n_seg, self.seg[0].size, size))
        resize(self, size)

    monkeypatch.setattr(Timeline, "_resize", logged)
    recorded, _ = run_case(SCHEDULERS[name], network, "layer", trace, storage, **kw)
    grown_recorded, growths[:] = list(growths), []
    stepped, _ = run_case(SCHEDULERS[name], network, "layer", trace, storage, fast_cycles=False, **kw)
    assert grown_recorded == growths and len(growths) >= 1
    assert recorded.compiled_cycles["requests"] > 400
    assert recorded.timeline["state"].size > 4096
    assert set(recorded.timeline["state"]) >= {"idle", "compute", "preserve"}
    assert_same_run(recorded, stepped)
    assert (bare.books, bare.counts, bare.events) == (recorded.books, recorded.counts, recorded.events)
    # (the cycle in which the buffer grows is stepped)
    assert 0 <= bare.compiled_cycles["requests"] - recorded.compiled_cycles["requests"] <= 2


def test_a_scheduler_answering_otherwise_at_a_request_the_kernel_took_is_refused():
    """A class that declares ``nvm_determined`` but answers otherwise at a later request (here: an
    extra commit word on every fifth sequence number) cannot have that request replayed: the
    engine refuses it, naming the class, instead of giving another run."""
    from intersim.sched.static import Static
    from intersim.sched.contract import WriteWords

    class ExtraOnFifth(Static):
        name = "extra-on-fifth"
        nvm_determined = True

        def next_action(self, dev):
            action = super().next_action(dev)
            if type(action) is WriteWords and dev.request_seq % 5 == 0:
                return WriteWords(action.words + (("progress", self.group),), commits=True)
            return action

    network, trace, storage, kw = _idle_case()
    slow, _ = run_case(ExtraOnFifth, network, "layer", trace, storage, fast_cycles=False, **kw)
    assert (slow.requests["status"] == "done").sum() > 10
    with pytest.raises(SchedulerError, match="extra-on-fifth.*declares nvm_determined"):
        run_case(ExtraOnFifth, network, "layer", trace, storage, **kw)


def test_simpy_reaches_a_wake_time_only_the_arrivals_chain_reaches():
    """After the kernel, simpy must stand at the last wake-up exactly. Arrival times every 0.3 s
    accumulate as ``t_k + (a_{k+1} - t_k)`` in simpy: here one of them (5.3999999999999995 s) is
    not ``now + d`` for any float delay ``d`` from simpy's clock before the call (0.8999999999999999 s), so one
    timeout cannot land on it; the engine then waits on the arrivals' own events. (Found by the
    property above: a single timeout left simpy one ulp early and request 19 ran otherwise.)"""
    storage = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=1.8, v_max_v=3.6, v_initial_v=0.0,
                      leakage_ohm=float("inf"), input_efficiency=0.8, output_efficiency=0.9)
    network = random_network(np.random.default_rng(0))
    trace = random_trace(np.random.default_rng(1), duration_s=40.0, mean_power_w=0.01)
    kw = dict(n_requests=100, period_s=0.3, drain_s=8.0, record_timeline=False, queue_capacity=1)
    fast, _ = run_case(SCHEDULERS["jit"], network, "layer", trace, storage, **kw)
    slow, _ = run_case(SCHEDULERS["jit"], network, "layer", trace, storage, fast_cycles=False, **kw)
    assert fast.compiled_cycles["requests"] > 50
    assert_same_run(fast, slow)


def test_request_kernel_runs_with_a_progress_callback(monkeypatch):
    """``intersim run`` passes a progress bar (``Setup.progress``): the request kernel still takes
    the request cycles, the run is the one without a callback, and the callback hears increasing
    simulated times up to the run's end, at most about once per thousandth of the run."""
    import importlib
    from intersim.sim.engine import Setup

    simulate = importlib.import_module("intersim.simulate")  # (the package's ``simulate`` is the function)

    network, trace, storage, kw = _idle_case()
    kw["record_timeline"] = True
    bare, _ = run_case(SCHEDULERS["static"], network, "layer", trace, storage, **kw)
    heard = []
    monkeypatch.setattr(simulate, "Setup", lambda **k: Setup(**k, progress=heard.append))
    with_bar, _ = run_case(SCHEDULERS["static"], network, "layer", trace, storage, **kw)
    assert with_bar.compiled_cycles["requests"] == bare.compiled_cycles["requests"] > 30
    assert_same_run(with_bar, bare)
    assert len(heard) >= 2 and heard == sorted(heard)
    span = with_bar.horizon_s - heard[0]
    assert heard[-1] >= with_bar.horizon_s - 10.0 and np.all(np.diff(heard) >= span / 1000.0 * (1 - 1e-9))
