"""Accuracy measured through intersim's own int8 kernels (:meth:`Network.run`), never a float model."""
from __future__ import annotations

import numpy as np

from ._backend import ModelError, Network


def predict(net: Network, x_int8) -> np.ndarray:
    """Class index (argmax of the int8 output, first maximum on ties) of each input in ``x_int8``
    (int8, shape (N,) + ``net.input_shape``), computed by ``net.run`` one input at a time."""
    x = np.asarray(x_int8)
    if x.dtype != np.int8 or x.shape[1:] != net.input_shape:
        raise ModelError(f"network {net.name!r} wants int8 inputs of shape (N,) + {net.input_shape}, "
                         f"got {x.dtype} {x.shape}")
    return np.array([int(np.argmax(net.run(xi))) for xi in x], np.int64)


def measure_accuracy(net: Network, x_int8, labels) -> float:
    """Fraction [1] of ``x_int8`` whose int8-kernel prediction equals ``labels``."""
    labels = np.asarray(labels)
    if len(labels) != len(x_int8) or len(labels) == 0:
        raise ModelError(f"need as many labels as inputs (and at least one): {len(labels)} labels, "
                         f"{len(x_int8)} inputs")
    return float((predict(net, x_int8) == labels).mean())
