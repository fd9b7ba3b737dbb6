"""The fast capacitor kernel: the linear power path in closed form (design.md 3.2),
``dE/dt = a - b E`` between trace samples, thresholds crossed exactly."""
from __future__ import annotations
import math
import numpy as np
from numba import njit
from ..compensated import neumaier_add as _book
from ..compensated import neumaier_step_k as _nadd
from .kernel_codes import (STOP_TIME, STOP_LOW, STOP_HIGH, STOP_FULL, STOP_COLLAPSE, BOOK_HARVESTED, BOOK_INPUT_LOSS, BOOK_CLAMPED, BOOK_LEAKAGE)


# --------------------------------------------------------------------------------------------
# closed-form pieces (scalar, numba-compiled, also usable from Python through .py_func)


@njit(cache=True)
def _phi(x):
    """``(1 - exp(-x)) / x`` for ``x >= 0`` (-> 1)."""
    if x < 1e-2:
        # Taylor series to x^5, relative error < x^6/5040 < 3e-16: no exp on the per-sample path
        return 1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (1.0 / 120.0 - x / 720.0))))
    return -math.expm1(-x) / x


@njit(cache=True)
def _time_to(e0, e_th, a, b):
    """Time [s] for ``dE/dt = a - b E`` to go from ``e0`` to ``e_th``; ``inf`` if never."""
    drift = a - b * e0
    gap = e_th - e0
    if gap == 0.0:
        return 0.0
    if drift == 0.0 or (gap > 0.0) != (drift > 0.0):
        return math.inf
    if b == 0.0:
        return gap / drift
    u = b * gap / drift
    if u >= 1.0:  # the asymptote a/b lies at or before the threshold: never reached
        return math.inf
    if u < 1e-8:
        return gap / drift * (1.0 + 0.5 * u)
    return -math.log1p(-u) / b


@njit(cache=True, inline="always")
def search_right(a, x):
    """``np.searchsorted(a, x, side="right")`` for a sorted array ``a``: the same index, taken
    from a guess on an even grid where the guess is right (a trace sampled at a fixed step: O(1)
    against the bisection's log2(n) unpredictable branches per look-up), else from the bisection.
    Exact: for a sorted ``a``, ``a[g] <= x < a[g + 1]`` holds for one ``g`` only, and the index
    is ``g + 1``. Every kernel's trace look-up (:func:`_locate`) and the planner's bounds use it."""
    n = a.size
    if n < 2:
        return np.searchsorted(a, x, side="right")
    a0 = a[0]
    a1 = a[n - 1]
    if a0 <= x < a1:  # (false for nan)
        g = int((x - a0) / (a1 - a0) * (n - 1))
        if g < n - 1 and a[g] <= x < a[g + 1]:
            return g + 1
    return np.searchsorted(a, x, side="right")


@njit(cache=True)
def _locate(time_s, t, t_first, period, loop):
    """Locate time ``t`` [s] in the trace: ``(k, m, end)``.

    ``k`` is the sample index (-1 before a non-looping trace, ``n`` after it: no harvest), ``m`` the
    pass of a looping trace (float), ``end`` the absolute end of that piece [s]. Piece ``k`` of pass
    ``m`` covers ``[time_s[k] + m period, time_s[k+1] + m period)``.
    """
    n = time_s.size
    if loop:
        m = math.floor((t - t_first) / period)
        x = t - m * period
        if x < t_first:
            m -= 1.0
            x = t - m * period
        elif x >= t_first + period:
            m += 1.0
            x = t - m * period
        k = search_right(time_s, x) - 1
        if k < 0:
            k = 0
        end = (time_s[k + 1] if k + 1 < n else t_first + period) + m * period
        return k, m, end
    if t < t_first:
        return -1, 0.0, t_first
    if t >= t_first + period:
        return n, 0.0, math.inf
    k = search_right(time_s, t) - 1
    return k, 0.0, (time_s[k + 1] if k + 1 < n else t_first + period)


