"""The general power path between two events: sources, loads, leakage and ESR.

Circuit (all quantities constant between events, because the harvest is piecewise constant and
the load only changes at events)::

    sources --+-- terminal u --[ESR R]-- internal node V --+-- C
    loads   --+                                            +-- leakage G_L, I_L

At the terminal: converter output power ``p_in = eta_in h`` [W], a constant source current
``I_src`` [A], a Thevenin source ``(V_sup - u) G_s`` [A], a constant-power load ``P_load`` [W],
a constant-current load ``I_load`` [A] and the converter's quiescent current ``I_q`` [A].
Leakage (``G_L`` [S], ``I_L`` [A]) acts on the internal voltage ``V``. The current into the
capacitor branch is ``I_c = P/u + J0 - G_s u`` with ``P = p_in - P_load`` and
``J0 = I_src + G_s V_sup - I_load - I_q``, and ``u = V + R I_c`` (the comparators see ``u``).

Parametrised by the terminal voltage ``u`` everything is rational::

    V(u)     = k u - R P / u - R J0                    k = 1 + R G_s
    C dV/dt  = g(u) = A/u + B - G u                    A = P s, B = J0 s - I_L,
                                                       G = G_s + G_L k, s = 1 + G_L R
    dt/du    = h(u) = C V'(u) / g(u)

so the time between two voltages is ``T(u0, u1) = int h(u) du`` and every energy book is an
integral ``int f(u) h(u) du`` of a rational function. These are evaluated by Gauss-Legendre
quadrature on sub-intervals chosen from the distance to the poles of ``h`` (equilibria, ``u = 0``),
which is exact to rounding (error ``rho^-2n`` with the Bernstein-ellipse parameter ``rho``); the
voltage after a time ``dt`` is the root of the monotone ``T(u0, u) = dt``, found by Newton's method
and, if that leaves its bracket, by a bracketed Newton-bisection. No time step anywhere.

``V'(u) = k + R P / u^2`` vanishes at ``u_c = sqrt(-R P / k)`` (a net load, ``P < 0``): the
internal voltage cannot fall below ``V(u_c)`` without the terminal collapsing. A constant-power
load above ``V^2 / (4 R)`` therefore browns out above ``V_off`` (``STOP_COLLAPSE``).

Without ESR and constant currents (``R = 0``, ``B = 0``) the same model is the linear
``dE/dt = A - (2 G / C) E`` the fast kernel :func:`intersim.energy.capacitor._advance` solves in closed form.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import ScenarioError

# layout of the parameter array ``par`` the general kernel reads (built by Storage.power_path_par)
PAR_C = 0        #: capacitance [F]
PAR_ESR = 1      #: series resistance [Ohm]
PAR_G_LEAK = 2   #: parallel leakage conductance [S]
PAR_I_LEAK = 3   #: constant leakage current [A]
PAR_I_SRC = 4    #: constant source current into the terminal [A]
PAR_V_SUP = 5    #: Thevenin source voltage [V]
PAR_G_SUP = 6    #: Thevenin source conductance 1/R_sup [S] (0: no Thevenin source)
PAR_I_Q = 7      #: converter quiescent current drawn at the terminal [A]
PAR_V_MAX = 8    #: clamp voltage of the internal node [V]
N_PAR = 9

# per-piece coefficients ``q``
Q_C, Q_R, Q_P, Q_J0, Q_GS, Q_GL, Q_IL, Q_K, Q_A, Q_B, Q_G, Q_VS, Q_ISRC, Q_IQ = range(14)
N_Q = 14

# integrands of :func:`_integrate` (multiplied by h(u)); the first ``nint`` are computed
INT_T, INT_U, INT_DS, INT_DS2, INT_V, INT_V2, INT_IC2 = range(7)
N_INT = 7

# Gauss-Legendre rules, padded into one table
_GL_ORDERS = np.array([3, 4, 6, 8, 12, 16, 24], dtype=np.int64)
_GL_X = np.zeros((_GL_ORDERS.size, 24))
_GL_W = np.zeros((_GL_ORDERS.size, 24))
for _i, _n in enumerate(_GL_ORDERS):
    _x, _w = np.polynomial.legendre.leggauss(int(_n))
    _GL_X[_i, :_n] = _x
    _GL_W[_i, :_n] = _w
del _i, _n, _x, _w


# --------------------------------------------------------------------------------------------
# physics as plain functions (numba-compiled, usable from Python through .py_func)


@njit(cache=True, error_model="numpy")
def _piece(par, p_in, load_w, load_a, q):
    """Fill ``q`` with the coefficients of one piece: ``p_in`` [W] converter output power,
    ``load_w`` [W] constant-power load and ``load_a`` [A] constant-current load at the terminal."""
    c = par[PAR_C]
    r = par[PAR_ESR]
    gl = par[PAR_G_LEAK]
    il = par[PAR_I_LEAK]
    gs = par[PAR_G_SUP]
    vs = par[PAR_V_SUP]
    p = p_in - load_w
    j0 = par[PAR_I_SRC] + gs * vs - load_a - par[PAR_I_Q]
    k = 1.0 + r * gs
    s = 1.0 + gl * r
    q[Q_C] = c
    q[Q_R] = r
    q[Q_P] = p
    q[Q_J0] = j0
    q[Q_GS] = gs
    q[Q_GL] = gl
    q[Q_IL] = il
    q[Q_K] = k
    q[Q_A] = p * s
    q[Q_B] = j0 * s - il
    q[Q_G] = gs + gl * k
    q[Q_VS] = vs
    q[Q_ISRC] = par[PAR_I_SRC]
    q[Q_IQ] = par[PAR_I_Q]


@njit(cache=True, error_model="numpy")
def _u_of_v(v, q):
    """Terminal voltage [V] for internal voltage ``v`` [V]; ``-1`` if the terminal has collapsed
    (no operating point: the load asks for more than the ESR lets through)."""
    r = q[Q_R]
    if r == 0.0:
        return v
    k = q[Q_K]
    bb = v + r * q[Q_J0]
    c = r * q[Q_P]                   # k u^2 - bb u - c = 0, the larger root is the physical one
    disc = bb * bb + 4.0 * k * c
    if disc < 0.0:
        return -1.0
    sq = math.sqrt(disc)
    if bb >= 0.0:
        u = (bb + sq) / (2.0 * k)
    else:
        um = (bb - sq) / (2.0 * k)   # stable: product of the roots is -c/k
        u = (-c / k) / um if um != 0.0 else 0.0
    if u < 0.0:
        return -1.0
    return u


@njit(cache=True, error_model="numpy")
def _v_of_u(u, q):
    """Internal voltage [V] at terminal voltage ``u`` [V] (``u > 0`` unless ESR = 0)."""
    r = q[Q_R]
    if r == 0.0:
        return u
    return q[Q_K] * u - r * q[Q_P] / u - r * q[Q_J0]


@njit(cache=True, error_model="numpy")
def _g(u, q):
    """``C dV/dt`` [A]: current into the ideal capacitor at terminal voltage ``u`` [V]."""
    a = q[Q_A]
    if u == 0.0:
        if a > 0.0:
            return math.inf
        if a < 0.0:
            return -math.inf
        return q[Q_B]
    return a / u + q[Q_B] - q[Q_G] * u


@njit(cache=True, error_model="numpy")
def _ic(u, q):
    """Current [A] through the ESR into the capacitor branch at terminal voltage ``u`` [V]."""
    if u == 0.0:
        return q[Q_J0]
    return q[Q_P] / u + q[Q_J0] - q[Q_GS] * u


@njit(cache=True, error_model="numpy")
def _h(u, q):
    """``dt/du`` [s/V] at terminal voltage ``u`` [V]."""
    c = q[Q_C]
    k = q[Q_K]
    a = q[Q_A]
    if u == 0.0:                     # only reachable without ESR (R P = 0)
        if a != 0.0:
            return 0.0
        return c * k / q[Q_B]
    rp = q[Q_R] * q[Q_P]
    if a == 0.0:                     # P = 0: g = B - G u, no pole at 0
        return c * k / (q[Q_B] - q[Q_G] * u)
    vp = k + rp / (u * u) if rp != 0.0 else k
    return c * vp / (a / u + q[Q_B] - q[Q_G] * u)


@njit(cache=True, error_model="numpy")
def _dh(u, q):
    """``d^2t/du^2`` [s/V^2] at ``u`` [V] (for the second-order starting guess)."""
    c = q[Q_C]
    k = q[Q_K]
    a = q[Q_A]
    b = q[Q_B]
    gg = q[Q_G]
    if a == 0.0:
        d = b - gg * u
        return c * k * gg / (d * d)
    if u == 0.0:
        return c / a
    rp = q[Q_R] * q[Q_P]
    vp = k + rp / (u * u) if rp != 0.0 else k
    vpp = -2.0 * rp / (u * u * u) if rp != 0.0 else 0.0
    g = a / u + b - gg * u
    gp = -a / (u * u) - gg
    return c * (vpp * g - vp * gp) / (g * g)


@njit(cache=True, error_model="numpy")
def _poles(q, pre, pim):
    """Singularities of ``h`` (equilibria ``g = 0`` and ``u = 0`` when ``R P != 0``) into
    ``pre + i pim``; returns their number (at most 3)."""
    a = q[Q_A]
    b = q[Q_B]
    gg = q[Q_G]
    n = 0
    if a == 0.0:
        if gg > 0.0:
            pre[0] = b / gg
            pim[0] = 0.0
            n = 1
        return n
    if gg == 0.0:
        if b != 0.0:
            pre[0] = -a / b
            pim[0] = 0.0
            n = 1
    else:
        disc = b * b + 4.0 * a * gg   # roots of A + B u - G u^2
        if disc >= 0.0:
            sq = math.sqrt(disc)
            if b >= 0.0:
                r1 = (b + sq) / (2.0 * gg)
            else:
                r1 = (b - sq) / (2.0 * gg)
            r2 = (-a / gg) / r1
            pre[0] = r1
            pim[0] = 0.0
            pre[1] = r2
            pim[1] = 0.0
            n = 2
        else:
            pre[0] = b / (2.0 * gg)
            pim[0] = math.sqrt(-disc) / (2.0 * gg)
            pre[1] = pre[0]
            pim[1] = -pim[0]
            n = 2
    if q[Q_R] * q[Q_P] != 0.0:
        pre[n] = 0.0
        pim[n] = 0.0
        n += 1
    return n


@njit(cache=True, error_model="numpy")
def _gl_index(a, b, npole, pre, pim):
    """Index into the Gauss-Legendre table for ``[a, b]``, or -1 if a pole is too close."""
    m = 0.5 * (a + b)
    hl = 0.5 * abs(b - a)
    if hl == 0.0:
        return 0
    zmin = math.inf
    for i in range(npole):
        z = math.hypot(pre[i] - m, pim[i]) / hl
        if z < zmin:
            zmin = z
    if zmin < 1.9:
        return -1
    if zmin == math.inf:
        return 0
    rho = zmin + math.sqrt(zmin * zmin - 1.0)
    need = 23.0 / math.log(rho)      # rho^(-2n) <= 1e-20: beyond double precision
    for i in range(_GL_ORDERS.size):
        if _GL_ORDERS[i] >= need:
            return i
    return -1


@njit(cache=True, error_model="numpy")
def _integrate(u0, u1, q, npole, pre, pim, nint, out):
    """``out[j] = int_{u0}^{u1} f_j(u) h(u) du`` for ``j < nint`` (``f`` = 1, u, V_sup - u,
    (V_sup - u)^2, V, V^2, I_c^2); ``out[0]`` is the elapsed time [s]. Returns False if a pole
    lies on the path (the time is infinite)."""
    for j in range(nint):
        out[j] = 0.0
    if u1 == u0:
        return True
    vs = q[Q_VS]
    a = u0
    step = u1 - u0
    for _ in range(100000):
        b = a + step
        if (step > 0.0 and b > u1) or (step < 0.0 and b < u1):
            b = u1
        idx = _gl_index(a, b, npole, pre, pim)
        halvings = 0
        while idx < 0:
            b = a + 0.5 * (b - a)
            halvings += 1
            if b == a or halvings > 1100:
                return False
            idx = _gl_index(a, b, npole, pre, pim)
        m = 0.5 * (a + b)
        hl = 0.5 * (b - a)
        n = _GL_ORDERS[idx]
        for i in range(n):
            u = m + hl * _GL_X[idx, i]
            wh = hl * _GL_W[idx, i] * _h(u, q)
            out[0] += wh
            if nint > 1:
                out[1] += wh * u
                d = vs - u
                out[2] += wh * d
                out[3] += wh * d * d
                v = _v_of_u(u, q)
                out[4] += wh * v
                out[5] += wh * v * v
                if nint > 6:
                    ic = _ic(u, q)
                    out[6] += wh * ic * ic
        if b == u1:
            return True
        step = 2.0 * (b - a)         # let the panels grow again away from a pole
        a = b
    return False


@njit(cache=True, error_model="numpy")
def _time(u0, u1, q, npole, pre, pim, buf):
    """Time [s] from terminal voltage ``u0`` to ``u1`` [V]; ``inf`` through a pole."""
    if not _integrate(u0, u1, q, npole, pre, pim, 1, buf):
        return math.inf
    return buf[0]


@njit(cache=True, error_model="numpy")
def _inside(u0, x, lim):
    """``x`` strictly between ``u0`` and ``lim``."""
    if lim > u0:
        return u0 < x < lim
    return lim < x < u0


@njit(cache=True, error_model="numpy")
def _u_after_newton(u0, dt, lim, q, npole, pre, pim, buf):
    """Terminal voltage after ``dt`` [s] by Newton's method from a second-order guess; NaN if an
    iterate leaves ``(u0, lim)`` (the caller then brackets)."""
    h0 = _h(u0, q)
    if not (math.isfinite(h0) and h0 != 0.0):
        return math.nan
    v1 = 1.0 / h0
    x = u0 + v1 * dt - 0.5 * _dh(u0, q) * v1 * v1 * v1 * dt * dt
    if not _inside(u0, x, lim):
        x = u0 + v1 * dt
        if not _inside(u0, x, lim):
            return math.nan
    t = _time(u0, x, q, npole, pre, pim, buf)
    for _ in range(12):
        f = t - dt
        hx = _h(x, q)
        step = -f / hx
        xn = x + step
        if not (math.isfinite(xn) and _inside(u0, xn, lim)):
            return math.nan
        if abs(step) <= 2e-16 * abs(x) or abs(f) <= 1e-15 * dt:
            return xn
        t += _time(x, xn, q, npole, pre, pim, buf)
        x = xn
    return math.nan


@njit(cache=True, error_model="numpy")
def _u_after_bracketed(u0, dt, lim, lim_is_eq, t_lim, q, npole, pre, pim, buf):
    """Terminal voltage after ``dt`` [s] when it lies before ``lim``: Newton-bisection on a
    parameter ``w``; ``u = u0 + (lim - u0) w`` towards a boundary (``T(lim) = t_lim > dt``) or
    ``u = lim - (lim - u0) exp(-w)`` towards an equilibrium, where ``T`` is nearly linear in ``w``."""
    span = lim - u0
    w_lo = 0.0
    t_lo = 0.0
    u_lo = u0
    if lim_is_eq:
        w_hi = 1.0
        while True:
            u_hi = lim - span * math.exp(-w_hi)
            t_hi = t_lo + _time(u_lo, u_hi, q, npole, pre, pim, buf)
            if t_hi > dt:
                break
            if w_hi > 700.0 or u_hi == lim:
                # within rounding of the equilibrium: stay one ulp short of it (the pole of h)
                return u_hi if u_hi != lim else np.nextafter(lim, u0)
            w_lo, t_lo, u_lo = w_hi, t_hi, u_hi
            w_hi *= 2.0
    else:
        w_hi = 1.0
        u_hi = lim
        t_hi = t_lim
    w = 0.5 * (w_lo + w_hi)
    for _ in range(200):
        u = lim - span * math.exp(-w) if lim_is_eq else u0 + span * w
        t = t_lo + _time(u_lo, u, q, npole, pre, pim, buf)
        f = t - dt
        if abs(f) <= 1e-15 * dt:
            return u
        if f < 0.0:
            w_lo, t_lo, u_lo = w, t, u
        else:
            w_hi, t_hi, u_hi = w, t, u
        if w_hi - w_lo <= 4e-16 * max(1.0, w_hi):
            return u
        dudw = (lim - u) if lim_is_eq else span
        deriv = _h(u, q) * dudw if dudw != 0.0 else 0.0
        wn = w - f / deriv if (deriv > 0.0 and math.isfinite(f)) else math.nan
        if not (w_lo < wn < w_hi):
            wn = 0.5 * (w_lo + w_hi)
        w = wn
    return u


# --------------------------------------------------------------------------------------------
# input-efficiency curves and checks the engine uses at events


@dataclass(frozen=True)
class EfficiencyCurve:
    """Converter input efficiency as a function of harvested power.

    Attributes
    ----------
    power_w : tuple of float [W]  harvested power at the converter input, strictly increasing, > 0
    efficiency : tuple of float [-]  efficiency there, each in (0, 1]

    Between points the efficiency is interpolated linearly in ``log(power)``; outside it is held
    at the end values. The harvest is piecewise constant, so the efficiency is constant between
    events and is applied per trace sample (:meth:`per_sample`).
    """

    power_w: tuple
    efficiency: tuple

    def __post_init__(self):
        p = np.asarray(self.power_w, dtype=float)
        e = np.asarray(self.efficiency, dtype=float)
        if p.ndim != 1 or p.size < 1 or p.size != e.size:
            raise ScenarioError(f"efficiency curve: power_w and efficiency need the same length >= 1, "
                                f"got {p.size} and {e.size}")
        if not (np.all(np.isfinite(p)) and np.all(p > 0) and np.all(np.diff(p) > 0)):
            raise ScenarioError(f"efficiency curve: power_w = {self.power_w!r} must be finite, > 0 and "
                                "strictly increasing [W]")
        if not (np.all(e > 0) and np.all(e <= 1)):
            raise ScenarioError(f"efficiency curve: efficiency = {self.efficiency!r} must lie in (0, 1]")
        object.__setattr__(self, "power_w", tuple(float(x) for x in p))
        object.__setattr__(self, "efficiency", tuple(float(x) for x in e))

    def __call__(self, power_w):
        """Efficiency [-] at harvested power(s) ``power_w`` [W] (``<= 0`` takes the first value)."""
        p = np.asarray(power_w, dtype=float)
        lp = np.log(np.maximum(p, self.power_w[0]))
        out = np.interp(lp, np.log(self.power_w), self.efficiency)
        return out if out.ndim else float(out)

    def per_sample(self, power_w):
        """Efficiency of every trace sample [-], the ``eta_w`` array of the general kernel."""
        return np.ascontiguousarray(self(np.asarray(power_w, dtype=float)), dtype=float)


def efficiency_from_current_lut(v_in_v, current_edges_a, efficiency):
    """An :class:`EfficiencyCurve` from a look-up table over input current at one input voltage.

    Parameters
    ----------
    v_in_v : float [V]  converter input voltage (the harvester's operating point, held by MPPT)
    current_edges_a : sequence of float [A]  lower edges of the current bins, increasing
    efficiency : sequence of float [-]  efficiency of each bin

    The bins are represented by their geometric centres (the last by its edge times sqrt 2).
    """
    edges = np.asarray(current_edges_a, dtype=float)
    eta = np.asarray(efficiency, dtype=float)
    if not (math.isfinite(v_in_v) and v_in_v > 0):
        raise ScenarioError(f"v_in_v = {v_in_v!r} must be a finite number > 0 [V]")
    if edges.size != eta.size or edges.size < 1 or np.any(edges <= 0) or np.any(np.diff(edges) <= 0):
        raise ScenarioError(f"current_edges_a = {current_edges_a!r} must be > 0, increasing and match "
                            f"the {eta.size} efficiencies")
    upper = np.append(edges[1:], edges[-1] * 2.0)
    centres = np.sqrt(edges * upper)
    return EfficiencyCurve(tuple(v_in_v * centres), tuple(eta))


def ldo_efficiency(v_out_v, v_cap_v):
    """Efficiency [-] of a linear regulator (or of a direct supply with ``v_out_v = v_cap_v``): a
    constant-current load at ``v_out_v`` [V] draws the same current from ``v_cap_v`` [V]."""
    return np.minimum(np.asarray(v_out_v, float) / np.asarray(v_cap_v, float), 1.0)


def terminal_voltage_v(storage, energy_j, harvest_w=0.0, load_w=0.0, load_a=0.0):
    """Terminal voltage [V] the comparators see: ``V_int + (I_in - I_out) ESR``.

    Parameters
    ----------
    storage : Storage
    energy_j : float [J]  stored energy (internal voltage ``sqrt(2 E / C)``)
    harvest_w : float [W]  harvested power at the converter input now
    load_w : float [W]  constant-power load at the capacitor terminal (after the output regulator)
    load_a : float [A]  constant-current load at the terminal

    Returns ``nan`` if the terminal has collapsed (no operating point).
    """
    q = np.empty(N_Q)
    eta = storage.input_efficiency_at(harvest_w)
    _piece.py_func(storage.power_path_par(), eta * harvest_w, float(load_w), float(load_a), q)
    v = math.sqrt(2.0 * max(float(energy_j), 0.0) / storage.capacitance_f)
    u = _u_of_v.py_func(v, q)
    return math.nan if u < 0 else u


def collapse_power_w(storage, energy_j):
    """Largest constant-power load [W] the terminal can deliver at this stored energy [J], with no
    harvest: ``V_int^2 / (4 ESR)`` (``inf`` without ESR)."""
    if storage.esr_ohm == 0:
        return math.inf
    v2 = 2.0 * max(float(energy_j), 0.0) / storage.capacitance_f
    return v2 / (4.0 * storage.esr_ohm)


def boot_loop(storage, load_w=0.0, load_a=0.0, harvest_w=0.0, v_on_v=None):
    """Does turning the load on at ``V_on`` brown the MCU out at once (a boot loop)?

    At turn-on the terminal voltage is ``V_on`` with the load off; switching the load on steps it
    down by ``I_load ESR`` (or collapses it). If the new terminal voltage is at or below ``V_off``
    the MCU browns out with no time passing, recharges to ``V_on`` and repeats forever.

    Parameters
    ----------
    storage : Storage
    load_w : float [W]  constant-power load at the terminal (after the output regulator) when on
    load_a : float [A]  constant-current load at the terminal when on
    harvest_w : float [W]  harvested power at turn-on (0 is the worst case)
    v_on_v : float [V] or None  turn-on voltage (default ``storage.v_on_v``)

    Returns
    -------
    (is_boot_loop, v_after_v) : (bool, float [V]) ``v_after_v`` is the terminal voltage just after
    the load step, ``nan`` if the terminal collapses.
    """
    v_on = storage.v_on_v if v_on_v is None else float(v_on_v)
    par = storage.power_path_par()
    eta = storage.input_efficiency_at(harvest_w)
    q = np.empty(N_Q)
    _piece.py_func(par, eta * harvest_w, 0.0, 0.0, q)
    v_int = _v_of_u.py_func(v_on, q)          # internal voltage when the comparator fires
    _piece.py_func(par, eta * harvest_w, float(load_w), float(load_a), q)
    u = _u_of_v.py_func(v_int, q)
    if u < 0:
        return True, math.nan
    return bool(u <= storage.v_off_v), u
