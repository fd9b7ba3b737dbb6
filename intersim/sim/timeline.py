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
        self.meta = []  # (n_from, n_to, state, load_w)
        self._e_ideal = e_ideal_j
        self._no_segments = np.empty(0)
        self._cycle_meta = np.zeros((0, 2), np.int64)   # the cycle kernels' action records

    def grow(self):
        """Double the buffers (a kernel stopped with them full)."""
        self.seg = [np.concatenate([a, np.empty(a.size)]) for a in self.seg]

    def ensure(self, extra):
        """Room for ``extra`` more segments."""
        if not self.record:
            return
        need = self.n_seg + extra
        if need > self.seg[0].size:
            size = max(need, 2 * self.seg[0].size)
            self.seg = [np.concatenate([a, np.empty(size - a.size)]) for a in self.seg]

    def ideal_segment(self, t0, t1, state, load_w):
        """A segment of the ideal supply: ``[t0, t1]`` [s], no harvest, full storage."""
        if self.n_seg >= self.seg[0].size:
            self.seg = [np.concatenate([a, np.empty(max(a.size, 16))]) for a in self.seg]
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
        no segment leaves no entry."""
        a = n_seg0
        for n_end, code in self._cycle_meta[:n_meta].tolist():
            if n_end > a:
                state, load = ("compute", p_pin[code]) if code >= 0 else codes[code]
                self.meta.append((a, n_end, state, load))
            a = n_end

    def columns(self, capacitance_f) -> dict:
        """The recorded timeline as columns (``{}`` when none was recorded)."""
        if not self.record:
            return {}
        n = self.n_seg
        state = np.empty(n, dtype=object)
        load = np.zeros(n)
        for a, b, s, w in self.meta:
            state[a:b] = s
            load[a:b] = w
        return {"t_start_s": self.seg[0][:n].copy(), "t_end_s": self.seg[1][:n].copy(),
                "state": state, "harvest_w": self.seg[2][:n].copy(), "load_w": load,
                "v_start_v": cap.voltage_v(capacitance_f, self.seg[3][:n]),
                "v_end_v": cap.voltage_v(capacitance_f, self.seg[4][:n])}
