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

from . import int8_kernels as K
from ..errors import ModelError
from .quant import (INT8_MAX, INT8_MIN, Requant, TfliteAddParams, check_semantics, onnx_add_params,
                    tflite_add_params)

OPS = ("conv2d", "dense", "maxpool", "avgpool", "add", "relu", "flatten", "reshape", "concat")


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


class Layer:
    """One operation writing one tensor. Subclasses set ``op`` and implement ``compute``.

    Attributes
    ----------
    name : str
    op : str  one of :data:`OPS`
    inputs : list[str]  tensor names read
    output : str  tensor name written
    in_shapes : list[tuple]  shapes of ``inputs``
    out_shape : tuple  shape of ``output``
    out_channels : int  size of the output's axis 0 (the axis tasks tile)
    in_channels : int  size of the reduction's input-channel axis (1 without a reduction)
    kernel : str  cost-model kernel kind ("cpu")
    reduces : bool  True when accumulate/finalize are available (conv2d, dense)
    """

    op = ""
    reduces = False

    def __init__(self, name: str, inputs: list[str], output: str, in_shapes: list[tuple], out_shape: tuple,
                 kernel: str = "cpu"):
        self.name = str(name)
        self.inputs = list(inputs)
        self.output = str(output)
        self.in_shapes = [tuple(int(v) for v in s) for s in in_shapes]
        self.out_shape = tuple(int(v) for v in out_shape)
        self.kernel = kernel
        self.out_channels = self.out_shape[0]
        self.in_channels = 1

    # -- the contract ------------------------------------------------------------------------
    def compute(self, inputs: list[np.ndarray], out: np.ndarray, c_start: int, c_stop: int) -> None:
        """Write ``out[c_start:c_stop]`` (axis 0) from the full input arrays."""
        raise NotImplementedError

    def macs(self, c_start: int, c_stop: int) -> int:
        """Multiply-accumulates [MAC] to produce output channels [c_start, c_stop).

        Layers without multiplications count one per element operation (a comparison of max
        pooling, an addition of average pooling or add, a clamp of ReLU) so the cost model still
        sees their work; flatten/reshape/concat count 0 (a copy, charged as memory traffic)."""
        return 0

    def weight_bytes(self, c_start: int, c_stop: int) -> int:
        """Bytes [B] of weights (int8) and biases (int32) those output channels read."""
        return 0

    def n_outputs(self, c_start: int, c_stop: int) -> int:
        """Output elements written for channels [c_start, c_stop)."""
        return (c_stop - c_start) * _prod(self.out_shape[1:])

    def input_bytes(self, c_start: int, c_stop: int) -> int:
        """Input activation bytes [B] read for channels [c_start, c_stop) (upper bound: whole inputs,
        except where a layer reads only its own channels)."""
        return sum(_prod(s) for s in self.in_shapes)

    def accumulate(self, inputs, psum, ic_start, ic_stop, c_start, c_stop) -> None:
        raise ModelError(f"layer {self.name!r} ({self.op}) has no reduction to split; "
                         "input-channel tiling exists for conv2d and dense")

    def finalize(self, psum, out, c_start, c_stop) -> None:
        raise ModelError(f"layer {self.name!r} ({self.op}) has no partial sums to finalize")

    def macs_partial(self, ic_start, ic_stop, c_start, c_stop) -> int:
        raise ModelError(f"layer {self.name!r} ({self.op}) has no reduction to split")

    # -- helpers -----------------------------------------------------------------------------
    def _check_range(self, c_start, c_stop, n=None, what="output channel"):
        n = self.out_channels if n is None else n
        if not (0 <= c_start <= c_stop <= n):
            raise ModelError(f"layer {self.name!r}: {what} range [{c_start}, {c_stop}) not within [0, {n}]")

    def describe(self) -> dict:
        return {"name": self.name, "op": self.op, "inputs": self.inputs, "output": self.output,
                "out_shape": self.out_shape, "macs": self.macs(0, self.out_channels)}

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r}, {self.inputs} -> {self.output} {self.out_shape})"


