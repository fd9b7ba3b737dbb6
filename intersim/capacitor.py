"""Capacitor physics in closed form, and the numba kernel that advances it exactly.

Between events the harvested power ``h`` [W] (piecewise constant, from the trace), the load
``P_load`` [W, drawn from the capacitor] and a parallel leakage resistance ``R`` [Ohm] are constant,
so the stored energy ``E = C V^2 / 2`` obeys a linear ODE::

    dE/dt = a - b E,     a = eta_in h - P_load,     b = 2 / (R C)   (b = 0 without leakage)

whose solution is ``E(t) = E0 + (a - b E0) t phi(b t)`` with ``phi(x) = (1 - exp(-x)) / x``.
Crossing times of an energy threshold are solved exactly from the same expression, and the
capacitor clamps at ``V_max`` (harvest refused there is booked as ``clamped``). Nothing is
time-stepped; the kernel only walks the trace's sample boundaries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .errors import ScenarioError

# Stop reasons returned by the advance kernel.
STOP_TIME = 0      #: reached ``t_stop``
STOP_LOW = 1       #: energy fell to ``e_low`` (brown-out or a falling threshold)
STOP_HIGH = 2      #: energy rose to ``e_high`` (turn-on or a rising threshold)
STOP_FULL = 3      #: the segment record buffer is full; call again to continue

# Indices of the books the kernel accumulates (value, Neumaier compensation) in ``books[k, 0:2]``.
BOOK_HARVESTED = 0
BOOK_INPUT_LOSS = 1
BOOK_CLAMPED = 2
BOOK_LEAKAGE = 3
N_BOOKS = 4


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
    """

    capacitance_f: float
    v_on_v: float
    v_off_v: float
    v_max_v: float
    v_initial_v: float = 0.0
    leakage_ohm: float = math.inf
    input_efficiency: float = 1.0
    output_efficiency: float = 1.0

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


# --------------------------------------------------------------------------------------------
# closed-form pieces (scalar, numba-compiled, also usable from Python through .py_func)


@njit(cache=True)
def _phi(x):
    """``(1 - exp(-x)) / x``, stable for small ``x >= 0`` (-> 1)."""
    if x < 1e-8:
        return 1.0 - 0.5 * x
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
def _book(books, k, x):
    """Neumaier-compensated ``books[k] += x``: column 0 the sum, column 1 the compensation."""
    s = books[k, 0]
    t = s + x
    if abs(s) >= abs(x):
        books[k, 1] += (s - t) + x
    else:
        books[k, 1] += (x - t) + s
    books[k, 0] = t


@njit(cache=True)
def _piece_index(time_s, t, t_first, period, loop):
    """Locate time ``t`` [s] in the trace: (sample index or -1, absolute end of that piece [s]).

    Index -1 means no harvest (before the trace, or after a non-looping trace); its piece ends at
    the trace start (before it) or at ``inf`` (after it).
    """
    n = time_s.size
    if loop:
        local = (t - t_first) % period
        k = np.searchsorted(time_s, t_first + local, side="right") - 1
        if k < 0:
            k = 0
        next_local = time_s[k + 1] - t_first if k + 1 < n else period
        end = t + (next_local - local)
        if end <= t:  # rounding at a boundary must never stall the walk
            end = np.nextafter(t, math.inf)
        return k, end
    if t < t_first:
        return -1, t_first
    if t >= t_first + period:
        return -1, math.inf
    k = np.searchsorted(time_s, t, side="right") - 1
    if k + 1 < n:
        return k, time_s[k + 1]
    return k, t_first + period


