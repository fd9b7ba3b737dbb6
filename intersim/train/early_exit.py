"""Early exit with FreeML's single shared exit branch.

One small branch head, global average pooling -> dense (C -> classes), is attached after any of
several conv blocks (the *exit points*); the same branch weights serve every exit point, so an
exit point must produce the same number of channels C (the spatial size may differ: the global
pool removes it). Training minimises ``CE(final) + exit_weight * mean_k CE(exit_k)`` jointly.

How intersim represents it: a :class:`~intersim.nn.network.Network` has one output, so each exit
point is its own Network (the backbone prefix up to the exit, then ``exit_gap``,
``exit_flatten``, ``exit_fc``), beside the full backbone (``final``). The prefixes are quantised
with the backbone's own activation ranges, so a prefix computes exactly the backbone's tensors.
The branch is quantised once: one int8 weight array, one int32 bias, one pooled-input scale
(the widest range over the exit points) and one logits range, so its bytes are identical in
every exit network (stored once on a device); only the weightless pooling rescales each exit
point's activations into the shared scale.

Inference policy (:func:`cascade_predict`): run the exit points in order, stop at the first whose
dequantised softmax confidence reaches ``threshold``, else run the rest of the backbone. A
cascade's MACs count each backbone layer once (an intermittent device keeps the prefix's output
in NVM and continues from it) plus the branch at every exit point tried.
"""
from __future__ import annotations

import numpy as np

from ._backend import ModelError, Network, NetworkBuilder
from ._jax import require_jax
from .arch import CNNSpec, conv_block, forward, init_params, to_numpy
from .evaluate import predict
from .fit import TrainConfig, cross_entropy, train
from .quantize import (
    activation_ranges,
    add_conv_blocks,
    add_dense_head,
    asymmetric_qparams,
    int32_bias,
    quantize_weights_per_channel,
    relu_qparams,
)


def check_exit_points(spec: CNNSpec, exits) -> tuple[int, ...]:
    """Validate ``exits`` (conv block indices, before the last block) share one channel count."""
    exits = tuple(int(e) for e in exits)
    valid = list(range(len(spec.convs) - 1))
    if not exits or any(e not in valid for e in exits) or len(set(exits)) != len(exits):
        raise ModelError(f"exit points {list(exits)} must be distinct conv block indices in {valid}")
    widths = {spec.convs[e].out_channels for e in exits}
    if len(widths) != 1:
        raise ModelError(f"a shared exit branch needs equal channel counts at every exit point; "
                         f"blocks {list(exits)} have {[spec.convs[e].out_channels for e in exits]}")
    return tuple(sorted(exits))


def init_early_exit(spec: CNNSpec, exits, seed: int) -> dict:
    """Backbone params (``init_params``) plus the shared branch ``"exit": {"w": (classes, C), "b"}``."""
    jax, jnp, _ = require_jax()
    exits = check_exit_points(spec, exits)
    params = init_params(spec, seed)
    c = spec.convs[exits[0]].out_channels
    key = jax.random.fold_in(jax.random.PRNGKey(int(seed)), 1_000_003)
    params["exit"] = {"w": jax.random.normal(key, (spec.n_classes, c), jnp.float32) * np.float32(np.sqrt(2.0 / c)),
                      "b": jnp.zeros((spec.n_classes,), jnp.float32)}
    return params


def exit_logits(params: dict, spec: CNNSpec, exits, x) -> list:
    """Float logits of the shared branch at each exit point, in ``exits`` order."""
    _, jnp, _ = require_jax()
    h, out, wanted = jnp.asarray(x, jnp.float32), [], set(exits)
    for i, conv in enumerate(spec.convs[:max(exits) + 1]):
        _, h = conv_block(params[f"conv{i}"], conv, h)
        if i in wanted:
            out.append(h.mean(axis=(2, 3)) @ params["exit"]["w"].T + params["exit"]["b"])
    return out


def train_early_exit(spec: CNNSpec, exits, x, y, config: TrainConfig, exit_weight: float = 1.0) -> dict:
    """Jointly train backbone and shared branch; returns float32 numpy params."""
    exits = check_exit_points(spec, exits)

    def loss_fn(p, xb, yb):
        branch = sum(cross_entropy(l, yb) for l in exit_logits(p, spec, exits, xb)) / len(exits)
        return cross_entropy(forward(p, spec, xb), yb) + exit_weight * branch

    return to_numpy(train(loss_fn, init_early_exit(spec, exits, config.seed), x, y, config))


