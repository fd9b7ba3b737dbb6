"""Structured channel pruning by L1 norm of filters, with fine-tuning.

For each conv layer the filters (output channels) with the smallest L1 norm ``sum |w[o]|`` are
removed, together with the input channels of the next layer that read them (the next conv's
weight axis 1, or the classifier's columns ``c*H*W .. (c+1)*H*W-1`` after the flatten). The
result is a genuinely smaller :class:`~intersim.train.arch.CNNSpec` (fewer MACs, fewer weight
bytes, smaller activations), fine-tuned with :func:`intersim.train.fit.fit` from the surviving
weights, then quantised like any other model.
"""
from __future__ import annotations

import numpy as np

from ._backend import ModelError
from .arch import CNNSpec
from .fit import TrainConfig, fit


def _n_keep(keep, n: int, layer: str) -> int:
    if isinstance(keep, float):
        if not 0.0 < keep <= 1.0:
            raise ModelError(f"{layer}: keep fraction must be in (0, 1], got {keep!r}")
        return max(1, int(round(keep * n)))
    k = int(keep)
    if not 1 <= k <= n:
        raise ModelError(f"{layer}: channels to keep must be in [1, {n}], got {keep!r}")
    return k


def l1_ranking(w) -> np.ndarray:
    """Output-channel indices of ``w`` (O, ...) sorted by decreasing L1 norm (ties: lower index first)."""
    norms = np.abs(np.asarray(w, np.float64)).reshape(len(w), -1).sum(1)
    return np.argsort(-norms, kind="stable")


def prune_channels(params: dict, spec: CNNSpec, keep) -> tuple[CNNSpec, dict]:
    """Remove the lowest-L1 filters of every conv layer.

    Parameters
    ----------
    params : float params of ``spec``
    spec : CNNSpec
    keep : float in (0, 1] (fraction of filters kept, every layer), or a list with one entry per
        conv layer (a fraction or a channel count)

    Returns
    -------
    (pruned spec, pruned float params): kept channels stay in their original order.
    """
    n_conv = len(spec.convs)
    keeps = list(keep) if isinstance(keep, (list, tuple)) else [keep] * n_conv
    if len(keeps) != n_conv:
        raise ModelError(f"keep needs one entry per conv layer ({n_conv}), got {keeps}")
    p = {k: {n: np.array(v, np.float32) for n, v in d.items()} for k, d in params.items()}
    widths = []
    for i, conv in enumerate(spec.convs):
        key = f"conv{i}"
        k = _n_keep(keeps[i], conv.out_channels, key)
        kept = np.sort(l1_ranking(p[key]["w"])[:k])
        p[key] = {"w": p[key]["w"][kept], "b": p[key]["b"][kept]}
        if i + 1 < n_conv:
            p[f"conv{i + 1}"]["w"] = p[f"conv{i + 1}"]["w"][:, kept]
        else:
            _, h, w = spec.feature_shapes()[-1]
            cols = (kept[:, None] * (h * w) + np.arange(h * w)[None, :]).reshape(-1)
            p["fc0"]["w"] = p["fc0"]["w"][:, cols]
        widths.append(k)
    return spec.with_widths(widths), p


def prune_and_finetune(params: dict, spec: CNNSpec, x, y, keep, config: TrainConfig) -> tuple[CNNSpec, dict]:
    """:func:`prune_channels` then fine-tune on (x, y) with ``config`` (usually fewer epochs and a
    lower learning rate than the original training)."""
    new_spec, pruned = prune_channels(params, spec, keep)
    return new_spec, fit(new_spec, x, y, config, params=pruned)
