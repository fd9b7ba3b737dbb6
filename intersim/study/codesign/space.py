"""The candidate space: architecture x lightweighting (a *variant*, trained once) x execution
design x scheduler, and the sub-spaces of the baselines.

An execution design comes from an :class:`ExecutionDesignSource`: :class:`GranularityDesigns`
(task granularity strings, ``model.granularity``) or
:class:`~intersim.study.codesign.explored.ExplorerDesigns` (iNAS's explorer per variant:
``model.design = "explored"`` under the ``inas`` scheduler); :class:`CombinedDesigns` joins
sources. A :class:`Design` is the scenario keys that select it and, optionally, the schedulers it
runs under — the search, the evaluation and the report never look inside.
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Variant:
    """One trained model: an architecture (``CNNSpec.to_dict()``) and a lightweighting operator
    (``'none'``, ``'prune:F'``, ``'share:K'``)."""

    arch: str        # label, e.g. "k3 w8-16"
    arch_dict: str   # canonical JSON of the CNNSpec
    lightweighting: str

    @property
    def label(self) -> str:
        return f"{self.arch} {self.lightweighting}"

    @property
    def base(self) -> Variant:
        """The unlightened variant this one is derived from."""
        return Variant(self.arch, self.arch_dict, "none")


@dataclass(frozen=True)
class Design:
    """An execution design as the scenario keys that select it, e.g. ``{"model.granularity": "channel"}``."""

    label: str
    scenario_keys: tuple  # ((dotted key, value), ...)
    schedulers: tuple = ()  # the schedulers this design runs under; () = the space's schedulers


class ExecutionDesignSource(Protocol):
    """Where execution designs come from: ``designs(variant) -> list[Design]``."""

    def designs(self, variant: Variant) -> list[Design]:
        ...


class GranularityDesigns:
    """Execution designs as task granularities (the same list for every variant)."""

    def __init__(self, granularities):
        self.granularities = tuple(granularities)

    def designs(self, variant: Variant) -> list[Design]:
        return [Design(g, (("model.granularity", g),)) for g in self.granularities]


class CombinedDesigns:
    """The designs of several sources, in order."""

    def __init__(self, *sources):
        self.sources = tuple(sources)

    def designs(self, variant: Variant) -> list[Design]:
        return [d for src in self.sources for d in src.designs(variant)]


@dataclass(frozen=True)
class Candidate:
    """One point of the search: a variant, an execution design and a scheduler."""

    variant: Variant
    design: Design
    scheduler: str

    @property
    def key(self) -> str:
        return f"{self.variant.label} | {self.design.label} | {self.scheduler}"


def architectures(spec) -> list[tuple[str, dict]]:
    """``[(label, CNNSpec dict), ...]`` of the spec's iNAS template, in a fixed order.

    Digits: ``(1, 8, 8)`` inputs, K x K kernels, K x K pools; MNIST-1D: ``(1, 1, 40)``, 1 x K
    kernels and 1 x P pools. With ``space.nondecreasing`` only widths that never shrink with depth
    and one kernel size per model (iNAS's common backbone pattern; keeps the space small)."""
    from ...train.arch import CNNSpec, ConvSpec
    from ...errors import ModelError
    one_d = spec.dataset == "mnist1d"
    shape = (1, 1, 40) if one_d else (1, 8, 8)
    pool = (1, spec.pool) if one_d else (spec.pool, spec.pool)
    out = []
    for k in spec.kernels:
        kernel = (1, k) if one_d else (k, k)
        for widths in itertools.product(spec.widths, repeat=spec.n_layers):
            if spec.nondecreasing and list(widths) != sorted(widths):
                continue
            try:
                cnn = CNNSpec(shape, tuple(ConvSpec(w, kernel, pool) for w in widths), spec.dense, 10)
            except ModelError:
                continue  # pools shrink the map below 1 x 1
            out.append((f"k{k} w{'-'.join(map(str, widths))}", cnn.to_dict()))
    return out


def variants(spec, lightweighting=None) -> list[Variant]:
    """Every architecture x lightweighting variant (``lightweighting`` default: the spec's)."""
    lws = spec.lightweighting if lightweighting is None else lightweighting
    return [Variant(label, json.dumps(d, sort_keys=True), lw) for label, d in architectures(spec) for lw in lws]


def candidates(variant_list, source: ExecutionDesignSource, schedulers) -> list[Candidate]:
    """The product of variants, their designs and ``schedulers`` (a design's own
    ``Design.schedulers`` when it names them), in a fixed order."""
    return [Candidate(v, d, s) for v in variant_list for d in source.designs(v) for s in (d.schedulers or schedulers)]


def sample(items: list, n: int, seed: int, salt: str) -> list:
    """``n`` of ``items`` (all when ``n >= len``), drawn without replacement from a generator
    seeded by ``seed`` and ``salt``; the result keeps the items' order."""
    if n >= len(items):
        return list(items)
    digest = hashlib.sha256(f"{seed}|{salt}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    idx = np.sort(rng.choice(len(items), size=n, replace=False))
    return [items[i] for i in idx]
