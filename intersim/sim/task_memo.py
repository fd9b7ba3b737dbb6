"""Task-output memo: the bytes a task writes, keyed on the exact bytes it reads.

A task's arithmetic is a pure function of its input bytes (and, for partial sums, the partial-sum
bytes it reads): same bytes in, same bytes out. The engine therefore keeps what each task
produced for the bytes it saw and, when a task meets the same bytes again -- a request that
repeats an input image, a group re-executed after a brown-out, the same network in the next sweep
point of a worker -- writes the remembered bytes instead of running the kernel again. Every
memory semantic stays the engine's (torn NVM writes, poisoned SRAM): the memo replaces only the
arithmetic. Poisoned or corrupted inputs are different bytes, so they are computed afresh.

One memo per :class:`~intersim.nn.network.Network` object, shared by every engine in the process
that simulates it; bounded by :data:`MAX_BYTES` (cleared when full).
"""
from __future__ import annotations

import weakref

import numpy as np

#: bytes of keys and values one network's memo may hold before it is cleared [B]
MAX_BYTES = 64 << 20


class TaskMemo:
    """``(task key, input bytes) -> output tile bytes`` with a byte budget."""

    __slots__ = ("table", "bytes", "max_bytes", "hits", "misses", "ids", "references")

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.table: dict = {}
        self.bytes = 0
        self.max_bytes = int(max_bytes)
        self.hits = 0
        self.misses = 0
        self.ids: dict = {}  # task key -> a small int standing for it in the table's keys
        self.references: dict = {}  # inputs -> their reference outputs (see references_for)

    def task_id(self, task_key) -> int:
        """A small int for a task's identity tuple (the same tuple, the same int, for every engine
        that shares this memo): a lookup then hashes an int and the input bytes, not the tuple."""
        return self.ids.setdefault(task_key, len(self.ids))

    def get(self, key):
        value = self.table.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key, value):
        size = len(key[1]) + value.nbytes
        if self.bytes + size > self.max_bytes:
            self.table.clear()
            self.bytes = 0
        if size <= self.max_bytes:
            value.flags.writeable = False  # shared by every later hit
            self.table[key] = value
            self.bytes += size


_MEMOS: dict[int, TaskMemo] = {}


def memo_for(network) -> TaskMemo:
    """The memo of ``network`` (created on first use, dropped with the network)."""
    key = id(network)
    memo = _MEMOS.get(key)
    if memo is None:
        memo = _MEMOS[key] = TaskMemo()
        weakref.finalize(network, _MEMOS.pop, key, None)
    return memo


def run_memoised(network, x):
    """``network.run(x)`` through ``network``'s memo: the same input bytes give the stored output
    (read-only) instead of a second inference (references of repeated inputs, sweep points)."""
    memo = memo_for(network)
    key = ("network.run", np.ascontiguousarray(x).tobytes())
    out = memo.get(key)
    if out is None:
        out = np.array(network.run(x))
        memo.put(key, out)
    return out



def references_for(network, inputs) -> list:
    """``[run_memoised(network, x) for x in inputs]``, kept per distinct ``inputs`` bytes (the
    runs of a sweep worker share their requests' inputs; at most a few such lists are kept)."""
    memo = memo_for(network)
    x = np.ascontiguousarray(inputs)
    key = (x.shape, x.dtype.str, x.tobytes())
    refs = memo.references.get(key)
    if refs is None:
        if len(memo.references) >= 8:
            memo.references.clear()
        refs = memo.references[key] = tuple(run_memoised(network, xi) for xi in x)
    return list(refs)


def answer_heads(network, inputs, references) -> dict:
    """``{code: (layer name, continuous outputs per input)}`` of every answer ``network`` can give
    (:mod:`intersim.nn.early_exit`): code 0 is the network's output with ``references``; each exit
    point's outputs come from one continuous inference per input (kept with the memo)."""
    from ..nn.early_exit import answer_layers, answers
    layers = answer_layers(network)
    heads = {0: (layers[0], references)}
    if len(layers) == 1:
        return heads
    memo = memo_for(network)
    x = np.ascontiguousarray(inputs)
    key = ("answers", x.shape, x.dtype.str, x.tobytes())
    per_input = memo.references.get(key)
    if per_input is None:
        per_input = memo.references[key] = tuple(answers(network, xi) for xi in x)
    heads.update({code: (layers[code], [a[code] for a in per_input]) for code in layers if code != 0})
    return heads
