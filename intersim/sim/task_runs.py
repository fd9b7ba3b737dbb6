"""The numba kernel that runs a run of tasks against the capacitor in one call.

Between two scheduler decisions the device executes consecutive tasks, each a constant load for
its duration; :func:`_advance_tasks` advances the capacitor through all of them (exactly, via
:func:`intersim.energy.capacitor._advance`) and stops at the first event: the end of the run, a falling
threshold (brown-out or comparator), a forced cut (injected failure / horizon) or a full segment
buffer. One call, one simpy event, instead of one per task.
"""
from __future__ import annotations

import math

from numba import njit

from ..energy.capacitor import STOP_FULL, STOP_TIME, _advance

#: the run was cut at ``t_cut`` (an injected failure or the horizon), not by the capacitor
STOP_CUT = 5


@njit(cache=True)
def _advance_tasks(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                   t0, e0, loads_w, durations_s, t_cut, e_low, books,
                   seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, seg_end):
    """Run tasks ``k = 0..`` as loads ``loads_w[k]`` [W at the capacitor] for ``durations_s[k]``.

    Stops at absolute time ``t_cut`` [s] (``inf``: never) or when the energy falls to ``e_low``
    [J]. ``seg_end[k]`` receives the segment count after task ``k``. Returns
    ``(k, t, e, reason, n_seg)``: ``k`` tasks completed; if ``k < len``, task ``k`` was cut at
    ``t`` for ``reason`` (STOP_LOW, STOP_CUT, STOP_FULL or the kernel's collapse).
    """
    t = t0
    e = e0
    n = loads_w.size
    for k in range(n):
        t_end = t + durations_s[k]
        stop = t_end if t_end < t_cut else t_cut
        t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                       t, e, stop, loads_w[k], e_low, math.inf, books,
                                       seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
        seg_end[k] = n_seg
        if reason == STOP_FULL or reason != STOP_TIME:
            return k, t, e, reason, n_seg
        if stop < t_end:
            return k, t, e, STOP_CUT, n_seg
    return n, t, e, STOP_TIME, n_seg
