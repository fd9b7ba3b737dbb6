"""Weight sharing: a k-means codebook of K values per layer (Deep Compression style), fine-tuned.

Each selected layer's float weights are clustered into K centroids by 1-D k-means (linear
initialisation between min and max, Lloyd iterations; deterministic). The model is then
fine-tuned with the *codebook* as the trainable parameter (every weight is
``codebook[index]``, so a centroid's gradient is the sum over its members), biases and
unshared layers training as usual.

How intersim represents it: :class:`~intersim.nn.network.Network` stores plain int8 weight arrays
and its kernels read them directly; there is no indices + codebook layer type, and this package
does not change the engine. So a weight-shared layer is quantised with **one** weight scale for
the layer (``per_tensor``), which maps its K float centroids onto at most K int8 values: the
int8 network computes exactly what an index + int8-codebook implementation would. The
compressed NVM footprint, ``ceil(n_weights * ceil(log2 K) / 8) + K`` bytes per layer plus the
int32 biases, is reported by :func:`intersim.train.stats.indexed_weight_bytes` (and
``model_stats(net)["indexed_weight_bytes"]``); ``Network.weight_bytes`` and the simulated cost
still count one byte per weight, as the kernels read them.
"""
from __future__ import annotations

import numpy as np

from ._backend import ModelError
from ._jax import require_jax
from .arch import CNNSpec, forward, to_numpy
from .fit import TrainConfig, cross_entropy, train

KMEANS_ITERS = 60


def kmeans_1d(values, k: int, iters: int = KMEANS_ITERS) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means of ``values`` into ``k`` clusters.

    Returns (centroids float32 (k,), sorted ascending; indices int32 of ``values``' shape).
    Linear initialisation over [min, max]; an empty cluster keeps its previous centroid.
    """
    k = int(k)
    if k < 2 or k > 256:
        raise ModelError(f"codebook size K must be in [2, 256] (int8 values), got {k!r}")
    v = np.asarray(values, np.float64).reshape(-1)
    centroids = np.linspace(v.min(), v.max(), k)
    idx = np.zeros(v.size, np.int64)
    for _ in range(int(iters)):
        idx = np.abs(v[:, None] - centroids[None, :]).argmin(1)
        sums = np.bincount(idx, v, minlength=k)
        counts = np.bincount(idx, minlength=k)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.array_equal(new, centroids):
            break
        centroids = new
    order = np.argsort(centroids, kind="stable")
    rank = np.empty(k, np.int64)
    rank[order] = np.arange(k)
    return centroids[order].astype(np.float32), rank[idx].reshape(np.shape(values)).astype(np.int32)


def cluster_layers(params: dict, k: int, layers) -> tuple[dict, dict]:
    """({layer: codebook (K,)}, {layer: indices}) of each layer key in ``layers`` ("conv0", "fc0", ...)."""
    unknown = [l for l in layers if l not in params]
    if unknown:
        raise ModelError(f"no layer(s) {unknown} to share; valid: {sorted(params)}")
    books, indices = {}, {}
    for name in layers:
        books[name], indices[name] = kmeans_1d(params[name]["w"], k)
    return books, indices


def materialise(params: dict, books: dict, indices: dict) -> dict:
    """``params`` with each shared layer's weights replaced by ``codebook[indices]`` (JAX or numpy)."""
    out = {k: dict(v) for k, v in params.items()}
    for name, book in books.items():
        out[name]["w"] = book[indices[name]]
    return out


def share_weights(params: dict, spec: CNNSpec, k: int, x, y, config: TrainConfig, layers=None) -> tuple[dict, list]:
    """Cluster ``layers`` (default: every conv and dense layer) into K values each and fine-tune.

    Returns
    -------
    (float params whose shared layers hold only codebook values, list of the shared layer keys):
    pass the list as ``per_tensor`` to :func:`intersim.train.quantize.to_network`.
    """
    jax, jnp, _ = require_jax()
    layers = list(spec.layer_names() if layers is None else layers)
    books, indices = cluster_layers(params, k, layers)
    idx_j = {n: jnp.asarray(i) for n, i in indices.items()}
    rest = {n: ({"b": d["b"]} if n in books else dict(d)) for n, d in params.items()}

    def loss_fn(trainable, xb, yb):
        full = materialise(trainable["rest"], trainable["books"], idx_j)
        return cross_entropy(forward(full, spec, xb), yb)

    tuned = train(loss_fn, {"books": books, "rest": rest}, x, y, config)
    tuned = jax.tree_util.tree_map(np.asarray, tuned)
    full = materialise(tuned["rest"], {n: np.asarray(b, np.float32) for n, b in tuned["books"].items()}, indices)
    return to_numpy(full), layers
