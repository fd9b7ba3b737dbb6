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

This module is the public face of the storage physics: the kernels and the storage live in
:mod:`~intersim.energy.storage`, :mod:`~intersim.energy.linear_kernel`,
:mod:`~intersim.energy.general_kernel` and :mod:`~intersim.energy.kernel_codes`, re-exported here.
"""
from __future__ import annotations

import math

import numpy as np

from .general_kernel import _advance_general  # noqa: F401
from .kernel_codes import (  # noqa: F401
    BOOK_CLAMPED, BOOK_ESR, BOOK_HARVESTED, BOOK_INPUT_LOSS, BOOK_LEAKAGE, BOOK_LOAD, N_BOOKS, STOP_COLLAPSE,
    STOP_FULL, STOP_HIGH, STOP_LOW, STOP_TIME,
)
from .linear_kernel import _NO_ETA, _advance, _advance_linear, _phi, _time_to  # noqa: F401
from .storage import Storage, energy_j, usable_energy_j, voltage_v  # noqa: F401


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
