"""The legal execution-design space of a layer (anchor §3 "Legal design space") and the
volatile-memory footprint of a design (constraint C0, ``common.py::_vm_buff_size``).

Designs are handled in bulk as :class:`DesignArrays` (one numpy array per field) so the
performance model and the explorer price thousands of designs in one vectorised pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .designs import LOOP_ORDERS, ExecutionDesign
from .shapes import LayerShape

I_ORDER, W_ORDER, O_ORDER = range(3)   # codes of reuse_I, reuse_W, reuse_O


def ceil_div(a, b):
    """Ceiling of ``a / b`` for positive integers (scalars or arrays)."""
    return -(-a // b)


def divisors(n: int) -> list:
    """Every divisor of ``n`` >= 1, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


def one_or_even_divisors(n: int) -> list:
    """``{1} U {even divisors of n}``, ascending (anchor §3: legal Tn and S)."""
    return [d for d in divisors(n) if d == 1 or d % 2 == 0]


@dataclass(frozen=True)
class DesignArrays:
    """Many designs of one layer: equal-length int64 arrays, ``order`` as codes 0/1/2."""

    Tr: np.ndarray
    Tc: np.ndarray
    Tm: np.ndarray
    Tn: np.ndarray
    order: np.ndarray
    S: np.ndarray

    def __len__(self) -> int:
        return int(self.Tr.shape[0])

    @classmethod
    def of(cls, *designs: ExecutionDesign) -> "DesignArrays":
        """Arrays holding the given designs, in order."""
        col = lambda key: np.array([getattr(d, key) for d in designs], dtype=np.int64)
        return cls(col("Tr"), col("Tc"), col("Tm"), col("Tn"),
                   np.array([d.order_code for d in designs], dtype=np.int64), col("S"))

    def take(self, idx) -> "DesignArrays":
        """The designs at positions ``idx`` (an index array or mask)."""
        return DesignArrays(*(getattr(self, k)[idx] for k in ("Tr", "Tc", "Tm", "Tn", "order", "S")))

    def design(self, i: int) -> ExecutionDesign:
        """Design number ``i`` as an :class:`ExecutionDesign`."""
        return ExecutionDesign(int(self.Tr[i]), int(self.Tc[i]), int(self.Tm[i]), int(self.Tn[i]),
                               LOOP_ORDERS[int(self.order[i])], int(self.S[i]))


def inner_trip_count(shape: LayerShape, d: DesignArrays) -> np.ndarray:
    """[tiles] the loop S may batch: reuse_I ceil(M/Tm), reuse_W ceil(R/Tr)ceil(C/Tc),
    reuse_O ceil(N/Tn); pooling ceil(H/Tr)ceil(W/Tc) (anchor §3)."""
    if shape.is_pool:
        return ceil_div(shape.H, d.Tr) * ceil_div(shape.W, d.Tc)
    return np.choose(d.order, (ceil_div(shape.M, d.Tm),
                               ceil_div(shape.R, d.Tr) * ceil_div(shape.C, d.Tc),
                               ceil_div(shape.N, d.Tn)))


def legal_tiles(shape: LayerShape) -> dict:
    """Legal values of Tr, Tc, Tm, Tn and the loop orders of ``shape`` (anchor §3)."""
    if shape.is_pool:
        return {"Tr": one_or_even_divisors(shape.H), "Tc": one_or_even_divisors(shape.W),
                "Tm": one_or_even_divisors(shape.M), "Tn": [1], "order": ["reuse_O"]}
    return {"Tr": divisors(shape.R), "Tc": divisors(shape.C), "Tm": divisors(shape.M),
            "Tn": one_or_even_divisors(shape.N), "order": list(LOOP_ORDERS)}


def check_design(shape: LayerShape, design: ExecutionDesign, where: str = "layer") -> None:
    """Raise :class:`ModelError` if ``design`` is outside the legal space of ``shape``."""
    legal = legal_tiles(shape)
    for key in ("Tr", "Tc", "Tm", "Tn", "order"):
        v = getattr(design, key)
        if v not in legal[key]:
            raise ModelError(f"{where}: design {key} = {v!r} is not legal for this {shape.kind} "
                             f"layer; valid: {legal[key]}")
    trip = int(inner_trip_count(shape, DesignArrays.of(design))[0])
    valid_s = one_or_even_divisors(trip)
    if design.S not in valid_s:
        raise ModelError(f"{where}: design S = {design.S!r} is not legal for order {design.order} "
                         f"(inner trip count {trip}); valid: {valid_s}")


def vm_elements(shape: LayerShape, d: DesignArrays):
    """Tile-buffer elements (input, weight, output) of each design (anchor §3 VM footprint)."""
    if shape.is_pool:
        b_in = d.Tr * d.Tc * d.Tm
        return b_in, np.zeros_like(b_in), d.Tm * d.S
    b_in = (d.Tr + shape.Kh - 1) * (d.Tc + shape.Kw - 1) * d.Tn
    b_w = shape.Kh * shape.Kw * d.Tm * d.Tn
    b_out = d.Tr * d.Tc * d.Tm * np.where(d.order == O_ORDER, 1, d.S)
    return b_in, b_w, b_out


def vm_bytes(shape: LayerShape, d: DesignArrays, input_bytes: int, weight_bytes: int,
             psum_bytes: int) -> np.ndarray:
    """[B] volatile-memory footprint of each design (constraint C0)."""
    b_in, b_w, b_out = vm_elements(shape, d)
    return b_in * input_bytes + b_w * weight_bytes + b_out * psum_bytes


def _batches(trips: np.ndarray):
    """Expand each row to one row per legal S of its inner trip count -> (row index, S)."""
    uniq, inv = np.unique(trips, return_inverse=True)
    lists = [np.array(one_or_even_divisors(int(t)), dtype=np.int64) for t in uniq]
    counts = np.array([len(x) for x in lists], dtype=np.int64)[inv]
    rows = np.repeat(np.arange(trips.shape[0]), counts)
    # position of each output row inside its S list
    starts = np.cumsum(counts) - counts
    pos = np.arange(rows.shape[0]) - np.repeat(starts, counts)
    table = np.zeros((len(lists), max(len(x) for x in lists)), dtype=np.int64)
    for i, x in enumerate(lists):
        table[i, :len(x)] = x
    return rows, table[inv[rows], pos]


def enumerate_space(shape: LayerShape, *, batch_one: bool = False) -> DesignArrays:
    """Every legal design of ``shape`` (anchor §3), as arrays.

    Parameters
    ----------
    shape : LayerShape
    batch_one : bool  only S = 1 (the continuous-power explorer's space)
    """
    legal = legal_tiles(shape)
    orders = [LOOP_ORDERS.index(o) for o in legal["order"]]
    grids = np.meshgrid(*(np.array(legal[k], dtype=np.int64) for k in ("Tr", "Tc", "Tm", "Tn")),
                        np.array(orders, dtype=np.int64), indexing="ij")
    tr, tc, tm, tn, order = (g.ravel() for g in grids)
    base = DesignArrays(tr, tc, tm, tn, order, np.ones_like(tr))
    if batch_one:
        return base
    rows, s = _batches(inner_trip_count(shape, base))
    out = base.take(rows)
    return DesignArrays(out.Tr, out.Tc, out.Tm, out.Tn, out.order, s)
