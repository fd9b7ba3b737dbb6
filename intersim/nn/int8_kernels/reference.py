"""Plain-Python / numpy-int64 references of the int8 kernels, written independently of the
numba loops, for the tests; and the warm-up."""
from __future__ import annotations
import numpy as np
from ..quant import (INT8_MAX, INT8_MIN, Requant, TfliteAddParams, add_onnx_ref, add_tflite_ref)
from .api import (


# =============================================================================================
    _pair, _pads4, conv_out_hw, _wzp, conv2d, conv2d_accumulate, requantize, dense, dense_accumulate,
    maxpool2d, avgpool2d, add, clip,
)
# plain-Python / numpy-int64 references (independent of the loops above)
# =============================================================================================
def conv2d_acc_ref(x, w, bias, x_zero_point, w_zero_point=None, stride=1, pads=0, dilation=1, groups=1):
    """Exact int64 accumulators (C_out, Ho, Wo) via explicit zero-point padding and numpy sums."""
    (sh, sw), (pt, pl, pb, pr), (dh, dw) = _pair(stride, "s"), _pads4(pads), _pair(dilation, "d")
    C, H, W = x.shape
    co, cig, kh, kw = w.shape
    xz = np.full((C, H + pt + pb, W + pl + pr), int(x_zero_point), np.int64)
    xz[:, pt:pt + H, pl:pl + W] = x
    xz -= int(x_zero_point)
    wz = w.astype(np.int64) - _wzp(w_zero_point, co).astype(np.int64)[:, None, None, None]
    Ho, Wo = conv_out_hw(H, W, kh, kw, (sh, sw), (pt, pl, pb, pr), (dh, dw))
    acc = np.zeros((co, Ho, Wo), np.int64)
    cog = co // groups
    for oc in range(co):
        g = oc // cog
        xs = xz[g * cig:(g + 1) * cig]
        for ky in range(kh):
            for kx in range(kw):
                patch = xs[:, ky * dh: ky * dh + sh * (Ho - 1) + 1: sh, kx * dw: kx * dw + sw * (Wo - 1) + 1: sw]
                acc[oc] += np.tensordot(wz[oc, :, ky, kx], patch, axes=(0, 0))
    if bias is not None:
        acc += np.asarray(bias, np.int64)[:, None, None]
    return acc


def requant_ref(acc, requant: Requant) -> np.ndarray:
    """Element-by-element Python requantisation of accumulators (C, ...)."""
    rq = requant.expand(acc.shape[0])
    out = np.empty(acc.shape, np.int8)
    for idx in np.ndindex(acc.shape):
        out[idx] = rq.value(int(acc[idx]), idx[0])
    return out


def conv2d_ref(x, w, bias, requant, x_zero_point, w_zero_point=None, stride=1, pads=0, dilation=1, groups=1):
    return requant_ref(conv2d_acc_ref(x, w, bias, x_zero_point, w_zero_point, stride, pads, dilation, groups), requant)


def dense_ref(x, w, bias, requant, x_zero_point, w_zero_point=None):
    wz = w.astype(np.int64) - _wzp(w_zero_point, w.shape[0]).astype(np.int64)[:, None]
    acc = wz @ (x.astype(np.int64) - int(x_zero_point))
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return requant_ref(acc, requant)


def maxpool2d_ref(x, kernel, stride=None, pads=0, dilation=1, act_min=INT8_MIN, act_max=INT8_MAX):
    kernel = _pair(kernel, "k")
    stride = kernel if stride is None else _pair(stride, "s")
    (pt, pl, pb, pr), (dh, dw) = _pads4(pads), _pair(dilation, "d")
    C, H, W = x.shape
    Ho, Wo = conv_out_hw(H, W, kernel[0], kernel[1], stride, (pt, pl, pb, pr), (dh, dw))
    out = np.empty((C, Ho, Wo), np.int8)
    for c in range(C):
        for oy in range(Ho):
            for ox in range(Wo):
                vals = [int(x[c, oy * stride[0] + ky * dh - pt, ox * stride[1] + kx * dw - pl])
                        for ky in range(kernel[0]) for kx in range(kernel[1])
                        if 0 <= oy * stride[0] + ky * dh - pt < H and 0 <= ox * stride[1] + kx * dw - pl < W]
                out[c, oy, ox] = min(max(max(vals), act_min), act_max)
    return out


def avgpool2d_tflite_ref(x, kernel, stride=None, pads=0, act_min=INT8_MIN, act_max=INT8_MAX):
    kernel = _pair(kernel, "k")
    stride = kernel if stride is None else _pair(stride, "s")
    pt, pl, pb, pr = _pads4(pads)
    C, H, W = x.shape
    Ho, Wo = conv_out_hw(H, W, kernel[0], kernel[1], stride, (pt, pl, pb, pr), (1, 1))
    out = np.empty((C, Ho, Wo), np.int8)
    for c in range(C):
        for oy in range(Ho):
            for ox in range(Wo):
                vals = [int(x[c, oy * stride[0] + ky - pt, ox * stride[1] + kx - pl])
                        for ky in range(kernel[0]) for kx in range(kernel[1])
                        if 0 <= oy * stride[0] + ky - pt < H and 0 <= ox * stride[1] + kx - pl < W]
                s, n = sum(vals), len(vals)
                # round half away from zero
                q = (abs(s) + n // 2) // n
                out[c, oy, ox] = min(max(q if s >= 0 else -q, act_min), act_max)
    return out


def add_ref(a, b, params, act_min=INT8_MIN, act_max=INT8_MAX) -> np.ndarray:
    out = np.empty(a.shape, np.int8)
    for idx in np.ndindex(a.shape):
        if isinstance(params, TfliteAddParams):
            out[idx] = add_tflite_ref(int(a[idx]), int(b[idx]), params, act_min, act_max)
        else:
            out[idx] = add_onnx_ref(int(a[idx]), int(b[idx]), *params)
    return out


def warmup() -> None:
    """Compile (or load from numba's cache) every kernel of this module once, on tiny inputs."""
    from ..quant import onnx_add_params, tflite_add_params

    x = np.zeros((2, 3, 3), np.int8)
    w = np.ones((2, 1, 2, 2), np.int8)
    wg = np.ones((4, 2, 2, 2), np.int8)  # 4 channels x 8-long reduction: the im2col/GEMM path
    for sem in ("onnx", "tflite"):
        rq = Requant.from_scales(sem, 0.1, [0.01, 0.02], 0.1, 0)
        rq4 = Requant.from_scales(sem, 0.1, [0.01] * 4, 0.1, 0)
        for ww, g, r in ((w, 2, rq), (wg, 1, rq4)):
            o = conv2d(x, ww, None, r, 0, groups=g, pads=1)
            ps = np.zeros(o.shape, np.int32)
            conv2d_accumulate(x, ww, None, 0, ps, groups=g, pads=1)
            requantize(ps, r)
        v = np.zeros(4, np.int8)
        dense(v, np.ones((2, 4), np.int8), None, rq, 0)
        dense_accumulate(v, np.ones((2, 4), np.int8), None, 0, np.zeros(2, np.int32))
        avgpool2d(x, 2, 1, semantics=sem)
        avgpool2d(x, 3, 1, semantics=sem)
    maxpool2d(x, 2)
    add(x, x, onnx_add_params(0.1, 0, 0.1, 0, 0.2, 0))
    add(x, x, tflite_add_params(0.1, 0, 0.1, 0, 0.2, 0))
    clip(x, 0)
