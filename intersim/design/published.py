"""The 36 published iNAS solutions and their predicted figures (anchor §6), with the
settings they were produced under (anchor §4): capacitor, calibrated R_ehm, margin.

The figures live in ``data/inas_published.json``, transcribed from the anchor's §6.1-§6.4 by
``tools/transcribe_inas_anchor.py``; they keep the anchor's printed decimals (``decimals``).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from ..errors import ScenarioError
from .designs import ExecutionDesign, LayerPlan, NetworkDesign
from .shapes import LayerShape
from .supply import MARGIN, Supply

DATASETS = ("cifar", "har", "kws")
CAPACITORS_F = (0.001, 0.005, 0.01)        # anchor §4 CCAP_LIST
#: anchor §4 REHM_TABLE (run_batch_generic.py), [Ohm] by dataset and capacitor [F].
REHM_TABLE = {
    "cifar": {0.001: 52.0, 0.005: 24.0, 0.01: 22.0},
    "har": {0.001: 62.0, 0.005: 41.0, 0.01: 28.0},
    "kws": {0.001: 62.0, 0.005: 44.0, 0.01: 35.0},
}
R_EHM_DEFAULT_OHM = 300.0                  # anchor §4: settings.py default, used by CONTPOW re-evaluation
MARGIN_KWS_1MF = 0.69                      # anchor §4: the only margin reproducing KWS @ 1 mF


@lru_cache(maxsize=1)
def load_published() -> dict:
    """The transcribed figures (a dict; see the module docstring). Cached: do not mutate."""
    text = resources.files(__package__).joinpath("data/inas_published.json").read_text("utf-8")
    return json.loads(text)


def _check(dataset, capacitance_f):
    if dataset not in DATASETS:
        raise ScenarioError(f"dataset = {dataset!r}; valid: {', '.join(DATASETS)}")
    if capacitance_f not in CAPACITORS_F:
        raise ScenarioError(f"capacitance_f = {capacitance_f!r}; valid: {CAPACITORS_F}")


def inas_margin(dataset: str, capacitance_f: float) -> float:
    """EAV_SAFE_MARGIN the published runs used: 0.55, but 0.69 for KWS @ 1 mF (anchor §4)."""
    _check(dataset, capacitance_f)
    return MARGIN_KWS_1MF if (dataset == "kws" and capacitance_f == 0.001) else MARGIN


def inas_supply(dataset: str, capacitance_f: float, r_ehm_ohm: float | None = None,
                margin: float | None = None) -> Supply:
    """The supply of a published INTPOW run (REHM_TABLE and margin of anchor §4)."""
    _check(dataset, capacitance_f)
    r = REHM_TABLE[dataset][capacitance_f] if r_ehm_ohm is None else r_ehm_ohm
    m = inas_margin(dataset, capacitance_f) if margin is None else margin
    return Supply(capacitance_f, r, margin=m)


def contpow_supply(capacitance_f: float) -> Supply:
    """The supply the CONTPOW designs were re-evaluated at: 300 Ohm, margin 0.55 (anchor §4)."""
    return Supply(capacitance_f, R_EHM_DEFAULT_OHM, margin=MARGIN)


def layer_plan(layer: dict) -> LayerPlan:
    """A published layer record -> :class:`LayerPlan`."""
    return LayerPlan(layer["name"], LayerShape(layer["kind"], **layer["shape"]),
                     ExecutionDesign(**layer["design"]))


def solution_name(sol: dict, kind: str) -> str:
    """E.g. ``intpow-cifar-0.001F-ts1`` or ``contpow-har-ts2``."""
    if kind == "intpow":
        return f"intpow-{sol['dataset']}-{sol['capacitance_f']:g}F-{sol['ts']}"
    return f"contpow-{sol['dataset']}-{sol['ts']}"


def network_design(sol: dict, kind: str) -> NetworkDesign:
    """A published solution -> :class:`NetworkDesign` (its shapes and published designs)."""
    return NetworkDesign(solution_name(sol, kind), tuple(layer_plan(l) for l in sol["layers"]))


def intpow_solutions() -> list:
    """The 27 INTPOW solution records (anchor §6.1, §6.3)."""
    return load_published()["intpow"]


def contpow_solutions() -> list:
    """The 9 CONTPOW solution records (anchor §6.2, §6.4)."""
    return load_published()["contpow"]
