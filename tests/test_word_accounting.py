"""Exact NVM word accounting under injected failures (issue 16, item 1): a ``("words", n)``
brown-out persists exactly ``n`` NVM words since boot -- whatever the write in progress (a task's
output tile, a Copy, control words) and whatever the arrival time (the float times of the run)."""
import numpy as np
import pytest

from intersim.energy.capacitor import Storage
from intersim.energy.generators import constant
from intersim.hw.memory import NVM, cycles_for_words, words_done
from intersim.hw.platform import get_platform
from intersim.nn.random_network import random_network
from intersim.nn.tasks import lower
from intersim.sched.contract import REQUEST_SEQ_WORD, Copy, Done, Idle, RunTasks, WriteWords, tensor_buffer
from intersim.sched.static import Static
from intersim.sim.engine import Engine, Setup
from intersim.sim.workload import Workload

N_CTRL = 3  # control words written after the result copy


class Writer(Static):
    """Every kind of NVM write once per request, in order: the tasks (NVM output tiles), a Copy of
    the output into ``result``, a WriteWords of ``N_CTRL`` words, then Done."""

    name = "writer"

    @classmethod
    def layout(cls, memory, setup, plan=None):
        Static.layout(memory, setup, plan)
        memory.allocate("result", NVM, setup.network.tensors[setup.network.output_name])
        for j in range(N_CTRL):
            memory.allocate(f"ctrl{j}", NVM, (1,), "uint16")
        return "result"

    def on_boot(self, dev):
        self.step = 0

    def next_action(self, dev):
        if not dev.request_active:
            return Idle()
        self.step += 1
        n = len(dev.tasks)
        return {1: RunTasks(0, n), 2: Copy(tensor_buffer(dev.network.output_name), "result"),
                3: WriteWords(tuple((f"ctrl{j}", 0xBEEF) for j in range(N_CTRL)), commits=True)}.get(self.step, Done())


def _engine(brownout_at, start_s, granularity="channel"):
    net = random_network(np.random.default_rng(3))
    x = np.random.default_rng(1).integers(-128, 128, size=net.tensors[net.input_name], dtype=np.int64).astype(np.int8)
    storage = Storage(capacitance_f=10e-3, v_on_v=3.0, v_off_v=1.8, v_max_v=3.6, v_initial_v=3.3)
    wl = Workload(period_s=10.0, duration_s=10.0, drain_s=20.0, queue_capacity=1, start_s=start_s)
    setup = Setup(network=net, tasks=lower(net, granularity), platform=get_platform("msp430fr5994"),
                  storage=storage, trace=constant(0.05, 60.0), workload=wl, inputs=x[None],
                  labels=None, references=[net.run(x)], record_timeline=False, brownout_at=tuple(brownout_at))
    return Engine(setup, Writer)


def persisted_words_of_first_boot(brownout_at, start_s):
    """NVM words the first boot persisted before its first brown-out, counted at the memory model
    (bytes each write persisted, as aligned words), independently of the engine's own counter."""
    eng = _engine(brownout_at, start_s)
    mem, log = eng.memory, {"on": False, "words": 0}
    write, write_word, arm, brownout = mem.write, mem.write_word, eng._arm_injection, eng._brownout

    def counted_write(memory, offset, data, *args, **kw):
        n = write(memory, offset, data, *args, **kw)
        if log["on"] and memory == NVM:
            log["words"] += mem.span_words(offset, n)
        return n

    def counted_word(name, value, *args, **kw):
        ok = write_word(name, value, *args, **kw)
        # (the request sequence word is the environment's, written at an arrival)
        log["words"] += bool(log["on"] and ok and name != REQUEST_SEQ_WORD)
        return ok

    def armed(k):
        log["on"] = k == 0
        arm(k)

    def browned_out():
        log["on"] = False
        brownout()

    mem.write, mem.write_word, eng._arm_injection, eng._brownout = counted_write, counted_word, armed, browned_out
    # a complete write of a task tile bypasses Memory.write (raw slice): count those too
    compute = eng.taskmem.compute_task

    def counted_task(index, fraction=1.0, words=None):
        if log["on"] and words is None and fraction >= 1.0:
            log["words"] += int(eng.task_words[index])
        return compute(index, fraction, words)

    eng.taskmem.compute_task = counted_task
    # runs of whole tasks go one by one through the counter (that batching a run writes the
    # same memory is tests/test_memo.py::test_runs_of_tasks_applied_at_once_equal_one_by_one)
    eng.taskmem.compute_tasks = lambda start, stop: [counted_task(i) for i in range(start, stop)]
    copy = eng.taskmem.write_raw

    def counted_copy(name, data, fraction=1.0, words=None):
        if log["on"] and words is None and fraction >= 1.0 and eng.taskmem.buffer_memory(name) == NVM:
            log["words"] += mem.buffer_words(name)
        return copy(name, data, fraction, words)

    eng.taskmem.write_raw = counted_copy
    run = eng.run()
    return log["words"], run, eng


def test_helpers_are_integer_inverses():
    for words in range(1, 40):
        for cycles in (words, words + 1, 3 * words + 2, 1000):
            for n in range(words + 1):
                c = cycles_for_words(words, cycles, n)
                assert words_done(words, cycles, c) == n
                assert c == 0 or words_done(words, cycles, c - 1) < n


@pytest.mark.parametrize("start_s", [0.0, 0.1, 1 / 3, 0.7, 2.9])
def test_a_words_cut_persists_exactly_n_words(start_s):
    total, run, eng = persisted_words_of_first_boot([], start_s)
    tasks = int(eng.task_words.sum())
    assert run.counts["power_failures"] == 0 and total == tasks + eng.memory.buffer_words("result") + N_CTRL + 1
    # every boundary of the control words and the copy, and a spread of points inside the tasks
    ns = sorted(set(range(tasks - 3, total)) | set(range(0, tasks, max(1, tasks // 25))))
    for n in ns:
        got, run, _ = persisted_words_of_first_boot([("words", n)], start_s)
        assert run.counts["injected_failures"] >= 1, n
        assert got == n, f"words:{n} at arrival {start_s} s persisted {got} words"
