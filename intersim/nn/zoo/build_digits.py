"""Rebuild ``intersim/zoo/digits_cnn.npz``: train a small CNN on scikit-learn's 8x8 digits in plain
numpy, quantise it post-training to int8 (per-channel weight scales, ONNX QLinear semantics) and
store the network with the held-out split's inputs (already int8) and labels.

    python -m intersim.nn.zoo.build_digits            # writes intersim/zoo/digits_cnn.{npz,json}
    python -m intersim.nn.zoo.build_digits --out DIR  # somewhere else

Deterministic: one ``np.random.default_rng(SEED)`` drives initialisation and batch order; the
split is scikit-learn's ``train_test_split(..., random_state=SEED, stratify=y)``.

Architecture (CHW, no batch axis):
    conv 1->8 3x3 pad 1 + ReLU -> maxpool 2 -> conv 8->16 3x3 pad 1 + ReLU -> maxpool 2
    -> flatten 64 -> dense 64->10          (23,680 MACs)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SEED = 20240611
TEST_SIZE = 0.3
EPOCHS = 80
BATCH = 32
LR = 3e-3
WIDTHS = (8, 16)
# Input: pixel p in 0..16 means p/16 in [0, 1]; q = 15 p - 128 with scale 1/240 and zero point -128
# represents p/16 exactly.
IN_SCALE = 1.0 / 240.0
IN_ZP = -128


# ------------------------------------------------------------------------------------------
# float model in numpy
# ------------------------------------------------------------------------------------------
def _pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv_fwd(x, w, b):
    """x (B, C, H, W), w (O, C, 3, 3), pad 1 stride 1 -> (B, O, H, W), and the patches."""
    xp = _pad(x, 1)
    cols = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # B C H W 3 3
    y = np.einsum("bchwij,ocij->bohw", cols, w, optimize=True) + b[None, :, None, None]
    return y, cols


def conv_bwd(dy, cols, w, xshape):
    dw = np.einsum("bohw,bchwij->ocij", dy, cols, optimize=True)
    db = dy.sum(axis=(0, 2, 3))
    B, C, H, W = xshape
    dxp = np.zeros((B, C, H + 2, W + 2))
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + H, j:j + W] += np.einsum("bohw,oc->bchw", dy, w[:, :, i, j], optimize=True)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def pool_fwd(x):
    B, C, H, W = x.shape
    r = x.reshape(B, C, H // 2, 2, W // 2, 2)
    y = r.max(axis=(3, 5))
    mask = (r == y[:, :, :, None, :, None])
    # keep only the first maximum of each window (ties), as the backward pass needs one path
    flat = mask.transpose(0, 1, 2, 4, 3, 5).reshape(B, C, H // 2, W // 2, 4)
    first = np.zeros_like(flat)
    idx = flat.argmax(axis=-1)
    np.put_along_axis(first, idx[..., None], True, axis=-1)
    return y, first


def pool_bwd(dy, first, xshape):
    B, C, H, W = xshape
    g = first * dy[..., None]
    return g.reshape(B, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(B, C, H, W)


class FloatCNN:
    def __init__(self, rng, widths=WIDTHS):
        c1, c2 = widths
        he = lambda fan_in, shape: rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        self.p = {
            "w1": he(9, (c1, 1, 3, 3)), "b1": np.zeros(c1),
            "w2": he(9 * c1, (c2, c1, 3, 3)), "b2": np.zeros(c2),
            "w3": he(4 * c2, (10, 4 * c2)), "b3": np.zeros(10),
        }

    def forward(self, x, keep=False):
        p = self.p
        z1, cols1 = conv_fwd(x, p["w1"], p["b1"])
        a1 = np.maximum(z1, 0)
        m1, f1 = pool_fwd(a1)
        z2, cols2 = conv_fwd(m1, p["w2"], p["b2"])
        a2 = np.maximum(z2, 0)
        m2, f2 = pool_fwd(a2)
        flat = m2.reshape(len(x), -1)
        logits = flat @ p["w3"].T + p["b3"]
        if keep:
            self.cache = (x, z1, cols1, a1, f1, m1, z2, cols2, a2, f2, m2, flat)
        return logits, {"a1": a1, "m1": m1, "a2": a2, "m2": m2, "logits": logits}

    def backward(self, dlogits):
        p = self.p
        x, z1, cols1, a1, f1, m1, z2, cols2, a2, f2, m2, flat = self.cache
        g = {"w3": dlogits.T @ flat, "b3": dlogits.sum(0)}
        dm2 = (dlogits @ p["w3"]).reshape(m2.shape)
        da2 = pool_bwd(dm2, f2, a2.shape) * (z2 > 0)
        dm1, g["w2"], g["b2"] = conv_bwd(da2, cols2, p["w2"], m1.shape)
        da1 = pool_bwd(dm1, f1, a1.shape) * (z1 > 0)
        _, g["w1"], g["b1"] = conv_bwd(da1, cols1, p["w1"], x.shape)
        return g


def train(xtr, ytr, rng, epochs=EPOCHS, widths=WIDTHS):
    net = FloatCNN(rng, widths)
    m = {k: np.zeros_like(v) for k, v in net.p.items()}
    v = {k: np.zeros_like(v) for k, v in net.p.items()}
    t = 0
    n = len(xtr)
    for ep in range(epochs):
        lr = LR * 0.5 * (1 + np.cos(np.pi * ep / epochs))  # cosine decay
        order = rng.permutation(n)
        for s in range(0, n, BATCH):
            idx = order[s:s + BATCH]
            logits, _ = net.forward(xtr[idx], keep=True)
            z = logits - logits.max(1, keepdims=True)
            prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
            prob[np.arange(len(idx)), ytr[idx]] -= 1
            grads = net.backward(prob / len(idx))
            t += 1
            for k in net.p:
                gk = grads[k] + 1e-4 * net.p[k] * (k[0] == "w")
                m[k] = 0.9 * m[k] + 0.1 * gk
                v[k] = 0.999 * v[k] + 0.001 * gk * gk
                net.p[k] -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
    return net


# ------------------------------------------------------------------------------------------
# post-training quantisation
# ------------------------------------------------------------------------------------------
def _wq(w):
    """Per-output-channel symmetric int8 weights: scale = max|w| / 127."""
    flat = w.reshape(len(w), -1)
    scale = np.maximum(np.abs(flat).max(1), 1e-12) / 127.0
    q = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8).reshape(w.shape)
    return q, scale.astype(np.float32)


def quantize(net: FloatCNN, xcal, name="digits_cnn"):
    from intersim.nn.network import NetworkBuilder

    _, acts = net.forward(xcal)
    p = net.p
    # post-ReLU tensors: range [0, max] on the full int8 range, zero point -128 (ReLU is the clamp)
    s1 = float(np.float32(acts["a1"].max() / 255.0))
    s2 = float(np.float32(acts["a2"].max() / 255.0))
    lo, hi = float(acts["logits"].min()), float(acts["logits"].max())
    s3 = float(np.float32((hi - lo) / 255.0))
    z3 = int(np.clip(np.rint(-128 - lo / s3), -128, 127))

    b = NetworkBuilder(name, (1, 8, 8), IN_SCALE, IN_ZP, "onnx")
    xs = float(np.float32(IN_SCALE))
    w1, ws1 = _wq(p["w1"])
    b1 = np.rint(p["b1"] / (xs * ws1.astype(np.float64))).astype(np.int32)
    b.conv2d(w1, b1, ws1, s1, -128, pads=1, act="relu", name="conv1")
    b.maxpool(2, name="pool1")
    w2, ws2 = _wq(p["w2"])
    b2 = np.rint(p["b2"] / (np.float32(s1) * ws2.astype(np.float64))).astype(np.int32)
    b.conv2d(w2, b2, ws2, s2, -128, pads=1, act="relu", name="conv2")
    b.maxpool(2, name="pool2")
    b.flatten(name="flatten")
    w3, ws3 = _wq(p["w3"])
    b3 = np.rint(p["b3"] / (np.float32(s2) * ws3.astype(np.float64))).astype(np.int32)
    b.dense(w3, b3, ws3, s3, z3, name="fc", output="logits")
    return b.build()


def quantize_input(pixels):
    """Digits pixels 0..16, shape (N, 64) -> int8 (N, 1, 8, 8): q = 15 p - 128 (exact)."""
    return (np.asarray(pixels, np.int32) * 15 - 128).astype(np.int8).reshape(-1, 1, 8, 8)


def build(out_dir: Path, epochs=EPOCHS, verbose=True) -> dict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from intersim.nn.network_io import save_network

    d = load_digits()
    X = d.data.astype(np.int32)
    y = d.target.astype(np.int64)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=TEST_SIZE, random_state=SEED % (2**31), stratify=y)
    rng = np.random.default_rng(SEED)
    ftr = (Xtr / 16.0).reshape(-1, 1, 8, 8)
    fte = (Xte / 16.0).reshape(-1, 1, 8, 8)
    net = train(ftr, ytr, rng, epochs=epochs)
    float_acc = float((net.forward(fte)[0].argmax(1) == yte).mean())
    float_train = float((net.forward(ftr)[0].argmax(1) == ytr).mean())

    qnet = quantize(net, ftr)
    xq = quantize_input(Xte)
    preds = np.array([int(np.argmax(qnet.run(x))) for x in xq])
    int8_acc = float((preds == yte).mean())
    meta = {
        "name": "digits_cnn",
        "dataset": "scikit-learn load_digits (8x8, 1797 images, 10 classes)",
        "split": f"train_test_split(test_size={TEST_SIZE}, stratify=y, random_state={SEED % (2**31)})",
        "n_train": int(len(ytr)), "n_test": int(len(yte)),
        "float_accuracy": round(float_acc, 4), "float_train_accuracy": round(float_train, 4),
        "int8_accuracy": round(int8_acc, 4),
        "accuracy_claimed": True,
        "semantics": "onnx",
        "quantisation": "post-training, per-channel symmetric int8 weights, int32 bias, "
                        "per-tensor asymmetric int8 activations calibrated on the training split (min/max)",
        "input": "q = 15 * pixel - 128 (scale 1/240, zero point -128), pixel in 0..16",
        "macs": int(qnet.total_macs()),
        "weight_bytes": int(qnet.weight_bytes()),
        "seed": SEED, "epochs": int(epochs),
        "rebuild": "python -m intersim.nn.zoo.build_digits",
    }
    qnet.meta = dict(meta)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_network(qnet, out_dir / "digits_cnn.npz", samples=(xq, yte.astype(np.int16)))
    (out_dir / "digits_cnn.json").write_text(json.dumps(meta, indent=2) + "\n")
    if verbose:
        print(qnet.summary())
        print(json.dumps(meta, indent=2))
    return meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    a = ap.parse_args(argv)
    build(a.out, a.epochs)


if __name__ == "__main__":
    main()
