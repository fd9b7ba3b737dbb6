"""Volatile and non-volatile memory with power-failure semantics.

* Volatile memory (SRAM, registers) is **lost** at a brown-out: it is filled with a poison
  pattern, so a scheduler that relies on it produces a detectably wrong result.
* Non-volatile writes (FRAM, flash) are atomic per aligned word of ``word_bytes`` and persist in
  ascending address order; a write cut by a failure is **torn**: exactly the whole words finished
  before the failure persist.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Byte written over volatile memory at every brown-out.
POISON_BYTE = 0xA5

SRAM = "sram"
NVM = "nvm"


def words_done(words: int, cycles: int, cycles_done: int) -> int:
    """NVM words [1] persisted after ``cycles_done`` of an action's ``cycles`` [cycles] that writes
    ``words`` evenly over them (word ``j`` lands at cycle ``ceil(j * cycles / words)``): integers
    only, no ratio of times."""
    if cycles_done >= cycles:
        return int(words)
    return max(int(cycles_done), 0) * int(words) // int(cycles)


def cycles_for_words(words: int, cycles: int, n: int) -> int:
    """The fewest cycles [cycles] after which :func:`words_done` reaches ``n`` of ``words`` words
    (``n <= words``; ``cycles`` if it never does: more words than cycles)."""
    if n <= 0:
        return 0
    return min(-(-int(n) * int(cycles) // int(words)), int(cycles))


@dataclass(frozen=True)
class Buffer:
    """A named region: ``memory`` ("sram" or "nvm"), byte ``offset`` and ``shape``/``dtype``."""

    name: str
    memory: str
    offset: int
    shape: tuple
    dtype: str

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


class Memory:
    """Two byte arenas and a directory of named buffers laid out in them.

    Parameters
    ----------
    word_bytes : int [B] atomic write unit of the non-volatile memory
    """

    def __init__(self, word_bytes: int = 2):
        self.word_bytes = int(word_bytes)
        self.buffers: dict[str, Buffer] = {}
        self._size = {SRAM: 0, NVM: 0}
        self.arena = {SRAM: np.zeros(0, np.uint8), NVM: np.zeros(0, np.uint8)}

    # --- layout -------------------------------------------------------------------------
    def allocate(self, name: str, memory: str, shape, dtype="int8") -> Buffer:
        """Append a word-aligned buffer to ``memory``; returns it."""
        if name in self.buffers:
            raise ValueError(f"buffer {name!r} allocated twice")
        if memory not in (SRAM, NVM):
            raise ValueError(f"memory {memory!r} unknown; valid: sram, nvm")
        align = max(self.word_bytes, np.dtype(dtype).itemsize)
        off = -(-self._size[memory] // align) * align
        buf = Buffer(name, memory, off, tuple(int(s) for s in shape), str(np.dtype(dtype)))
        self._size[memory] = off + buf.nbytes
        self.buffers[name] = buf
        return buf

    def alias(self, name: str, of: str, shape, dtype="int8") -> Buffer:
        """A second name for the start of buffer ``of`` with its own shape (must fit inside it)."""
        base = self.buffers[of]
        buf = Buffer(name, base.memory, base.offset, tuple(int(s) for s in shape), str(np.dtype(dtype)))
        if buf.nbytes > base.nbytes:
            raise ValueError(f"alias {name!r} ({buf.nbytes} B) does not fit in {of!r} ({base.nbytes} B)")
        self.buffers[name] = buf
        return buf

    def finalize(self):
        """Create the arenas once the layout is complete (SRAM starts poisoned, NVM zeroed).

        Typed views of every buffer are made once here: the arenas are only ever modified in
        place, so the views stay valid for the whole run.
        """
        self.arena[SRAM] = np.full(self._size[SRAM], POISON_BYTE, np.uint8)
        self.arena[NVM] = np.zeros(self._size[NVM], np.uint8)
        self._raw = {}
        self._views = {}
        for name, b in self.buffers.items():
            raw = self.arena[b.memory][b.offset:b.offset + b.nbytes]
            self._raw[name] = raw
            self._views[name] = raw.view(b.dtype).reshape(b.shape)

    def used_bytes(self, memory: str) -> int:
        """Bytes of ``memory`` the layout uses [B]."""
        return self._size[memory]

    # --- access -------------------------------------------------------------------------
    def view(self, name: str) -> np.ndarray:
        """A typed, shaped view of buffer ``name`` (writes go to memory directly)."""
        return self._views[name]

    def raw(self, name: str) -> np.ndarray:
        """The bytes of buffer ``name``."""
        return self._raw[name]

    def read_word(self, name: str) -> int:
        """The value of a scalar control word (``uint16``)."""
        return self._views[name].item(0)

    def poison_volatile(self):
        """Brown-out: volatile memory is lost."""
        self.arena[SRAM].fill(POISON_BYTE)

    def span_words(self, offset: int, n_bytes: int) -> int:
        """Aligned NVM words [1] that a write of ``n_bytes`` at byte ``offset`` touches."""
        w = self.word_bytes
        return -(-(offset + n_bytes) // w) - offset // w if n_bytes > 0 else 0

    def buffer_words(self, name: str, byte_start: int = 0, n_bytes: int | None = None) -> int:
        """:meth:`span_words` of ``n_bytes`` (default: to the end) at ``byte_start`` of buffer ``name``."""
        b = self.buffers[name]
        return self.span_words(b.offset + byte_start, b.nbytes - byte_start if n_bytes is None else n_bytes)

    def write(self, memory: str, offset: int, data: np.ndarray, fraction: float = 1.0,
              words: int | None = None) -> int:
        """Write ``data`` (bytes) at ``offset`` of ``memory``.

        A write cut by a failure persists, in the non-volatile memory, exactly its first
        ``words`` aligned words (of :meth:`span_words`), in ascending address order (or, given
        only ``fraction`` [0..1] of its duration, ``floor(fraction * words spanned)``); volatile
        writes that are cut do not matter (SRAM is poisoned anyway). Returns the number of bytes
        that persisted.
        """
        data = np.asarray(data, dtype=np.uint8).reshape(-1)
        n = data.size
        if memory == SRAM or (words is None and fraction >= 1.0):
            self.arena[memory][offset:offset + n] = data
            return n
        w = self.word_bytes
        # words touched by [offset, offset+n), aligned; a cut write completes the first ``words``
        first = offset // w
        last = -(-(offset + n) // w)
        if words is None:
            words = int(np.floor(max(fraction, 0.0) * (last - first)))
        done_words = min(max(int(words), 0), last - first)
        end = min(offset + n, (first + done_words) * w)
        if end > offset:
            self.arena[memory][offset:end] = data[:end - offset]
            return end - offset
        return 0

    def write_buffer(self, name: str, values: np.ndarray, fraction: float = 1.0,
                     byte_start: int = 0, words: int | None = None) -> int:
        """Write ``values`` into buffer ``name`` starting ``byte_start`` bytes in (torn semantics:
        see :meth:`write`)."""
        b = self.buffers[name]
        data = np.ascontiguousarray(values).reshape(-1).view(np.uint8)
        return self.write(b.memory, b.offset + byte_start, data, fraction, words)

    def write_word(self, name: str, value: int, fraction: float = 1.0) -> bool:
        """Write a ``uint16`` control word; atomic: it persists only if the write completed."""
        if fraction < 1.0 and self.buffers[name].memory == NVM:
            return False
        self._views[name].flat[0] = value & 0xFFFF
        return True
