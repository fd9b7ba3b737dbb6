"""Small random int8 CNNs for property tests and the ``random_cnn:<seed>`` model name."""
from __future__ import annotations

import math

import numpy as np

from .network import NetworkBuilder


def random_network(rng: np.random.Generator, size: int = 6, channels: int = 4, classes: int = 5,
                   depth: int = 2):
    """A small random int8 CNN: ``depth`` conv+relu layers (the first followed by a max-pool),
    flatten, dense. Scales keep activations away from saturation, so wrong inputs change the output."""
    # each layer's channel count is drawn just before its weights (the networks of a seed never change)
    return structured_network(rng, size, [lambda: int(rng.integers(1, channels + 1))] * depth, classes)


def structured_network(rng: np.random.Generator, size: int, channels, classes: int, pool: bool = True):
    """A random int8 CNN of a given structure: input ``1 x size x size``, one 3x3 conv+relu layer
    per entry of ``channels`` (its output channels; a 2x2 max-pool after the first if ``pool``
    and ``size >= 4``), flatten, dense to ``classes``. Only the weights are drawn from ``rng``."""
    if size < 1 or classes < 1 or any(not callable(c) and int(c) < 1 for c in channels):
        raise ValueError(f"network structure size={size!r}, channels={list(channels)!r}, classes={classes!r}: "
                         "every size, channel count and class count must be >= 1")
    b = NetworkBuilder("random_cnn", (1, size, size), input_scale=0.02, input_zero_point=0)
    c_in = 1
    for d, c_out in enumerate(channels):
        c_out = int(c_out() if callable(c_out) else c_out)
        w = rng.integers(-60, 61, size=(c_out, c_in, 3, 3), dtype=np.int64).astype(np.int8)
        bias = rng.integers(-200, 201, size=c_out).astype(np.int32)
        k = c_in * 9
        b.conv2d(w, bias, w_scale=np.full(c_out, 0.01, np.float32), y_scale=0.02 * 0.01 * 60 * math.sqrt(k) / 20,
                 y_zero_point=int(rng.integers(-10, 11)), pads=1, act="relu")
        if d == 0 and size >= 4 and pool:
            b.maxpool(2)
        c_in = c_out
    b.flatten()
    n_in = b.tensors[b.last][0]
    w = rng.integers(-60, 61, size=(classes, n_in), dtype=np.int64).astype(np.int8)
    bias = rng.integers(-200, 201, size=classes).astype(np.int32)
    b.dense(w, bias, w_scale=np.full(classes, 0.01, np.float32),
            y_scale=0.02 * 0.01 * 60 * math.sqrt(n_in) / 20, y_zero_point=0)
    return b.build()
