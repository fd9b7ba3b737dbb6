"""The task-output memo: it replaces only the arithmetic, so results are the same whether a task's
bytes were seen before or not, and different input bytes are never served a stale output."""
import numpy as np

from intersim.nn import zoo
from intersim.sim.engine import Engine, Setup
from intersim.sim.task_memo import TaskMemo, memo_for
from intersim.hw.platform import get_platform
from intersim.sched.registry import SCHEDULERS
from intersim.nn.tasks import lower
from intersim.testing import random_network, random_trace
from intersim.energy.capacitor import Storage
from intersim.sim.workload import Workload


def _setup(net, granularity, inputs, seed=3):
    rng = np.random.default_rng(seed)
    trace = random_trace(rng, duration_s=40.0, mean_power_w=2e-3, period_s=0.5)
    storage = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, leakage_ohm=5e6,
                      input_efficiency=0.8, output_efficiency=0.9)
    wl = Workload(period_s=2.0, duration_s=30.0, drain_s=10.0, queue_capacity=2)
    return Setup(network=net, tasks=lower(net, granularity), platform=get_platform("msp430fr5994"),
                 storage=storage, trace=trace, workload=wl, inputs=inputs, labels=None,
                 references=[net.run(x) for x in inputs], record_timeline=False)


def test_memo_hits_give_the_same_run_bit_for_bit():
    """A run whose every task is served from the memo equals the run that computed them, in
    every request column, book and count; and every output is the continuous one."""
    rng = np.random.default_rng(11)
    net = random_network(rng, size=6, channels=3, classes=4)
    inputs = rng.integers(-128, 128, size=(3,) + tuple(net.tensors[net.input_name]), dtype=np.int8)
    for name in ("jit", "static", "restart"):
        memo_for(net).table.clear()
        first = Engine(_setup(net, "channel", inputs), SCHEDULERS[name]).run()
        hits = memo_for(net).hits
        second = Engine(_setup(net, "channel", inputs), SCHEDULERS[name]).run()
        assert memo_for(net).hits > hits  # the second run was served from the memo
        assert first.books == second.books and first.counts == second.counts
        for col, values in first.requests.items():
            np.testing.assert_array_equal(values, second.requests[col], err_msg=f"{name}: {col}")
        done = first.requests["status"] == "done"
        assert done.any() and first.requests["correct"][done].all()


def test_different_bytes_are_computed_afresh():
    """Two inputs through the same task: each request's result is its own reference, so the
    second input was not answered with the first one's memoised output."""
    net = zoo.load("digits_cnn")
    x, _ = zoo.samples("digits_cnn")
    inputs = np.stack([x[0], x[1], x[0], x[1]])
    setup = _setup(net, "layer", inputs)
    run = Engine(setup, SCHEDULERS["continuous"]).run()
    done = run.requests["status"] == "done"
    assert done.sum() >= 4 and run.requests["correct"][done].all()
    refs = [r.tobytes() for r in setup.references]
    assert refs[0] != refs[1]


def test_memo_budget_clears_and_keeps_values_read_only():
    memo = TaskMemo(max_bytes=100)
    value = np.arange(45, dtype=np.uint8)
    memo.put(("k", b"x" * 10), value)
    assert memo.get(("k", b"x" * 10)) is value and not value.flags.writeable
    memo.put(("k2", b"y" * 10), np.arange(45, dtype=np.uint8))
    assert memo.get(("k", b"x" * 10)) is None  # over budget: cleared, then the new entry kept
    assert memo.get(("k2", b"y" * 10)) is not None
    memo.put(("big", b"z"), np.zeros(200, np.uint8))  # larger than the budget: not kept
    assert memo.get(("big", b"z")) is None
