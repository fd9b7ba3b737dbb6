"""The trained int8 artefacts shipped in ``intersim/nn/zoo/`` by :mod:`intersim.train.build_artefacts`.

Reading them needs numpy only (no JAX): each is a ``.npz`` written by ``save_network`` (with the
held-out int8 inputs and labels) and a ``.json`` of metadata holding the int8 accuracy measured
through intersim's kernels (``int8_correct`` of ``n_test``).

====================  ==========================================================
``digits_cnn_jax``    the zoo's digits CNN architecture, trained with JAX + optax
``mnist1d_cnn``       a 1-D CNN on MNIST-1D (input (1, 1, 40), kernels 1 x K)
``digits_ee``         digits CNN with FreeML's shared early-exit branch: one
                      network per exit point plus the full backbone
====================  ==========================================================
"""
from __future__ import annotations

import json
from pathlib import Path

from ._backend import ModelError, Network, load_network, load_samples

ZOO_DIR = Path(__file__).resolve().parent.parent / "nn" / "zoo"
ARTEFACTS = ("digits_cnn_jax", "mnist1d_cnn", "digits_ee")


def _check(name: str) -> str:
    if name not in ARTEFACTS:
        raise ModelError(f"unknown training artefact {name!r}; valid: {', '.join(ARTEFACTS)}")
    return name


def artefact_info(name: str, directory=None) -> dict:
    """Metadata (``<name>.json``): dataset, splits, architecture, training settings, accuracy, sizes."""
    path = Path(directory or ZOO_DIR) / f"{_check(name)}.json"
    if not path.exists():
        raise ModelError(f"{path} is missing; rebuild it with python -m intersim.train.build_artefacts")
    return json.loads(path.read_text())


def load_artefact(name: str, directory=None):
    """The int8 network of ``name``; for ``digits_ee`` a dict ``{"exit1": Network, ..., "final": Network}``."""
    info = artefact_info(name, directory)
    d = Path(directory or ZOO_DIR)
    files = info["files"]
    if isinstance(files, dict):
        return {key: load_network(d / f) for key, f in files.items()}
    return load_network(d / files)


def artefact_samples(name: str, directory=None):
    """(held-out int8 inputs (N, C, H, W), labels (N,)) stored with ``name``."""
    info = artefact_info(name, directory)
    return load_samples(Path(directory or ZOO_DIR) / info["samples_file"])


def final_network(nets) -> Network:
    """The network that gives an artefact's headline accuracy (the backbone for ``digits_ee``)."""
    return nets["final"] if isinstance(nets, dict) else nets
