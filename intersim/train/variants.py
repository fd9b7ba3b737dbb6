"""The lightweighting study on digits: pruned, weight-shared and iNAS-template variants.

Every variant is trained (or fine-tuned) with JAX, quantised to int8, and measured through
intersim's kernels on the 540 held-out images; each row reports accuracy, MACs, weight bytes
(int8 + int32 bias, what the kernels read), indexed weight bytes (indices + codebook, the
weight-shared NVM footprint) and peak activation bytes. Run by
``python -m intersim.train.build_artefacts --variants`` (about a minute on 2 cores).
"""
from __future__ import annotations

from dataclasses import replace

from .arch import CNNSpec, inas_template_space
from .datasets import load_dataset
from .evaluate import measure_accuracy
from .fit import TrainConfig, fit
from .prune import prune_and_finetune
from .quantize import to_network
from .stats import model_stats
from .weight_sharing import share_weights

PRUNE_KEEPS = {"pruned_keep75": 0.75, "pruned_conv1_keep50": [1.0, 0.5], "pruned_keep50": 0.5}
FINETUNE = {"epochs": 40, "learning_rate": 3e-3}
SHARE_KS = (16, 8, 4)
SHARE_FINETUNE = {"epochs": 20, "learning_rate": 1e-3}
INAS_KERNELS = (3, 5)
INAS_WIDTHS = (4, 8, 16)


def _row(name, net, ds, spec: CNNSpec, note: str) -> dict:
    st = model_stats(net)
    acc = measure_accuracy(net, ds.quantize_input(ds.x_test), ds.y_test)
    return {"name": name, "int8_accuracy": acc, "architecture": spec.to_dict(), "note": note,
            **{k: st[k] for k in ("macs", "weight_bytes", "indexed_weight_bytes", "activation_peak_bytes")},
            "distinct_weights": st["distinct_weights"]}


def run_variants(base_spec: CNNSpec | None = None, config: TrainConfig | None = None) -> dict:
    """Train the digits base model and its variants; returns ``{"variants": [row, ...], ...}``."""
    from .build_artefacts import DIGITS_CONFIG, DIGITS_SPEC

    spec, config = base_spec or DIGITS_SPEC, config or DIGITS_CONFIG
    ds = load_dataset("digits")
    quant = lambda p, s, n, per_tensor=(): to_network(p, s, ds.x_train, ds.input_scale, ds.input_zero_point, n,
                                                      per_tensor=per_tensor)
    base = fit(spec, ds.x_train, ds.y_train, config)
    rows = [_row("base", quant(base, spec, "base"), ds, spec, "the digits_cnn_jax recipe")]
    for name, keep in PRUNE_KEEPS.items():
        s, p = prune_and_finetune(base, spec, ds.x_train, ds.y_train, keep, replace(config, **FINETUNE))
        rows.append(_row(name, quant(p, s, name), ds, s, f"L1 filter pruning keep={keep}, fine-tuned {FINETUNE}"))
    for k in SHARE_KS:
        p, layers = share_weights(base, spec, k, ds.x_train, ds.y_train, replace(config, **SHARE_FINETUNE))
        rows.append(_row(f"shared_k{k}", quant(p, spec, f"shared_k{k}", layers), ds, spec,
                         f"k-means codebook K={k} per layer, codebook fine-tuned {SHARE_FINETUNE}"))
    for s in inas_template_space(spec.input_shape, 2, INAS_KERNELS, INAS_WIDTHS, pool_every=1):
        if s.convs[0].kernel != s.convs[1].kernel or s.convs[0].out_channels > s.convs[1].out_channels:
            continue  # keep the study small: one kernel size per model, non-decreasing widths
        tag = f"inas_k{s.convs[0].kernel[0]}_w{s.convs[0].out_channels}-{s.convs[1].out_channels}"
        rows.append(_row(tag, quant(fit(s, ds.x_train, ds.y_train, config), s, tag), ds, s, "iNAS template choice"))
    return {"dataset": "digits", "test_split": ds.sizes()["test"], "train_config": config.__dict__.copy(),
            "variants": rows}
