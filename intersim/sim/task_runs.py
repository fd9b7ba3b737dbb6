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

import bisect
from itertools import accumulate

from ..energy import capacitor as cap
from ..energy.capacitor import STOP_FULL, STOP_TIME
from ..energy.linear_kernel import _advance_inline
from ..hw.memory import cycles_for_words, words_done
from .setup import _Horizon

#: the run was cut at ``t_cut`` (an injected failure or the horizon), not by the capacitor
STOP_CUT = 5


def _states(size):
    """``size`` timeline states "compute", read-only."""
    states = np.full(size, "compute", dtype=object)
    states.flags.writeable = False  # shared by every timeline block (read by Timeline.columns)
    return states


_COMPUTE = _states(64)


def _computing(m):
    """``m`` timeline states "compute": a view of one shared read-only array, grown as needed."""
    global _COMPUTE
    if m > _COMPUTE.size:
        _COMPUTE = _states(2 * m)
    return _COMPUTE[:m]


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
    only its remaining cycles, and the words they write (new arrays; integer accounting,
    :func:`~intersim.hw.memory.words_done`)."""
    left0 = max(int(cycles[0]) - resume_cycles, 0)
    dur = dur.copy()
    dur[0] = left0 / clock_hz
    words = words.copy()
    if cycles[0]:
        words[0] -= words_done(int(words[0]), int(cycles[0]), resume_cycles)
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
        t, e, reason, n_seg = _advance_inline(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                              t, e, stop, loads_w[k], e_low, math.inf, books,
                                              seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
        seg_end[k] = n_seg
        if reason == STOP_FULL or reason != STOP_TIME:
            return k, t, e, reason, n_seg
        if stop < t_end:
            return k, t, e, STOP_CUT, n_seg
    return n, t, e, STOP_TIME, n_seg


class TaskRunner:
    """Runs of consecutive tasks for one engine: each run is one kernel call (or, on the general
    power path, one per task) and at most one simpy event. The engine's collaborator: it advances
    the engine's capacitor and clock, books the run and writes the tasks' outputs.

    Parameters
    ----------
    eng : intersim.sim.engine.Engine
    """

    def __init__(self, eng):
        self.eng = eng
        self._run_arrays = {}       # (first, stop) -> the run's RunArrays
        self._exact_cut = None      # (k, cycles done in task k, its words persisted) of a words cut

    def run(self, first, stop, resume_cycles, armed):
        """Run tasks ``first..stop-1`` back to back (the first from ``resume_cycles``) in one kernel
        call and at most one simpy event; stop at a brown-out, the comparator, an injected failure
        or the horizon. Returns (still powered, comparator armed, ``(task, cycles done)`` if the
        comparator fired, else None)."""
        eng = self.eng
        n = stop - first
        base = self.base(first, stop)
        p_pin, dur, words, e_pin_run, words_run, dur_list = (
            base.p_pin, base.dur, base.words, base.e_pin_run, base.words_run, base.dur_list)
        if resume_cycles:
            dur, words = resumed(base.cycles, dur, words, resume_cycles, eng.clock_hz)
            words_run += int(words[0]) - int(base.words[0])
            dur_list = [float(dur[0])] + dur_list[1:]
            e_pin_run = math.fsum([float(p_pin[0]) * dur_list[0]] + base.e_list[1:])
        t0 = eng.t
        # task end times, summed in order as the kernel (and optimal's model) advance them
        ends = list(accumulate(dur_list, initial=t0))[1:]
        t_cut, injected = self._cut(t0, ends, words, base, resume_cycles)
        if eng.ideal:
            k, reason = self._ideal(t0, ends, t_cut, p_pin)
        else:
            k, reason = self._kernel(t0, ends, t_cut, armed, base, dur)
        # books: completed tasks, then the cut one
        if k:
            e_pin = e_pin_run if k == n else math.fsum(p_pin[:k] * dur[:k])
            t_done = ends[k - 1] - t0
            eng.books.book_load("compute", e_pin / t_done if t_done > 0 else 0.0, t_done, eng.requests.head, True)
            eng._words += words_run if k == n else int(words[:k].sum())
        t_start_k = ends[k - 1] if k else t0
        dt_cut = eng.t - t_start_k if k < n else 0.0
        if k < n and dt_cut > 0:
            eng.books.book_load("compute", p_pin[k], dt_cut, eng.requests.head, True)
        eng._active_s += eng.t - t0
        eng.taskmem.compute_tasks(first, first + k)
        if k == n:
            yield from eng._sync()
            return True, armed, None
        resume = resume_cycles if k == 0 else 0
        return (yield from self._stopped(first + k, k, reason, injected, armed, base, dur, dt_cut,
                                         resume + int(dt_cut * eng.clock_hz), resume))

    def _cut(self, t0, ends, words, base, resume_cycles):
        """The forced cut of a run starting at ``t0`` [s]: an injected failure (by active cycles or
        NVM words since boot) or the horizon. Returns ``(t_cut [s], injected)``. A cut by words
        falls at the cycle the last word of the budget lands (:func:`cycles_for_words`), and
        ``_exact_cut`` records the integers :meth:`_stopped` uses."""
        eng = self.eng
        t_cut, injected = math.inf, False
        self._exact_cut = None
        if not eng.ideal:  # an ideal supply never fails, injected or not
            if eng._inject_s is not None:
                t_cut, injected = t0 + max(eng._inject_s - eng._active_s, 0.0), True
            if eng._inject_words is not None:
                budget = max(eng._inject_words - eng._words, 0)
                cum = np.cumsum(words)
                k = int(np.searchsorted(cum, budget, side="right"))
                if k < len(ends):
                    before = int(cum[k - 1]) if k else 0
                    w_task, c_task = int(base.words[k]), int(base.cycles[k])
                    resume = resume_cycles if k == 0 else 0
                    # the task's words land evenly over its cycles, counted from its start
                    target = words_done(w_task, c_task, resume) + budget - before
                    c = max(cycles_for_words(w_task, c_task, target), resume)
                    t_w = (ends[k - 1] if k else t0) + (c - resume) / eng.clock_hz
                    if t_w < t_cut:
                        t_cut, injected = t_w, True
                        self._exact_cut = (k, c, target)
        if t_cut > eng.horizon:
            t_cut, injected = eng.horizon, False
        return t_cut, injected

    def _ideal(self, t0, ends, t_cut, p_pin):
        """A run on the ideal supply: only the cut can stop it. Returns (tasks completed, reason)."""
        eng = self.eng
        n = len(ends)
        k = n if ends[-1] <= t_cut else bisect.bisect_right(ends, t_cut)
        t, reason = (ends[-1], cap.STOP_TIME) if k == n else (t_cut, STOP_CUT)
        if eng.timeline.record:
            t_prev = t0
            for j in range(min(k + 1, n)):
                t_next = min(ends[j], t)
                if t_next > t_prev:
                    eng.timeline.ideal_segment(t_prev, t_next, "compute", p_pin[j])
                t_prev = t_next
        eng.t = t
        return k, reason

    def _kernel(self, t0, ends, t_cut, armed, base, dur):
        """A run against the capacitor in one kernel call. Returns (tasks completed, reason)."""
        eng = self.eng
        n, p_pin, seg_end = len(ends), base.p_pin, base.seg_end
        e_low = eng._e_off
        if armed and eng.e_threshold is not None:
            e_low = max(e_low, eng.e_threshold)
        tl = eng.timeline
        if tl.record:
            tl.ensure(n + 2 + int((ends[-1] - t0) / eng.min_sample_s))
        n0 = tl.n_seg
        eng._state = "compute"
        if eng.general:
            k, reason = self._advance_general(p_pin, ends, t_cut, e_low)
            t, e, n1 = eng.t, eng.e, tl.n_seg
            seg_end[:] = n1
        else:
            k, t, e, reason, n1 = _advance_tasks(
                eng.tr_t, eng.tr_p, eng.tr_first, eng.tr_period, eng.tr_loop,
                eng._eta_in, eng._leak_b, eng._e_max, t0, eng.e,
                base.loads, dur, t_cut, e_low, eng.books.cap, *tl.seg, tl.n_seg, seg_end)
        if reason == cap.STOP_FULL:
            raise RuntimeError("segment buffer sized too small for a run of tasks")
        if tl.record and not eng.general:  # (general: _advance recorded them)
            m = min(k + 1, n)  # the tasks completed, and the one cut (if any)
            if m == 1:
                b = seg_end[0] if k > 0 else n1
                if b > n0:
                    tl.meta.append((n0, b, "compute", p_pin[0]))
            else:  # one block (Timeline.record_kernel_actions' form): per task its segments
                counts = np.empty(m, np.int64)
                counts[0] = seg_end[0] - n0
                np.subtract(seg_end[1:m], seg_end[:m - 1], out=counts[1:])
                if k < n:  # the task cut: up to the call's last segment
                    counts[k] = n1 - (seg_end[k - 1] if k else n0)
                tl.meta.append((n0, n0 + int(counts.sum()), _computing(m), p_pin[:m].copy(), counts))
        tl.n_seg, eng.t, eng.e = n1, t, e
        return k, reason

    def _stopped(self, i, k, reason, injected, armed, base, dur, dt_cut, done_cycles, resume):
        """A run stopped inside task ``i`` (its ``k``-th, resumed after ``resume`` cycles) after
        ``dt_cut`` [s] and ``done_cycles`` (counted from the task's start): the horizon, the
        comparator (the task suspended, or finished first for ``jit-task``-like schedulers) or a
        brown-out, whose torn output is written: exactly the NVM words of the cycles done
        (integers, :func:`~intersim.hw.memory.words_done`). Returns as :meth:`run`."""
        eng = self.eng
        clock = eng.clock_hz
        if reason == STOP_CUT and not injected:
            yield from eng._sync()
            raise _Horizon
        w_task, c_task = int(base.words[k]), int(base.cycles[k])
        exact = self._exact_cut
        if reason == STOP_CUT and exact is not None and exact[0] == k:
            done_cycles, tile_words = exact[1], exact[2]
        else:
            tile_words = words_done(w_task, c_task, done_cycles)
        eng._words += tile_words - words_done(w_task, c_task, resume)
        threshold = (reason == cap.STOP_LOW and armed and eng.e_threshold is not None
                     and eng.e_threshold > eng._e_off)
        if threshold:
            armed = False
            if eng.suspends_task:
                yield from eng._sync()
                return True, armed, (i, min(done_cycles, c_task))
            # the comparator only raised a flag: finish the task, then tell the scheduler
            rest = dur[k] - dt_cut
            outcome, dt2, words2 = eng._load_nvm(base.p_pin[k], rest, "compute", "compute", pending=True,
                                                 nvm_words=w_task - tile_words)
            if outcome == "done":
                eng.taskmem.compute_task(i, 1.0)
                yield from eng._sync()
                return True, armed, (i + 1, 0)
            dt_cut += dt2
            tile_words += words2
        elif reason == STOP_CUT:
            eng.counts["injected_failures"] += 1
        # brown-out inside task i: a CPU kernel has written its NVM output in loop order
        eng.counts["reexecuted_cycles"] += int(dt_cut * clock)
        eng.taskmem.compute_task(i, words=tile_words)
        yield from eng._sync()
        return False, armed, None

    def base(self, first, stop):
        """The :class:`~intersim.sim.task_runs.RunArrays` of the run ``first..stop-1`` (cached)."""
        eng = self.eng
        base = self._run_arrays.get((first, stop))
        if base is None:
            base = self._run_arrays[(first, stop)] = run_arrays(
                eng.task_cycles, eng.task_power_pin, eng.task_words, first, stop, eng.clock_hz, eng._eta_out)
        return base

    def _advance_general(self, p_pin, ends, t_cut, e_low):
        """:func:`_advance_tasks` for the general power path, one kernel call per task.
        Returns (tasks completed, stop reason)."""
        eng = self.eng
        for k in range(p_pin.size):
            stop = min(ends[k], t_cut)
            reason, _ = eng._advance(p_pin[k], stop, e_low, math.inf, "compute")
            if reason != cap.STOP_TIME:
                return k, reason
            if stop < ends[k]:
                return k, STOP_CUT
        return p_pin.size, cap.STOP_TIME
