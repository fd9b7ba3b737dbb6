"""The public int8 kernels: validate the arguments, allocate ``out`` when it is not given, and
call the compiled loop."""
from __future__ import annotations
import numpy as np
from ...errors import ModelError
from ..quant import (INT8_MAX, INT8_MIN, Requant, TfliteAddParams)
from .loops import (
    _NO_PSUM, _NO_OUT, _F32_1, _I32_1, _NO_VEC32, _NO_VEC8, _requant_rows, _conv2d_accumulate, _conv2d,
    _conv2d_gemm, _dense_i16, _maxpool2d, _avgpool2d_onnx, _gavgpool_onnx, _avgpool2d_tflite, _add_onnx,
    _add_tflite, _clip,
)


def pack_conv_weights(w, w_zero_point) -> np.ndarray:
    """int16 (C_out, C_in/groups*kh*kw) = w - w_zp, the GEMM operand of ``_conv2d_gemm``."""
    co = w.shape[0]
    return np.ascontiguousarray((w.astype(np.int16) - _wzp(w_zero_point, co).astype(np.int16)[:, None, None, None])
                                .reshape(co, -1))

def use_gemm(cout_g: int, n_channels: int, klen: int) -> bool:
    """im2col + GEMM pays when several output channels share the im2col buffer and the reduction is
    long enough to vectorise; depthwise and tiny reductions use the direct loop."""
    return min(cout_g, n_channels) >= 4 and klen >= 8

def pack_dense_weights(w, w_zero_point) -> np.ndarray:
    """int16 (N, K) = w - w_zp, the operand of ``_dense_i16``."""
    return np.ascontiguousarray(w.astype(np.int16) - _wzp(w_zero_point, w.shape[0]).astype(np.int16)[:, None])


# =============================================================================================
# validation helpers
# =============================================================================================
def _pair(v, what: str) -> tuple[int, int]:
    if np.isscalar(v):
        return int(v), int(v)
    t = tuple(int(i) for i in v)
    if len(t) != 2:
        raise ModelError(f"{what} must be an int or a pair, got {v!r}")
    return t


def _pads4(p) -> tuple[int, int, int, int]:
    """pads as (top, left, bottom, right) from an int, a pair (h, w) or a 4-tuple."""
    if np.isscalar(p):
        return (int(p),) * 4
    t = tuple(int(i) for i in p)
    if len(t) == 2:
        return t[0], t[1], t[0], t[1]
    if len(t) != 4:
        raise ModelError(f"pads must be an int, (h, w) or (top, left, bottom, right), got {p!r}")
    return t


