"""Small random int8 CNNs for property tests and the ``random_cnn:<seed>`` model name."""
from __future__ import annotations

import math

import numpy as np

from .network import NetworkBuilder


def random_network(rng: np.random.Generator, size: int = 6, channels: int = 4, classes: int = 5,
                   depth: int = 2):
    """A small random int8 CNN: ``depth`` conv+relu layers (the second with a max-pool), flatten,
    dense. Scales keep activations away from saturation, so wrong inputs change the output."""
    b = NetworkBuilder("random_cnn", (1, size, size), input_scale=0.02, input_zero_point=0)
    c_in = 1
    for d in range(depth):
        c_out = int(rng.integers(1, channels + 1))
        w = rng.integers(-60, 61, size=(c_out, c_in, 3, 3), dtype=np.int64).astype(np.int8)
        bias = rng.integers(-200, 201, size=c_out).astype(np.int32)
        k = c_in * 9
        b.conv2d(w, bias, w_scale=np.full(c_out, 0.01, np.float32), y_scale=0.02 * 0.01 * 60 * math.sqrt(k) / 20,
                 y_zero_point=int(rng.integers(-10, 11)), pads=1, act="relu")
        if d == 0 and size >= 4:
            b.maxpool(2)
        c_in = c_out
    b.flatten()
    n_in = b.tensors[b.last][0]
    w = rng.integers(-60, 61, size=(classes, n_in), dtype=np.int64).astype(np.int8)
    bias = rng.integers(-200, 201, size=classes).astype(np.int32)
    b.dense(w, bias, w_scale=np.full(classes, 0.01, np.float32),
            y_scale=0.02 * 0.01 * 60 * math.sqrt(n_in) / 20, y_zero_point=0)
    return b.build()
