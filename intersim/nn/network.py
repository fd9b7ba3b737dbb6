"""Quantised int8 networks as a list of layers the engine can split into tasks.

A :class:`Network` is a DAG of :class:`Layer` objects in topological order; each layer writes
exactly one int8 tensor. Tensors carry no batch axis: feature maps are ``(C, H, W)``, vectors
``(N,)``. Every layer computes any slice ``[c_start, c_stop)`` of its output's axis 0 ("output
channels") from the full input arrays, so the engine can lower a layer into channel tiles; conv2d
and dense also split their reduction over input channels, with int32 partial sums kept in a
buffer between tasks (``accumulate`` then ``finalize``). Every split gives exactly the bytes of
:meth:`Network.run`.

Each tensor has a real-valued meaning ``real = scale * (q - zero_point)`` recorded in
``Network.qparams`` (scale [1/LSB], zero point int8).
"""
from __future__ import annotations
from dataclasses import dataclass, field
import numpy as np
from ..errors import ModelError
from .quant import (INT8_MAX, INT8_MIN, Requant, check_semantics, onnx_add_params,
                    tflite_add_params)
# the layer classes are part of this module's public surface (``from intersim.nn.network import Conv2D``)
from .layers import (  # noqa: F401
    OPS, Add, AvgPool2D, Concat, Conv2D, Dense, Flatten, Layer, MaxPool2D, Relu, Reshape,
)