class Conv2D(Layer):
    """Quantised 2-D convolution (groups incl. depthwise) with fused requantisation and clamp.

    weight int8 (C_out, C_in/groups, kh, kw); bias int32 (C_out,); requant per output channel;
    x_zero_point int; w_zero_point int32 (C_out,); w_scale float32 (C_out,) or None (kept for export).
    ``in_channels`` is C_in/groups: accumulate's ``[ic_start, ic_stop)`` indexes the weight's
    axis 1, the same range in every group.
    """

    op = "conv2d"
    reduces = True

    def __init__(self, name, input, output, in_shape, weight, bias, requant: Requant, x_zero_point: int,
                 w_zero_point=None, stride=1, pads=0, dilation=1, groups=1, w_scale=None, kernel="cpu"):
        x_probe = np.zeros(in_shape, np.int8)
        _, w, b, st, pd, dl, g, oshape = K._check_conv(x_probe, weight, bias, stride, pads, dilation, groups)
        super().__init__(name, [input], output, [in_shape], oshape, kernel)
        self.weight, self.bias = w, b
        self.stride, self.pads, self.dilation, self.groups = st, pd, dl, g
        self.requant = requant.expand(oshape[0])
        self.x_zero_point = int(x_zero_point)
        self.w_zero_point = K._wzp(w_zero_point, oshape[0])
        self.w_scale = None if w_scale is None else np.array(np.broadcast_to(np.asarray(w_scale, np.float32), (w.shape[0],)))
        self.in_channels = w.shape[1]
        self._rq = (self.requant.mode, self.requant.scale, self.requant.multiplier, self.requant.shift,
                    self.requant.zero_point, self.requant.act_min, self.requant.act_max)
        self._wk = K.pack_conv_weights(w, self.w_zero_point)  # int16 GEMM operand, w - w_zp

    def _gemm(self, n_channels, ic_start, ic_stop) -> bool:
        kh, kw = self.weight.shape[2:]
        return K.use_gemm(self.out_channels // self.groups, n_channels, (ic_stop - ic_start) * kh * kw)

    def _geom(self):
        return (self.stride[0], self.stride[1], self.pads[0], self.pads[1], self.dilation[0], self.dilation[1],
                self.groups)

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        if self._gemm(c_stop - c_start, 0, self.in_channels):
            kh, kw = self.weight.shape[2:]
            K._conv2d_gemm(inputs[0], np.int32(self.x_zero_point), self._wk, self.bias, True, kh, kw,
                           *self._geom(), 0, self.in_channels, int(c_start), int(c_stop), True, *self._rq,
                           K._NO_PSUM, out)
        else:
            K._conv2d(inputs[0], np.int32(self.x_zero_point), self.weight, self.w_zero_point, self.bias,
                      *self._geom(), *self._rq, int(c_start), int(c_stop), out)

    def accumulate(self, inputs, psum, ic_start, ic_stop, c_start, c_stop):
        self._check_range(c_start, c_stop)
        self._check_range(ic_start, ic_stop, self.in_channels, "input channel")
        add_bias = ic_start == 0 and ic_stop > 0
        if self._gemm(c_stop - c_start, ic_start, ic_stop):
            kh, kw = self.weight.shape[2:]
            K._conv2d_gemm(inputs[0], np.int32(self.x_zero_point), self._wk, self.bias, add_bias, kh, kw,
                           *self._geom(), int(ic_start), int(ic_stop), int(c_start), int(c_stop), False, 0,
                           K._F32_1, K._I32_1, K._I32_1, 0, -128, 127, psum, K._NO_OUT)
        else:
            K._conv2d_accumulate(inputs[0], np.int32(self.x_zero_point), self.weight, self.w_zero_point, self.bias,
                                 add_bias, *self._geom(), int(ic_start), int(ic_stop), int(c_start), int(c_stop),
                                 psum)

    def finalize(self, psum, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        K._requant_rows(psum.reshape(psum.shape[0], -1), *self._rq, int(c_start), int(c_stop),
                        out.reshape(out.shape[0], -1))

    def macs_partial(self, ic_start, ic_stop, c_start, c_stop):
        kh, kw = self.weight.shape[2:]
        return (c_stop - c_start) * (ic_stop - ic_start) * kh * kw * self.out_shape[1] * self.out_shape[2]

    def macs(self, c_start, c_stop):
        return self.macs_partial(0, self.in_channels, c_start, c_stop)

    def weight_bytes(self, c_start, c_stop):
        return (c_stop - c_start) * (self.weight[0].size + 4)

    def input_bytes(self, c_start, c_stop):
        if c_stop <= c_start:
            return 0
        cog = self.out_channels // self.groups
        g0, g1 = c_start // cog, (c_stop - 1) // cog + 1
        return (g1 - g0) * self.in_channels * self.in_shapes[0][1] * self.in_shapes[0][2]


class Dense(Layer):
    """Quantised fully connected layer: x int8 (K,) -> int8 (N,); weight int8 (N, K), bias int32 (N,)."""

    op = "dense"
    reduces = True

    def __init__(self, name, input, output, in_shape, weight, bias, requant: Requant, x_zero_point: int,
                 w_zero_point=None, w_scale=None, kernel="cpu"):
        _, w, b = K._check_dense(np.zeros(in_shape, np.int8), weight, bias)
        super().__init__(name, [input], output, [in_shape], (w.shape[0],), kernel)
        self.weight, self.bias = w, b
        self.requant = requant.expand(w.shape[0])
        self.x_zero_point = int(x_zero_point)
        self.w_zero_point = K._wzp(w_zero_point, w.shape[0])
        self.w_scale = None if w_scale is None else np.array(np.broadcast_to(np.asarray(w_scale, np.float32), (w.shape[0],)))
        self.in_channels = w.shape[1]
        self._rq = (self.requant.mode, self.requant.scale, self.requant.multiplier, self.requant.shift,
                    self.requant.zero_point, self.requant.act_min, self.requant.act_max)
        self._wk = K.pack_dense_weights(w, self.w_zero_point)  # int16, w - w_zp

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        K._dense_i16(inputs[0], np.int32(self.x_zero_point), self._wk, self.bias, True, 0, self.in_channels,
                     int(c_start), int(c_stop), True, *self._rq, K._NO_VEC32, out)

    def accumulate(self, inputs, psum, ic_start, ic_stop, c_start, c_stop):
        self._check_range(c_start, c_stop)
        self._check_range(ic_start, ic_stop, self.in_channels, "input feature")
        K._dense_i16(inputs[0], np.int32(self.x_zero_point), self._wk, self.bias, ic_start == 0 and ic_stop > 0,
                     int(ic_start), int(ic_stop), int(c_start), int(c_stop), False, 0, K._F32_1, K._I32_1,
                     K._I32_1, 0, -128, 127, psum, K._NO_VEC8)

    def finalize(self, psum, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        K._requant_rows(psum.reshape(-1, 1), *self._rq, int(c_start), int(c_stop), out.reshape(-1, 1))

    def macs_partial(self, ic_start, ic_stop, c_start, c_stop):
        return (c_stop - c_start) * (ic_stop - ic_start)

    def macs(self, c_start, c_stop):
        return self.macs_partial(0, self.in_channels, c_start, c_stop)

    def weight_bytes(self, c_start, c_stop):
        return (c_stop - c_start) * (self.weight.shape[1] + 4)


class MaxPool2D(Layer):
    """Max pooling; the output shares the input's scale and zero point. act_min/act_max: fused clamp."""

    op = "maxpool"

    def __init__(self, name, input, output, in_shape, kernel_shape, stride=None, pads=0, dilation=1,
                 act_min=INT8_MIN, act_max=INT8_MAX):
        stride = kernel_shape if stride is None else stride
        _, k, s, p, d, oshape = K._check_pool(np.zeros(in_shape, np.int8), kernel_shape, stride, pads, dilation)
        super().__init__(name, [input], output, [in_shape], oshape)
        self.kernel_shape, self.stride, self.pads, self.dilation = k, s, p, d
        self.act_min, self.act_max = int(act_min), int(act_max)

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        k, s, p, d = self.kernel_shape, self.stride, self.pads, self.dilation
        K._maxpool2d(inputs[0], k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], self.act_min, self.act_max,
                     int(c_start), int(c_stop), out)

    def macs(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop) * self.kernel_shape[0] * self.kernel_shape[1]

    def input_bytes(self, c_start, c_stop):
        return (c_stop - c_start) * _prod(self.in_shapes[0][1:])


class AvgPool2D(Layer):
    """Average pooling.

    semantics "onnx": onnxruntime's QLinearAveragePool arithmetic (float32), or its integer
    global-pool path when the kernel covers the whole unpadded input (as onnxruntime switches);
    "tflite": TFLM integer mean (input and output share scale and zero point).
    """

    op = "avgpool"

    def __init__(self, name, input, output, in_shape, kernel_shape, stride=None, pads=0, *, semantics: str,
                 x_scale=1.0, x_zero_point=0, y_scale=1.0, y_zero_point=0, count_include_pad=False,
                 act_min=INT8_MIN, act_max=INT8_MAX):
        stride = kernel_shape if stride is None else stride
        _, k, s, p, _, oshape = K._check_pool(np.zeros(in_shape, np.int8), kernel_shape, stride, pads, 1)
        super().__init__(name, [input], output, [in_shape], oshape)
        self.semantics = check_semantics(semantics)
        self.kernel_shape, self.stride, self.pads = k, s, p
        self.x_scale, self.x_zero_point = np.float32(x_scale), int(x_zero_point)
        self.y_scale, self.y_zero_point = np.float32(y_scale), int(y_zero_point)
        self.count_include_pad = bool(count_include_pad)
        self.act_min, self.act_max = int(act_min), int(act_max)
        self.is_global = k == tuple(in_shape[1:]) and p == (0, 0, 0, 0)
        if semantics == "onnx" and self.is_global:
            self._gscale = K.onnx_gavg_scale(x_scale, y_scale, k[0] * k[1])
        if semantics == "tflite" and (x_scale != y_scale or x_zero_point != y_zero_point):
            raise ModelError(f"layer {name!r}: TFLite int8 average pooling needs equal input/output "
                             f"quantisation, got ({x_scale}, {x_zero_point}) -> ({y_scale}, {y_zero_point})")

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        x = inputs[0]
        k, s, p = self.kernel_shape, self.stride, self.pads
        if self.semantics == "onnx":
            if self.is_global:
                K._gavgpool_onnx(x.reshape(x.shape[0], -1), self._gscale, np.int32(self.x_zero_point),
                                 np.int32(self.y_zero_point), int(c_start), int(c_stop), out.reshape(-1))
            else:
                K._avgpool2d_onnx(x, self.x_scale, np.int32(self.x_zero_point), self.y_scale,
                                  np.int32(self.y_zero_point), k[0], k[1], s[0], s[1], p[0], p[1],
                                  self.count_include_pad, int(c_start), int(c_stop), out)
        else:
            K._avgpool2d_tflite(x, k[0], k[1], s[0], s[1], p[0], p[1], self.act_min, self.act_max,
                                int(c_start), int(c_stop), out)

    def macs(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop) * self.kernel_shape[0] * self.kernel_shape[1]

    def input_bytes(self, c_start, c_stop):
        return (c_stop - c_start) * _prod(self.in_shapes[0][1:])


class Add(Layer):
    """Quantised element-wise add of two equal-shape tensors (or a tensor and a constant ``const``).

    params: onnx ``(ratio_a, ratio_b, fixed)`` float32 or :class:`~intersim.nn.quant.TfliteAddParams`.
    """

    op = "add"

    def __init__(self, name, inputs, output, in_shapes, params, const=None, act_min=INT8_MIN, act_max=INT8_MAX,
                 const_qparams=None):
        self.const_qparams = None if const_qparams is None else (float(np.float32(const_qparams[0])),
                                                                 int(const_qparams[1]))
        shapes = [tuple(s) for s in in_shapes]
        if const is not None:
            const = np.ascontiguousarray(const, dtype=np.int8)
            if len(inputs) != 1 or const.shape != shapes[0]:
                raise ModelError(f"layer {name!r}: add with a constant needs one input of the constant's shape "
                                 f"{const.shape}, got {inputs} {shapes}")
        elif len(inputs) != 2 or shapes[0] != shapes[1]:
            raise ModelError(f"layer {name!r}: add needs two inputs of equal shape, got {inputs} {shapes}")
        super().__init__(name, inputs, output, shapes, shapes[0])
        self.params = params
        self.const = const
        self.act_min, self.act_max = int(act_min), int(act_max)

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        a = inputs[0]
        b = self.const if self.const is not None else inputs[1]
        n = a.shape[0]
        a2, b2, o2 = a.reshape(n, -1), b.reshape(n, -1), out.reshape(n, -1)
        if isinstance(self.params, TfliteAddParams):
            K._add_tflite(a2, b2, self.params.as_array(), self.act_min, self.act_max, int(c_start), int(c_stop), o2)
        else:
            ra, rb, fx = self.params
            K._add_onnx(a2, b2, np.float32(ra), np.float32(rb), np.float32(fx), int(c_start), int(c_stop), o2)

    def macs(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop)

    def weight_bytes(self, c_start, c_stop):
        return 0 if self.const is None else self.n_outputs(c_start, c_stop)

    def input_bytes(self, c_start, c_stop):
        return len(self.inputs) * self.n_outputs(c_start, c_stop)


class Relu(Layer):
    """Clamp on int8 values: ReLU when ``lo`` is the zero point, ReLU6 with ``hi`` too (same qparams)."""

    op = "relu"

    def __init__(self, name, input, output, in_shape, lo: int, hi: int = INT8_MAX):
        super().__init__(name, [input], output, [in_shape], in_shape)
        self.lo, self.hi = int(lo), int(hi)

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        x = inputs[0]
        n = x.shape[0]
        K._clip(x.reshape(n, -1), self.lo, self.hi, int(c_start), int(c_stop), out.reshape(n, -1))

    def macs(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop)

    def input_bytes(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop)


class Reshape(Layer):
    """Flatten / reshape (row-major, as ONNX): a copy, no arithmetic."""

    op = "reshape"

    def __init__(self, name, input, output, in_shape, out_shape):
        out_shape = tuple(int(v) for v in out_shape)
        if _prod(in_shape) != _prod(out_shape):
            raise ModelError(f"layer {name!r}: cannot reshape {tuple(in_shape)} to {out_shape}")
        super().__init__(name, [input], output, [in_shape], out_shape)

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        out[c_start:c_stop] = inputs[0].reshape(self.out_shape)[c_start:c_stop]

    def input_bytes(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop)


class Flatten(Reshape):
    """(C, H, W) -> (C*H*W,), the ONNX Flatten(axis=1) of a batch-1 tensor."""

    op = "flatten"

    def __init__(self, name, input, output, in_shape):
        super().__init__(name, input, output, in_shape, (_prod(in_shape),))


class Concat(Layer):
    """Concatenation along axis 0 (channels); every input must share the output's qparams."""

    op = "concat"

    def __init__(self, name, inputs, output, in_shapes):
        shapes = [tuple(s) for s in in_shapes]
        if len({s[1:] for s in shapes}) != 1:
            raise ModelError(f"layer {name!r}: concat inputs differ beyond axis 0: {shapes}")
        super().__init__(name, inputs, output, shapes, (sum(s[0] for s in shapes),) + shapes[0][1:])
        self._starts = np.cumsum([0] + [s[0] for s in shapes])

    def compute(self, inputs, out, c_start, c_stop):
        self._check_range(c_start, c_stop)
        for i, x in enumerate(inputs):
            a, b = int(self._starts[i]), int(self._starts[i + 1])
            lo, hi = max(a, c_start), min(b, c_stop)
            if lo < hi:
                out[lo:hi] = x[lo - a:hi - a]

    def input_bytes(self, c_start, c_stop):
        return self.n_outputs(c_start, c_stop)


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
def _f(v) -> float:
    return float(np.float32(v))


def _layer_spec(layer: Layer, arrays: dict, i: int) -> dict:
    s = {"name": layer.name, "op": layer.op, "inputs": layer.inputs, "output": layer.output,
         "in_shapes": [list(v) for v in layer.in_shapes], "out_shape": list(layer.out_shape), "kernel": layer.kernel}
    key = f"L{i}."
    if isinstance(layer, (Conv2D, Dense)):
        arrays[key + "weight"] = layer.weight
        arrays[key + "bias"] = layer.bias
        arrays[key + "w_zero_point"] = layer.w_zero_point
        if layer.w_scale is not None:
            arrays[key + "w_scale"] = layer.w_scale
        rq = layer.requant
        arrays[key + "rq_scale"], arrays[key + "rq_multiplier"], arrays[key + "rq_shift"] = rq.scale, rq.multiplier, rq.shift
        s.update(x_zero_point=layer.x_zero_point,
                 requant={"semantics": rq.semantics, "zero_point": rq.zero_point, "act_min": rq.act_min,
                          "act_max": rq.act_max})
        if isinstance(layer, Conv2D):
            s.update(stride=list(layer.stride), pads=list(layer.pads), dilation=list(layer.dilation), groups=layer.groups)
    elif isinstance(layer, MaxPool2D):
        s.update(kernel_shape=list(layer.kernel_shape), stride=list(layer.stride), pads=list(layer.pads),
                 dilation=list(layer.dilation), act_min=layer.act_min, act_max=layer.act_max)
    elif isinstance(layer, AvgPool2D):
        s.update(kernel_shape=list(layer.kernel_shape), stride=list(layer.stride), pads=list(layer.pads),
                 semantics=layer.semantics, x_scale=_f(layer.x_scale), x_zero_point=layer.x_zero_point,
                 y_scale=_f(layer.y_scale), y_zero_point=layer.y_zero_point,
                 count_include_pad=layer.count_include_pad, act_min=layer.act_min, act_max=layer.act_max)
    elif isinstance(layer, Add):
        if isinstance(layer.params, TfliteAddParams):
            s["params"] = {"tflite": layer.params.__dict__.copy()}
        else:
            s["params"] = {"onnx": [_f(v) for v in layer.params]}
        if layer.const is not None:
            arrays[key + "const"] = layer.const
        s.update(act_min=layer.act_min, act_max=layer.act_max,
                 const_qparams=None if layer.const_qparams is None else list(layer.const_qparams))
    elif isinstance(layer, Relu):
        s.update(lo=layer.lo, hi=layer.hi)
    elif isinstance(layer, (Reshape, Concat)):
        pass
    else:
        raise ModelError(f"cannot serialise layer {layer.name!r} of type {type(layer).__name__}")
    return s


def _layer_from_spec(s: dict, arrays, i: int) -> Layer:
    key = f"L{i}."
    op, name, inputs, output = s["op"], s["name"], s["inputs"], s["output"]
    in_shapes = [tuple(v) for v in s["in_shapes"]]
    if op in ("conv2d", "dense"):
        r = s["requant"]
        rq = Requant(r["semantics"], r["zero_point"], arrays[key + "rq_scale"], arrays[key + "rq_multiplier"],
                     arrays[key + "rq_shift"], r["act_min"], r["act_max"])
        ws = arrays[key + "w_scale"] if key + "w_scale" in arrays else None
        if op == "conv2d":
            return Conv2D(name, inputs[0], output, in_shapes[0], arrays[key + "weight"], arrays[key + "bias"], rq,
                          s["x_zero_point"], arrays[key + "w_zero_point"], s["stride"], s["pads"], s["dilation"],
                          s["groups"], w_scale=ws, kernel=s.get("kernel", "cpu"))
        return Dense(name, inputs[0], output, in_shapes[0], arrays[key + "weight"], arrays[key + "bias"], rq,
                     s["x_zero_point"], arrays[key + "w_zero_point"], w_scale=ws, kernel=s.get("kernel", "cpu"))
    if op == "maxpool":
        return MaxPool2D(name, inputs[0], output, in_shapes[0], s["kernel_shape"], s["stride"], s["pads"],
                         s["dilation"], s["act_min"], s["act_max"])
    if op == "avgpool":
        return AvgPool2D(name, inputs[0], output, in_shapes[0], s["kernel_shape"], s["stride"], s["pads"],
                         semantics=s["semantics"], x_scale=s["x_scale"], x_zero_point=s["x_zero_point"],
                         y_scale=s["y_scale"], y_zero_point=s["y_zero_point"],
                         count_include_pad=s["count_include_pad"], act_min=s["act_min"], act_max=s["act_max"])
    if op == "add":
        p = s["params"]
        params = TfliteAddParams(**p["tflite"]) if "tflite" in p else tuple(np.float32(v) for v in p["onnx"])
        const = arrays[key + "const"] if key + "const" in arrays else None
        return Add(name, inputs, output, in_shapes, params, const, s["act_min"], s["act_max"],
                   s.get("const_qparams"))
    if op == "relu":
        return Relu(name, inputs[0], output, in_shapes[0], s["lo"], s["hi"])
    if op == "flatten":
        return Flatten(name, inputs[0], output, in_shapes[0])
    if op == "reshape":
        return Reshape(name, inputs[0], output, in_shapes[0], s["out_shape"])
    if op == "concat":
        return Concat(name, inputs, output, in_shapes)
    raise ModelError(f"layer {name!r}: unknown op {op!r}; valid: {', '.join(OPS)}")


def save_network(net: Network, path, samples=None) -> None:
    """Write ``net`` (and optionally ``samples = (x_int8[N, ...], labels[N])``) to one ``.npz``."""
    import json

    arrays: dict = {}
    spec = {"format": "intersim-network", "version": 1, "name": net.name, "input_name": net.input_name,
            "output_name": net.output_name, "tensors": {k: list(v) for k, v in net.tensors.items()},
            "qparams": {k: [_f(v[0]), int(v[1])] for k, v in net.qparams.items()}, "semantics": net.semantics,
            "meta": net.meta, "layers": [_layer_spec(l, arrays, i) for i, l in enumerate(net.layers)]}
    if samples is not None:
        arrays["samples_x"] = np.asarray(samples[0], np.int8)
        arrays["samples_y"] = np.asarray(samples[1])
    arrays["spec"] = np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)


def load_network(path) -> Network:
    """Read a network written by :func:`save_network`."""
    import json

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if "spec" not in arrays:
        raise ModelError(f"{path}: not an intersim network file (no 'spec' entry)")
    spec = json.loads(arrays["spec"].tobytes().decode())
    if spec.get("format") != "intersim-network":
        raise ModelError(f"{path}: format {spec.get('format')!r}, expected 'intersim-network'")
    layers = [_layer_from_spec(s, arrays, i) for i, s in enumerate(spec["layers"])]
    return Network(spec["name"], spec["input_name"], spec["output_name"],
                   {k: tuple(v) for k, v in spec["tensors"].items()}, layers,
                   {k: (float(v[0]), int(v[1])) for k, v in spec["qparams"].items()}, spec["semantics"],
                   spec.get("meta", {}))


def load_samples(path) -> tuple[np.ndarray, np.ndarray]:
    """(x_int8[N, ...], labels[N]) stored beside a network by :func:`save_network`."""
    with np.load(path, allow_pickle=False) as z:
        if "samples_x" not in z.files:
            raise ModelError(f"{path}: holds no samples")
        return z["samples_x"], z["samples_y"]
