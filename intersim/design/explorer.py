"""The execution-design explorer (anchor §3 "Selection rule", ``explore_intpow.py`` /
``explore_contpow.py``): per layer, enumerate the legal space, keep the designs passing C0
(VM footprint) and C1 (E_pc,max <= E_av), take the minimum L_e2e, ties to the smallest VM
(then to the first in enumeration order). The continuous-power explorer (the HW-NAS baseline)
takes the minimum continuous latency among the S = 1 designs passing C0."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .designs import ExecutionDesign, LayerPlan, NetworkDesign
from .evaluate import LayerPrediction, predict_layer
from .pmod import continuous_cost, intermittent_cost
from .prices import PriceList
from .shapes import LayerShape
from .space import enumerate_space
from .supply import Supply


@dataclass(frozen=True)
class LayerChoice:
    """The explorer's answer for one layer.

    design : ExecutionDesign or None (no legal design passes the constraints)
    objective_s : float [s] the minimised latency (L_e2e, or continuous latency); inf if none
    vm_bytes : int [B] footprint of the chosen design (-1 if none)
    n_designs, n_feasible : int  size of the legal space and of its part passing the constraints
    """

    name: str
    shape: LayerShape
    design: ExecutionDesign | None
    objective_s: float
    vm_bytes: int
    n_designs: int
    n_feasible: int


def _pick(objective: np.ndarray, vm: np.ndarray, ok: np.ndarray):
    """Index of the minimum objective among ``ok`` (ties: smallest VM, then first), or None."""
    idx = np.flatnonzero(ok & np.isfinite(objective))
    if idx.size == 0:
        return None
    return int(idx[np.lexsort((vm[idx], objective[idx]))[0]])


def explore_layer(name: str, shape: LayerShape, prices: PriceList, supply: Supply) -> LayerChoice:
    """Minimum-L_e2e design of one layer under intermittent power (C0 and C1 enforced)."""
    space = enumerate_space(shape)
    cost = intermittent_cost(shape, space, prices, supply)
    best = _pick(cost.le2e_s, cost.vm_bytes, cost.feasible)
    n_ok = int(np.count_nonzero(cost.feasible))
    if best is None:
        return LayerChoice(name, shape, None, float("inf"), -1, len(space), n_ok)
    return LayerChoice(name, shape, space.design(best), float(cost.le2e_s[best]),
                       int(cost.vm_bytes[best]), len(space), n_ok)


def explore_layer_continuous(name: str, shape: LayerShape, prices: PriceList) -> LayerChoice:
    """Minimum continuous-latency design of one layer (S = 1; C0 enforced)."""
    space = enumerate_space(shape, batch_one=True)
    cost = continuous_cost(shape, space, prices)
    best = _pick(cost.latency_s, cost.vm_bytes, cost.fits_vm)
    n_ok = int(np.count_nonzero(cost.fits_vm))
    if best is None:
        return LayerChoice(name, shape, None, float("inf"), -1, len(space), n_ok)
    return LayerChoice(name, shape, space.design(best), float(cost.latency_s[best]),
                       int(cost.vm_bytes[best]), len(space), n_ok)


@dataclass(frozen=True)
class NetworkChoice:
    """The explorer's answer for a network: per-layer choices; ``design`` (a
    :class:`NetworkDesign`) when every layer found one, else None; ``latency_s`` [s] the sum of
    the chosen layers' objectives (inf if a layer has no feasible design)."""

    choices: tuple
    design: NetworkDesign | None
    latency_s: float


def _network(name, choices) -> NetworkChoice:
    choices = tuple(choices)
    if any(c.design is None for c in choices):
        return NetworkChoice(choices, None, float("inf"))
    net = NetworkDesign(name, tuple(LayerPlan(c.name, c.shape, c.design) for c in choices))
    return NetworkChoice(choices, net, sum(c.objective_s for c in choices))


def explore_network(name: str, layers, prices: PriceList, supply: Supply) -> NetworkChoice:
    """Explore every layer of ``layers`` (pairs ``(layer name, LayerShape)``) independently
    under intermittent power; network latency = sum of layer L_e2e (anchor §3)."""
    return _network(name, (explore_layer(n, s, prices, supply) for n, s in layers))


def explore_network_continuous(name: str, layers, prices: PriceList) -> NetworkChoice:
    """Explore every layer under continuous power (the HW-NAS baseline, anchor §3)."""
    return _network(name, (explore_layer_continuous(n, s, prices) for n, s in layers))


def predict_choice(choice: LayerChoice, prices: PriceList, supply: Supply) -> LayerPrediction | None:
    """The full intermittent prediction of a chosen design (None if there is none)."""
    if choice.design is None:
        return None
    return predict_layer(LayerPlan(choice.name, choice.shape, choice.design), prices, supply)
