"""Predictions for whole networks of fixed designs (one design per layer), as plain numbers."""
from __future__ import annotations

from dataclasses import dataclass

from .designs import LayerPlan, NetworkDesign
from .pmod import continuous_cost, intermittent_cost
from .prices import PriceList
from .space import DesignArrays
from .supply import Supply


@dataclass(frozen=True)
class LayerPrediction:
    """Intermittent-power prediction of one layer design.

    epc_max_j, epc_min_j : float [J]; lpc_max_s, lpc_min_s : float [s]
    npc, n0, n_pos : int [cycles]; recharge_s, le2e_s : float [s]; vm_bytes : int [B]
    fits_vm, fits_energy : bool (C0, C1)
    """

    name: str
    epc_max_j: float
    epc_min_j: float
    lpc_max_s: float
    lpc_min_s: float
    npc: int
    n0: int
    n_pos: int
    recharge_s: float
    le2e_s: float
    vm_bytes: int
    fits_vm: bool
    fits_energy: bool

    @property
    def feasible(self) -> bool:
        return self.fits_vm and self.fits_energy


@dataclass(frozen=True)
class NetworkPrediction:
    """Per-layer predictions and ``latency_s`` [s]: the sum of the feasible layers' L_e2e, as
    iNAS reports it (anchor §6.2); ``feasible`` is True when every layer passes C0 and C1."""

    layers: tuple
    latency_s: float
    feasible: bool

    @property
    def infeasible_layers(self) -> int:
        return sum(not l.feasible for l in self.layers)


def predict_layer(plan: LayerPlan, prices: PriceList, supply: Supply,
                  fixed_design: bool = False) -> LayerPrediction:
    """One layer design under intermittent power (see :func:`~intersim.design.pmod.intermittent_cost`)."""
    c = intermittent_cost(plan.shape, DesignArrays.of(plan.design), prices, supply, fixed_design)
    return LayerPrediction(plan.name, float(c.epc_max_j[0]), float(c.epc_min_j[0]),
                           float(c.lpc_max_s[0]), float(c.lpc_min_s[0]), int(c.npc[0]),
                           int(c.n0[0]), int(c.n_pos[0]), float(c.recharge_s[0]),
                           float(c.le2e_s[0]), int(c.vm_bytes[0]), bool(c.fits_vm[0]),
                           bool(c.fits_energy[0]))


def predict_network(net: NetworkDesign, prices: PriceList, supply: Supply,
                    fixed_design: bool = False) -> NetworkPrediction:
    """Every layer of ``net`` under intermittent power; latency = sum over feasible layers
    (``plat_perf.py::get_inference_latency``: no inter-layer cost, no final reboot)."""
    layers = tuple(predict_layer(p, prices, supply, fixed_design) for p in net.layers)
    total = sum(l.le2e_s for l in layers if l.feasible)
    return NetworkPrediction(layers, total, all(l.feasible for l in layers))


@dataclass(frozen=True)
class ContinuousPrediction:
    """Continuous-power prediction of a network: per layer (name, energy_j [J], latency_s [s],
    vm_bytes [B]) and the sums ``energy_j`` [J], ``latency_s`` [s]."""

    layers: tuple
    energy_j: float
    latency_s: float


def predict_continuous(net: NetworkDesign, prices: PriceList) -> ContinuousPrediction:
    """Every layer of ``net`` under continuous power; the network is the plain sum (anchor §3)."""
    rows = []
    for p in net.layers:
        c = continuous_cost(p.shape, DesignArrays.of(p.design), prices)
        rows.append((p.name, float(c.energy_j[0]), float(c.latency_s[0]), int(c.vm_bytes[0])))
    return ContinuousPrediction(tuple(rows), sum(r[1] for r in rows), sum(r[2] for r in rows))
