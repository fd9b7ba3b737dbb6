"""A small family of CNNs parameterised like iNAS's template, and their float forward pass in JAX.

iNAS (Mendis et al.) searches a backbone template: a number of convolution layers, each with its
own kernel size and number of filters, followed by fully connected layers. :class:`CNNSpec`
is that template: ``convs`` lists one :class:`ConvSpec` per layer (output channels, kernel
``(kh, kw)``, max-pool window after it), ``dense`` the hidden widths of the head; every conv and
hidden dense layer has a ReLU, the last dense layer gives the logits. Convolutions use stride 1
and 'same' zero padding (the extra row/column of an even kernel goes at the bottom/right, as
ONNX ``SAME_UPPER``). A 1-D CNN is the same thing with input ``(C, 1, L)`` and kernels ``(1, k)``.

Parameters are a dict ``{"conv0": {"w": (O, I, kh, kw), "b": (O,)}, ..., "fc0": {"w": (N, K),
"b": (N,)}, ...}`` of float32 arrays (numpy or JAX), the last ``fc`` being the classifier.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from ._backend import ModelError
from ._jax import require_jax


def _pair(v, what: str) -> tuple[int, int]:
    t = (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)
    if len(t) != 2 or min(t) < 1:
        raise ModelError(f"{what} must be a positive int or a pair of positive ints, got {v!r}")
    return t


@dataclass(frozen=True)
class ConvSpec:
    """One conv layer of the template: ``out_channels`` filters of ``kernel`` (kh, kw), then ReLU,
    then max pooling with window = stride = ``pool`` (``(1, 1)``: no pooling)."""

    out_channels: int
    kernel: tuple = (3, 3)
    pool: tuple = (1, 1)

    def __post_init__(self):
        if int(self.out_channels) < 1:
            raise ModelError(f"conv out_channels must be >= 1, got {self.out_channels!r}")
        object.__setattr__(self, "out_channels", int(self.out_channels))
        object.__setattr__(self, "kernel", _pair(self.kernel, "conv kernel"))
        object.__setattr__(self, "pool", _pair(self.pool, "pool window"))

    @property
    def pads(self) -> tuple[int, int, int, int]:
        """'same' zero padding (top, left, bottom, right) [pixels]."""
        kh, kw = self.kernel
        return ((kh - 1) // 2, (kw - 1) // 2, kh - 1 - (kh - 1) // 2, kw - 1 - (kw - 1) // 2)


@dataclass(frozen=True)
class CNNSpec:
    """Architecture: input shape (C, H, W), conv layers, hidden dense widths, number of classes."""

    input_shape: tuple
    convs: tuple
    dense: tuple = ()
    n_classes: int = 10

    def __post_init__(self):
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        object.__setattr__(self, "convs", tuple(c if isinstance(c, ConvSpec) else ConvSpec(*c) for c in self.convs))
        object.__setattr__(self, "dense", tuple(int(v) for v in self.dense))
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise ModelError(f"input_shape must be (C, H, W) of positive ints, got {self.input_shape!r}")
        if not self.convs:
            raise ModelError("a CNNSpec needs at least one conv layer; got convs=()")
        if min(self.dense, default=1) < 1 or int(self.n_classes) < 2:
            raise ModelError(f"dense widths must be >= 1 and n_classes >= 2, got {self.dense!r}, {self.n_classes!r}")
        self.feature_shapes()  # raises when pooling shrinks a map below 1

    def feature_shapes(self) -> list[tuple]:
        """Shape (C, H, W) after each conv block (conv, ReLU, pool)."""
        c, h, w = self.input_shape
        shapes = []
        for i, conv in enumerate(self.convs):
            h, w = h // conv.pool[0], w // conv.pool[1]
            if h < 1 or w < 1:
                raise ModelError(f"conv{i}: pooling {conv.pool} shrinks the feature map to {h}x{w}; "
                                 f"input {self.input_shape} allows fewer or smaller pools")
            c = conv.out_channels
            shapes.append((c, h, w))
        return shapes

    @property
    def flat_features(self) -> int:
        c, h, w = self.feature_shapes()[-1]
        return c * h * w

    def layer_names(self) -> list[str]:
        """Parameter keys in execution order: conv0.., fc0.. (the last fc is the classifier)."""
        return [f"conv{i}" for i in range(len(self.convs))] + [f"fc{j}" for j in range(len(self.dense) + 1)]

    def with_widths(self, widths) -> CNNSpec:
        """The same template with conv output channels ``widths`` (one per conv layer)."""
        if len(widths) != len(self.convs):
            raise ModelError(f"need {len(self.convs)} conv widths, got {list(widths)}")
        return replace(self, convs=tuple(replace(c, out_channels=int(w)) for c, w in zip(self.convs, widths)))

    def to_dict(self) -> dict:
        return {"input_shape": list(self.input_shape), "n_classes": int(self.n_classes), "dense": list(self.dense),
                "convs": [{"out_channels": c.out_channels, "kernel": list(c.kernel), "pool": list(c.pool)}
                          for c in self.convs]}

    @classmethod
    def from_dict(cls, d: dict) -> CNNSpec:
        return cls(tuple(d["input_shape"]), tuple(ConvSpec(c["out_channels"], tuple(c["kernel"]), tuple(c["pool"]))
                                                   for c in d["convs"]), tuple(d["dense"]), int(d["n_classes"]))


def inas_template_space(input_shape, n_layers, kernel_choices, width_choices, pool_every=1, pool=(2, 2),
                        dense=(), n_classes=10) -> list[CNNSpec]:
    """Every :class:`CNNSpec` of iNAS's per-layer template choices, in a fixed order.

    Parameters
    ----------
    input_shape : (C, H, W)
    n_layers : int
        Number of conv layers.
    kernel_choices : list of kernel sizes (int or (kh, kw)); each layer picks one.
    width_choices : list of int; each layer picks a number of filters.
    pool_every : int
        A ``pool`` max-pool follows every ``pool_every``-th conv layer.
    Specs whose pools shrink the map below 1x1 are left out.
    """
    specs = []
    per_layer = list(itertools.product(kernel_choices, width_choices))
    for combo in itertools.product(per_layer, repeat=int(n_layers)):
        convs = tuple(ConvSpec(w, k, pool if (i + 1) % pool_every == 0 else (1, 1)) for i, (k, w) in enumerate(combo))
        try:
            specs.append(CNNSpec(tuple(input_shape), convs, tuple(dense), n_classes))
        except ModelError:
            continue
    return specs


def init_params(spec: CNNSpec, seed: int) -> dict:
    """He-normal weights and zero biases (float32), from ``jax.random.PRNGKey(seed)`` split per layer."""
    jax, jnp, _ = require_jax()
    keys = jax.random.split(jax.random.PRNGKey(int(seed)), len(spec.layer_names()))
    params, c_in = {}, spec.input_shape[0]
    for i, conv in enumerate(spec.convs):
        shape = (conv.out_channels, c_in) + conv.kernel
        fan_in = c_in * conv.kernel[0] * conv.kernel[1]
        params[f"conv{i}"] = {"w": jax.random.normal(keys[i], shape, jnp.float32) * np.float32(np.sqrt(2.0 / fan_in)),
                              "b": jnp.zeros((conv.out_channels,), jnp.float32)}
        c_in = conv.out_channels
    k_in = spec.flat_features
    for j, n_out in enumerate(spec.dense + (spec.n_classes,)):
        key = keys[len(spec.convs) + j]
        params[f"fc{j}"] = {"w": jax.random.normal(key, (n_out, k_in), jnp.float32) * np.float32(np.sqrt(2.0 / k_in)),
                            "b": jnp.zeros((n_out,), jnp.float32)}
        k_in = n_out
    return params


def conv_block(params_layer, conv: ConvSpec, x):
    """conv ('same' pads, stride 1) + ReLU + max pool on a batch NCHW; returns (pre-pool, pooled)."""
    jax, jnp, _ = require_jax()
    t, l, b, r = conv.pads
    y = jax.lax.conv_general_dilated(x, params_layer["w"], (1, 1), ((t, b), (l, r)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    a = jax.nn.relu(y + params_layer["b"][None, :, None, None])
    if conv.pool == (1, 1):
        return a, a
    ph, pw = conv.pool
    h, w = (a.shape[2] // ph) * ph, (a.shape[3] // pw) * pw  # floor, as intersim's maxpool (ceil_mode 0)
    pooled = jax.lax.reduce_window(a[:, :, :h, :w], -jnp.inf, jax.lax.max, (1, 1, ph, pw), (1, 1, ph, pw), "VALID")
    return a, pooled


def forward(params: dict, spec: CNNSpec, x, with_activations: bool = False):
    """Logits (N, n_classes) of a float batch x (N, C, H, W); optionally every activation.

    The activations dict maps ``conv{i}`` (post-ReLU, before pooling), ``block{i}`` (after
    pooling), ``fc{j}`` (post-ReLU hidden) and ``logits``: the tensors whose ranges calibrate
    the int8 network.
    """
    _, jnp, _ = require_jax()
    acts = {}
    h = jnp.asarray(x, jnp.float32)
    for i, conv in enumerate(spec.convs):
        acts[f"conv{i}"], h = conv_block(params[f"conv{i}"], conv, h)
        acts[f"block{i}"] = h
    h = h.reshape(h.shape[0], -1)
    n_fc = len(spec.dense) + 1
    for j in range(n_fc):
        p = params[f"fc{j}"]
        h = h @ p["w"].T + p["b"]
        if j < n_fc - 1:
            h = jnp.maximum(h, 0.0)
            acts[f"fc{j}"] = h
    acts["logits"] = h
    return (h, acts) if with_activations else h


def to_numpy(params: dict) -> dict:
    """A copy of ``params`` as nested dicts of float32 numpy arrays."""
    return {k: {n: np.array(v, np.float32) for n, v in d.items()} for k, d in params.items()}
