"""int8 kernels: numba-compiled loops that write into preallocated ``out`` arrays.

Layout: feature maps are int8 ``(C, H, W)`` (no batch axis), vectors int8 ``(N,)``; weights of a
convolution int8 ``(C_out, C_in / groups, kh, kw)``, of a dense layer int8 ``(N_out, K)``; biases
int32; accumulators int32 (wrapping modulo 2**32 as the C kernels do). Padding is
``(top, left, bottom, right)`` in elements, as ONNX ``pads`` for 2-D.

Every kernel computes only output channels ``[c_lo, c_hi)`` (axis 0) and reads the whole input,
so a layer can be split into tasks along its output channels. Convolution and dense also have an
``accumulate`` form that adds the contribution of input channels ``[ic_lo, ic_hi)`` to an int32
partial-sum buffer, and a ``requant`` that turns the buffer into int8: any split of the reduction
gives the same int32 sums (integer addition is associative modulo 2**32), hence the same bytes.

Public functions (no leading underscore) validate their arguments, allocate ``out`` when it is not
given and call the private ``@njit(cache=True)`` kernel. ``*_ref`` functions are plain-Python /
numpy-int64 references, written independently of the numba loops, for the tests.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ModelError
from .quant import (INT8_MAX, INT8_MIN, Requant, TfliteAddParams, add_onnx, add_onnx_ref, add_tflite,
                    add_tflite_ref, requant_onnx, requant_tflite)

MODE_ONNX, MODE_TFLITE = 0, 1
# typed placeholders for the unused buffer/parameters of ``_conv2d_gemm`` (one compiled signature)
_NO_PSUM = np.zeros((0, 0, 0), np.int32)
_NO_OUT = np.zeros((0, 0, 0), np.int8)
_F32_1 = np.ones(1, np.float32)
_I32_1 = np.zeros(1, np.int32)
_NO_VEC32 = np.zeros(0, np.int32)
_NO_VEC8 = np.zeros(0, np.int8)


# =============================================================================================
# numba kernels
# =============================================================================================
@njit(cache=True)
def _requant_one(acc, c, mode, scale, mult, shift, zp, lo, hi):
    if mode == 0:
        return requant_onnx(acc, scale[c], zp, lo, hi)
    return requant_tflite(acc, mult[c], shift[c], zp, lo, hi)


@njit(cache=True)
def _requant_rows(acc, mode, scale, mult, shift, zp, lo, hi, c_lo, c_hi, out):
    """out[c, s] = requant(acc[c, s]) for c in [c_lo, c_hi); acc int32 (C, S), out int8 (C, S)."""
    n = acc.shape[1]
    for c in range(c_lo, c_hi):
        for s in range(n):
            out[c, s] = _requant_one(acc[c, s], c, mode, scale, mult, shift, zp, lo, hi)


@njit(cache=True)
def _conv_channel_acc(x, x_zp, w, wzp, oc, g, ic_lo, ic_hi, sh, sw, pt, pl, dh, dw, acc):
    """acc[oy, ox] (int64 work buffer, Ho x Wo) += sum over in-group channels [ic_lo, ic_hi)."""
    cin_g = w.shape[1]
    kh = w.shape[2]
    kw = w.shape[3]
    H = x.shape[1]
    W = x.shape[2]
    Ho = acc.shape[0]
    Wo = acc.shape[1]
    for ic in range(ic_lo, ic_hi):
        cin = g * cin_g + ic
        for kx in range(kw):
            off = kx * dw - pl
            # ox range with 0 <= ox*sw + off < W
            ox_lo = 0
            if off < 0:
                ox_lo = (-off + sw - 1) // sw
            ox_hi = Wo
            lim = W - off  # need ox*sw < lim
            if lim <= 0:
                continue
            m = (lim - 1) // sw + 1
            if m < ox_hi:
                ox_hi = m
            if ox_lo >= ox_hi:
                continue
            n = ox_hi - ox_lo
            i0 = ox_lo * sw + off
            for ky in range(kh):
                wv = np.int32(w[oc, ic, ky, kx]) - wzp
                if wv == 0:
                    continue  # pruned / zero weights cost nothing and change nothing
                for oy in range(Ho):
                    iy = oy * sh + ky * dh - pt
                    if iy < 0 or iy >= H:
                        continue
                    # 0-based views so the inner loop vectorises (no index offsets to fix up)
                    arow = acc[oy, ox_lo:ox_hi]
                    if sw == 1:
                        seg = x[cin, iy, i0:i0 + n]
                        for j in range(n):
                            arow[j] += wv * (np.int32(seg[j]) - x_zp)
                    else:
                        xrow = x[cin, iy]
                        for j in range(n):
                            arow[j] += wv * (np.int32(xrow[i0 + j * sw]) - x_zp)


@njit(cache=True)
def _conv2d_accumulate(x, x_zp, w, w_zp, bias, add_bias, sh, sw, pt, pl, dh, dw, groups,
                       ic_lo, ic_hi, c_lo, c_hi, psum):
    """psum[c] (int32, C_out x Ho x Wo) += input channels [ic_lo, ic_hi) of each group (+ bias)."""
    cout_g = w.shape[0] // groups
    Ho = psum.shape[1]
    Wo = psum.shape[2]
    buf = np.zeros((Ho, Wo), np.int32)
    for oc in range(c_lo, c_hi):
        g = oc // cout_g
        buf[:, :] = 0
        _conv_channel_acc(x, x_zp, w, np.int32(w_zp[oc]), oc, g, ic_lo, ic_hi, sh, sw, pt, pl, dh, dw, buf)
        b = np.int32(bias[oc]) if add_bias else np.int32(0)
        for oy in range(Ho):
            for ox in range(Wo):
                psum[oc, oy, ox] = np.int32(psum[oc, oy, ox] + buf[oy, ox] + b)


@njit(cache=True)
def _conv2d(x, x_zp, w, w_zp, bias, sh, sw, pt, pl, dh, dw, groups,
            mode, scale, mult, shift, zp, lo, hi, c_lo, c_hi, out):
    """out[c] (int8, C_out x Ho x Wo) for c in [c_lo, c_hi): full reduction, then requantisation."""
    cout_g = w.shape[0] // groups
    cin_g = w.shape[1]
    Ho = out.shape[1]
    Wo = out.shape[2]
    buf = np.zeros((Ho, Wo), np.int32)
    for oc in range(c_lo, c_hi):
        g = oc // cout_g
        b = np.int32(bias[oc])
        for oy in range(Ho):
            for ox in range(Wo):
                buf[oy, ox] = b
        _conv_channel_acc(x, x_zp, w, np.int32(w_zp[oc]), oc, g, 0, cin_g, sh, sw, pt, pl, dh, dw, buf)
        for oy in range(Ho):
            for ox in range(Wo):
                out[oc, oy, ox] = _requant_one(buf[oy, ox], oc, mode, scale, mult, shift, zp, lo, hi)


@njit(cache=True)
def _im2col_rows(x, x_zp, c0, ic_lo, ic_hi, kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, col):
    H = x.shape[1]
    W = x.shape[2]
    for oy in range(Ho):
        for ox in range(Wo):
            p = oy * Wo + ox
            k = 0
            for ic in range(ic_lo, ic_hi):
                cin = c0 + ic
                for ky in range(kh):
                    iy = oy * sh + ky * dh - pt
                    inside_y = iy >= 0 and iy < H
                    for kx in range(kw):
                        ix = ox * sw + kx * dw - pl
                        if inside_y and ix >= 0 and ix < W:
                            col[p, k] = np.int16(np.int32(x[cin, iy, ix]) - x_zp)
                        else:
                            col[p, k] = 0
                        k += 1


@njit(cache=True)
def _dot_rows(wrow, col, acc):
    """acc[p] += sum_k wrow[k] * col[p, k]: int16 x int16 -> int32, which LLVM turns into vpmaddwd.

    wrow and each col[p] are 1-D contiguous views indexed from 0: an offset inside the index
    (``wk[oc, k0 + k]``) would make numba's negative-index fix-up block vectorisation."""
    P = col.shape[0]
    K = col.shape[1]
    for p in range(P):
        crow = col[p]
        s = np.int32(0)
        for k in range(K):
            s += np.int32(wrow[k]) * np.int32(crow[k])
        acc[p] = np.int32(acc[p] + s)


