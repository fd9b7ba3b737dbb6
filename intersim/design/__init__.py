"""Execution designs, the iNAS performance model (iNAS-PMod) and its explorer.

* :mod:`~intersim.design.shapes`, :mod:`~intersim.design.designs`: layers and their execution
  designs (tiles Tr/Tc/Tm/Tn, loop order, preservation batch S) as data;
* :mod:`~intersim.design.space`: the legal design space and the VM footprint (C0);
* :mod:`~intersim.design.design_file`: design files (JSON), validated;
* :mod:`~intersim.design.prices`: the two price lists, ``inas-compat`` and ``intersim:<preset>``;
* :mod:`~intersim.design.supply`: the capacitor/recharge model;
* :mod:`~intersim.design.pmod`, :mod:`~intersim.design.evaluate`: the model, vectorised and per network;
* :mod:`~intersim.design.explorer`: the intermittent and continuous explorers;
* :mod:`~intersim.design.published`, :mod:`~intersim.design.reproduce`: the 36 published
  solutions and the checks against their 63 predicted latencies.

See ``docs/design.md``.
"""
from .design_file import dumps_design, load_design, loads_design, save_design
from .designs import LOOP_ORDERS, ExecutionDesign, LayerPlan, NetworkDesign
from .evaluate import (ContinuousPrediction, LayerPrediction, NetworkPrediction,
                       predict_continuous, predict_layer, predict_network)
from .explorer import (LayerChoice, NetworkChoice, explore_layer, explore_layer_continuous,
                       explore_network, explore_network_continuous)
from .pmod import continuous_cost, intermittent_cost
from .prices import (PRICE_LIST_NAMES, Price, PriceList, get_prices, inas_compat_prices,
                     intersim_prices)
from .published import contpow_supply, inas_supply
from .reproduce import anchor_checks, network_checks
from .shapes import LAYER_KINDS, LayerShape, conv, dense, gavgpool
from .space import DesignArrays, check_design, enumerate_space, vm_bytes
from .supply import Supply

__all__ = [
    "LAYER_KINDS", "LOOP_ORDERS", "PRICE_LIST_NAMES",
    "LayerShape", "conv", "dense", "gavgpool",
    "ExecutionDesign", "LayerPlan", "NetworkDesign", "DesignArrays",
    "check_design", "enumerate_space", "vm_bytes",
    "dumps_design", "loads_design", "load_design", "save_design",
    "Price", "PriceList", "get_prices", "inas_compat_prices", "intersim_prices",
    "Supply", "inas_supply", "contpow_supply",
    "intermittent_cost", "continuous_cost",
    "LayerPrediction", "NetworkPrediction", "ContinuousPrediction",
    "predict_layer", "predict_network", "predict_continuous",
    "LayerChoice", "NetworkChoice", "explore_layer", "explore_layer_continuous",
    "explore_network", "explore_network_continuous",
    "anchor_checks", "network_checks",
]
