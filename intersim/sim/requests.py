"""Per-request accounting: the FIFO queue, the request in service, and each request's columns.

A request enters service when it reaches the head of the queue: the environment writes its input
into the NVM buffer ``input`` and sets the word ``req_seq``, at no cost. Its latency ends when the
scheduler's ``Done`` has written ``done_seq``; in between every interval is booked in one of the
latency parts (``off_s``, ``restore_s``, ``compute_s``, ``preserve_s``, ``reexecution_s``).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from ..hw.memory import NVM
from ..sched.contract import EXIT_WORD, INPUT_BUFFER, REQUEST_SEQ_WORD


class RequestLog:
    """The requests of one run.

    Parameters
    ----------
    arrivals : numpy.ndarray [s]  arrival times
    inputs : numpy.ndarray  int8 request inputs, cycled over
    references : list  continuous-power output per input
    memory : intersim.hw.memory.Memory  the device memory (the input buffer and the sequence word)
    heads : dict, optional  ``{code: (layer name, references)}``: the answers a scheduler may give
        (:mod:`intersim.nn.early_exit`); a completed request is compared with the continuous
        output of the answer named by the NVM word :data:`~intersim.sched.contract.EXIT_WORD`
        (code 0 when the scheduler has no such word). Default: ``{0: ("", references)}``.
    deadline_s : float or None [s]  the requests' relative deadline (``deadline_met`` per request)
    """

    def __init__(self, arrivals, inputs, references, memory, heads=None, deadline_s=None):
        n = arrivals.size
        self.req = {
            "arrival_s": arrivals.copy(), "status": np.array(["unfinished"] * n, dtype=object),
            "done_s": np.full(n, math.nan), "correct": np.zeros(n, bool),
            "power_failures": np.zeros(n, np.int64), "service_s": np.full(n, math.nan),
            "off_s": np.zeros(n), "compute_s": np.zeros(n), "preserve_s": np.zeros(n),
            "restore_s": np.zeros(n), "reexecution_s": np.zeros(n),
            "predicted": np.full(n, -1, np.int64), "exit_layer": np.full(n, "", dtype=object),
        }
        self.deadline_s = deadline_s
        if deadline_s is not None:  # (no column without a deadline)
            self.req["deadline_met"] = np.zeros(n, bool)
        self.queue = deque()
        self.head = None            # the request in service
        self._inputs, self._references, self._memory = inputs, references, memory
        self._input_rows = None     # the request inputs' bytes, one row each
        self._input_nvm, self._input_offset = memory.arena[NVM], memory.buffers[INPUT_BUFFER].offset
        self._heads = heads if heads is not None else {0: ("", references)}
        self._ref_bytes = {}        # (answer code, reference index) -> its bytes as the result buffer holds them
        self._exit_word = EXIT_WORD in memory.buffers

    def in_system(self) -> int:
        """Requests queued or in service."""
        return len(self.queue) + (self.head is not None)

    def time(self, column, dt):
        """Add ``dt`` [s] to latency part ``column`` of the request in service."""
        if self.head is not None:
            self.req[column][self.head] += dt

    def span(self, column, t_start, t_end):
        """Attribute ``[t_start, t_end]`` [s] to the request in service, from when it entered
        service (a request can be handed over while the device is off or booting)."""
        if self.head is not None:
            self.req[column][self.head] += t_end - max(t_start, self.req["service_s"][self.head])

    def deliver(self, now):
        """The environment hands the next queued request to the device (no cost) at ``now`` [s]."""
        if self.head is not None or not self.queue:
            return
        self.hand_over(self.queue.popleft(), now)

    def hand_over(self, k, now):
        """Request ``k`` enters service at ``now`` [s]: its input written into NVM, ``req_seq`` set."""
        self.head = k
        self.req["service_s"][k] = now
        rows = self._input_rows
        if rows is None:  # every input's bytes, once
            inputs = self._inputs
            rows = self._input_rows = np.ascontiguousarray(inputs).reshape(len(inputs), -1).view(np.uint8)
        x = rows[k % len(rows)]
        self._input_nvm[self._input_offset:self._input_offset + x.size] = x
        self._memory.write_word(REQUEST_SEQ_WORD, (k % 0xFFFF) + 1)

    def complete(self, now, out):
        """The request in service is done at ``now`` [s] with result ``out``; the next one is
        handed over."""
        k = self.head
        code = self._memory.read_word(EXIT_WORD) if self._exit_word else 0
        head = self._heads.get(code)
        # an answer code the network does not have is never correct (a scheduler's bug)
        ref = self._reference_bytes(code, k % len(head[1]), out) if head is not None else None
        self.req["status"][k] = "done"
        self.req["done_s"][k] = now
        self.req["correct"][k] = out.tobytes() == ref  # same dtype and size: equal bytes, equal values
        self.req["exit_layer"][k] = head[0] if head is not None else f"?{code}"
        if self.deadline_s is not None:
            self.req["deadline_met"][k] = now - self.req["arrival_s"][k] <= self.deadline_s
        self.req["predicted"][k] = int(out.argmax())
        self.head = None
        self.deliver(now)

    def _reference_bytes(self, code, j, out):
        """Reference ``j`` of answer ``code`` as the bytes the result buffer ``out`` would hold
        (None: no result can equal it)."""
        refs = self._ref_bytes.setdefault(code, {})
        if not refs:
            arrays = [np.asarray(r) for r in self._heads[code][1]]
            if all(a.shape == arrays[0].shape and a.dtype == arrays[0].dtype for a in arrays):
                # one conversion for them all (the references of a run share shape and dtype)
                stacked = np.stack(arrays).reshape(len(arrays), -1)
                cast = stacked.astype(out.dtype)
                same = (cast == stacked).all(axis=1) if stacked.shape[1] == out.size else np.zeros(len(arrays), bool)
                refs.update((i, cast[i].tobytes() if same[i] else None) for i in range(len(arrays)))
            else:
                for i, a in enumerate(arrays):
                    # a reference of another shape or dtype can never equal the result
                    refs[i] = (a.astype(out.dtype).tobytes()
                               if a.size == out.size and np.array_equal(a.astype(out.dtype), a) else None)
        return refs[j]
