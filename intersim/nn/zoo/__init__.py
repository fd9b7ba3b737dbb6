"""Model zoo: a trained int8 CNN on scikit-learn's digits, plus literature shapes with random weights.

>>> from intersim import zoo
>>> net = zoo.load("digits_cnn"); x, labels = zoo.samples("digits_cnn")
>>> int(net.run(x[0]).argmax()) == labels[0]   # doctest: +SKIP

``digits_cnn`` ships as ``digits_cnn.npz`` (network + held-out int8 inputs and labels) and
``digits_cnn.json`` (metadata, measured accuracies); rebuild with
``python -m intersim.nn.zoo.build_digits``. The literature models (``mnist_lenet``,
``cifar10_squeezenet``, ``kws_dnn_s``, ``har_cnn``) are generated on demand from a fixed seed and
carry ``meta["accuracy_claimed"] = False``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import ModelError
from ..network import Network
from ..network_io import load_network, load_samples
from .literature import BUILDERS

HERE = Path(__file__).resolve().parent
SHIPPED = {"digits_cnn": HERE / "digits_cnn.npz"}
N_RANDOM_SAMPLES = 8


def names() -> list[str]:
    """Every model name :func:`load` accepts."""
    return sorted(SHIPPED) + sorted(BUILDERS)


#: prefix of the seeded random test networks of :func:`intersim.nn.random_network.random_network`
RANDOM_PREFIX = "random_cnn:"


def _structure(name: str):
    """``random_cnn:SEED`` -> (seed, None); ``random_cnn:SEED:SIZE:C1-C2-..:CLASSES[:nopool]`` ->
    (seed, (size, channels, classes, pool)) (:func:`intersim.nn.random_network.structured_network`);
    None if ``name`` is neither."""
    parts = name[len(RANDOM_PREFIX):].split(":")
    if not name.startswith(RANDOM_PREFIX) or not parts[0].isdigit():
        return None
    if len(parts) == 1:
        return int(parts[0]), None
    if len(parts) in (4, 5) and parts[1].isdigit() and parts[3].isdigit() and (len(parts) == 4 or parts[4] == "nopool"):
        ch = parts[2].split("-")
        if all(c.isdigit() and int(c) >= 1 for c in ch) and int(parts[1]) >= 1 and int(parts[3]) >= 1:
            return int(parts[0]), (int(parts[1]), tuple(int(c) for c in ch), int(parts[3]), len(parts) == 4)
    return None


def _check(name: str) -> str:
    if _structure(name) is not None:
        return name
    if name not in SHIPPED and name not in BUILDERS:
        raise ModelError(f"unknown zoo model {name!r}; valid: {', '.join(names())}, or "
                         f"'{RANDOM_PREFIX}<seed>' (a small random CNN, as the property tests use) or "
                         f"'{RANDOM_PREFIX}<seed>:<size>:<c1>-<c2>-..:<classes>[:nopool]' (one of a given structure)")
    return name


@lru_cache(maxsize=None)
def _load(name: str) -> Network:
    if name in SHIPPED:
        path = SHIPPED[name]
        if not path.exists():
            raise ModelError(f"zoo file {path} is missing; rebuild it with python -m intersim.nn.zoo.build_digits")
        return load_network(path)
    if name.startswith(RANDOM_PREFIX):
        from ..random_network import random_network, structured_network
        seed, structure = _structure(name)
        if structure is None:
            return random_network(np.random.default_rng(seed))
        return structured_network(np.random.default_rng(seed), *structure)
    return BUILDERS[name]()


@lru_cache(maxsize=None)
def _shipped_samples(name: str):
    x, labels = load_samples(SHIPPED[name])
    for a in (x, labels):
        a.flags.writeable = False  # shared by every caller
    return x, labels


def load(name: str) -> Network:
    """The network called ``name`` (see :func:`names`). Each call returns the same cached object:
    treat it as read-only."""
    return _load(_check(name))


def samples(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x_int8[N, *input_shape], labels[N]) for ``name``.

    For ``digits_cnn``: the held-out split, quantised as the network expects (read once, then the
    same read-only arrays on every call). For the literature models: seeded random int8 inputs and
    labels -1 (their weights are random)."""
    _check(name)
    if name in SHIPPED:
        return _shipped_samples(name)
    if name.startswith(RANDOM_PREFIX):
        return None, None  # the caller draws inputs from the scenario's seed
    net = load(name)
    rng = np.random.default_rng(12345)
    x = rng.integers(-128, 128, (N_RANDOM_SAMPLES,) + net.input_shape).astype(np.int8)
    return x, np.full(N_RANDOM_SAMPLES, -1, np.int16)


def info(name: str) -> dict:
    """Metadata of ``name``: accuracies (digits), provenance, MACs, weight bytes."""
    net = load(name)
    return {**net.meta, "macs": net.total_macs(), "weight_bytes": net.weight_bytes()}


__all__ = ["names", "load", "samples", "info"]
