"""Rebuild the JAX-trained int8 artefacts in ``intersim/nn/zoo/`` (they never replace ``digits_cnn``).

    python -m intersim.train.build_artefacts                 # all three into intersim/nn/zoo/
    python -m intersim.train.build_artefacts --only mnist1d_cnn --out DIR
    python -m intersim.train.build_artefacts --variants      # also the lightweighting study table

Writes ``digits_cnn_jax.{npz,json}``, ``mnist1d_cnn.{npz,json}`` and ``digits_ee_exit1.npz``,
``digits_ee_exit2.npz``, ``digits_ee_final.npz``, ``digits_ee.json``; ``--variants`` writes
``digits_variants_jax.json`` (pruned, weight-shared and iNAS-template variants of the digits
CNN). Every accuracy is measured through intersim's int8 kernels on the held-out test split.
Deterministic on a given machine and jax/jaxlib build (see :mod:`intersim.train.fit`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ._backend import save_network
from .arch import CNNSpec, ConvSpec
from .artefacts import ARTEFACTS, ZOO_DIR
from .datasets import load_dataset
from .early_exit import cascade_predict, to_early_exit_networks, train_early_exit
from .evaluate import predict
from .fit import TrainConfig, fit, float_accuracy
from .quantize import to_network
from .stats import model_stats

SEED = 0
DIGITS_SPEC = CNNSpec((1, 8, 8), (ConvSpec(8, 3, 2), ConvSpec(16, 3, 2)))
DIGITS_CONFIG = TrainConfig(epochs=80, batch_size=32, learning_rate=3e-3, weight_decay=1e-4, seed=SEED)
MNIST1D_SPEC = CNNSpec((1, 1, 40), (ConvSpec(16, (1, 5), (1, 2)), ConvSpec(16, (1, 5), (1, 2)),
                                    ConvSpec(32, (1, 3), (1, 2))), dense=(32,))
MNIST1D_CONFIG = TrainConfig(epochs=60, batch_size=64, learning_rate=3e-3, weight_decay=1e-4, seed=SEED)
EE_SPEC = CNNSpec((1, 8, 8), (ConvSpec(8, 3, 2), ConvSpec(8, 3), ConvSpec(8, 3), ConvSpec(16, 3, 2)))
EE_EXITS = (1, 2)
EE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
EE_TOLERANCE = 0.01  # validation accuracy the cascade may lose against the full backbone
REBUILD = "python -m intersim.train.build_artefacts"


def int8_score(net, x_int8, y) -> dict:
    """Correct count and accuracy through ``net.run`` (intersim's kernels)."""
    correct = int((predict(net, x_int8) == y).sum())
    return {"int8_correct": correct, "n": len(y), "int8_accuracy": correct / len(y)}


def _common_meta(name, ds, spec, config) -> dict:
    return {"name": name, "dataset": ds.name, "dataset_description": ds.description, "splits": ds.sizes(),
            "input_quantisation": {"scale": ds.input_scale, "zero_point": ds.input_zero_point},
            "architecture": spec.to_dict(), "train_config": config.__dict__.copy(), "semantics": "onnx",
            "trained_with": "jax + optax (intersim.train)", "rebuild": REBUILD, "accuracy_claimed": True}


def build_single(name: str, dataset: str, spec: CNNSpec, config: TrainConfig, out: Path) -> dict:
    """Train, quantise, measure and save one single-output artefact; returns its metadata."""
    ds = load_dataset(dataset)
    params = fit(spec, ds.x_train, ds.y_train, config)
    net = to_network(params, spec, ds.x_train, ds.input_scale, ds.input_zero_point, name)
    xt, xv = ds.quantize_input(ds.x_test), ds.quantize_input(ds.x_val)
    test, val = int8_score(net, xt, ds.y_test), int8_score(net, xv, ds.y_val)
    meta = {**_common_meta(name, ds, spec, config), "files": f"{name}.npz", "samples_file": f"{name}.npz",
            "int8_correct": test["int8_correct"], "n_test": test["n"], "int8_accuracy": test["int8_accuracy"],
            "int8_val_accuracy": val["int8_accuracy"],
            "float_accuracy": float_accuracy(params, spec, ds.x_test, ds.y_test), "stats": model_stats(net)}
    net.meta = {k: v for k, v in meta.items() if k != "stats"}
    save_network(net, out / f"{name}.npz", samples=(xt, ds.y_test.astype(np.int16)))
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def choose_threshold(nets, x_val, y_val) -> tuple[float, dict]:
    """The confidence threshold with the fewest mean validation MACs whose validation accuracy is
    within :data:`EE_TOLERANCE` of the full backbone's; returns (threshold, table)."""
    full = int8_score(nets["final"], x_val, y_val)["int8_accuracy"]
    table, best = {}, (None, np.inf)
    for th in EE_THRESHOLDS:
        pred, _, macs = cascade_predict(nets, x_val, th)
        acc, mean_macs = float((pred == y_val).mean()), float(macs.mean())
        table[str(th)] = {"val_accuracy": acc, "val_mean_macs": mean_macs}
        if acc >= full - EE_TOLERANCE and mean_macs < best[1]:
            best = (th, mean_macs)
    return (best[0] if best[0] is not None else max(EE_THRESHOLDS)), table


def build_early_exit(out: Path, name: str = "digits_ee") -> dict:
    """Train the shared-exit digits CNN, save one network per exit point and the backbone."""
    ds = load_dataset("digits")
    params = train_early_exit(EE_SPEC, EE_EXITS, ds.x_train, ds.y_train, DIGITS_CONFIG)
    nets = to_early_exit_networks(params, EE_SPEC, EE_EXITS, ds.x_train, ds.input_scale, ds.input_zero_point, name)
    xt, xv = ds.quantize_input(ds.x_test), ds.quantize_input(ds.x_val)
    threshold, table = choose_threshold(nets, xv, ds.y_val)
    pred, taken, macs = cascade_predict(nets, xt, threshold)
    files = {key: f"{name}_{key}.npz" for key in nets}
    per_exit = {key: {**int8_score(n, xt, ds.y_test), "stats": model_stats(n)} for key, n in nets.items()}
    meta = {**_common_meta(name, ds, EE_SPEC, DIGITS_CONFIG), "files": files, "samples_file": files["final"],
            "exit_points": list(EE_EXITS), "branch": f"global average pool -> dense({EE_SPEC.convs[EE_EXITS[0]].out_channels} -> {EE_SPEC.n_classes}), "
                      "shared by every exit point",
            "networks": per_exit,
            "int8_correct": per_exit["final"]["int8_correct"], "n_test": len(ds.y_test),
            "int8_accuracy": per_exit["final"]["int8_accuracy"],
            "cascade": {"threshold": threshold, "chosen_on": "validation split", "tolerance": EE_TOLERANCE,
                        "validation_table": table, "test_int8_correct": int((pred == ds.y_test).sum()),
                        "test_accuracy": float((pred == ds.y_test).mean()), "test_mean_macs": float(macs.mean()),
                        "test_exits_taken": {str(k): int((taken == k).sum()) for k in (*EE_EXITS, -1)}}}
    for key, net in nets.items():
        net.meta = {**net.meta, "artefact": name, "rebuild": REBUILD}
        samples = (xt, ds.y_test.astype(np.int16)) if key == "final" else None
        save_network(net, out / files[key], samples=samples)
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


BUILDERS = {
    "digits_cnn_jax": lambda out: build_single("digits_cnn_jax", "digits", DIGITS_SPEC, DIGITS_CONFIG, out),
    "mnist1d_cnn": lambda out: build_single("mnist1d_cnn", "mnist1d", MNIST1D_SPEC, MNIST1D_CONFIG, out),
    "digits_ee": build_early_exit,
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ZOO_DIR)
    ap.add_argument("--only", choices=ARTEFACTS, action="append")
    ap.add_argument("--variants", action="store_true", help="also run the lightweighting study (variants.py)")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for name in a.only or ARTEFACTS:
        meta = BUILDERS[name](a.out)
        print(f"{name}: int8 test accuracy {meta['int8_correct']}/{meta['n_test']} = {meta['int8_accuracy']:.4f}")
    if a.variants:
        from .variants import run_variants
        table = run_variants()
        (a.out / "digits_variants_jax.json").write_text(json.dumps(table, indent=2) + "\n")
        for row in table["variants"]:
            print(f"{row['name']:<28} int8 {row['int8_accuracy']:.4f}  MACs {row['macs']:>7,d}  "
                  f"weights {row['weight_bytes']:>6,d} B  indexed {row['indexed_weight_bytes']:>6,d} B  "
                  f"act peak {row['activation_peak_bytes']:>5,d} B")


if __name__ == "__main__":
    main()
