"""Model zoo: trained int8 CNNs (digits, MNIST-1D), plus literature shapes with random weights.

>>> from intersim import zoo
>>> net = zoo.load("digits_cnn"); x, labels = zoo.samples("digits_cnn")
>>> int(net.run(x[0]).argmax()) == labels[0]   # doctest: +SKIP

``digits_cnn`` ships as ``digits_cnn.npz`` (network + held-out int8 inputs and labels) and
``digits_cnn.json`` (metadata, measured accuracies); rebuild with
``python -m intersim.nn.zoo.build_digits``. The JAX-trained artefacts of :mod:`intersim.train`
(``digits_cnn_jax``, ``mnist1d_cnn``, ``digits_ee_final``/``_exit1``/``_exit2``) ship the same
way with their int8 held-out accuracy (:func:`info`). ``digits_ee`` is the early-exit network
composed of those three (the backbone with FreeML's shared branch after exit points 1 and 2,
:mod:`intersim.nn.early_exit`); its stored accuracy is the final head's. The literature models (``mnist_lenet``,
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
SHIPPED = {"digits_cnn": HERE / "digits_cnn.npz",
           # JAX-trained artefacts of intersim.train (docs/training.md): name -> (file, metadata .json,
           # key of its accuracy in the .json's "networks" or None for the headline, samples file)
           "digits_cnn_jax": HERE / "digits_cnn_jax.npz", "mnist1d_cnn": HERE / "mnist1d_cnn.npz",
           "digits_ee_final": HERE / "digits_ee_final.npz", "digits_ee_exit1": HERE / "digits_ee_exit1.npz",
           "digits_ee_exit2": HERE / "digits_ee_exit2.npz"}
#: the .json of metadata (int8 accuracy measured through intersim's kernels) of a trained artefact
#: and where its samples are (the early-exit networks share the backbone's held-out split)
ARTEFACT_JSON = {"digits_ee": ("digits_ee.json", "final"), "digits_cnn_jax": ("digits_cnn_jax.json", None), "mnist1d_cnn": ("mnist1d_cnn.json", None),
                 "digits_ee_final": ("digits_ee.json", "final"), "digits_ee_exit1": ("digits_ee.json", "exit1"),
                 "digits_ee_exit2": ("digits_ee.json", "exit2")}
SAMPLES_FILE = {"digits_ee_exit1": HERE / "digits_ee_final.npz", "digits_ee_exit2": HERE / "digits_ee_final.npz",
                "digits_ee": HERE / "digits_ee_final.npz"}
#: early-exit networks composed at load (:func:`intersim.nn.early_exit.compose`): name -> (final
#: network, {exit point: exit network}); the backbone and its exit points in one network
COMPOSED = {"digits_ee": ("digits_ee_final", {1: "digits_ee_exit1", 2: "digits_ee_exit2"})}
N_RANDOM_SAMPLES = 8


def names() -> list[str]:
    """Every model name :func:`load` accepts."""
    return sorted(list(SHIPPED) + list(COMPOSED)) + sorted(BUILDERS)


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
    if name not in SHIPPED and name not in BUILDERS and name not in COMPOSED:
        raise ModelError(f"unknown zoo model {name!r}; valid: {', '.join(names())}, or "
                         f"'{RANDOM_PREFIX}<seed>' (a small random CNN, as the property tests use) or "
                         f"'{RANDOM_PREFIX}<seed>:<size>:<c1>-<c2>-..:<classes>[:nopool]' (one of a given structure)")
    return name


@lru_cache(maxsize=None)
def _load(name: str) -> Network:
    if name in COMPOSED:
        from ..early_exit import compose
        final, exits = COMPOSED[name]
        return compose(_load(final), {k: _load(v) for k, v in exits.items()}, name)
    if name in SHIPPED:
        path = SHIPPED[name]
        if not path.exists():
            rebuild = ("python -m intersim.train.build_artefacts" if name in ARTEFACT_JSON
                       else "python -m intersim.nn.zoo.build_digits")
            raise ModelError(f"zoo file {path} is missing; rebuild it with {rebuild}")
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
    x, labels = load_samples(SAMPLES_FILE[name] if name in SAMPLES_FILE else SHIPPED[name])
    for a in (x, labels):
        a.flags.writeable = False  # shared by every caller
    return x, labels


def load(name: str) -> Network:
    """The network called ``name`` (see :func:`names`). Each call returns the same cached object:
    treat it as read-only."""
    return _load(_check(name))


def samples(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x_int8[N, *input_shape], labels[N]) for ``name``.

    For ``digits_cnn`` and the trained artefacts: the held-out split, quantised as the network expects (read once, then the
    same read-only arrays on every call). For the literature models: seeded random int8 inputs and
    labels -1 (their weights are random)."""
    _check(name)
    if name in SHIPPED or name in COMPOSED:
        return _shipped_samples(name)
    if name.startswith(RANDOM_PREFIX):
        return None, None  # the caller draws inputs from the scenario's seed
    net = load(name)
    rng = np.random.default_rng(12345)
    x = rng.integers(-128, 128, (N_RANDOM_SAMPLES,) + net.input_shape).astype(np.int8)
    return x, np.full(N_RANDOM_SAMPLES, -1, np.int16)


@lru_cache(maxsize=None)
def _stored_accuracy(name: str) -> dict:
    """``int8_accuracy``, ``int8_correct``, ``n_test`` of a trained artefact, read from its .json."""
    import json
    file, key = ARTEFACT_JSON[name]
    meta = json.loads((HERE / file).read_text())
    rec = meta["networks"][key] if key is not None else meta
    return {"int8_accuracy": float(rec["int8_accuracy"]), "int8_correct": int(rec["int8_correct"]),
            "n_test": int(rec.get("n_test", rec.get("n", 0))), "dataset": meta["dataset"]}


def info(name: str) -> dict:
    """Metadata of ``name``: provenance, MACs, weight bytes and, for a trained model, its
    ``int8_accuracy`` on the held-out split, measured through intersim's int8 kernels."""
    net = load(name)
    out = {**net.meta, "macs": net.total_macs(), "weight_bytes": net.weight_bytes()}
    if name in ARTEFACT_JSON:
        out.update(_stored_accuracy(name))
    return out


def accuracy_label(name: str) -> str | None:
    """One line for where the model is named, e.g. ``int8 held-out accuracy 0.9833 = 531/540
    through intersim's kernels``; None for a model without a measured accuracy (random weights)."""
    try:
        meta = info(name)
    except ModelError:
        return None
    claimed = meta.get("accuracy_claimed") or name in ARTEFACT_JSON
    if not claimed or meta.get("int8_accuracy") is None:
        return None
    n = meta.get("n_test")
    correct = meta.get("int8_correct", round(meta["int8_accuracy"] * n) if n else None)
    count = f" = {correct}/{n}" if n else ""
    return f"int8 held-out accuracy {meta['int8_accuracy']:.4f}{count} through intersim's kernels"


__all__ = ["names", "load", "samples", "info", "accuracy_label"]
