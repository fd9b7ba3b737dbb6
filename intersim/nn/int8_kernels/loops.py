"""The numba-compiled int8 loops: each writes output channels [c_lo, c_hi) into a preallocated
``out`` (or adds input channels [ic_lo, ic_hi) into an int32 partial-sum buffer)."""
from __future__ import annotations
import numpy as np
from numba import njit
from ..quant import (add_onnx, add_tflite,
                    requant_onnx, requant_tflite)


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
