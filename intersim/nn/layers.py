"""The layers of a quantised int8 network: each computes any slice ``[c_start, c_stop)`` of its
output's axis 0 from the full input arrays (conv2d and dense also split their reduction over
input channels with int32 partial sums), so the engine can lower a layer into tasks."""
from __future__ import annotations
import numpy as np
from . import int8_kernels as K
from ..errors import ModelError
from .quant import (INT8_MAX, INT8_MIN, Requant, TfliteAddParams, check_semantics)


OPS = ("conv2d", "dense", "maxpool", "avgpool", "add", "relu", "flatten", "reshape", "concat")


def element_count(shape) -> int:
    """Elements of a tensor of ``shape`` [1] (1 for a scalar shape ``()``)."""
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
        return (c_stop - c_start) * element_count(self.out_shape[1:])

    def input_bytes(self, c_start: int, c_stop: int) -> int:
        """Input activation bytes [B] read for channels [c_start, c_stop) (upper bound: whole inputs,
        except where a layer reads only its own channels)."""
        return sum(element_count(s) for s in self.in_shapes)

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
        return (c_stop - c_start) * element_count(self.in_shapes[0][1:])


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
        return (c_stop - c_start) * element_count(self.in_shapes[0][1:])


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
        if element_count(in_shape) != element_count(out_shape):
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
        super().__init__(name, input, output, in_shape, (element_count(in_shape),))


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
