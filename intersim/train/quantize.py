"""Float CNN -> int8 intersim :class:`~intersim.nn.network.Network` by post-training quantisation.

* Weights: symmetric int8 per output channel, ``scale[c] = max|w[c]| / 127`` (zero point 0);
  layers listed in ``per_tensor`` get one scale for the whole layer instead (weight sharing
  needs it: a per-layer codebook then maps to at most K int8 values).
* Biases: int32 ``rint(b / (x_scale * w_scale[c]))``.
* Activations: per tensor, calibrated on float activations (min/max over the calibration set).
  Post-ReLU tensors use ``scale = max / 255`` and zero point -128, so the fused ReLU clamp is the
  int8 saturation (as ONNX QLinear models express it); the logits use an asymmetric range.
* Max pooling keeps its input's scale and zero point; flatten is a row-major copy (NCHW order,
  the same as the float model's reshape).
* Requantisation: ONNX semantics (``"onnx"``, float32 multipliers, round half to even) by default,
  or TFLite Micro fixed point (``"tflite"``).
"""
from __future__ import annotations

import numpy as np

from ._backend import Network, NetworkBuilder, quantize_weights_per_channel
from .arch import CNNSpec, forward

CALIBRATION_BATCH = 512


def quantize_per_tensor(w) -> tuple[np.ndarray, np.float32]:
    """Symmetric int8 with one scale for the whole array: ``scale = max|w| / 127``."""
    w = np.asarray(w, np.float64)
    scale = np.float32(max(float(np.abs(w).max()), 1e-12) / 127.0)
    return np.clip(np.rint(w / np.float64(scale)), -127, 127).astype(np.int8), scale


def activation_ranges(params, spec: CNNSpec, x_calib) -> dict:
    """``{tensor: (min, max)}`` [real units] of every float activation over ``x_calib``."""
    ranges: dict = {}
    for s in range(0, len(x_calib), CALIBRATION_BATCH):
        _, acts = forward(params, spec, x_calib[s:s + CALIBRATION_BATCH], with_activations=True)
        for k, v in acts.items():
            v = np.asarray(v)
            lo, hi = float(v.min()), float(v.max())
            old = ranges.get(k, (lo, hi))
            ranges[k] = (min(old[0], lo), max(old[1], hi))
    return ranges


def relu_qparams(hi: float) -> tuple[float, int]:
    """(scale, zero point) of a post-ReLU tensor with range [0, hi]: full int8 range, zp -128."""
    return float(np.float32(max(hi, 1e-6) / 255.0)), -128


def asymmetric_qparams(lo: float, hi: float) -> tuple[float, int]:
    """(scale, zero point) of a tensor with range [lo, hi] (widened to include 0)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = float(np.float32(max(hi - lo, 1e-6) / 255.0))
    return scale, int(np.clip(np.rint(-128 - lo / scale), -128, 127))


def quantize_layer_weights(w, per_tensor: bool):
    """(int8 weights, float32 scales per output channel) of one layer."""
    if per_tensor:
        q, s = quantize_per_tensor(w)
        return q, np.full(len(q), s, np.float32)
    return quantize_weights_per_channel(w)


def int32_bias(b, x_scale: float, w_scale) -> np.ndarray:
    """``rint(b / (x_scale * w_scale[c]))`` saturated to int32."""
    acc_scale = np.float64(np.float32(x_scale)) * np.asarray(w_scale, np.float64)
    return np.clip(np.rint(np.asarray(b, np.float64) / acc_scale), -2**31, 2**31 - 1).astype(np.int32)


def add_conv_blocks(builder: NetworkBuilder, params, spec: CNNSpec, ranges, per_tensor=(), n_blocks=None) -> str:
    """Append conv blocks 0..n_blocks-1 (conv + ReLU + pool) to ``builder``; returns the last tensor."""
    n_blocks = len(spec.convs) if n_blocks is None else n_blocks
    for i, conv in enumerate(spec.convs[:n_blocks]):
        key = f"conv{i}"
        w, ws = quantize_layer_weights(params[key]["w"], key in per_tensor)
        xs = builder.qparams[builder.last][0]
        ys, yz = relu_qparams(ranges[key][1])
        builder.conv2d(w, int32_bias(params[key]["b"], xs, ws), ws, ys, yz, pads=conv.pads, act="relu", name=key)
        if conv.pool != (1, 1):
            builder.maxpool(conv.pool, name=f"pool{i}")
    return builder.last


def add_dense_head(builder: NetworkBuilder, params, spec: CNNSpec, ranges, per_tensor=()) -> str:
    """Append flatten, hidden dense + ReLU layers and the classifier; returns the logits tensor."""
    builder.flatten(name="flatten")
    n_fc = len(spec.dense) + 1
    for j in range(n_fc):
        key = f"fc{j}"
        w, ws = quantize_layer_weights(params[key]["w"], key in per_tensor)
        xs = builder.qparams[builder.last][0]
        last = j == n_fc - 1
        ys, yz = asymmetric_qparams(*ranges["logits"]) if last else relu_qparams(ranges[key][1])
        builder.dense(w, int32_bias(params[key]["b"], xs, ws), ws, ys, yz, act=None if last else "relu",
                      name=key, output="logits" if last else None)
    return builder.last


def to_network(params, spec: CNNSpec, x_calib, input_scale: float, input_zero_point: int, name: str,
               semantics: str = "onnx", per_tensor=(), meta=None) -> Network:
    """int8 :class:`Network` of the float CNN ``params``, activation ranges calibrated on ``x_calib``.

    Parameters
    ----------
    params : dict  float weights (see :mod:`intersim.train.arch`)
    spec : CNNSpec
    x_calib : float32 (N, C, H, W)  calibration inputs (the training split)
    input_scale : float  [real units / LSB] of the int8 input; input_zero_point : int
    name : str  network name
    semantics : "onnx" or "tflite"
    per_tensor : layer keys ("conv0", "fc1", ...) quantised with one weight scale per layer
    meta : dict stored as ``Network.meta``
    """
    ranges = activation_ranges(params, spec, np.asarray(x_calib, np.float32))
    builder = NetworkBuilder(name, spec.input_shape, input_scale, input_zero_point, semantics)
    add_conv_blocks(builder, params, spec, ranges, per_tensor)
    add_dense_head(builder, params, spec, ranges, per_tensor)
    return builder.build(meta=meta)