@njit(cache=True)
def _next_piece(time_s, k, m, t_first, period, loop):
    """The piece after ``(k, m)``: ``(k, m, end)`` (see :func:`_locate`)."""
    n = time_s.size
    k += 1
    if loop:
        if k >= n:
            k = 0
            m += 1.0
        return k, m, (time_s[k + 1] if k + 1 < n else t_first + period) + m * period
    if k >= n:
        return n, m, math.inf
    return k, m, (time_s[k + 1] if k + 1 < n else t_first + period)


@njit(cache=True)
def _flush(books, hs, hc, ls, lc, cs, cc, ks, kc):
    """Add the local accumulators (harvested, input loss, clamped, leakage) to ``books``."""
    _book(books, BOOK_HARVESTED, hs)
    books[BOOK_HARVESTED, 1] += hc
    _book(books, BOOK_INPUT_LOSS, ls)
    books[BOOK_INPUT_LOSS, 1] += lc
    _book(books, BOOK_CLAMPED, cs)
    books[BOOK_CLAMPED, 1] += cc
    _book(books, BOOK_LEAKAGE, ks)
    books[BOOK_LEAKAGE, 1] += kc


@njit(cache=True)
def _piece(e, a, b, dt, e_max, e_high, e_floor, upper, floor_reason):
    """One trace piece of ``dE/dt = a - b E`` from ``e`` for ``dt`` [s], thresholds crossed exactly:
    ``(e1, dt, reason, clamped)`` -- the end energy [J], the time actually advanced [s] (cut at a
    threshold), the stop reason (-1: none) and whether the piece was spent clamped at ``e_max``.
    Shared by the engine's kernel and the planner's :func:`~intersim.sched.optimal.advance.advance`,
    which must agree bit for bit (LLVM inlines it into both loops)."""
    reason = -1
    if e >= e_max and a - b * e_max >= 0.0:
        # clamp regime: at V_max with net inflow beyond leakage -> hold there, refuse the excess
        if e_high <= e_max:  # e_high is reached already; e_low cannot be crossed while clamped
            dt = 0.0
            reason = STOP_HIGH
        return e_max, dt, reason, True
    drift = a - b * e
    if e >= e_high:
        return e, 0.0, STOP_HIGH, False
    if e <= e_floor and drift < 0.0:
        return e, 0.0, floor_reason, False
    # closed form first (cheap); the energy is monotone within a piece, so a threshold is crossed
    # iff the end energy is past it, and only then is its time solved
    e1 = e + drift * dt * _phi(b * dt)
    if drift < 0.0 and e1 <= e_floor:
        t_x = _time_to(e, e_floor, a, b)
        if t_x < dt:
            dt = t_x
        e1 = e_floor
        reason = floor_reason
    elif drift > 0.0 and e1 >= upper:
        t_x = _time_to(e, upper, a, b)
        if t_x < dt:
            dt = t_x
        e1 = upper
        if upper == e_high:
            reason = STOP_HIGH
    return e1, dt, reason, False