def _branch_ranges(params, spec, exits, x_calib) -> tuple[float, tuple]:
    """(max of pooled inputs over every exit point, (min, max) of branch logits over every exit)."""
    pooled_hi, lo, hi = 0.0, np.inf, -np.inf
    for s in range(0, len(x_calib), 512):
        xb = x_calib[s:s + 512]
        _, acts = forward(params, spec, xb, with_activations=True)
        for e, logits in zip(exits, exit_logits(params, spec, exits, xb)):
            pooled_hi = max(pooled_hi, float(np.asarray(acts[f"block{e}"]).mean(axis=(2, 3)).max()))
            lo, hi = min(lo, float(np.min(logits))), max(hi, float(np.max(logits)))
    return pooled_hi, (lo, hi)


def to_early_exit_networks(params, spec: CNNSpec, exits, x_calib, input_scale: float, input_zero_point: int,
                           name: str, semantics: str = "onnx") -> dict:
    """int8 networks ``{"exit{k}": Network, ..., "final": Network}`` (see the module docstring)."""
    exits = check_exit_points(spec, exits)
    x_calib = np.asarray(x_calib, np.float32)
    ranges = activation_ranges(params, spec, x_calib)
    pooled_hi, logit_range = _branch_ranges(params, spec, exits, x_calib)
    g_scale, g_zp = relu_qparams(pooled_hi)
    w_q, w_s = quantize_weights_per_channel(params["exit"]["w"])
    bias = int32_bias(params["exit"]["b"], g_scale, w_s)
    y_scale, y_zp = asymmetric_qparams(*logit_range)
    nets = {}
    for e in exits:
        b = NetworkBuilder(f"{name}_exit{e}", spec.input_shape, input_scale, input_zero_point, semantics)
        add_conv_blocks(b, params, spec, ranges, n_blocks=e + 1)
        b.avgpool(None, y_scale=g_scale, y_zero_point=g_zp, name="exit_gap")
        b.flatten(name="exit_flatten")
        b.dense(w_q, bias, w_s, y_scale, y_zp, name="exit_fc", output="logits")
        nets[f"exit{e}"] = b.build(meta={"exit_point": e})
    b = NetworkBuilder(f"{name}_final", spec.input_shape, input_scale, input_zero_point, semantics)
    add_conv_blocks(b, params, spec, ranges)
    add_dense_head(b, params, spec, ranges)
    nets["final"] = b.build(meta={"exit_point": "final"})
    return nets


def int8_confidence(net: Network, x_int8) -> tuple[np.ndarray, np.ndarray]:
    """(predicted class, softmax confidence of the dequantised int8 logits) per input."""
    scale, zp = net.qparams[net.output_name]
    preds, conf = [], []
    for xi in x_int8:
        z = (net.run(xi).astype(np.float64) - zp) * scale
        p = np.exp(z - z.max())
        preds.append(int(np.argmax(z)))
        conf.append(float(p.max() / p.sum()))
    return np.array(preds), np.array(conf)


def branch_macs(nets: dict) -> int:
    """MACs [MAC] of the shared branch (its dense layer; pooling counts as other work)."""
    any_exit = next(n for k, n in nets.items() if k != "final")
    return int(any_exit.layer("exit_fc").macs(0, any_exit.layer("exit_fc").out_channels))


def cascade_predict(nets: dict, x_int8, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the cascade on ``x_int8`` through intersim's kernels.

    Returns (predictions, exit taken per input (exit index, or -1 for the final head), MACs per
    input [MAC]: backbone layers up to the exit once, plus the branch at each exit point tried).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ModelError(f"confidence threshold must be in [0, 1], got {threshold!r}")
    exit_keys = sorted((k for k in nets if k != "final"), key=lambda k: int(k[4:]))
    n = len(x_int8)
    pred, taken = predict(nets["final"], x_int8), np.full(n, -1)
    bm = branch_macs(nets)
    macs = np.full(n, nets["final"].total_macs() + bm * len(exit_keys), np.int64)
    undecided = np.ones(n, bool)
    for i, key in enumerate(exit_keys):
        idx = np.flatnonzero(undecided)
        p, c = int8_confidence(nets[key], x_int8[idx])
        stop = idx[c >= threshold]
        pred[stop], taken[stop] = p[c >= threshold], int(key[4:])
        macs[stop] = nets[key].total_macs() + bm * i
        undecided[stop] = False
    return pred, taken, macs
