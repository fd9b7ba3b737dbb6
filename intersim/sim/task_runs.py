"""The numba kernel that runs a run of tasks against the capacitor in one call.

Between two scheduler decisions the device executes consecutive tasks, each a constant load for
its duration; :func:`_advance_tasks` advances the capacitor through all of them (exactly, via
:func:`intersim.energy.capacitor._advance`) and stops at the first event: the end of the run, a falling
threshold (brown-out or comparator), a forced cut (injected failure / horizon) or a full segment
buffer. One call, one simpy event, instead of one per task.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from ..energy.capacitor import STOP_FULL, STOP_TIME, _advance

#: the run was cut at ``t_cut`` (an injected failure or the horizon), not by the capacitor
STOP_CUT = 5


class RunArrays(NamedTuple):
    """Per-task arrays of a run of tasks ``first..stop-1`` (cached per run by the engine)."""

    cycles: np.ndarray        #: cycles of each task [1]
    p_pin: np.ndarray         #: pin power of each task [W]
    dur: np.ndarray           #: duration of each task [s]
    words: np.ndarray         #: NVM words each task writes [1] (float64)
    loads: np.ndarray         #: capacitor-side load of each task [W]
    e_pin_run: float          #: pin energy of the whole run [J] (exact fsum)
    words_run: int            #: NVM words of the whole run [1]
    dur_list: list            #: ``dur`` as Python floats
    seg_end: np.ndarray       #: scratch: segment count after each task
    e_list: list              #: pin energy of each task as Python floats [J]


def run_arrays(task_cycles, task_power_pin, task_words, first, stop, clock_hz, eta_out) -> RunArrays:
    """The :class:`RunArrays` of tasks ``first..stop-1`` from the per-task tables [cycles, W,
    words], the clock [Hz] and the output regulator's efficiency [1]."""
    cycles = task_cycles[first:stop]
    p_pin = task_power_pin[first:stop]
    dur = cycles.astype(np.float64) / clock_hz
    words = task_words[first:stop].astype(np.float64)
    loads = p_pin / eta_out
    return RunArrays(cycles, p_pin, dur, words, loads, math.fsum(p_pin * dur), int(words.sum()), dur.tolist(),
                     np.empty(stop - first, np.int64), (p_pin * dur).tolist())


def resumed(cycles, dur, words, resume_cycles, clock_hz):
    """A run's durations [s] and NVM words when its first task resumes after ``resume_cycles``:
    only its remaining cycles, and the words they write (new arrays)."""
    left0 = max(int(cycles[0]) - resume_cycles, 0)
    dur = dur.copy()
    dur[0] = left0 / clock_hz
    words = words.copy()
    if cycles[0]:
        words[0] = math.floor(words[0] * left0 / cycles[0])
    return dur, words


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
