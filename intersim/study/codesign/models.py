"""The model cache: each variant trained, lightened, quantised and measured once, on disk.

A variant's directory (under ``OUT/models/`` or ``[train] model_cache``) holds
``model.onnx`` (the int8 network as a QLinear ONNX model: what the candidates' scenarios name in
``model.file``), ``samples.npz`` (the held-out int8 test split, ``model.inputs``), ``meta.json``
(the int8 held-out accuracy measured through intersim's kernels, ``model_stats``, the recipe) and,
for an unlightened variant, ``params.npz`` (float weights the lightened variants start from).
The directory name carries a hash of everything that determines the model (dataset, architecture,
lightweighting, training settings, seed), so a cache can be shared between runs; files are written
to a temporary name and moved into place, so an interrupted run never leaves a half model.
Deterministic: same seed, same machine and jaxlib -> the same int8 network
(:mod:`intersim.train.fit`).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .space import Variant

FILES = ("model.onnx", "samples.npz", "meta.json")


def _savez(path: Path, **arrays) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


class ModelCache:
    """Trains on demand and remembers: :meth:`get` returns a variant's metadata and file paths."""

    def __init__(self, spec, directory: Path, log=None):
        self.spec = spec
        self.dir = Path(directory)
        self.log = log or (lambda msg: None)
        self._dataset = None
        self.trained = 0      # variants trained by this process
        self.train_s = 0.0    # wall time spent training [s]

    def config(self):
        from ...train.fit import TrainConfig
        s = self.spec
        return TrainConfig(epochs=s.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate,
                           weight_decay=s.weight_decay, seed=s.seed)

    def key(self, v: Variant) -> str:
        recipe = {"dataset": self.spec.dataset, "arch": json.loads(v.arch_dict), "lightweighting": v.lightweighting,
                  "train": self.config().__dict__, "finetune_epochs": self.spec.finetune_epochs}
        digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]
        slug = f"{v.arch}-{v.lightweighting}".replace(" ", "_").replace(":", "")
        return f"{slug}-{digest}"

    def path(self, v: Variant) -> Path:
        return self.dir / self.key(v)

    def cached(self, v: Variant) -> bool:
        return all((self.path(v) / f).is_file() for f in FILES)

    def get(self, v: Variant) -> dict:
        """``meta.json`` of ``v`` plus ``"dir"``, ``"model_file"``, ``"samples_file"``; trains it first
        when the cache does not hold it."""
        d = self.path(v)
        if not self.cached(v):
            self._build(v, d)
        meta = json.loads((d / "meta.json").read_text())
        return {**meta, "dir": str(d), "model_file": str(d / "model.onnx"), "samples_file": str(d / "samples.npz")}

    # ------------------------------------------------------------------------------------------

    def _data(self):
        if self._dataset is None:
            from ...train.datasets import load_dataset
            self._dataset = load_dataset(self.spec.dataset)
        return self._dataset

    def _base_params(self, v: Variant):
        """Float params of the unlightened variant (trained now if not cached)."""
        from ...train.arch import CNNSpec
        base = v.base
        p = self.path(base) / "params.npz"
        if not p.is_file():
            self._build(base, self.path(base))
        with np.load(p) as z:
            params = {}
            for name in z.files:
                layer, _, leaf = name.partition("/")
                params.setdefault(layer, {})[leaf] = z[name]
        return CNNSpec.from_dict(json.loads(base.arch_dict)), params

    def _build(self, v: Variant, d: Path) -> None:
        from ...train.arch import CNNSpec, to_numpy
        from ...train.evaluate import measure_accuracy
        from ...train.fit import fit
        from ...train.prune import prune_and_finetune
        from ...train.quantize import to_network
        from ...train.stats import model_stats
        from ...train.weight_sharing import share_weights
        from ...nn.onnx_export import to_onnx
        t0 = time.perf_counter()
        ds, config = self._data(), self.config()
        finetune = replace(config, epochs=self.spec.finetune_epochs)
        per_tensor, params = (), None
        kind, _, arg = v.lightweighting.partition(":")
        if kind == "none":
            cnn = CNNSpec.from_dict(json.loads(v.arch_dict))
            params = to_numpy(fit(cnn, ds.x_train, ds.y_train, config))
        elif kind == "prune":
            cnn, base = self._base_params(v)
            cnn, params = prune_and_finetune(base, cnn, ds.x_train, ds.y_train, float(arg), finetune)
        elif kind == "share":
            cnn, base = self._base_params(v)
            params, per_tensor = share_weights(base, cnn, int(arg), ds.x_train, ds.y_train,
                                               replace(finetune, learning_rate=config.learning_rate / 3))
        name = self.key(v)
        x_test = ds.quantize_input(ds.x_test)
        extra = {}
        if kind == "exit":  # FreeML's shared branch, trained with the backbone; the exit network deployed
            cnn = CNNSpec.from_dict(json.loads(v.arch_dict))
            net, extra = _exit_network(cnn, int(arg), ds, config, name, x_test)
        else:
            net = to_network(params, cnn, ds.x_train, ds.input_scale, ds.input_zero_point, name, per_tensor=per_tensor)
        acc = measure_accuracy(net, x_test, ds.y_test)
        stats = model_stats(net)
        meta = {"variant": v.label, "arch": v.arch, "lightweighting": v.lightweighting, "dataset": ds.name,
                "architecture": cnn.to_dict(), "train": config.__dict__.copy(),
                "finetune_epochs": self.spec.finetune_epochs if kind in ("prune", "share") else None, **extra,
                "accuracy": acc, "int8_correct": int(round(acc * len(ds.y_test))), "n_test": len(ds.y_test),
                "accuracy_measured": "int8, intersim's kernels (Network.run), held-out test split",
                **{k: stats[k] for k in ("macs", "weight_bytes", "indexed_weight_bytes", "activation_peak_bytes")},
                "train_s": time.perf_counter() - t0}
        d.mkdir(parents=True, exist_ok=True)
        if kind == "none":
            flat = {f"{layer}/{leaf}": np.asarray(a) for layer, leaves in to_numpy(params).items()
                    for leaf, a in leaves.items()}
            _atomic_write(d / "params.npz", lambda p: _savez(p, **flat))
        _atomic_write(d / "model.onnx", lambda p: to_onnx(net, p))
        _atomic_write(d / "samples.npz", lambda p: _savez(p, x=x_test, y=ds.y_test.astype(np.int64)))
        _atomic_write(d / "meta.json", lambda p: p.write_text(json.dumps(meta, indent=1) + "\n"))
        self.trained += 1
        self.train_s += meta["train_s"]
        self.log(f"trained {v.label}: int8 held-out accuracy {acc:.4f}, {stats['macs']:,} MACs "
                 f"({meta['train_s']:.1f} s)")


