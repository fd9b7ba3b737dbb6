"""The planner's advance of the capacitor: :func:`intersim.energy.capacitor._advance` without the
energy books and the segment record, which never change its ``(t, e, reason)``.

The planning model must reproduce the engine's trajectory bit for bit, so :func:`advance` repeats
the engine kernel's arithmetic operation for operation (the same helpers ``_phi``, ``_time_to``,
``_locate``, ``_next_piece``); ``tests/test_optimal.py`` checks it against ``_advance`` on
generated calls, and the planned == executed tests check it end to end. Without the books (four
compensated sums per trace sample) and with no array passed but the trace it runs several times
faster than ``_advance`` called from a kernel.
"""
from __future__ import annotations
from numba import njit
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array
from ...energy.kernel_codes import STOP_COLLAPSE, STOP_LOW, STOP_TIME
from ...energy.linear_kernel import _locate, _next_piece, _piece


@intrinsic
def borrow(typingctx, arr):
    """A view of array ``arr`` with no reference count (its meminfo null): the planner's arrays
    are held by its caller for the whole planning, so counting the references each kernel takes
    to them (an atomic increment and decrement per array, call and loop turn: most of the
    planner's time) is needless. Use only on an array that outlives every use of the view."""
    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, value=args[0])
        out = make_array(sig.return_type)(context, builder)
        for name in ("data", "shape", "strides", "itemsize", "nitems"):
            setattr(out, name, getattr(src, name))
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        out.parent = cgutils.get_null_value(out.parent.type)
        return out._getvalue()
    return arr(arr), codegen


#: the engine kernel's helpers inlined at numba's IR level (the same Python functions, second
#: dispatchers, as ``linear_kernel._advance_linear_inline``): called as compiled functions, each
#: trace piece passed ``time_s`` by value with its reference count (an atomic increment and
#: decrement per piece); inlined, the arithmetic is the same code, so the results are identical
_next_piece_i = njit(cache=True, inline="always")(_next_piece.py_func)
_piece_i = njit(cache=True, inline="always")(_piece.py_func)


#: the engine's trace look-up inlined as well (the same function, a second dispatcher)
_locate_k = njit(cache=True, inline="always")(_locate.py_func)


@njit(cache=True)
def advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max, t0, e0, t_stop, load_w, e_low, e_high):
    """``_advance(...)[:3]`` for a linear power path with no segment record: ``(t, e, reason)``.
    One function, as the engine's kernel is (its per-piece loop is the hot path)."""
    t = t0
    e = e0
    n = time_s.size
    e_floor = e_low if e_low > 0.0 else 0.0
    floor_reason = STOP_LOW if e_low >= 0.0 else STOP_COLLAPSE
    upper = e_high if e_high < e_max else e_max
    k, m, piece_end = _locate_k(time_s, t, t_first, period, loop)
    while True:
        if t >= t_stop:
            return t, e, STOP_TIME
        if piece_end <= t:
            k, m, piece_end = _next_piece_i(time_s, k, m, t_first, period, loop)
            continue
        h = power_w[k] if 0 <= k < n else 0.0
        t_end = piece_end if piece_end < t_stop else t_stop
        dt = t_end - t
        a = eta_in * h - load_w
        e1, dt, reason, _ = _piece_i(e, a, b, dt, e_max, e_high, e_floor, upper, floor_reason)
        t = t_end if (reason < 0 and dt == t_end - t) else t + dt
        e = e1
        if reason >= 0:
            return t, e, reason
        if t >= piece_end:
            k, m, piece_end = _next_piece_i(time_s, k, m, t_first, period, loop)


#: :func:`advance` inlined into :func:`advance_p` (one compiled call per advance, not two)
_advance_i = njit(cache=True, inline="always")(advance.py_func)


@njit(cache=True)
def advance_p(time_s, power_w, par, t, e, t_stop, load_w, e_low, e_high):
    """:func:`advance` with the constants packed as ``bounds._step``'s ``par``."""
    time_s, power_w, par = borrow(time_s), borrow(power_w), borrow(par)
    return _advance_i(time_s, power_w, par[0], par[1], par[2] != 0.0, par[3], par[4], par[5], t, e, t_stop, load_w,
                   e_low, e_high)


