"""The general capacitor kernel: ESR with terminal-voltage comparators, current and Thevenin
sources, current loads and leakage, quiescent current, a per-sample input efficiency
(physics in :mod:`intersim.energy.power_path`); falls back to the fast kernel when the extra
terms are zero."""
from __future__ import annotations
import math
import numpy as np
from numba import njit
from ..compensated import neumaier_add as _book
from .power_path import (
    N_INT, N_Q, PAR_C, PAR_ESR, PAR_G_LEAK, PAR_G_SUP, PAR_I_LEAK, PAR_I_Q, PAR_I_SRC,
    PAR_V_MAX, Q_GL, Q_GS, Q_IL, Q_IQ, Q_ISRC, Q_K, Q_P, Q_R, Q_VS, _g, _ic, _integrate, _piece, _poles, _time, _u_after_bracketed, _u_after_newton, _u_of_v,
    _v_of_u,
)
from .kernel_codes import (STOP_TIME, STOP_LOW, STOP_HIGH, STOP_FULL, STOP_COLLAPSE, BOOK_HARVESTED, BOOK_INPUT_LOSS, BOOK_CLAMPED, BOOK_LEAKAGE, BOOK_ESR, BOOK_LOAD)
from .linear_kernel import (_locate, _next_piece, _advance_linear)


# --------------------------------------------------------------------------------------------
# the general power path


_EV_NONE = 0
_EV_HIGH = 1
_EV_LOW = 2
_EV_MAX = 3        # reached V_max: the clamp regime starts
_EV_COLLAPSE = 4   # the terminal collapses under the load
_EV_ZERO = 5       # emptied with no load: rests at 0


