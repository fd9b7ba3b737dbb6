"""Size and work of an int8 network: weight bytes, peak activation bytes, MACs, indexed weights."""
from __future__ import annotations

import math

import numpy as np

from ._backend import Network


def _nbytes(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


def activation_peak_bytes(net: Network) -> int:
    """Peak bytes [B] of int8 activations live at once when layers run in order.

    A tensor is live from the layer that writes it (the input: from the start) until the last
    layer that reads it has run (the output: to the end); while a layer runs, its inputs and its
    output are live together. Flatten/reshape count as a copy (input and output both live).
    """
    last_use = {net.input_name: -1}
    for i, layer in enumerate(net.layers):
        for t in layer.inputs:
            last_use[t] = i
    last_use[net.output_name] = len(net.layers)
    live = {net.input_name: _nbytes(net.input_shape)}
    peak = sum(live.values())
    for i, layer in enumerate(net.layers):
        live[layer.output] = _nbytes(layer.out_shape)
        peak = max(peak, sum(live.values()))
        live = {t: b for t, b in live.items() if last_use.get(t, -1) > i}
    return int(peak)


def indexed_weight_bits(weights: np.ndarray) -> tuple[int, int]:
    """(index bits per weight, distinct values K) when a layer's int8 weights are stored as
    indices into a codebook of its K distinct values: ``ceil(log2 K)`` bits (at least 1)."""
    k = len(np.unique(weights))
    return max(1, math.ceil(math.log2(k))), k


def indexed_weight_bytes(net: Network) -> int:
    """NVM bytes [B] of conv/dense weights stored as indices + per-layer int8 codebooks, plus int32
    biases: sum over layers of ``ceil(n_weights * index_bits / 8) + K + 4 * n_biases``.

    This is the footprint of a weight-shared model; intersim's kernels read plain int8 weights,
    so it is a storage figure, not what ``Network.weight_bytes`` counts."""
    total = 0
    for layer in net.layers:
        if not layer.reduces:
            continue
        bits, k = indexed_weight_bits(layer.weight)
        total += math.ceil(layer.weight.size * bits / 8) + k + 4 * layer.bias.size
    return int(total)


def model_stats(net: Network) -> dict:
    """Size and work of ``net``.

    Returns
    -------
    dict with
        macs : int  multiply-accumulates [MAC] of conv and dense layers
        ops_other : int  element operations [op] of pooling, add, ReLU (as ``Layer.macs`` counts them)
        weight_bytes : int  int8 weights + int32 biases [B] (``Network.weight_bytes``)
        indexed_weight_bytes : int  [B] the same weights as indices + codebook (see
            :func:`indexed_weight_bytes`); smaller only when layers use few distinct values
        activation_peak_bytes : int  [B] see :func:`activation_peak_bytes`
        largest_tensor_bytes : int  [B] the largest single int8 tensor
        n_weights : int  conv/dense weights [1]
        distinct_weights : dict  layer name -> number of distinct int8 weight values
        layers : int
    """
    reducing = [l for l in net.layers if l.reduces]
    return {
        "macs": int(net.total_macs()),
        "ops_other": int(sum(l.macs(0, l.out_channels) for l in net.layers if not l.reduces)),
        "weight_bytes": int(net.weight_bytes()),
        "indexed_weight_bytes": indexed_weight_bytes(net),
        "activation_peak_bytes": activation_peak_bytes(net),
        "largest_tensor_bytes": max(_nbytes(s) for s in net.tensors.values()),
        "n_weights": int(sum(l.weight.size for l in reducing)),
        "distinct_weights": {l.name: len(np.unique(l.weight)) for l in reducing},
        "layers": len(net.layers),
    }
