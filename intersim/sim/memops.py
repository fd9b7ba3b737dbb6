"""Memory operations of a run: tasks' int8 arithmetic on the memory contents (memoised), copies
between buffers, and cut (torn) writes.

A task's output bytes are a pure function of the bytes it reads, so the arithmetic goes through
the task-output memo; every write still goes through the memory model (torn NVM words, poisoned
SRAM).
"""
from __future__ import annotations

import numpy as np

from ..errors import SchedulerError
from ..hw.cost import transfer_cost
from ..hw.memory import NVM, SRAM
from ..sched.contract import INPUT_BUFFER, SRAM_IMAGE, tensor_buffer
from .task_memo import memo_for


class TaskMemory:
    """The memory side of one run.

    Parameters
    ----------
    memory : intersim.hw.memory.Memory  the device memory (finalised layout)
    network : intersim.nn.network.Network
    platform : intersim.hw.platform.Platform
    scheduler_name : str  for error messages
    """

    def __init__(self, memory, network, platform, scheduler_name):
        self.memory = memory
        self.network = network
        self.platform = platform
        self._name = scheduler_name
        self.memo = memo_for(network)
        self.plans = []
        self._transfer_costs = {}   # (bytes, direction) -> Cost, the same copies recur every request
        self._copies = {}           # (src, dst, category) -> checked Copy spec, see copy_spec

    def plan_tasks(self, tasks):
        """Per-task constants of :meth:`compute_task`, once per run."""
        self.plans = [self._task_plan(t) for t in tasks]

    # ------------------------------------------------------------------ tasks
    def _task_plan(self, task):
        """(task, layer, input views, buffers read, destination buffer, its byte range, memo key,
        destination in SRAM); memory views stay valid for the run."""
        mem = self.memory
        layer = self.network.layers[task.layer]
        in_names = [self.tensor_buf(name) for name in task.inputs]
        inputs = [mem.view(name) for name in in_names]
        reads = [mem.raw(name) for name in in_names]
        if task.kind == "accumulate":
            if task.psum_src is not None:
                reads.append(mem.raw(task.psum_src))
            dst, a, b = task.psum_dst, 4 * task.out_byte_start, 4 * task.out_byte_stop
        else:
            if task.kind == "finalize":
                reads.append(mem.raw(task.psum_src))
            dst, a, b = self.tensor_buf(task.output), task.out_byte_start, task.out_byte_stop
        key = self.memo.task_id((task.layer, task.kind, task.c_start, task.c_stop, task.ic_start, task.ic_stop,
                                 a, b, mem.buffers[dst].shape))
        return task, layer, inputs, reads, dst, a, b, key, mem.buffers[dst].memory == SRAM

    def compute_task(self, index, fraction=1.0, words=None):
        """Run task ``index``'s int8 kernel on memory. Its output lands whole, or, cut by a
        failure (``words`` given), exactly its first ``words`` NVM words persist (or, given only
        ``fraction`` < 1 of its duration, ``floor(fraction * words)``)."""
        task, layer, inputs, reads, dst, a, b, key, in_sram = self.plans[index]
        if words is not None:
            fraction = 0.0
        if in_sram and fraction < 1.0:
            return  # a cut write to SRAM does not matter: it is poisoned at the brown-out
        seen = (key, reads[0].tobytes() if len(reads) == 1 else b"".join([r.tobytes() for r in reads]))
        tile = self.memo.get(seen)
        if tile is None:
            tile = self._task_arithmetic(task, layer, inputs, dst, a, b)
            self.memo.put(seen, tile)
        if in_sram or fraction >= 1.0:
            self.memory.raw(dst)[a:b] = tile  # a complete write: every byte lands
        else:
            self.memory.write_buffer(dst, tile, fraction, byte_start=a, words=words)

    def _task_arithmetic(self, task, layer, inputs, dst, a, b):
        """The bytes ``[a, b)`` of ``dst`` that the task computes (kernels evaluate whole output
        channels; a tile task keeps only its tile's bytes) [uint8 array]."""
        mem = self.memory
        if task.kind == "accumulate":
            src = mem.view(task.psum_src) if task.psum_src is not None else None
            psum = src.copy() if src is not None else np.zeros(mem.buffers[dst].shape, np.int32)
            layer.accumulate(inputs, psum, task.ic_start, task.ic_stop, task.c_start, task.c_stop)
            return psum.reshape(-1).view(np.uint8)[a:b].copy()
        scratch = mem.view(dst).copy()
        if task.kind == "finalize":
            layer.finalize(mem.view(task.psum_src), scratch, task.c_start, task.c_stop)
        else:
            layer.compute(inputs, scratch, task.c_start, task.c_stop)
        return scratch.reshape(-1).view(np.uint8)[a:b].copy()

    def words_of(self, n_bytes):
        """Non-volatile words [1] that ``n_bytes`` occupy."""
        w = self.memory.word_bytes
        return -(-int(n_bytes) // w)

    def task_nvm_words(self, task):
        """NVM words a task writes: the aligned words its output (or partial-sum) tile spans, where
        in NVM (the words a cut write of it counts, :meth:`intersim.hw.memory.Memory.write`)."""
        if task.kind == "accumulate":
            dst, a, b = task.psum_dst, 4 * task.out_byte_start, 4 * task.out_byte_stop
        else:
            dst, a, b = self.tensor_buf(task.output), task.out_byte_start, task.out_byte_stop
        if self.memory.buffers[dst].memory != NVM:
            return 0
        return self.memory.buffer_words(dst, a, b - a)

    def tensor_buf(self, name):
        """The buffer holding tensor ``name``."""
        return INPUT_BUFFER if name == self.network.input_name else tensor_buffer(name)

    # ------------------------------------------------------------------ copies
    def _check_buffer(self, name):
        if name != SRAM_IMAGE and name not in self.memory.buffers:
            raise SchedulerError(f"scheduler {self._name!r} names buffer {name!r}, which its layout did not "
                                 f"allocate; allocated: {', '.join(sorted(self.memory.buffers))}, {SRAM_IMAGE}")

    def raw(self, name):
        """The bytes of buffer ``name`` (``@sram``: the whole SRAM arena)."""
        self._check_buffer(name)
        return self.memory.arena[SRAM] if name == SRAM_IMAGE else self.memory.raw(name)

    def buffer_memory(self, name):
        """Which memory buffer ``name`` lives in."""
        self._check_buffer(name)
        return SRAM if name == SRAM_IMAGE else self.memory.buffers[name].memory

    def write_raw(self, name, data, fraction=1.0, words=None):
        """Write ``data`` into buffer ``name``: whole, or, cut by a failure (``words`` given),
        exactly its first ``words`` NVM words (given only ``fraction`` < 1: that share of them)."""
        if words is not None:
            fraction = 0.0
        if name == SRAM_IMAGE:
            if fraction >= 1.0:
                self.memory.arena[SRAM][:] = data
            return
        if fraction >= 1.0:  # a complete copy: every byte lands (Copy checked the sizes are equal)
            self.memory.raw(name)[:] = data
            return
        self.memory.write_buffer(name, data, fraction, words=words)

    def transfer_cost(self, n_bytes, direction):
        """:func:`intersim.hw.cost.transfer_cost`, cached per (bytes, direction)."""
        key = (n_bytes, direction)
        cost = self._transfer_costs.get(key)
        if cost is None:
            cost = self._transfer_costs[key] = transfer_cost(self.platform, n_bytes, direction)
        return cost

    def copy_spec(self, action):
        """What a Copy needs, checked once per (src, dst, category): (source bytes, cost,
        is a restore, NVM words written)."""
        key = (action.src, action.dst, action.category)
        spec = self._copies.get(key)
        if spec is not None:
            return spec
        src, dst = self.raw(action.src), self.buffer_memory(action.dst)
        if src.size != self.raw(action.dst).size:
            raise SchedulerError(f"scheduler {self._name!r}: Copy {action.src!r} -> {action.dst!r}: sizes differ "
                                 f"({src.size} vs {self.raw(action.dst).size} bytes)")
        src_mem = self.buffer_memory(action.src)
        direction = ("sram_to_nvm" if dst == NVM and src_mem == SRAM else
                     "nvm_to_sram" if dst == SRAM else "sram_to_nvm")
        cost = self.transfer_cost(int(src.size), direction)
        spec = self._copies[key] = (src, cost, action.category == "restore",
                                    self.words_of(src.size) if dst == NVM else 0)
        return spec
