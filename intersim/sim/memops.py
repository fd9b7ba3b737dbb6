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


def tile_byte_index(task, shape, elem_bytes):
    """Byte offsets [1] (ascending) of a design tile's output region in a buffer of ``shape``
    (C, H, W) or (C,), ``elem_bytes`` per element: channels ``[c_start, c_stop)`` x the task's
    ``region`` rows x columns."""
    r0, r1, w0, w1 = task.region
    h, w = (shape[1], shape[2]) if len(shape) == 3 else (1, 1)
    c = np.arange(task.c_start, task.c_stop)[:, None, None]
    r = np.arange(r0, r1)[None, :, None]
    q = np.arange(w0, w1)[None, None, :]
    elems = ((c * h + r) * w + q).reshape(-1)
    return (elems[:, None] * elem_bytes + np.arange(elem_bytes)[None, :]).reshape(-1)


def design_tile_arithmetic(task, layer, inputs, memory, index):
    """The bytes of an execution-design tile (:mod:`intersim.design.lowering`) [uint8 array]:

    * conv / dense: the int32 partial sums of input channels ``[ic_start, ic_stop)`` added to
      ``psum_src`` (or to the bias when there is none) for output channels ``[c_start, c_stop)``;
      ``accumulate`` keeps them (int32), ``final`` requantises them into the int8 output;
    * global average pool: the integer sum of the input tile ``in_region`` added to
      ``psum_src``; ``final`` requantises the sum as onnxruntime does.

    Kernels evaluate whole channels; the tile keeps its region's bytes (``index``).
    """
    x = inputs[0]
    src = memory.view(task.psum_src) if task.psum_src is not None else None
    if layer.op == "avgpool":
        r0, r1, w0, w1 = task.in_region
        c0, c1 = task.c_start, task.c_stop
        psum = np.zeros(layer.out_shape, np.int32) if src is None else src.copy()
        region = x[c0:c1, r0:r1, w0:w1].astype(np.int64).sum(axis=(1, 2))
        psum[c0:c1, 0, 0] = (psum[c0:c1, 0, 0].astype(np.int64) + region).astype(np.int32)
        if task.kind == "accumulate":
            return psum.reshape(-1).view(np.uint8)[index].copy()
        n = x.shape[1] * x.shape[2]
        out = np.zeros(layer.out_shape, np.int8)
        from ..nn.quant import requant_onnx
        for c in range(c0, c1):
            acc = np.int32(int(psum[c, 0, 0]) - layer.x_zero_point * n)
            out[c, 0, 0] = requant_onnx(acc, layer._gscale, layer.y_zero_point, -128, 127)
        return out.reshape(-1).view(np.uint8)[index].copy()
    psum = np.zeros(layer.out_shape, np.int32) if src is None else src.copy()
    layer.accumulate(inputs, psum, task.ic_start, task.ic_stop, task.c_start, task.c_stop)
    if task.kind == "accumulate":
        return psum.reshape(-1).view(np.uint8)[index].copy()
    out = np.zeros(layer.out_shape, np.int8)
    layer.finalize(psum, out, task.c_start, task.c_stop)
    return out.reshape(-1).view(np.uint8)[index].copy()


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
        self._last = {}
        self._run_end = self._sliced_runs(tasks)
        # layer keys that several sliced tasks share (only those gain from the last-output check)
        keys = [p[7] for p in self.plans if p[9]]
        self._shared = {k for k in keys if keys.count(k) > 1}
        self._tasks = tasks
        self._whole_outs = None  # see compute_run

    def _sliced_runs(self, tasks):
        """Per task ``i``: the end of the run of tasks from ``i`` that :meth:`compute_tasks` may
        write as one slice -- consecutive sliced tasks of one layer into one buffer that none of
        them reads, their bytes contiguous and ascending (so each reads what the first read)."""
        plans = self.plans
        end = list(range(1, len(plans) + 1))
        for i in range(len(plans) - 2, -1, -1):
            p, q = plans[i], plans[i + 1]
            if (p[9] and q[9] and p[7] == q[7] and p[4] == q[4] and p[6] == q[5]
                    and all(self.tensor_buf(name) != p[4] for name in tasks[i].inputs)):
                end[i] = end[i + 1]
        return end

    # ------------------------------------------------------------------ tasks
    def _task_plan(self, task):
        """(task, layer, input views, buffers read, destination buffer, its byte range, memo key,
        destination in SRAM, sliced from the layer's output); memory views stay valid for the run.

        A task computing part of a layer's output from the layer's inputs (``kind = "compute"``,
        not an execution design's tile) is *sliced*: its memo key stands for the whole layer, whose
        output is kept once per input bytes and shared by every task of the layer."""
        mem = self.memory
        layer = self.network.layers[task.layer]
        in_names = [self.tensor_buf(name) for name in task.inputs]
        inputs = [mem.view(name) for name in in_names]
        reads = [mem.raw(name) for name in in_names]
        sliced = False
        if task.kind == "accumulate":
            if task.psum_src is not None:
                reads.append(mem.raw(task.psum_src))
            dst, a, b = task.psum_dst, 4 * task.out_byte_start, 4 * task.out_byte_stop
        else:
            if task.kind in ("finalize", "final") and task.psum_src is not None:
                reads.append(mem.raw(task.psum_src))
            dst, a, b = self.tensor_buf(task.output), task.out_byte_start, task.out_byte_stop
            sliced = task.kind == "compute" and task.region is None
        if sliced:
            key = self.memo.task_id(("layer output", task.layer, mem.buffers[dst].shape))
        else:
            key = self.memo.task_id((task.layer, task.kind, task.c_start, task.c_stop, task.ic_start, task.ic_stop,
                                     a, b, mem.buffers[dst].shape, task.region, task.in_region))
        if task.region is not None:  # an execution design's tile: its bytes, ascending
            a = tile_byte_index(task, mem.buffers[dst].shape, 4 if task.kind == "accumulate" else 1)
        return task, layer, inputs, reads, dst, a, b, key, mem.buffers[dst].memory == SRAM, sliced

    def tile(self, index):
        """The bytes task ``index`` writes, computed on the memory's current contents through the
        memo [read-only uint8 array]. A sliced task's bytes come from its layer's whole output for
        the same input bytes; the last one per layer is checked first (consecutive tasks of a layer
        read the same bytes), so such a task costs one comparison of its input bytes and a slice."""
        task, layer, inputs, reads, dst, a, b, key, in_sram, sliced = self.plans[index]
        if sliced:
            return self._layer_output(self.plans[index])[a:b]
        data = reads[0].tobytes() if len(reads) == 1 else b"".join([r.tobytes() for r in reads])
        seen = (key, data)
        tile = self.memo.get(seen)
        if tile is None:
            if task.region is not None:
                tile = design_tile_arithmetic(task, layer, inputs, self.memory, a)
            else:
                tile = self._task_arithmetic(task, layer, inputs, dst, a, b)
            self.memo.put(seen, tile)
        return tile

    def _layer_output(self, plan):
        """The whole output of the layer of the sliced task planned as ``plan`` for the memory's
        current input bytes [read-only uint8 array], through the memo; for a layer several tasks
        share, the last one is checked first."""
        reads, key = plan[3], plan[7]
        data = reads[0].tobytes() if len(reads) == 1 else b"".join([r.tobytes() for r in reads])
        shared = key in self._shared
        if shared:
            last = self._last.get(key)
            if last is not None and last[0] == data:
                self.memo.hits += 1
                return last[1]
        whole = self.memo.get((key, data))
        if whole is None:
            whole = self._layer_arithmetic(plan[1], plan[2], plan[4])
            self.memo.put((key, data), whole)
        if shared:
            self._last[key] = (data, whole)
        return whole

    def compute_tasks(self, start, stop):
        """Run tasks ``[start, stop)`` whole, in order: the same memory as ``compute_task(i)`` for
        each, but a run of sliced tasks of one layer (:meth:`_sliced_runs`) is one write of its
        bytes from the layer's output (the memo counts a hit per further task, as one by one)."""
        i = start
        plans, run_end = self.plans, self._run_end
        while i < stop:
            plan = plans[i]
            if not plan[9]:  # not sliced: the task's own tile
                self.compute_task(i, 1.0)
                i += 1
                continue
            k = run_end[i]
            if k > stop:
                k = stop
            a, b = plan[5], plans[k - 1][6]
            self.memory.raw(plan[4])[a:b] = self._layer_output(plan)[a:b]
            self.memo.hits += k - i - 1
            i = k

    def compute_run(self):
        """``compute_tasks(0, n)``: every task, in order, on the memory's current contents -- as
        one memo entry per input when the whole run reads only the input buffer and bytes it wrote
        before, and writes whole buffers (:meth:`_whole_run_buffers`, checked once): its output is
        then a function of the input bytes alone, kept as the written buffers' bytes end to end."""
        outs = self._whole_outs
        if outs is None:
            outs = self._whole_outs = self._whole_run_buffers()
        if not outs:
            self.compute_tasks(0, len(self.plans))
            return
        key = (self._whole_key, self.memory.raw(INPUT_BUFFER).tobytes())
        whole = self.memo.get(key)
        if whole is None:
            self.compute_tasks(0, len(self.plans))
            self.memo.put(key, np.concatenate(outs))
            return
        off = 0
        for raw in outs:
            raw[:] = whole[off:off + raw.size]
            off += raw.size

    def _whole_run_buffers(self):
        """The buffers the run of every task writes, as byte views, if each task reads only the
        input buffer and bytes earlier tasks wrote, and every buffer written is written whole;
        else ``[]``."""
        mem = self.memory
        covered = {}
        for task, plan in zip(self._tasks, self.plans):
            reads = [self.tensor_buf(name) for name in task.inputs]
            if task.kind in ("accumulate", "finalize", "final") and task.psum_src is not None:
                reads.append(task.psum_src)
            for name in reads:
                if name != INPUT_BUFFER and not (name in covered and covered[name].all()):
                    return []
            dst, a, b = plan[4], plan[5], plan[6]
            mask = covered.setdefault(dst, np.zeros(mem.raw(dst).size, bool))
            if isinstance(a, np.ndarray):
                mask[a] = True
            else:
                mask[a:b] = True
        if not covered or not all(m.all() for m in covered.values()):
            return []
        self._whole_key = self.memo.task_id(("whole run", tuple((self._tasks[i].layer, self._tasks[i].kind,
                                                                  self._tasks[i].out_byte_start)
                                                                 for i in range(len(self._tasks))),
                                             tuple(sorted((k, mem.raw(k).size) for k in covered))))
        return [mem.raw(name) for name in sorted(covered)]

    def compute_task(self, index, fraction=1.0, words=None):
        """Run task ``index``'s int8 kernel on memory. Its output lands whole, or, cut by a
        failure (``words`` given), exactly its first ``words`` NVM words persist (or, given only
        ``fraction`` < 1 of its duration, ``floor(fraction * words)``)."""
        plan = self.plans[index]
        task, dst, a, b, in_sram = plan[0], plan[4], plan[5], plan[6], plan[8]
        if words is not None:
            fraction = 0.0
        if in_sram and fraction < 1.0:
            return  # a cut write to SRAM does not matter: it is poisoned at the brown-out
        tile = self.tile(index)
        if task.region is not None:
            self._write_tile(dst, a, tile, 1.0 if in_sram else fraction)
            return
        if in_sram or fraction >= 1.0:
            self.memory.raw(dst)[a:b] = tile  # a complete write: every byte lands
        else:
            self.memory.write_buffer(dst, tile, fraction, byte_start=a, words=words)

    def _layer_arithmetic(self, layer, inputs, dst):
        """The whole output of ``layer`` (every output channel) from ``inputs``, as the bytes of
        buffer ``dst`` [uint8 array]."""
        out = self.memory.view(dst).copy()
        layer.compute(inputs, out, 0, layer.out_channels)
        return out.reshape(-1).view(np.uint8)

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

    def _write_tile(self, dst, index, tile, fraction):
        """Write a design tile's bytes at byte offsets ``index`` of ``dst`` (ascending): a cut
        write persists the first ``floor(fraction x words)`` words' bytes, as
        :meth:`intersim.hw.memory.Memory.write` does for contiguous ones."""
        raw = self.memory.raw(dst)
        if fraction >= 1.0:
            raw[index] = tile
            return
        w = self.memory.word_bytes
        n = int(np.floor(max(fraction, 0.0) * (-(-index.size // w)))) * w
        raw[index[:n]] = tile[:n]

    def words_of(self, n_bytes):
        """Non-volatile words [1] that ``n_bytes`` occupy."""
        w = self.memory.word_bytes
        return -(-int(n_bytes) // w)

    def task_nvm_words(self, task):
        """NVM words a task writes: the aligned words its output (or partial-sum) tile spans, where
        in NVM (the words a cut write of it counts, :meth:`intersim.hw.memory.Memory.write`). An
        execution design's tile (``task.region``) is not one byte range: its elements' words."""
        if task.kind == "accumulate":
            dst, a, b, size = task.psum_dst, 4 * task.out_byte_start, 4 * task.out_byte_stop, 4
        else:
            dst, a, b, size = self.tensor_buf(task.output), task.out_byte_start, task.out_byte_stop, 1
        if self.memory.buffers[dst].memory != NVM:
            return 0
        if task.region is not None:
            return self.words_of(size * task.n_outputs)
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
