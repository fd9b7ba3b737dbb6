"""``TaskMemory.compute_run``: a whole request's run of tasks served as one memo entry per input
gives the memory that computing every task in turn gives, whatever the bytes there before."""
import numpy as np

from intersim.energy.capacitor import Storage
from intersim.hw.platform import get_platform
from intersim.nn.tasks import lower
from intersim.sched.contract import INPUT_BUFFER
from intersim.sched.registry import SCHEDULERS
from intersim.sim.engine import Engine, Setup
from intersim.sim.task_memo import memo_for
from intersim.sim.workload import Workload
from intersim.testing import random_network, random_trace


def _engine(net, granularity, name):
    storage = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, leakage_ohm=5e6,
                      input_efficiency=0.8, output_efficiency=0.9)
    x = np.zeros((1,) + tuple(net.tensors[net.input_name]), np.int8)
    setup = Setup(network=net, tasks=lower(net, granularity), platform=get_platform("msp430fr5994"),
                  storage=storage, trace=random_trace(np.random.default_rng(0), duration_s=10.0, mean_power_w=1e-3),
                  workload=Workload(period_s=2.0, duration_s=4.0, drain_s=1.0, queue_capacity=2),
                  inputs=x, labels=None, references=[net.run(x[0])], record_timeline=False)
    return Engine(setup, SCHEDULERS[name])


def test_whole_run_memo_equals_every_task_in_turn():
    rng = np.random.default_rng(3)
    memoised = 0
    for seed in range(3):
        net = random_network(np.random.default_rng(seed), size=6, channels=3, classes=4)
        memo_for(net).clear()
        for granularity in ("layer", "channel", "rows:2", "channels:2,ic:2", "element"):
            for name in ("jit", "static"):
                eng = _engine(net, granularity, name)
                mem, taskmem = eng.memory, eng.taskmem
                shape = mem.raw(INPUT_BUFFER).shape
                for _ in range(2):  # the first computes (and keeps), the second is served
                    x = rng.integers(0, 256, size=shape, dtype=np.uint8)
                    for garbage in range(2):
                        for arena in mem.arena.values():
                            arena[:] = rng.integers(0, 256, size=arena.size, dtype=np.uint8)
                        mem.raw(INPUT_BUFFER)[:] = x
                        before = {k: a.copy() for k, a in mem.arena.items()}
                        taskmem.compute_tasks(0, len(eng.setup.tasks))
                        expected = {k: a.copy() for k, a in mem.arena.items()}
                        for k, a in mem.arena.items():
                            a[:] = before[k]
                        taskmem.compute_run()
                        for k, a in mem.arena.items():
                            np.testing.assert_array_equal(a, expected[k], err_msg=f"{name} {granularity} {k}")
                memoised += bool(taskmem._whole_outs)
    # (the comparison means something only where the run was memoised as a whole)
    assert memoised >= 10, memoised


def test_a_run_reading_bytes_it_did_not_write_is_not_memoised_whole():
    """Without the first layer's tasks the run reads that layer's output, written by nobody in
    the run: its result depends on more than the input, so it is not kept as a whole."""
    net = random_network(np.random.default_rng(1), size=6, channels=3, classes=4)
    eng = _engine(net, "channel", "jit")
    tasks = eng.setup.tasks
    assert eng.taskmem._whole_run_buffers()
    first = sum(t.layer == tasks[0].layer for t in tasks)
    eng.taskmem.plan_tasks(tasks[first:])
    assert eng.taskmem._whole_run_buffers() == []