# One function on purpose (numba kernel): the per-piece loop keeps its state (time, energy,
# trace position, local compensated sums) in registers; split into calls it would pass a dozen
# values back and forth per trace sample, the hot path of every general-power-path run.
@njit(cache=True, error_model="numpy")  # IEEE inf/nan, as .py_func gives with numpy floats
def _advance_general(time_s, power_w, eta_w, t_first, period, loop, par,
                     t0, e0, t_stop, load_w, load_a, v_low, v_high,
                     books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg):
    """Advance the storage through the general power path (see :mod:`intersim.energy.power_path`).

    Parameters
    ----------
    time_s, power_w, t_first, period, loop : the trace (:func:`trace_arrays`)
    eta_w : array [-] input efficiency of every trace sample (``Storage.efficiency_per_sample``)
    par : array [SI] ``Storage.power_path_par()``
    t0 : float [s], e0 : float [J] start time and stored energy (internal ``C V^2 / 2``)
    t_stop : float [s]
    load_w : float [W] constant-power load at the capacitor terminal (after the output regulator)
    load_a : float [A] constant-current load at the terminal (direct or LDO supply)
    v_low, v_high : float [V] falling and rising thresholds of the *terminal* voltage
        (``v_low < 0``: none, ``v_high = inf``: none)
    books : array (N_BOOKS, 2), seg_* : segment record as in :func:`_advance`

    Returns ``(t, e, reason, n_seg)`` like :func:`_advance`; ``STOP_COLLAPSE`` when the terminal
    collapses under the load (a brown-out above ``v_low``). Without ESR, currents and a Thevenin
    source this is exactly :func:`_advance` with energy thresholds ``C v^2 / 2``.
    """
    c = par[PAR_C]
    vmax = par[PAR_V_MAX]
    e_max = 0.5 * c * vmax * vmax
    if (par[PAR_ESR] == 0.0 and par[PAR_G_SUP] == 0.0 and par[PAR_I_SRC] == 0.0
            and par[PAR_I_LEAK] == 0.0 and par[PAR_I_Q] == 0.0 and load_a == 0.0):
        e_low = 0.5 * c * v_low * v_low if v_low >= 0.0 else -1.0
        e_high = 0.5 * c * v_high * v_high
        t1, e1, reason, n_seg = _advance_linear(time_s, power_w, eta_w, t_first, period, loop, 1.0,
                                                2.0 * par[PAR_G_LEAK] / c, e_max, t0, e0, t_stop,
                                                load_w, e_low, e_high, books, seg_t0, seg_t1, seg_h,
                                                seg_e0, seg_e1, n_seg)
        if load_w != 0.0:  # the load is constant over the call
            _book(books, BOOK_LOAD, load_w * (t1 - t0))
        return t1, e1, reason, n_seg
    q = np.empty(N_Q)
    pre = np.empty(3)
    pim = np.empty(3)
    ints = np.empty(N_INT)
    buf = np.empty(1)
    cap = seg_t0.size
    record = cap > 0
    n = time_s.size
    has_load = load_w > 0.0 or load_a > 0.0
    t = t0
    e = e0
    k, m, piece_end = _locate(time_s, t, t_first, period, loop)
    while True:
        if t >= t_stop:
            return t, e, STOP_TIME, n_seg
        if record and n_seg >= cap:
            return t, e, STOP_FULL, n_seg
        if piece_end <= t:
            k, m, piece_end = _next_piece(time_s, k, m, t_first, period, loop)
            continue
        if 0 <= k < n:
            h = power_w[k]
            p_in = eta_w[k] * h
        else:
            h = 0.0
            p_in = 0.0
        t_end = piece_end if piece_end < t_stop else t_stop
        dt = t_end - t
        _piece(par, p_in, load_w, load_a, q)
        r = q[Q_R]
        gs = q[Q_GS]
        vs = q[Q_VS]
        gl = q[Q_GL]
        il = q[Q_IL]
        event = _EV_NONE
        hold = False
        clamp_regime = False
        u_hold = 0.0
        v_hold = 0.0
        if e >= e_max:
            u_m = _u_of_v(vmax, q)
            if u_m > 0.0 and _g(u_m, q) >= 0.0:
                # clamp regime: the internal node holds V_max; the sources deliver only what leakage
                # takes, the refused rest is booked as clamped
                e = e_max
                clamp_regime = True
                hold = True
                v_hold = vmax
                u_hold = vmax + r * (gl * vmax + il)
        if not hold:
            v0 = math.sqrt(2.0 * e / c) if e > 0.0 else 0.0
            u0 = _u_of_v(v0, q)
            if u0 < 0.0:
                return t, e, STOP_COLLAPSE, n_seg
            g0 = _g(u0, q)
            if u0 >= v_high:
                return t, e, STOP_HIGH, n_seg
            if u0 <= v_low and g0 < 0.0:
                return t, e, STOP_LOW, n_seg
            if u0 == 0.0 and g0 <= 0.0:
                if has_load:
                    return t, e, STOP_COLLAPSE, n_seg
                hold = True      # empty, nothing flowing
                v_hold = v0
                u_hold = 0.0
            elif g0 == 0.0:
                hold = True      # at an equilibrium
                v_hold = v0
                u_hold = u0
        if hold:
            if clamp_regime and u_hold >= v_high:
                return t, e, STOP_HIGH, n_seg
            if clamp_regime and u_hold <= v_low:
                return t, e, STOP_LOW, n_seg
            ic = gl * v_hold + il if clamp_regime else (_ic(u_hold, q) if u_hold > 0.0 else 0.0)
            d = vs - u_hold
            src = q[Q_ISRC] * u_hold + vs * gs * d
            harvested = h * dt + src * dt
            loss = (h - p_in) * dt + (gs * d * d + q[Q_IQ] * u_hold) * dt
            load = (load_w + load_a * u_hold) * dt
            esr = r * ic * ic * dt
            leak = (gl * v_hold * v_hold + il * v_hold) * dt
            clamped = (harvested - loss - load - esr - leak) if clamp_regime else 0.0
            e1 = e
        else:
            # the nearest boundary in the direction of motion, and whether an equilibrium comes first
            npole = _poles(q, pre, pim)
            up = g0 > 0.0
            if up:
                bnd = _u_of_v(vmax, q)
                kind = _EV_MAX
                if v_high < bnd:
                    bnd = v_high
                    kind = _EV_HIGH
            else:
                rp = r * q[Q_P]
                bnd = math.sqrt(-rp / q[Q_K]) if rp < 0.0 else 0.0
                kind = _EV_COLLAPSE if (rp < 0.0 or has_load) else _EV_ZERO
                if v_low > bnd:
                    bnd = v_low
                    kind = _EV_LOW
            lim = bnd
            lim_is_eq = False
            for i in range(npole):
                if pim[i] == 0.0 and pre[i] > 0.0:
                    ri = pre[i]
                    if (up and u0 < ri <= lim) or ((not up) and lim <= ri < u0):
                        lim = ri
                        lim_is_eq = True
            u1 = _u_after_newton(u0, dt, lim, q, npole, pre, pim, buf)
            if not math.isnan(u1):
                dt_used = dt
            else:
                t_b = math.inf if lim_is_eq else _time(u0, bnd, q, npole, pre, pim, buf)
                if t_b <= dt:
                    event = kind
                    dt_used = t_b
                    u1 = bnd
                else:
                    dt_used = dt
                    u1 = _u_after_bracketed(u0, dt, lim, lim_is_eq, t_b, q, npole, pre, pim, buf)
            if lim_is_eq:
                # within rounding of an equilibrium (a pole of h) the state is the equilibrium:
                # stop 64 ulps short of it and book the rest of the piece at its rates (rem below)
                gap = 64.0 * 2.220446049250313e-16 * abs(lim) + 1e-300
                if abs(lim - u1) < gap:
                    u1 = lim - gap if lim > u0 else lim + gap
                    if (lim > u0 and u1 < u0) or (lim < u0 and u1 > u0):
                        u1 = u0
            dt = dt_used
            nint = N_INT if r > 0.0 else N_INT - 1
            ints[N_INT - 1] = 0.0
            _integrate(u0, u1, q, npole, pre, pim, nint, ints)
            rem = dt - ints[0]
            if rem != 0.0:
                # time the path integral does not cover: at an equilibrium reached within rounding
                # the rest of the piece is spent there, at the end point's rates
                v1r = _v_of_u(u1, q)
                ic1 = _ic(u1, q) if u1 > 0.0 else 0.0
                ints[0] += rem
                ints[1] += rem * u1
                ints[2] += rem * (vs - u1)
                ints[3] += rem * (vs - u1) * (vs - u1)
                ints[4] += rem * v1r
                ints[5] += rem * v1r * v1r
                ints[6] += rem * ic1 * ic1
            harvested = h * dt + q[Q_ISRC] * ints[1] + vs * gs * ints[2]
            loss = (h - p_in) * dt + gs * ints[3] + q[Q_IQ] * ints[1]
            load = load_w * dt + load_a * ints[1]
            esr = r * ints[6] if r > 0.0 else 0.0
            leak = gl * ints[5] + il * ints[4]
            clamped = 0.0
            if event == _EV_MAX:
                e1 = e_max
            else:
                v1 = _v_of_u(u1, q)
                e1 = 0.5 * c * v1 * v1 if v1 > 0.0 else 0.0
        _book(books, BOOK_HARVESTED, harvested)
        if loss != 0.0:
            _book(books, BOOK_INPUT_LOSS, loss)
        if clamped != 0.0:
            _book(books, BOOK_CLAMPED, clamped)
        if leak != 0.0:
            _book(books, BOOK_LEAKAGE, leak)
        if esr != 0.0:
            _book(books, BOOK_ESR, esr)
        if load != 0.0:
            _book(books, BOOK_LOAD, load)
        if record and dt > 0.0:
            seg_t0[n_seg] = t
            seg_t1[n_seg] = t + dt
            seg_h[n_seg] = h
            seg_e0[n_seg] = e
            seg_e1[n_seg] = e1
            n_seg += 1
        t = t_end if (event == _EV_NONE and dt == t_end - t) else t + dt
        e = e1
        if event == _EV_HIGH:
            return t, e, STOP_HIGH, n_seg
        if event == _EV_LOW:
            return t, e, STOP_LOW, n_seg
        if event == _EV_COLLAPSE:
            return t, e, STOP_COLLAPSE, n_seg