def _int8(a, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != np.int8:
        raise ModelError(f"{what} must be int8, got {a.dtype}")
    return np.ascontiguousarray(a)


def _range(c_start, c_stop, n: int, what="output channel") -> tuple[int, int]:
    c_stop = n if c_stop is None else int(c_stop)
    c_start = int(c_start)
    if not (0 <= c_start <= c_stop <= n):
        raise ModelError(f"{what} range [{c_start}, {c_stop}) not within [0, {n}]")
    return c_start, c_stop


def conv_out_hw(H, W, kh, kw, stride, pads, dilation) -> tuple[int, int]:
    """Output height and width [elements] of a 2-D convolution/pool (floor mode)."""
    sh, sw = stride
    pt, pl, pb, pr = pads
    dh, dw = dilation
    Ho = (H + pt + pb - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (kw - 1) - 1) // sw + 1
    return Ho, Wo


def _out(out, shape, what="out") -> np.ndarray:
    if out is None:
        return np.zeros(shape, np.int8)
    if out.dtype != np.int8 or tuple(out.shape) != tuple(shape):
        raise ModelError(f"{what} must be int8 of shape {tuple(shape)}, got {out.dtype} {tuple(out.shape)}")
    return out


def _wzp(w_zero_point, n) -> np.ndarray:
    if w_zero_point is None:
        return np.zeros(n, np.int32)
    z = np.atleast_1d(np.asarray(w_zero_point, dtype=np.int32))
    if len(z) == 1:
        z = np.repeat(z, n)
    if len(z) != n:
        raise ModelError(f"weight zero point has {len(z)} entries, expected 1 or {n}")
    return np.ascontiguousarray(z)


def _check_conv(x, w, bias, stride, pads, dilation, groups):
    x = _int8(x, "conv2d input")
    w = _int8(w, "conv2d weight")
    if x.ndim != 3 or w.ndim != 4:
        raise ModelError(f"conv2d wants input (C, H, W) and weight (C_out, C_in/groups, kh, kw), got {x.shape}, {w.shape}")
    groups = int(groups)
    if groups < 1 or x.shape[0] % groups or w.shape[0] % groups or w.shape[1] * groups != x.shape[0]:
        raise ModelError(f"conv2d groups={groups} inconsistent with input channels {x.shape[0]} and weight {w.shape}")
    stride, dilation, pads = _pair(stride, "stride"), _pair(dilation, "dilation"), _pads4(pads)
    if min(stride) < 1 or min(dilation) < 1 or min(pads) < 0:
        raise ModelError(f"conv2d stride {stride} and dilation {dilation} must be >= 1, pads {pads} >= 0")
    bias = np.zeros(w.shape[0], np.int32) if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    if bias.shape != (w.shape[0],):
        raise ModelError(f"conv2d bias shape {bias.shape}, expected ({w.shape[0]},)")
    Ho, Wo = conv_out_hw(x.shape[1], x.shape[2], w.shape[2], w.shape[3], stride, pads, dilation)
    if Ho < 1 or Wo < 1:
        raise ModelError(f"conv2d output would be empty ({Ho}x{Wo}) for input {x.shape}, kernel {w.shape[2:]}")
    return x, w, bias, stride, pads, dilation, groups, (w.shape[0], Ho, Wo)


# =============================================================================================
# public kernels
# =============================================================================================
def conv2d(x, w, bias, requant: Requant, x_zero_point: int, w_zero_point=None, stride=1, pads=0,
           dilation=1, groups=1, out=None, c_start=0, c_stop=None) -> np.ndarray:
    """Quantised 2-D convolution, output channels [c_start, c_stop) written into ``out``.

    x int8 (C_in, H, W); w int8 (C_out, C_in/groups, kh, kw); bias int32 (C_out,) or None;
    requant: :class:`~intersim.nn.quant.Requant` (per-channel or per-tensor); x_zero_point int;
    w_zero_point int or int[C_out]. Returns out int8 (C_out, Ho, Wo).
    """
    x, w, bias, stride, pads, dilation, groups, oshape = _check_conv(x, w, bias, stride, pads, dilation, groups)
    out = _out(out, oshape)
    c0, c1 = _range(c_start, c_stop, oshape[0])
    rq = requant.expand(oshape[0])
    if use_gemm(oshape[0] // groups, c1 - c0, w[0].size):
        _conv2d_gemm(x, np.int32(x_zero_point), pack_conv_weights(w, w_zero_point), bias, True, w.shape[2],
                     w.shape[3], stride[0], stride[1], pads[0], pads[1], dilation[0], dilation[1], groups, 0,
                     w.shape[1], c0, c1, True, rq.mode, rq.scale, rq.multiplier, rq.shift, rq.zero_point,
                     rq.act_min, rq.act_max, _NO_PSUM, out)
    else:
        _conv2d(x, np.int32(x_zero_point), w, _wzp(w_zero_point, oshape[0]), bias, stride[0], stride[1], pads[0],
                pads[1], dilation[0], dilation[1], groups, rq.mode, rq.scale, rq.multiplier, rq.shift,
                rq.zero_point, rq.act_min, rq.act_max, c0, c1, out)
    return out


def conv2d_accumulate(x, w, bias, x_zero_point: int, psum, w_zero_point=None, stride=1, pads=0,
                      dilation=1, groups=1, ic_start=0, ic_stop=None, c_start=0, c_stop=None) -> np.ndarray:
    """psum[c_start:c_stop] += contribution of in-group input channels [ic_start, ic_stop);
    the bias is added when ic_start == 0. psum int32 (C_out, Ho, Wo), modified in place."""
    x, w, bias, stride, pads, dilation, groups, oshape = _check_conv(x, w, bias, stride, pads, dilation, groups)
    if psum.dtype != np.int32 or tuple(psum.shape) != oshape:
        raise ModelError(f"psum must be int32 of shape {oshape}, got {psum.dtype} {psum.shape}")
    c0, c1 = _range(c_start, c_stop, oshape[0])
    i0, i1 = _range(ic_start, ic_stop, w.shape[1], "input channel")
    if use_gemm(oshape[0] // groups, c1 - c0, (i1 - i0) * w.shape[2] * w.shape[3]):
        _conv2d_gemm(x, np.int32(x_zero_point), pack_conv_weights(w, w_zero_point), bias, i0 == 0 and i1 > 0,
                     w.shape[2], w.shape[3], stride[0], stride[1], pads[0], pads[1], dilation[0], dilation[1],
                     groups, i0, i1, c0, c1, False, 0, _F32_1, _I32_1, _I32_1, 0, -128, 127, psum, _NO_OUT)
    else:
        _conv2d_accumulate(x, np.int32(x_zero_point), w, _wzp(w_zero_point, oshape[0]), bias, i0 == 0 and i1 > 0,
                           stride[0], stride[1], pads[0], pads[1], dilation[0], dilation[1], groups, i0, i1, c0, c1,
                           psum)
    return psum


def requantize(psum, requant: Requant, out=None, c_start=0, c_stop=None) -> np.ndarray:
    """out[c_start:c_stop] = requant(psum[c_start:c_stop]); psum int32 (C, ...) -> out int8 same shape."""
    if psum.dtype != np.int32:
        raise ModelError(f"psum must be int32, got {psum.dtype}")
    out = _out(out, psum.shape)
    c0, c1 = _range(c_start, c_stop, psum.shape[0])
    rq = requant.expand(psum.shape[0])
    _requant_rows(psum.reshape(psum.shape[0], -1), rq.mode, rq.scale, rq.multiplier, rq.shift, rq.zero_point,
                  rq.act_min, rq.act_max, c0, c1, out.reshape(out.shape[0], -1))
    return out


def _check_dense(x, w, bias):
    x = _int8(x, "dense input")
    w = _int8(w, "dense weight")
    if x.ndim != 1 or w.ndim != 2 or w.shape[1] != x.shape[0]:
        raise ModelError(f"dense wants input (K,) and weight (N, K), got {x.shape}, {w.shape}")
    bias = np.zeros(w.shape[0], np.int32) if bias is None else np.ascontiguousarray(bias, dtype=np.int32)
    if bias.shape != (w.shape[0],):
        raise ModelError(f"dense bias shape {bias.shape}, expected ({w.shape[0]},)")
    return x, w, bias


def dense(x, w, bias, requant: Requant, x_zero_point: int, w_zero_point=None, out=None,
          c_start=0, c_stop=None) -> np.ndarray:
    """Quantised fully connected layer: x int8 (K,), w int8 (N, K), bias int32 (N,) -> out int8 (N,)."""
    x, w, bias = _check_dense(x, w, bias)
    n = w.shape[0]
    out = _out(out, (n,))
    c0, c1 = _range(c_start, c_stop, n)
    rq = requant.expand(n)
    _dense_i16(x, np.int32(x_zero_point), pack_dense_weights(w, w_zero_point), bias, True, 0, w.shape[1], c0, c1,
               True, rq.mode, rq.scale, rq.multiplier, rq.shift, rq.zero_point, rq.act_min, rq.act_max,
               _NO_VEC32, out)
    return out


def dense_accumulate(x, w, bias, x_zero_point: int, psum, w_zero_point=None, ic_start=0, ic_stop=None,
                     c_start=0, c_stop=None) -> np.ndarray:
    """psum[c_start:c_stop] += contribution of input features [ic_start, ic_stop) (+ bias if ic_start == 0)."""
    x, w, bias = _check_dense(x, w, bias)
    n = w.shape[0]
    if psum.dtype != np.int32 or psum.shape != (n,):
        raise ModelError(f"psum must be int32 of shape ({n},), got {psum.dtype} {psum.shape}")
    c0, c1 = _range(c_start, c_stop, n)
    i0, i1 = _range(ic_start, ic_stop, w.shape[1], "input feature")
    _dense_i16(x, np.int32(x_zero_point), pack_dense_weights(w, w_zero_point), bias, i0 == 0 and i1 > 0, i0, i1,
               c0, c1, False, 0, _F32_1, _I32_1, _I32_1, 0, -128, 127, psum, _NO_VEC8)
    return psum


def _check_pool(x, kernel, stride, pads, dilation):
    x = _int8(x, "pool input")
    if x.ndim != 3:
        raise ModelError(f"pooling wants input (C, H, W), got {x.shape}")
    kernel, stride, dilation, pads = _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(dilation, "dilation"), _pads4(pads)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(pads) < 0:
        raise ModelError(f"pool kernel {kernel}, stride {stride}, dilation {dilation} must be >= 1, pads {pads} >= 0")
    Ho, Wo = conv_out_hw(x.shape[1], x.shape[2], kernel[0], kernel[1], stride, pads, dilation)
    if Ho < 1 or Wo < 1:
        raise ModelError(f"pool output would be empty ({Ho}x{Wo}) for input {x.shape}, kernel {kernel}")
    return x, kernel, stride, pads, dilation, (x.shape[0], Ho, Wo)


def maxpool2d(x, kernel, stride=None, pads=0, dilation=1, act_min=INT8_MIN, act_max=INT8_MAX, out=None,
              c_start=0, c_stop=None) -> np.ndarray:
    """Max pooling of int8 (C, H, W); padded positions never win. Scale and zero point pass through."""
    stride = kernel if stride is None else stride
    x, kernel, stride, pads, dilation, oshape = _check_pool(x, kernel, stride, pads, dilation)
    out = _out(out, oshape)
    c0, c1 = _range(c_start, c_stop, oshape[0])
    _maxpool2d(x, kernel[0], kernel[1], stride[0], stride[1], pads[0], pads[1], dilation[0], dilation[1],
               int(act_min), int(act_max), c0, c1, out)
    return out


def onnx_gavg_scale(x_scale, y_scale, n: int) -> np.float32:
    """float32 ``x_scale / (y_scale * float(n))`` as MLAS CheckQLinearGlobalAveragePoolScaleAndSize."""
    s = np.float32(np.float32(x_scale) / np.float32(np.float32(y_scale) * np.float32(n)))
    if n >= 0x1000000 or not (2.0**-32 <= s < 256.0):
        raise ModelError(f"QLinearGlobalAveragePool scale {s} or size {n} outside onnxruntime's range")
    return s


def avgpool2d(x, kernel, stride=None, pads=0, *, semantics: str, x_scale=1.0, x_zero_point=0, y_scale=1.0,
              y_zero_point=0, count_include_pad=False, act_min=INT8_MIN, act_max=INT8_MAX, out=None,
              c_start=0, c_stop=None) -> np.ndarray:
    """Average pooling of int8 (C, H, W).

    semantics "onnx": onnxruntime QLinearAveragePool (float32 path; the global-pool integer path
    when the kernel covers the whole unpadded input, as onnxruntime itself switches);
    "tflite": TFLM integer mean, input and output sharing scale and zero point.
    """
    stride = kernel if stride is None else stride
    x, kernel, stride, pads, _, oshape = _check_pool(x, kernel, stride, pads, 1)
    out = _out(out, oshape)
    c0, c1 = _range(c_start, c_stop, oshape[0])
    if semantics == "onnx":
        if kernel == tuple(x.shape[1:]) and pads == (0, 0, 0, 0):
            n = x.shape[1] * x.shape[2]
            _gavgpool_onnx(x.reshape(x.shape[0], n), onnx_gavg_scale(x_scale, y_scale, n), np.int32(x_zero_point),
                           np.int32(y_zero_point), c0, c1, out.reshape(-1))
        else:
            _avgpool2d_onnx(x, np.float32(x_scale), np.int32(x_zero_point), np.float32(y_scale),
                            np.int32(y_zero_point), kernel[0], kernel[1], stride[0], stride[1], pads[0], pads[1],
                            bool(count_include_pad), c0, c1, out)
    elif semantics == "tflite":
        _avgpool2d_tflite(x, kernel[0], kernel[1], stride[0], stride[1], pads[0], pads[1], int(act_min),
                          int(act_max), c0, c1, out)
    else:
        raise ModelError(f"unknown semantics {semantics!r}; valid: onnx, tflite")
    return out


def add(a, b, params, out=None, c_start=0, c_stop=None, act_min=INT8_MIN, act_max=INT8_MAX) -> np.ndarray:
    """Quantised element-wise add of two int8 arrays of the same shape (C, ...).

    params: ``(ratio_a, ratio_b, fixed)`` float32 from :func:`~intersim.nn.quant.onnx_add_params`
    (onnx) or a :class:`~intersim.nn.quant.TfliteAddParams` (tflite).
    """
    a = _int8(a, "add input a")
    b = _int8(b, "add input b")
    if a.shape != b.shape:
        raise ModelError(f"add needs equal shapes, got {a.shape} and {b.shape}")
    out = _out(out, a.shape)
    c0, c1 = _range(c_start, c_stop, a.shape[0])
    a2, b2, o2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1), out.reshape(out.shape[0], -1)
    if isinstance(params, TfliteAddParams):
        _add_tflite(a2, b2, params.as_array(), int(act_min), int(act_max), c0, c1, o2)
    else:
        ra, rb, fixed = (np.float32(v) for v in params)
        _add_onnx(a2, b2, ra, rb, fixed, c0, c1, o2)
    return out


def clip(x, lo: int, hi: int = INT8_MAX, out=None, c_start=0, c_stop=None) -> np.ndarray:
    """ReLU / ReLU6 on int8 values: ``min(max(x, lo), hi)``."""
    x = _int8(x, "relu input")
    out = _out(out, x.shape)
    c0, c1 = _range(c_start, c_stop, x.shape[0])
    _clip(x.reshape(x.shape[0], -1), int(lo), int(hi), c0, c1, out.reshape(out.shape[0], -1))
    return out