def exit_points(cnn, exit_point: int) -> tuple:
    """The exit points FreeML's single shared branch is trained at for a deployed ``exit_point``:
    every conv block before the last with ``exit_point``'s channel count (one branch serves them
    all, so they must share it; :func:`intersim.train.early_exit.check_exit_points`)."""
    c = cnn.convs[exit_point].out_channels
    return tuple(i for i in range(len(cnn.convs) - 1) if cnn.convs[i].out_channels == c)


def _exit_network(cnn, exit_point: int, ds, config, name: str, x_test):
    """The deployed exit network of an ``exit:E`` variant (backbone prefix up to block ``E``, then
    the shared branch) and its metadata: the exit points trained, and the full backbone's int8
    held-out accuracy for comparison (measured the same way)."""
    from ...train.early_exit import to_early_exit_networks, train_early_exit
    from ...train.evaluate import measure_accuracy
    exits = exit_points(cnn, exit_point)
    params = train_early_exit(cnn, exits, ds.x_train, ds.y_train, config)
    nets = to_early_exit_networks(params, cnn, exits, ds.x_train, ds.input_scale, ds.input_zero_point, name)
    return nets[f"exit{exit_point}"], {
        "exit_point": exit_point, "exit_points_trained": list(exits),
        "backbone_final_accuracy": measure_accuracy(nets["final"], x_test, ds.y_test),
        "backbone_final_macs": int(nets["final"].total_macs())}