@njit(cache=True)
def _conv2d_gemm(x, x_zp, wk, bias, add_bias, kh, kw, sh, sw, pt, pl, dh, dw, groups, ic_lo, ic_hi, c_lo, c_hi,
                 finalize, mode, scale, mult, shift, zp, lo, hi, psum, out):
    """im2col + int16 GEMM form of the convolution (same int32 sums as ``_conv2d``).

    wk int16 (C_out, C_in/groups * kh * kw) holds ``w - w_zp`` in (ic, ky, kx) order. For output
    channels [c_lo, c_hi) and in-group input channels [ic_lo, ic_hi): if ``finalize``, out (int8)
    = requant(bias + sums); else psum (int32) += sums (+ bias when add_bias)."""
    cout = wk.shape[0]
    cout_g = cout // groups
    cin_g = wk.shape[1] // (kh * kw)
    Ho = out.shape[1] if finalize else psum.shape[1]
    Wo = out.shape[2] if finalize else psum.shape[2]
    P = Ho * Wo
    klen = (ic_hi - ic_lo) * kh * kw
    k0 = ic_lo * kh * kw
    col = np.empty((P, klen), np.int16)
    acc = np.empty(P, np.int32)
    if c_hi <= c_lo:
        return
    g0 = c_lo // cout_g
    g1 = (c_hi - 1) // cout_g
    for g in range(g0, g1 + 1):
        _im2col_rows(x, x_zp, g * cin_g, ic_lo, ic_hi, kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, col)
        oc_a = max(c_lo, g * cout_g)
        oc_b = min(c_hi, (g + 1) * cout_g)
        for oc in range(oc_a, oc_b):
            b = np.int32(bias[oc]) if add_bias else np.int32(0)
            for p in range(P):
                acc[p] = b
            _dot_rows(wk[oc, k0:k0 + klen], col, acc)
            if finalize:
                for p in range(P):
                    out[oc, p // Wo, p % Wo] = _requant_one(acc[p], oc, mode, scale, mult, shift, zp, lo, hi)
            else:
                for p in range(P):
                    psum[oc, p // Wo, p % Wo] = np.int32(psum[oc, p // Wo, p % Wo] + acc[p])


def pack_conv_weights(w, w_zero_point) -> np.ndarray:
    """int16 (C_out, C_in/groups*kh*kw) = w - w_zp, the GEMM operand of ``_conv2d_gemm``."""
    co = w.shape[0]
    return np.ascontiguousarray((w.astype(np.int16) - _wzp(w_zero_point, co).astype(np.int16)[:, None, None, None])
                                .reshape(co, -1))


def use_gemm(cout_g: int, n_channels: int, klen: int) -> bool:
    """im2col + GEMM pays when several output channels share the im2col buffer and the reduction is
    long enough to vectorise; depthwise and tiny reductions use the direct loop."""
    return min(cout_g, n_channels) >= 4 and klen >= 8


@njit(cache=True)
def _dense_i16(x, x_zp, wk, bias, add_bias, k_lo, k_hi, c_lo, c_hi, finalize, mode, scale, mult, shift, zp, lo, hi,
               psum, out):
    """Dense layer on int16 operands (vpmaddwd-friendly): wk int16 (N, K) = w - w_zp.
    finalize: out[n] = requant(bias + sum); else psum[n] += sum (+ bias when add_bias)."""
    xk = np.empty(k_hi - k_lo, np.int16)
    for k in range(k_lo, k_hi):
        xk[k - k_lo] = np.int16(np.int32(x[k]) - x_zp)
    for n in range(c_lo, c_hi):
        wrow = wk[n, k_lo:k_hi]
        s = np.int32(0)
        for k in range(k_hi - k_lo):
            s += np.int32(wrow[k]) * np.int32(xk[k])
        if add_bias:
            s += np.int32(bias[n])
        if finalize:
            out[n] = _requant_one(s, n, mode, scale, mult, shift, zp, lo, hi)
        else:
            psum[n] = np.int32(psum[n] + s)


def pack_dense_weights(w, w_zero_point) -> np.ndarray:
    """int16 (N, K) = w - w_zp, the operand of ``_dense_i16``."""
    return np.ascontiguousarray(w.astype(np.int16) - _wzp(w_zero_point, w.shape[0]).astype(np.int16)[:, None])


@njit(cache=True)
def _maxpool2d(x, kh, kw, sh, sw, pt, pl, dh, dw, lo, hi, c_lo, c_hi, out):
    """Max over the window's in-bounds elements (padding never wins), clamped to [lo, hi]."""
    H = x.shape[1]
    W = x.shape[2]
    Ho = out.shape[1]
    Wo = out.shape[2]
    for c in range(c_lo, c_hi):
        for oy in range(Ho):
            for ox in range(Wo):
                m = -129
                for ky in range(kh):
                    iy = oy * sh + ky * dh - pt
                    if iy < 0 or iy >= H:
                        continue
                    for kx in range(kw):
                        ix = ox * sw + kx * dw - pl
                        if ix < 0 or ix >= W:
                            continue
                        v = np.int32(x[c, iy, ix])
                        if v > m:
                            m = v
                if m < lo:
                    m = lo
                if m > hi:
                    m = hi
                out[c, oy, ox] = m


@njit(cache=True)
def _avgpool2d_onnx(x, x_scale, x_zp, y_scale, y_zp, kh, kw, sh, sw, pt, pl, count_include_pad,
                    c_lo, c_hi, out):
    """onnxruntime QLinearAveragePool (``qlinear_pool.cc``), float32 throughout.

    Dequantise ``x_scale * (x - x_zp)``, sum the in-bounds window in row-major order, divide by
    the element count (kh*kw when count_include_pad), quantise ``rint(y / y_scale + y_zp)``.
    The window is clipped at the input's bottom/right edge (``hend = min(hstart + kh, H)``).
    """
    H = x.shape[1]
    W = x.shape[2]
    Ho = out.shape[1]
    Wo = out.shape[2]
    for c in range(c_lo, c_hi):
        for oy in range(Ho):
            hs = oy * sh - pt
            he = min(hs + kh, H)
            hs = max(hs, 0)
            for ox in range(Wo):
                ws = ox * sw - pl
                we = min(ws + kw, W)
                ws = max(ws, 0)
                acc = np.float32(0.0)
                for iy in range(hs, he):
                    for ix in range(ws, we):
                        acc = acc + x_scale * np.float32(np.int32(x[c, iy, ix]) - x_zp)
                if count_include_pad:
                    n = kh * kw
                else:
                    n = (he - hs) * (we - ws)
                acc = acc / np.float32(n)
                v = np.rint(acc / y_scale + np.float32(y_zp))
                # static_cast<int32_t> of an in-range float; then clamp to int8
                if v < -128.0:
                    out[c, oy, ox] = -128
                elif v > 127.0:
                    out[c, oy, ox] = 127
                else:
                    out[c, oy, ox] = np.int32(v)


@njit(cache=True)
def _gavgpool_onnx(x, scale, x_zp, y_zp, c_lo, c_hi, out):
    """onnxruntime QLinearGlobalAveragePool (MLAS ``MlasQLinearGlobalAveragePoolNchw``):
    integer sum minus ``x_zp * N`` then ``requant_onnx`` with ``scale = x_s / (y_s * N)``.
    x int8 (C, S); out int8 (C,)."""
    n = x.shape[1]
    for c in range(c_lo, c_hi):
        s = np.int32(-x_zp * n)
        for i in range(n):
            s += np.int32(x[c, i])
        out[c] = requant_onnx(s, scale, y_zp, -128, 127)


@njit(cache=True)
def _avgpool2d_tflite(x, kh, kw, sh, sw, pt, pl, lo, hi, c_lo, c_hi, out):
    """TFLM int8 AVERAGE_POOL_2D (reference_ops): integer mean of the in-bounds elements,
    rounded half away from zero, clamped to [lo, hi]. Input and output share scale/zero point."""
    H = x.shape[1]
    W = x.shape[2]
    Ho = out.shape[1]
    Wo = out.shape[2]
    for c in range(c_lo, c_hi):
        for oy in range(Ho):
            for ox in range(Wo):
                acc = 0
                cnt = 0
                for ky in range(kh):
                    iy = oy * sh + ky - pt
                    if iy < 0 or iy >= H:
                        continue
                    for kx in range(kw):
                        ix = ox * sw + kx - pl
                        if ix < 0 or ix >= W:
                            continue
                        acc += np.int32(x[c, iy, ix])
                        cnt += 1
                if cnt == 0:
                    v = 0
                elif acc > 0:
                    v = (acc + cnt // 2) // cnt
                else:
                    v = -((-acc + cnt // 2) // cnt)  # C++ truncating division of (acc - cnt/2)
                if v < lo:
                    v = lo
                if v > hi:
                    v = hi
                out[c, oy, ox] = v


@njit(cache=True)
def _add_onnx(a, b, ra, rb, fixed, c_lo, c_hi, out):
    """a, b, out int8 (C, S)."""
    n = a.shape[1]
    for c in range(c_lo, c_hi):
        for s in range(n):
            out[c, s] = add_onnx(a[c, s], b[c, s], ra, rb, fixed, -128, 127)


@njit(cache=True)
def _add_tflite(a, b, p, lo, hi, c_lo, c_hi, out):
    n = a.shape[1]
    for c in range(c_lo, c_hi):
        for s in range(n):
            out[c, s] = add_tflite(a[c, s], b[c, s], p, lo, hi)


@njit(cache=True)
def _clip(x, lo, hi, c_lo, c_hi, out):
    """out = min(max(x, lo), hi) on int8 (C, S): ReLU (lo = zero point) and ReLU6."""
    n = x.shape[1]
    for c in range(c_lo, c_hi):
        for s in range(n):
            v = x[c, s]
            if v < lo:
                v = lo
            if v > hi:
                v = hi
            out[c, s] = v


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


# =============================================================================================
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
    from .quant import onnx_add_params, tflite_add_params

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
