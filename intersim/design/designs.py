"""Execution designs as data: per layer the tiles, the inter-tile loop order and the
preservation batch (anchor §3), and a network's designs in order."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from .shapes import LayerShape

#: Inter-tile loop orders (anchor §3). Runtime names: IFM_ORIENTED, WEIGHT_ORIENTED, OFM_ORIENTED.
LOOP_ORDERS = ("reuse_I", "reuse_W", "reuse_O")
#: Design keys in a design file, in the anchor's notation.
DESIGN_KEYS = ("Tr", "Tc", "Tm", "Tn", "order", "S")


@dataclass(frozen=True)
class ExecutionDesign:
    """How one layer runs.

    Attributes
    ----------
    Tr, Tc : int [elements] output-tile rows and columns (for "gavgpool": input-tile rows, columns)
    Tm : int [elements] output channels per tile
    Tn : int [elements] input channels per tile
    order : str  inter-tile loop order, one of :data:`LOOP_ORDERS`
    S : int [tiles] tiles computed (and preserved once) per power cycle
    """

    Tr: int
    Tc: int
    Tm: int
    Tn: int
    order: str
    S: int

    def __post_init__(self):
        for key in ("Tr", "Tc", "Tm", "Tn", "S"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ModelError(f"design {key} = {v!r}; it must be an integer >= 1")
        if self.order not in LOOP_ORDERS:
            raise ModelError(f"design order = {self.order!r}; valid: {', '.join(LOOP_ORDERS)}")

    @property
    def order_code(self) -> int:
        """Index of ``order`` in :data:`LOOP_ORDERS`."""
        return LOOP_ORDERS.index(self.order)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in DESIGN_KEYS}

    def label(self) -> str:
        """Compact text, as iNAS's ``params``: ``Tr_Tc_Tm_Tn_order_S<S>``."""
        return f"{self.Tr}_{self.Tc}_{self.Tm}_{self.Tn}_{self.order}_S{self.S}"


@dataclass(frozen=True)
class LayerPlan:
    """A named layer with its shape and its execution design."""

    name: str
    shape: LayerShape
    design: ExecutionDesign


@dataclass(frozen=True)
class NetworkDesign:
    """A network's layer plans, in execution order, under a name."""

    name: str
    layers: tuple

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))
        names = [p.name for p in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ModelError(f"network {self.name!r}: duplicate layer name(s) {dup}")
