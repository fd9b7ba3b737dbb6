"""The planning model's outcomes and operation codes, and its compiled kernels: one advance of the
capacitor as the engine takes it, the harvest tables, the admissible lower bound and the DEAD
shortcut (docs/optimal.md)."""
from __future__ import annotations
import math
import numpy as np
from numba import njit
from ...energy.capacitor import _advance
from ...energy.linear_kernel import search_right
from .advance import borrow


#: outcome of one operation in the planning model
OK, BROWN, DEAD = 0, 1, 2
#: operations at a task boundary: continue (the next task, or at the end the result copy and the
#: done flag), checkpoint; a sleep is written as its threshold voltage [V] (a float)
CONT, CKPT = "C", "K"


@njit(cache=True)
def _step(time_s, power_w, par, t, e, t_stop, load_w, e_low, e_high):
    """:func:`intersim.energy.capacitor._advance` with the storage and trace constants packed in ``par``
    (t_first, period, loop, eta_in, b, e_max): the same arithmetic, a third of the call overhead
    from Python. Returns ``(t [s], e [J], reason)``."""
    books = np.zeros((6, 2))
    none = np.empty(0)
    t1, e1, reason, _ = _advance(time_s, power_w, par[0], par[1], par[2] != 0.0, par[3], par[4], par[5],
                                 t, e, t_stop, load_w, e_low, e_high, books, none, none, none, none, none, 0)
    return t1, e1, reason


@njit(cache=True)
def _harvest_to_k(t, edges, cum, p, first, period, loop):
    """Harvested energy [J, converter input] from the trace's start to ``t`` [s] (cumulative
    table ``cum`` at the sample ``edges``)."""
    edges, cum, p = borrow(edges), borrow(cum), borrow(p)
    total = cum[cum.size - 1]
    if loop:
        m = math.floor((t - first) / period)
        x = t - m * period
    elif t <= first:
        return 0.0
    elif t >= first + period:
        return total
    else:
        m = 0.0
        x = t
    k = min(max(search_right(edges, x) - 1, 0), p.size - 1)
    return m * total + cum[k] + p[k] * (x - edges[k])


@njit(cache=True)
def _harvest_until_k(g, edges, cum, p, period, loop):
    """Earliest time [s] by which the harvest since the trace's start reaches ``g`` [J]."""
    edges, cum, p = borrow(edges), borrow(cum), borrow(p)
    total = cum[cum.size - 1]
    if total <= 0.0 or (not loop and g > total):
        return math.inf
    m = math.floor(g / total) if loop else 0.0
    r = g - m * total
    k = min(max(np.searchsorted(cum, r, side="left") - 1, 0), p.size - 1)
    x = edges[k] + ((r - cum[k]) / p[k] if p[k] > 0 else 0.0)
    return m * period + min(x, edges[k + 1])


@njit(cache=True)
def _lower_bound_k(t, e, rest_t, rest_e, e_off, eta_in, edges, cum, p, first, period, loop):
    """:meth:`Model.lower_bound` for one state (``rest_t``/``rest_e`` of its boundary)."""
    edges, cum, p = borrow(edges), borrow(cum), borrow(p)
    # each part is shaded a hair early, so rounding never makes the bound inadmissible
    t_lb = t + rest_t * (1.0 - 1e-12) - 1e-12 * abs(t)
    need = rest_e - (e - e_off)
    if need <= 0.0:
        return t_lb
    t_e = _harvest_until_k((_harvest_to_k(t, edges, cum, p, first, period, loop) + need / eta_in)
                           * (1.0 - 1e-12), edges, cum, p, period, loop)
    return max(t_lb, t_e - 1e-12 * abs(t_e))


@njit(cache=True)
def _never_reaches_k(t, e, e_target, edges, cum, p, first, period, loop, start_gain, best_gain,
                     use_table, eta_in, b, e_off, horizon, slack):
    """:meth:`Model._never_reaches` (see there for the argument)."""
    edges, cum, p, start_gain, best_gain = borrow(edges), borrow(cum), borrow(p), borrow(start_gain), borrow(best_gain)
    need = e_target - e
    if need <= 0.0:
        return False
    need = need * (1.0 - 1e-9) - 1e-18
    if use_table and e >= e_off:
        k = search_right(edges, t) - 1
        if k < 0:
            return False  # before the trace's first sample: not tabled
        if k >= best_gain.size - 1:
            return True   # past the last tabled sample: no harvest before the horizon
        rate = eta_in * p[k] - b * e_off
        partial = rate * (min(edges[k + 1], horizon) - t)
        return max(partial + start_gain[k + 1], best_gain[k + 1]) < need - slack
    left = (_harvest_to_k(horizon, edges, cum, p, first, period, loop)
            - _harvest_to_k(t, edges, cum, p, first, period, loop))
    return left * eta_in < need