@njit(cache=True)
def _advance(time_s, power_w, t_first, period, loop,
             eta_in, b, e_max, t0, e0, t_stop, load_w, e_low, e_high,
             books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg):
    """Advance the capacitor from ``(t0, e0)`` under constant ``load_w`` [W at the capacitor].

    Stops at ``t_stop``, when the energy falls to ``e_low`` or rises to ``e_high`` [J], or when
    the segment buffer (``seg_*``, capacity ``seg_t0.size``) is full. Returns
    ``(t, e, reason, n_seg)``; energy books accumulate into ``books``.
    """
    t = t0
    e = e0
    cap = seg_t0.size
    record = cap > 0
    while True:
        if t >= t_stop:
            return t, e, STOP_TIME, n_seg
        if record and n_seg >= cap:
            return t, e, STOP_FULL, n_seg
        k, piece_end = _piece_index(time_s, t, t_first, period, loop)
        h = power_w[k] if k >= 0 else 0.0
        t_end = piece_end if piece_end < t_stop else t_stop
        p_in = eta_in * h
        a = p_in - load_w
        # clamp regime: at V_max with net inflow beyond leakage -> hold there, refuse the excess
        clamped_here = e >= e_max and a - b * e_max >= 0.0
        reason = -1
        if clamped_here:
            e = e_max
            dt = t_end - t
            # e_high <= e_max is reached already; e_low cannot be crossed while clamped
            if e_high <= e_max:
                dt = 0.0
                reason = STOP_HIGH
            e1 = e_max
            leak = b * e_max * dt
            clamp = (a - b * e_max) * dt
        else:
            dt = t_end - t
            # earliest of: falling to e_low, rising to e_high, rising to e_max (regime change)
            t_low = _time_to(e, e_low, a, b) if e > e_low else (0.0 if a - b * e < 0.0 else math.inf)
            t_high = _time_to(e, e_high, a, b) if e < e_high else 0.0
            t_cap = _time_to(e, e_max, a, b) if e < e_max else math.inf
            clamp = 0.0
            if t_low <= dt and t_low <= t_high:
                dt = t_low
                reason = STOP_LOW
                e1 = e_low
            elif t_high <= dt:
                dt = t_high
                reason = STOP_HIGH
                e1 = e_high
            elif t_cap <= dt:
                dt = t_cap
                e1 = e_max
            else:
                e1 = _energy_after(e, a, b, dt)
                if e1 > e_max:
                    e1 = e_max
            # leakage = integral of b E dt; with the closed form it equals a dt - (e1 - e), which
            # also absorbs the rounding of an endpoint snapped onto a threshold
            leak = a * dt - (e1 - e) if b > 0.0 else 0.0
        harvested = h * dt
        _book(books, BOOK_HARVESTED, harvested)
        _book(books, BOOK_INPUT_LOSS, harvested - p_in * dt)
        if clamp != 0.0:
            _book(books, BOOK_CLAMPED, clamp)
        if leak != 0.0:
            _book(books, BOOK_LEAKAGE, leak)
        if record and dt > 0.0:
            seg_t0[n_seg] = t
            seg_t1[n_seg] = t + dt
            seg_h[n_seg] = h
            seg_e0[n_seg] = e
            seg_e1[n_seg] = e1
            n_seg += 1
        t = t + dt if reason >= 0 or dt != t_end - t else t_end
        e = e1
        if reason >= 0:
            return t, e, reason, n_seg


def trace_arrays(trace):
    """The arrays the kernel reads: ``(time_s, power_w, t_first [s], period [s], loop)``."""
    return trace.time_s, trace.power_w, float(trace.time_s[0]), float(trace.duration_s), bool(trace.loop)


_NO_SEGMENTS = np.empty(0)


def new_books():
    """A zeroed books array for :func:`advance` (rows: harvested, input_loss, clamped, leakage)."""
    return np.zeros((N_BOOKS, 2))


def book_totals(books):
    """Compensated totals of a books array, as a dict of floats [J]."""
    s = books[:, 0] + books[:, 1]
    return {"harvested_j": float(s[BOOK_HARVESTED]), "input_loss_j": float(s[BOOK_INPUT_LOSS]),
            "clamped_j": float(s[BOOK_CLAMPED]), "leakage_j": float(s[BOOK_LEAKAGE])}


def advance(storage: Storage, trace, t0_s: float, energy0_j: float, t_stop_s: float,
            load_w: float = 0.0, e_low_j: float = -1.0, e_high_j: float = math.inf, books=None):
    """Advance the capacitor exactly; the validating public face of the kernel.

    Parameters
    ----------
    storage : Storage
    trace : Trace  harvested power [W]
    t0_s : float [s] start time; energy0_j : float [J] stored energy then
    t_stop_s : float [s] stop time (finite)
    load_w : float [W] constant load drawn from the capacitor (after the output regulator's loss)
    e_low_j, e_high_j : float [J] falling and rising energy thresholds that end the advance
    books : array (4, 2) or None  accumulates harvested, input loss, clamped, leakage [J]

    Returns
    -------
    (t_s, energy_j, reason) with reason one of STOP_TIME, STOP_LOW, STOP_HIGH.
    """
    if not (math.isfinite(t_stop_s) and t_stop_s >= t0_s):
        raise ValueError(f"t_stop_s = {t_stop_s!r} must be finite and >= t0_s = {t0_s!r}")
    if not (0 <= energy0_j <= storage.e_max_j * (1 + 1e-12)):
        raise ValueError(f"energy0_j = {energy0_j!r} outside [0, E(v_max) = {storage.e_max_j!r}] J")
    if load_w < 0 or not math.isfinite(load_w):
        raise ValueError(f"load_w = {load_w!r} must be a finite number >= 0 [W]")
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