# One function on purpose (numba kernel): the per-sample loop of the closed form keeps time,
# energy, trace position and four local compensated sums in registers; splitting it would pass
# them through calls once per trace sample, the simulator's hottest path.
@njit(cache=True)
def _advance_linear(time_s, power_w, eta_w, t_first, period, loop,
                    eta_in, b, e_max, t0, e0, t_stop, load_w, e_low, e_high,
                    books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg):
    """:func:`_advance`, with an optional per-sample input efficiency ``eta_w`` (empty: ``eta_in``)."""
    t = t0
    e = e0
    cap = seg_t0.size
    record = cap > 0
    n = time_s.size
    per_sample_eta = eta_w.size > 0
    # the energy cannot go below 0: without a low threshold, emptying under a load is a collapse
    e_floor = e_low if e_low > 0.0 else 0.0
    floor_reason = STOP_LOW if e_low >= 0.0 else STOP_COLLAPSE
    upper = e_high if e_high < e_max else e_max
    # books are summed in local (register) accumulators and flushed once per call
    hs = hc = ls = lc = cs = cc = ks = kc = 0.0
    k, m, piece_end = _locate(time_s, t, t_first, period, loop)
    while True:
        if t >= t_stop:
            _flush(books, hs, hc, ls, lc, cs, cc, ks, kc)
            return t, e, STOP_TIME, n_seg
        if record and n_seg >= cap:
            _flush(books, hs, hc, ls, lc, cs, cc, ks, kc)
            return t, e, STOP_FULL, n_seg
        if piece_end <= t:  # also steps over pieces that rounding made empty
            k, m, piece_end = _next_piece(time_s, k, m, t_first, period, loop)
            continue
        if 0 <= k < n:
            h = power_w[k]
            eta = eta_w[k] if per_sample_eta else eta_in
        else:
            h = 0.0
            eta = eta_in
        t_end = piece_end if piece_end < t_stop else t_stop
        dt = t_end - t
        p_in = eta * h
        a = p_in - load_w
        e1, dt, reason, clamped = _piece(e, a, b, dt, e_max, e_high, e_floor, upper, floor_reason)
        if clamped:
            e = e_max  # held there (the segment starts at it)
            if b > 0.0:
                ks, kc = _nadd(ks, kc, b * e_max * dt)
            cs, cc = _nadd(cs, cc, (a - b * e_max) * dt)
        elif b > 0.0:
            # leakage = integral of b E dt; with the closed form it equals a dt - (e1 - e), which
            # also absorbs the rounding of an endpoint snapped onto a threshold
            ks, kc = _nadd(ks, kc, a * dt - (e1 - e))
        harvested = h * dt
        hs, hc = _nadd(hs, hc, harvested)
        if eta != 1.0:
            ls, lc = _nadd(ls, lc, harvested - p_in * dt)
        if record and dt > 0.0:
            seg_t0[n_seg] = t
            seg_t1[n_seg] = t + dt
            seg_h[n_seg] = h
            seg_e0[n_seg] = e
            seg_e1[n_seg] = e1
            n_seg += 1
        t = t_end if (reason < 0 and dt == t_end - t) else t + dt
        e = e1
        if reason >= 0:
            _flush(books, hs, hc, ls, lc, cs, cc, ks, kc)
            return t, e, reason, n_seg
        if t >= piece_end:  # step to the next piece here rather than in another loop iteration
            k, m, piece_end = _next_piece(time_s, k, m, t_first, period, loop)


_NO_ETA = np.empty(0)


@njit(cache=True)
def _advance(time_s, power_w, t_first, period, loop,
             eta_in, b, e_max, t0, e0, t_stop, load_w, e_low, e_high,
             books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg):
    """Advance the capacitor from ``(t0, e0)`` under constant ``load_w`` [W at the capacitor].

    Stops at ``t_stop``, when the energy falls to ``e_low`` or rises to ``e_high`` [J], or when
    the segment buffer (``seg_*``, capacity ``seg_t0.size``) is full. With ``e_low < 0`` (no low
    threshold) an energy that reaches 0 under a load stops with ``STOP_COLLAPSE``. Returns
    ``(t, e, reason, n_seg)``; energy books accumulate into ``books`` (rows 0-3).
    """
    return _advance_linear(time_s, power_w, _NO_ETA, t_first, period, loop, eta_in, b, e_max, t0, e0,
                           t_stop, load_w, e_low, e_high, books, seg_t0, seg_t1, seg_h, seg_e0,
                           seg_e1, n_seg)


#: :func:`_advance_linear` inlined into its caller at numba's IR level (the same Python function,
#: a second dispatcher). A kernel that advances once per task calls it on its hot path: a compiled
#: call of :func:`_advance` passes seven arrays by value with their reference counts (~130 ns of
#: its ~250 ns per call, measured on the dense hour's trace); inlined, the caller's arrays are
#: used in place. The arithmetic is the same code, so the results are identical bit for bit.
_advance_linear_inline = njit(cache=True, inline="always")(_advance_linear.py_func)


@njit(cache=True, inline="always")
def _advance_inline(time_s, power_w, t_first, period, loop,
                    eta_in, b, e_max, t0, e0, t_stop, load_w, e_low, e_high,
                    books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg):
    """:func:`_advance`, inlined into the calling kernel (see :data:`_advance_linear_inline`)."""
    return _advance_linear_inline(time_s, power_w, _NO_ETA, t_first, period, loop, eta_in, b, e_max, t0, e0,
                                  t_stop, load_w, e_low, e_high, books, seg_t0, seg_t1, seg_h, seg_e0,
                                  seg_e1, n_seg)