@dataclass
class Network:
    """A quantised int8 network.

    name : str
    input_name, output_name : str
    tensors : dict[str, tuple]  shape of every int8 tensor, input and output included
    layers : list[Layer]  topological order; each writes exactly one tensor
    qparams : dict[str, tuple[float, int]]  (scale, zero_point) of each tensor
    semantics : "onnx" or "tflite"
    meta : dict  provenance: accuracy, source, ``accuracy_claimed``
    """

    name: str
    input_name: str
    output_name: str
    tensors: dict
    layers: list
    qparams: dict = field(default_factory=dict)
    semantics: str = "onnx"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        check_semantics(self.semantics)
        self.tensors = {k: tuple(int(v) for v in s) for k, s in self.tensors.items()}
        self.validate()

    def validate(self) -> None:
        """Check names, shapes and topological order; raise :class:`ModelError` naming the layer."""
        if self.input_name not in self.tensors:
            raise ModelError(f"network {self.name!r}: input {self.input_name!r} not among tensors")
        known = {self.input_name}
        names = set()
        for layer in self.layers:
            if layer.name in names:
                raise ModelError(f"network {self.name!r}: duplicate layer name {layer.name!r}")
            names.add(layer.name)
            for t, s in zip(layer.inputs, layer.in_shapes):
                if t not in known:
                    raise ModelError(f"layer {layer.name!r} reads {t!r} before any layer writes it")
                if self.tensors[t] != s:
                    raise ModelError(f"layer {layer.name!r} expects {t!r} of shape {s}, tensor is {self.tensors[t]}")
            if layer.output in known:
                raise ModelError(f"layer {layer.name!r} writes {layer.output!r}, which is already written")
            if self.tensors.get(layer.output) != layer.out_shape:
                raise ModelError(f"layer {layer.name!r} output {layer.output!r} has shape {layer.out_shape}, "
                                 f"tensors say {self.tensors.get(layer.output)}")
            known.add(layer.output)
        if self.output_name not in known:
            raise ModelError(f"network {self.name!r}: output {self.output_name!r} is never written")

    @property
    def input_shape(self) -> tuple:
        return self.tensors[self.input_name]

    @property
    def output_shape(self) -> tuple:
        return self.tensors[self.output_name]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ModelError(f"no layer {name!r} in {self.name!r}; layers: {[l.name for l in self.layers]}")

    def _check_input(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.int8 or x.shape != self.input_shape:
            raise ModelError(f"network {self.name!r} wants int8 input of shape {self.input_shape}, "
                             f"got {x.dtype} {x.shape}")
        return np.ascontiguousarray(x)

    def run_all(self, x) -> dict:
        """Every tensor (int8 arrays by name) of one inference on ``x`` (int8, ``input_shape``)."""
        bufs = {self.input_name: self._check_input(x)}
        for layer in self.layers:
            out = np.empty(layer.out_shape, np.int8)
            layer.compute([bufs[t] for t in layer.inputs], out, 0, layer.out_channels)
            bufs[layer.output] = out
        return bufs

    def run(self, x) -> np.ndarray:
        """Output tensor (int8) of one inference on ``x`` (int8 of shape ``input_shape``)."""
        return self.run_all(x)[self.output_name]

    def total_macs(self) -> int:
        return sum(layer.macs(0, layer.out_channels) for layer in self.layers if layer.reduces)

    def weight_bytes(self) -> int:
        return sum(layer.weight_bytes(0, layer.out_channels) for layer in self.layers)

    def summary(self) -> str:
        rows = [f"{self.name} ({self.semantics}): input {self.input_name} {self.input_shape}"]
        for layer in self.layers:
            rows.append(f"  {layer.name:<14} {layer.op:<8} {str(layer.out_shape):<16} "
                        f"MACs {layer.macs(0, layer.out_channels):>9,d}  weights {layer.weight_bytes(0, layer.out_channels):>7,d} B")
        rows.append(f"  total MACs {self.total_macs():,d}, weights+biases {self.weight_bytes():,d} B")
        return "\n".join(rows)


# =============================================================================================
# builder
# =============================================================================================
class NetworkBuilder:
    """Builds a :class:`Network` layer by layer, tracking shapes and quantisation parameters.

    ``scale`` arguments are real units per LSB; weights are int8 arrays with per-channel (or scalar)
    ``w_scale``; biases int32 in units of ``x_scale * w_scale[c]``.
    """

    def __init__(self, name: str, input_shape, input_scale: float, input_zero_point: int, semantics: str = "onnx",
                 input_name: str = "input"):
        self.name = name
        self.semantics = check_semantics(semantics)
        self.tensors = {input_name: tuple(int(v) for v in input_shape)}
        self.qparams = {input_name: (float(np.float32(input_scale)), int(input_zero_point))}
        self.layers: list[Layer] = []
        self.input_name = input_name
        self.last = input_name
        self._n = 0

    def _names(self, op, name, output):
        self._n += 1
        name = name or f"{op}{self._n}"
        return name, output or name

    def _act(self, act, y_scale, y_zp):
        if act in (None, "none"):
            return INT8_MIN, INT8_MAX
        lo = max(INT8_MIN, int(y_zp))
        if act == "relu":
            return lo, INT8_MAX
        if act == "relu6":
            # TFLM CalculateActivationRangeQuantized: zp + TfLiteRound(6.0f / scale) (float32, half away)
            six = int(np.floor(float(np.float32(6.0) / np.float32(y_scale)) + 0.5))
            return lo, min(INT8_MAX, int(y_zp) + six)
        raise ModelError(f"unknown fused activation {act!r}; valid: None, 'relu', 'relu6'")

    def _add(self, layer: Layer, qp) -> str:
        self.layers.append(layer)
        self.tensors[layer.output] = layer.out_shape
        self.qparams[layer.output] = (float(np.float32(qp[0])), int(qp[1]))
        self.last = layer.output
        return layer.output

    def conv2d(self, weight, bias, w_scale, y_scale, y_zero_point, stride=1, pads=0, dilation=1, groups=1,
               act=None, input=None, name=None, output=None) -> str:
        inp = input or self.last
        xs, xz = self.qparams[inp]
        name, output = self._names("conv", name, output)
        lo, hi = self._act(act, y_scale, y_zero_point)
        rq = Requant.from_scales(self.semantics, xs, w_scale, y_scale, y_zero_point, lo, hi)
        layer = Conv2D(name, inp, output, self.tensors[inp], weight, bias, rq, xz, None, stride, pads, dilation,
                       groups, w_scale=np.broadcast_to(np.asarray(w_scale, np.float32), (np.shape(weight)[0],)))
        return self._add(layer, (y_scale, y_zero_point))

    def dense(self, weight, bias, w_scale, y_scale, y_zero_point, act=None, input=None, name=None,
              output=None) -> str:
        inp = input or self.last
        xs, xz = self.qparams[inp]
        name, output = self._names("fc", name, output)
        lo, hi = self._act(act, y_scale, y_zero_point)
        rq = Requant.from_scales(self.semantics, xs, w_scale, y_scale, y_zero_point, lo, hi)
        layer = Dense(name, inp, output, self.tensors[inp], weight, bias, rq, xz,
                      w_scale=np.broadcast_to(np.asarray(w_scale, np.float32), (np.shape(weight)[0],)))
        return self._add(layer, (y_scale, y_zero_point))

    def maxpool(self, kernel, stride=None, pads=0, input=None, name=None, output=None) -> str:
        inp = input or self.last
        name, output = self._names("maxpool", name, output)
        return self._add(MaxPool2D(name, inp, output, self.tensors[inp], kernel, stride, pads), self.qparams[inp])

    def avgpool(self, kernel=None, stride=None, pads=0, y_scale=None, y_zero_point=None, input=None, name=None,
                output=None, count_include_pad=False) -> str:
        """Average pooling; ``kernel=None`` pools globally (output (C, 1, 1))."""
        inp = input or self.last
        shape = self.tensors[inp]
        kernel = tuple(shape[1:]) if kernel is None else kernel
        xs, xz = self.qparams[inp]
        ys = xs if y_scale is None else y_scale
        yz = xz if y_zero_point is None else y_zero_point
        name, output = self._names("avgpool", name, output)
        layer = AvgPool2D(name, inp, output, shape, kernel, stride, pads, semantics=self.semantics, x_scale=xs,
                          x_zero_point=xz, y_scale=ys, y_zero_point=yz, count_include_pad=count_include_pad)
        return self._add(layer, (ys, yz))

    def add(self, a, b, y_scale, y_zero_point, name=None, output=None) -> str:
        (as_, az), (bs, bz) = self.qparams[a], self.qparams[b]
        if self.semantics == "onnx":
            params = onnx_add_params(as_, az, bs, bz, y_scale, y_zero_point)
        else:
            params = tflite_add_params(as_, az, bs, bz, y_scale, y_zero_point)
        name, output = self._names("add", name, output)
        layer = Add(name, [a, b], output, [self.tensors[a], self.tensors[b]], params)
        return self._add(layer, (y_scale, y_zero_point))

    def relu(self, six=False, input=None, name=None, output=None) -> str:
        inp = input or self.last
        xs, xz = self.qparams[inp]
        lo, hi = self._act("relu6" if six else "relu", xs, xz)
        name, output = self._names("relu", name, output)
        return self._add(Relu(name, inp, output, self.tensors[inp], lo, hi), (xs, xz))

    def flatten(self, input=None, name=None, output=None) -> str:
        inp = input or self.last
        name, output = self._names("flatten", name, output)
        return self._add(Flatten(name, inp, output, self.tensors[inp]), self.qparams[inp])

    def concat(self, inputs, name=None, output=None) -> str:
        qps = {self.qparams[i] for i in inputs}
        if len(qps) != 1:
            raise ModelError(f"concat inputs {inputs} have different (scale, zero point): {sorted(qps)}")
        name, output = self._names("concat", name, output)
        return self._add(Concat(name, inputs, output, [self.tensors[i] for i in inputs]), qps.pop())

    def build(self, output=None, meta=None) -> Network:
        return Network(self.name, self.input_name, output or self.last, dict(self.tensors), list(self.layers),
                       dict(self.qparams), self.semantics, dict(meta or {}))


# =============================================================================================
# serialisation: one .npz holding a JSON spec plus the arrays
# =============================================================================================
