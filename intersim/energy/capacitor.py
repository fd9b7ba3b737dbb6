"""Capacitor physics in closed form, and the numba kernels that advance it exactly.

Between events the harvested power ``h`` [W] (piecewise constant, from the trace), the load
``P_load`` [W, drawn from the capacitor] and a parallel leakage resistance ``R`` [Ohm] are constant,
so the stored energy ``E = C V^2 / 2`` obeys a linear ODE::

    dE/dt = a - b E,     a = eta_in h - P_load,     b = 2 / (R C)   (b = 0 without leakage)

whose solution is ``E(t) = E0 + (a - b E0) t phi(b t)`` with ``phi(x) = (1 - exp(-x)) / x``.
Crossing times of an energy threshold are solved exactly from the same expression, and the
capacitor clamps at ``V_max`` (harvest refused there is booked as ``clamped``). Nothing is
time-stepped; the kernel walks the trace's sample boundaries one after the other (a binary search
only where a call starts), so an advance over ``n`` samples costs O(n).

:func:`_advance` is that fast kernel. :func:`_advance_general` adds the rest of the power path
(ESR with terminal-voltage comparators, constant-current and Thevenin sources, constant-current
loads and leakage, the converter's quiescent current, a per-sample input efficiency); its physics
is in :mod:`intersim.energy.power_path`, and it falls back to the fast kernel whenever the extra terms
are all zero. ``docs/energy.md`` has the equations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numba import njit

from ..compensated import neumaier_add as _book
from ..compensated import neumaier_step_k as _nadd
from ..errors import ScenarioError
from .power_path import (
    N_INT, N_PAR, N_Q, PAR_C, PAR_ESR, PAR_G_LEAK, PAR_G_SUP, PAR_I_LEAK, PAR_I_Q, PAR_I_SRC,
    PAR_V_MAX, PAR_V_SUP, Q_GL, Q_GS, Q_IL, Q_IQ, Q_ISRC, Q_K, Q_P, Q_R, Q_VS, EfficiencyCurve,
    _g, _ic, _integrate, _piece, _poles, _time, _u_after_bracketed, _u_after_newton, _u_of_v,
    _v_of_u,
)

# Stop reasons returned by the advance kernels.
STOP_TIME = 0      #: reached ``t_stop``
STOP_LOW = 1       #: energy (terminal voltage) fell to ``e_low`` (``v_low``): brown-out or a falling threshold
STOP_HIGH = 2      #: energy (terminal voltage) rose to ``e_high`` (``v_high``): turn-on or a rising threshold
STOP_FULL = 3      #: the segment record buffer is full; call again to continue
STOP_COLLAPSE = 4  #: the load can no longer be served: the terminal collapsed under a load (ESR),
#:                    or the capacitor emptied with no low threshold set (``e_low < 0``)

# Indices of the books the kernels accumulate (value, Neumaier compensation) in ``books[k, 0:2]``.
BOOK_HARVESTED = 0  #: harvested power at the converter input, plus source energy (current/Thevenin)
BOOK_INPUT_LOSS = 1  #: converter input loss, Thevenin source-resistance loss, quiescent current
BOOK_CLAMPED = 2    #: harvest refused at V_max
BOOK_LEAKAGE = 3    #: resistive and constant-current leakage
BOOK_ESR = 4        #: I^2 R loss in the ESR (general kernel only)
BOOK_LOAD = 5       #: energy delivered at the capacitor terminal to the load (general kernel only)
N_BOOKS = 6


def energy_j(capacitance_f, voltage_v):
    """Stored energy ``C V^2 / 2`` [J] of ``capacitance_f`` [F] at ``voltage_v`` [V]."""
    return 0.5 * capacitance_f * voltage_v * voltage_v


def voltage_v(capacitance_f, energy):
    """Voltage [V] of ``capacitance_f`` [F] holding ``energy`` [J] (``>= 0``)."""
    return np.sqrt(2.0 * np.maximum(energy, 0.0) / capacitance_f)


def usable_energy_j(capacitance_f, v_on_v, v_off_v):
    """Energy released from ``v_on_v`` [V] down to ``v_off_v`` [V], before efficiencies [J]."""
    return 0.5 * capacitance_f * (v_on_v * v_on_v - v_off_v * v_off_v)


@dataclass(frozen=True)
class Storage:
    """The storage capacitor and its power path.

    Attributes
    ----------
    capacitance_f : float [F]
    v_on_v : float [V] terminal voltage at which the MCU turns on
    v_off_v : float [V] terminal voltage below which the MCU browns out (``< v_on_v``)
    v_max_v : float [V] clamp voltage (``>= v_on_v``): harvest beyond it is refused
    v_initial_v : float [V] voltage at t = start (``0 <= v <= v_max_v``)
    leakage_ohm : float [Ohm] parallel leakage resistance (``inf``: none)
    input_efficiency : float [-] MPPT/boost converter efficiency, applied to harvested power once
    output_efficiency : float [-] output regulator efficiency between capacitor and MCU pin
    esr_ohm : float [Ohm] equivalent series resistance (0: none); comparators then see the
        terminal voltage ``V_int + (I_in - I_out) ESR``
    leakage_current_a : float [A] constant leakage current of the capacitor (0: none)
    quiescent_current_a : float [A] converter quiescent current drawn at the terminal (0: none)
    source_current_a : float [A] constant current source into the terminal (0: none)
    source_voltage_v : float [V] Thevenin source voltage (used when ``source_resistance_ohm`` is finite)
    source_resistance_ohm : float [Ohm] Thevenin source resistance (``inf``: no Thevenin source)
    input_efficiency_curve : EfficiencyCurve or None  input efficiency as a function of harvested
        power; replaces ``input_efficiency`` when given
    """

    capacitance_f: float
    v_on_v: float
    v_off_v: float
    v_max_v: float
    v_initial_v: float = 0.0
    leakage_ohm: float = math.inf
    input_efficiency: float = 1.0
    output_efficiency: float = 1.0
    esr_ohm: float = 0.0
    leakage_current_a: float = 0.0
    quiescent_current_a: float = 0.0
    source_current_a: float = 0.0
    source_voltage_v: float = 0.0
    source_resistance_ohm: float = math.inf
    input_efficiency_curve: Optional[EfficiencyCurve] = None

    def __post_init__(self):
        def bad(key, value, allowed):
            raise ScenarioError(f"storage.{key} = {value!r} is invalid; allowed: {allowed}")

        c = self.capacitance_f
        if not (math.isfinite(c) and c > 0):
            bad("capacitance_f", c, "a finite number > 0 [F]")
        if not (math.isfinite(self.v_off_v) and self.v_off_v > 0):
            bad("v_off_v", self.v_off_v, "a finite number > 0 [V]")
        if not (math.isfinite(self.v_on_v) and self.v_on_v > self.v_off_v):
            bad("v_on_v", self.v_on_v, f"a number > v_off_v = {self.v_off_v} [V] (hysteresis)")
        if not (math.isfinite(self.v_max_v) and self.v_max_v >= self.v_on_v):
            bad("v_max_v", self.v_max_v, f"a number >= v_on_v = {self.v_on_v} [V]")
        if not (math.isfinite(self.v_initial_v) and 0 <= self.v_initial_v <= self.v_max_v):
            bad("v_initial_v", self.v_initial_v, f"0 <= v <= v_max_v = {self.v_max_v} [V]")
        if not (self.leakage_ohm > 0):
            bad("leakage_ohm", self.leakage_ohm, "a number > 0 [Ohm], or omit it for no leakage")
        for key in ("input_efficiency", "output_efficiency"):
            eta = getattr(self, key)
            if not (0 < eta <= 1):
                bad(key, eta, "0 < efficiency <= 1")
        for key, unit in (("esr_ohm", "Ohm"), ("leakage_current_a", "A"), ("quiescent_current_a", "A"),
                          ("source_current_a", "A"), ("source_voltage_v", "V")):
            x = getattr(self, key)
            if not (math.isfinite(x) and x >= 0):
                bad(key, x, f"a finite number >= 0 [{unit}]")
        if not (self.source_resistance_ohm > 0):
            bad("source_resistance_ohm", self.source_resistance_ohm,
                "a number > 0 [Ohm], or omit it for no Thevenin source")
        if self.input_efficiency_curve is not None and not isinstance(self.input_efficiency_curve,
                                                                      EfficiencyCurve):
            bad("input_efficiency_curve", self.input_efficiency_curve, "an EfficiencyCurve or None")

    # energies of the thresholds [J]
    @property
    def e_on_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_on_v)

    @property
    def e_off_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_off_v)

    @property
    def e_max_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_max_v)

    @property
    def e_initial_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_initial_v)

    @property
    def leak_rate_per_s(self) -> float:
        """``b = 2 / (R C)`` [1/s]: the relative rate at which resistive leakage drains energy."""
        return 0.0 if math.isinf(self.leakage_ohm) else 2.0 / (self.leakage_ohm * self.capacitance_f)

    def usable_energy_j(self) -> float:
        """``C (V_on^2 - V_off^2) / 2`` [J], before efficiencies."""
        return usable_energy_j(self.capacitance_f, self.v_on_v, self.v_off_v)

    # --- the general power path ---------------------------------------------------------------
    @property
    def uses_general_kernel(self) -> bool:
        """True if a term only :func:`_advance_general` models is present (ESR, currents, Thevenin
        source, an efficiency curve)."""
        return (self.esr_ohm > 0 or self.leakage_current_a > 0 or self.quiescent_current_a > 0
                or self.source_current_a > 0 or math.isfinite(self.source_resistance_ohm)
                or self.input_efficiency_curve is not None)

    def power_path_par(self) -> np.ndarray:
        """The ``par`` array [SI units] :func:`_advance_general` reads (layout ``PAR_*``)."""
        par = np.zeros(N_PAR)
        par[PAR_C] = self.capacitance_f
        par[PAR_ESR] = self.esr_ohm
        par[PAR_G_LEAK] = 0.0 if math.isinf(self.leakage_ohm) else 1.0 / self.leakage_ohm
        par[PAR_I_LEAK] = self.leakage_current_a
        par[PAR_I_SRC] = self.source_current_a
        if math.isfinite(self.source_resistance_ohm):
            par[PAR_V_SUP] = self.source_voltage_v
            par[PAR_G_SUP] = 1.0 / self.source_resistance_ohm
        par[PAR_I_Q] = self.quiescent_current_a
        par[PAR_V_MAX] = self.v_max_v
        return par

    def input_efficiency_at(self, harvest_w) -> float:
        """Input efficiency [-] at harvested power ``harvest_w`` [W]."""
        if self.input_efficiency_curve is None:
            return self.input_efficiency
        return float(self.input_efficiency_curve(float(harvest_w)))

    def efficiency_per_sample(self, power_w) -> np.ndarray:
        """Input efficiency of every trace sample [-]: the ``eta_w`` array of the general kernel."""
        p = np.asarray(power_w, dtype=float)
        if self.input_efficiency_curve is None:
            return np.full(p.size, float(self.input_efficiency))
        return self.input_efficiency_curve.per_sample(p)


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
def _one_minus_phi(x):
    """``1 - phi(x)``, stable for small ``x`` (-> x/2)."""
    if x < 1e-4:
        return x * (0.5 - x * (1.0 / 6.0 - x / 24.0))
    return (x + math.expm1(-x)) / x


@njit(cache=True)
def _energy_after(e0, a, b, dt):
    """Energy [J] after ``dt`` [s] of ``dE/dt = a - b E`` from ``e0``."""
    return e0 + (a - b * e0) * dt * _phi(b * dt)


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
        k = np.searchsorted(time_s, x, side="right") - 1
        if k < 0:
            k = 0
        end = (time_s[k + 1] if k + 1 < n else t_first + period) + m * period
        return k, m, end
    if t < t_first:
        return -1, 0.0, t_first
    if t >= t_first + period:
        return n, 0.0, math.inf
    k = np.searchsorted(time_s, t, side="right") - 1
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
        reason = -1
        if e >= e_max and a - b * e_max >= 0.0:
            # clamp regime: at V_max with net inflow beyond leakage -> hold there, refuse the excess
            e = e_max
            if e_high <= e_max:  # e_high is reached already; e_low cannot be crossed while clamped
                dt = 0.0
                reason = STOP_HIGH
            e1 = e_max
            if b > 0.0:
                ks, kc = _nadd(ks, kc, b * e_max * dt)
            cs, cc = _nadd(cs, cc, (a - b * e_max) * dt)
        else:
            drift = a - b * e
            if e >= e_high:
                dt = 0.0
                reason = STOP_HIGH
                e1 = e
            elif e <= e_floor and drift < 0.0:
                dt = 0.0
                reason = floor_reason
                e1 = e
            else:
                # closed form first (cheap); the energy is monotone within a piece, so a threshold
                # is crossed iff the end energy is past it, and only then is its time solved
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
            # leakage = integral of b E dt; with the closed form it equals a dt - (e1 - e), which
            # also absorbs the rounding of an endpoint snapped onto a threshold
            if b > 0.0:
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


# --------------------------------------------------------------------------------------------
# the general power path


_EV_NONE = 0
_EV_HIGH = 1
_EV_LOW = 2
_EV_MAX = 3        # reached V_max: the clamp regime starts
_EV_COLLAPSE = 4   # the terminal collapses under the load
_EV_ZERO = 5       # emptied with no load: rests at 0


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


def trace_arrays(trace):
    """The arrays the kernel reads: ``(time_s, power_w, t_first [s], period [s], loop)``."""
    return trace.time_s, trace.power_w, float(trace.time_s[0]), float(trace.duration_s), bool(trace.loop)


_NO_SEGMENTS = np.empty(0)


def new_books():
    """A zeroed books array for the kernels (rows: harvested, input_loss, clamped, leakage, esr, load)."""
    return np.zeros((N_BOOKS, 2))


_BOOK_NAMES = ("harvested_j", "input_loss_j", "clamped_j", "leakage_j", "esr_j", "load_j")


def book_totals(books):
    """Compensated totals of a books array, as a dict of floats [J]."""
    s = books[:, 0] + books[:, 1]
    return {name: float(s[i]) for i, name in enumerate(_BOOK_NAMES[: s.size])}


def _check_advance_args(storage, t0_s, energy0_j, t_stop_s, load_w):
    if not (math.isfinite(t_stop_s) and t_stop_s >= t0_s):
        raise ValueError(f"t_stop_s = {t_stop_s!r} must be finite and >= t0_s = {t0_s!r}")
    if not (0 <= energy0_j <= storage.e_max_j * (1 + 1e-12)):
        raise ValueError(f"energy0_j = {energy0_j!r} outside [0, E(v_max) = {storage.e_max_j!r}] J")
    if load_w < 0 or not math.isfinite(load_w):
        raise ValueError(f"load_w = {load_w!r} must be a finite number >= 0 [W]")


def advance(storage: Storage, trace, t0_s: float, energy0_j: float, t_stop_s: float,
            load_w: float = 0.0, e_low_j: float = -1.0, e_high_j: float = math.inf, books=None):
    """Advance the capacitor exactly (fast kernel: no ESR, currents or Thevenin source).

    Parameters
    ----------
    storage : Storage
    trace : Trace  harvested power [W]
    t0_s : float [s] start time; energy0_j : float [J] stored energy then
    t_stop_s : float [s] stop time (finite)
    load_w : float [W] constant load drawn from the capacitor (after the output regulator's loss)
    e_low_j, e_high_j : float [J] falling and rising energy thresholds that end the advance
    books : array (N_BOOKS, 2) or None  accumulates harvested, input loss, clamped, leakage [J]

    Returns
    -------
    (t_s, energy_j, reason) with reason one of STOP_TIME, STOP_LOW, STOP_HIGH, STOP_COLLAPSE.
    """
    _check_advance_args(storage, t0_s, energy0_j, t_stop_s, load_w)
    if storage.uses_general_kernel:
        raise ValueError("this storage has ESR, currents, a Thevenin source or an efficiency curve: "
                         "use advance_general (terminal-voltage thresholds)")
    if books is None:
        books = new_books()
    t, p, t_first, period, loop = trace_arrays(trace)
    t_out, e_out, reason, _ = _advance(t, p, t_first, period, loop, storage.input_efficiency,
                                       storage.leak_rate_per_s, storage.e_max_j, float(t0_s),
                                       float(energy0_j), float(t_stop_s), float(load_w),
                                       float(e_low_j), float(e_high_j), books,
                                       _NO_SEGMENTS, _NO_SEGMENTS, _NO_SEGMENTS, _NO_SEGMENTS,
                                       _NO_SEGMENTS, 0)
    return t_out, e_out, int(reason)


def advance_general(storage: Storage, trace, t0_s: float, energy0_j: float, t_stop_s: float,
                    load_w: float = 0.0, load_a: float = 0.0, v_low_v: float = -1.0,
                    v_high_v: float = math.inf, books=None, eta_w=None):
    """Advance the storage exactly through the general power path.

    Parameters
    ----------
    storage : Storage
    trace : Trace  harvested power [W]
    t0_s : float [s] start time; energy0_j : float [J] stored energy then (``C V_int^2 / 2``)
    t_stop_s : float [s] stop time (finite)
    load_w : float [W] constant-power load at the capacitor terminal (after the output regulator)
    load_a : float [A] constant-current load at the terminal
    v_low_v, v_high_v : float [V] falling and rising thresholds of the terminal voltage
    books : array (N_BOOKS, 2) or None
    eta_w : array [-] or None  per-sample input efficiency (default from the storage)

    Returns
    -------
    (t_s, energy_j, reason) with reason one of STOP_TIME, STOP_LOW, STOP_HIGH, STOP_COLLAPSE.
    """
    _check_advance_args(storage, t0_s, energy0_j, t_stop_s, load_w)
    if load_a < 0 or not math.isfinite(load_a):
        raise ValueError(f"load_a = {load_a!r} must be a finite number >= 0 [A]")
    if books is None:
        books = new_books()
    t, p, t_first, period, loop = trace_arrays(trace)
    if eta_w is None:
        eta_w = storage.efficiency_per_sample(p)
    t_out, e_out, reason, _ = _advance_general(
        t, p, np.ascontiguousarray(eta_w, dtype=float), t_first, period, loop,
        storage.power_path_par(), float(t0_s), float(energy0_j), float(t_stop_s), float(load_w),
        float(load_a), float(v_low_v), float(v_high_v), books, _NO_SEGMENTS, _NO_SEGMENTS,
        _NO_SEGMENTS, _NO_SEGMENTS, _NO_SEGMENTS, 0)
    return t_out, e_out, int(reason)
