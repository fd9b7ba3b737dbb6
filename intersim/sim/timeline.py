"""The timeline recorder: the run as constant-input / constant-load segments.

The capacitor kernels write segments (start, end, harvest, start and end energy) straight into
five arrays; the recorder grows them and keeps, per action, which segments it wrote with what
state and pin load. A run that records no timeline keeps empty arrays.
"""
from __future__ import annotations

import numpy as np

from ..energy import capacitor as cap


class Timeline:
    """Segment buffers of one run.

    Parameters
    ----------
    record : bool  record the timeline (False: the arrays stay empty)
    e_ideal_j : float [J]  the stored energy drawn for an ideal supply's segments
    """

    def __init__(self, record: bool, e_ideal_j: float):
        self.record = record
        cap0 = 4096 if record else 0
        self.seg = [np.empty(cap0) for _ in range(5)]
        self.n_seg = 0
        # per action (n_from, n_to, state, load_w), or per kernel call one block of actions
        # (n_from, n_to, states, loads_w, segment counts): see record_kernel_actions
        self.meta = []
        self._e_ideal = e_ideal_j
        self._no_segments = np.empty(0)
        self._cycle_meta = np.zeros((0, 2), np.int64)   # the cycle kernels' action records

    def _resize(self, size):
        """Buffers of ``size`` segments holding the ``n_seg`` recorded (only those are copied: what
        lies beyond was never kept, and the new room is left untouched until written)."""
        n = self.n_seg
        grown = []
        for a in self.seg:
            b = np.empty(size)
            b[:n] = a[:n]
            grown.append(b)
        self.seg = grown

    def grow(self):
        """Double the buffers (a kernel stopped with them full)."""
        self._resize(2 * self.seg[0].size)

    def ensure(self, extra):
        """Room for ``extra`` more segments."""
        if not self.record:
            return
        need = self.n_seg + extra
        if need > self.seg[0].size:
            self._resize(max(need, 2 * self.seg[0].size))

    def ideal_segment(self, t0, t1, state, load_w):
        """A segment of the ideal supply (a recorded timeline only): ``[t0, t1]`` [s], no harvest,
        full storage."""
        self.ensure(1)
        i = self.n_seg
        v = self._e_ideal
        for arr, x in zip(self.seg, (t0, t1, 0.0, v, v)):
            arr[i] = x
        self.meta.append((i, i + 1, state, load_w))
        self.n_seg = i + 1

    def kernel_args(self, min_sample_s):
        """The timeline arguments of the cycle kernels: five segment arrays (empty when no timeline
        is recorded), the segment count, the shortest trace sample [s] and the action records."""
        if not self.record:
            z = self._no_segments
            return z, z, z, z, z, 0, min_sample_s, self._cycle_meta
        if self._cycle_meta.shape[0] == 0:
            self._cycle_meta = np.zeros((1 << 16, 2), np.int64)
        return (*self.seg, self.n_seg, min_sample_s, self._cycle_meta)

    def record_kernel_actions(self, n_seg0, n_meta, p_pin, codes):
        """The (segments, state, load) entries of the actions a cycle kernel took, from its records
        ``(segment count after, code)``: a code >= 0 is that task of the run, computing at
        ``p_pin[code]`` [W]; the others are in ``codes``. As the Python path, an action that wrote
        no segment leaves no entry. The actions' segments are contiguous (each starts where the
        previous one ended), so they are kept as one block: per action its state, pin load and
        segment count (``columns`` spreads them, as it spreads single entries)."""
        rec = self._cycle_meta[:n_meta]
        ends, code = rec[:, 0], rec[:, 1]
        counts = np.diff(ends, prepend=n_seg0)
        if counts.min() < 0:
            raise RuntimeError(f"kernel action records go back: segment counts {ends.tolist()} from {n_seg0}")
        states = np.empty(n_meta, dtype=object)
        loads = np.empty(n_meta)
        task = code >= 0
        states[task] = "compute"
        loads[task] = p_pin[code[task]]
        known = task.copy()
        for c, (state, load) in codes.items():
            mine = code == c
            states[mine] = state
            loads[mine] = load
            known |= mine
        if not known.all():
            raise RuntimeError(f"kernel action codes {sorted(set(code[~known].tolist()))} have no state")
        self.meta.append((n_seg0, int(ends[-1]), states, loads, counts))

    def columns(self, capacitance_f) -> dict:
        """The recorded timeline as columns (``{}`` when none was recorded)."""
        if not self.record:
            return {}
        n = self.n_seg
        state = np.empty(n, dtype=object)
        load = np.zeros(n)
        for entry in self.meta:
            if len(entry) == 4:
                a, b, s, w = entry
                state[a:b] = s
                load[a:b] = w
            else:  # a kernel call's actions
                a, b, states, loads, counts = entry
                state[a:b] = np.repeat(states, counts)
                load[a:b] = np.repeat(loads, counts)
        return {"t_start_s": self.seg[0][:n].copy(), "t_end_s": self.seg[1][:n].copy(),
                "state": state, "harvest_w": self.seg[2][:n].copy(), "load_w": load,
                "v_start_v": cap.voltage_v(capacitance_f, self.seg[3][:n]),
                "v_end_v": cap.voltage_v(capacitance_f, self.seg[4][:n])}
