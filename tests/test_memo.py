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
        memo_for(net).clear()
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


def test_memo_evicts_the_least_recently_used_entries_not_all():
    """Over budget, the least recently used entries go one at a time: an entry just served
    survives, and so does every entry the new one leaves room for."""
    memo = TaskMemo(max_bytes=100)
    values = {k: np.full(20, i, np.uint8) for i, k in enumerate("abcd")}
    for k in "abc":
        memo.put((k, b"x" * 10), values[k])  # 30 B each: 90 B of 100
    assert memo.get(("a", b"x" * 10)) is values["a"] and not values["a"].flags.writeable
    memo.put(("d", b"x" * 10), values["d"])  # 120 B > 100: evict b (the least recently used) only
    assert memo.get(("b", b"x" * 10)) is None
    assert all(memo.get((k, b"x" * 10)) is values[k] for k in "acd")
    assert memo.evictions == 1 and memo.bytes == 90
    memo.put(("big", b"z"), np.zeros(200, np.uint8))  # larger than the budget: not kept, nothing evicted
    assert memo.get(("big", b"z")) is None and memo.bytes == 90


def test_fine_tasks_are_served_from_one_entry_per_layer_and_input():
    """At ``element`` granularity (one task per output value) each layer's arithmetic runs once
    per distinct input image: the other tasks of the layer slice its remembered output, and the
    memo holds one entry per layer and input, not one per task."""
    net = zoo.load("digits_cnn")
    x, _ = zoo.samples("digits_cnn")
    inputs = np.stack([x[0], x[1], x[0], x[1], x[2]])
    setup = _setup(net, "element", inputs)
    memo = memo_for(net)
    memo.clear()
    hits, misses = memo.hits, memo.misses
    run = Engine(setup, SCHEDULERS["continuous"]).run()
    n_requests = len(run.requests["status"])  # the inputs in turn
    assert n_requests > len(inputs) and (run.requests["status"] == "done").all() and run.requests["correct"].all()
    n_layers, n_distinct = len(net.layers), 3
    assert memo.misses - misses == n_layers * n_distinct
    assert len(memo.table) == n_layers * n_distinct
    assert memo.hits - hits == len(setup.tasks) * n_requests - n_layers * n_distinct


def test_runs_of_tasks_applied_at_once_equal_one_by_one(monkeypatch):
    """``TaskMemory.compute_tasks`` writes a run of sliced tasks of one layer as one slice; the
    run it gives equals the run that applies each task in turn (``compute_task``), in every
    request column, book and count, and in the memory the device ends with."""
    from intersim.sim.memops import TaskMemory

    def one_by_one(self, start, stop):
        for i in range(start, stop):
            self.compute_task(i, 1.0)

    rng = np.random.default_rng(5)
    for seed in range(3):
        net = random_network(np.random.default_rng(seed), size=6, channels=3, classes=4)
        inputs = rng.integers(-128, 128, size=(3,) + tuple(net.tensors[net.input_name]), dtype=np.int8)
        for granularity in ("channel", "rows:1", "element"):
            for name in ("jit", "static", "hawaii"):
                runs = []
                for patch in (False, True):
                    with monkeypatch.context() as m:
                        if patch:
                            m.setattr(TaskMemory, "compute_tasks", one_by_one)
                        engine = Engine(_setup(net, granularity, inputs, seed=seed), SCHEDULERS[name])
                        runs.append((engine.run(), engine.memory.arena))
                (a, mem_a), (b, mem_b) = runs
                assert a.books == b.books and a.counts == b.counts, (seed, granularity, name)
                for col, values in a.requests.items():
                    np.testing.assert_array_equal(values, b.requests[col], err_msg=f"{name} {granularity}: {col}")
                for kind in mem_a:
                    np.testing.assert_array_equal(mem_a[kind], mem_b[kind])
                assert (a.requests["status"] == "done").any() and a.requests["correct"][a.requests["status"] == "done"].all()
