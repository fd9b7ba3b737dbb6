"""int8 kernels: numba vs .py_func vs the plain integer references, and every split of the work."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from intersim.nn import int8_kernels as K
from intersim.errors import ModelError
from intersim.nn.quant import Requant, onnx_add_params, tflite_add_params


@st.composite
def conv_case(draw, max_hw=9):
    groups = draw(st.integers(1, 3))
    cin_g = draw(st.integers(1, 3))
    cout_g = draw(st.integers(1, 3))
    if draw(st.booleans()):  # depthwise, sometimes with a channel multiplier
        groups, cin_g = draw(st.integers(1, 5)), 1
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - pads[0] - pads[2]), max_hw))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - pads[1] - pads[3]), max_hw))
    seed = draw(st.integers(0, 2**32 - 1))
    sem = draw(st.sampled_from(["onnx", "tflite"]))
    rng = np.random.default_rng(seed)
    cin, cout = cin_g * groups, cout_g * groups
    x = rng.integers(-128, 128, (cin, H, W)).astype(np.int8)
    w = rng.integers(-128, 128, (cout, cin_g, kh, kw)).astype(np.int8)
    b = rng.integers(-(2**15), 2**15, cout).astype(np.int32)
    wz = rng.integers(-3, 4, cout) if draw(st.booleans()) else None
    xz = int(rng.integers(-128, 128))
    rq = Requant.from_scales(sem, float(np.exp(rng.uniform(-6, -1))), np.exp(rng.uniform(-7, -2, cout)),
                             float(np.exp(rng.uniform(-3, 1))), int(rng.integers(-128, 128)),
                             act_min=int(rng.choice([-128, -20])), act_max=int(rng.choice([127, 90])))
    geo = dict(stride=(sh, sw), pads=pads, dilation=(dh, dw), groups=groups)
    return x, w, b, rq, xz, wz, geo, rng


@given(conv_case())
def test_conv2d_matches_reference_and_splits(case):
    x, w, b, rq, xz, wz, geo, rng = case
    y = K.conv2d(x, w, b, rq, xz, wz, **geo)
    assert np.array_equal(y, K.conv2d_ref(x, w, b, rq, xz, wz, **geo))
    # output-channel tiles
    out = np.full_like(y, 99)
    cuts = sorted({0, y.shape[0], *rng.integers(0, y.shape[0] + 1, 2).tolist()})
    for c0, c1 in zip(cuts, cuts[1:]):
        K.conv2d(x, w, b, rq, xz, wz, **geo, out=out, c_start=c0, c_stop=c1)
    assert np.array_equal(out, y)
    # input-channel split with int32 partial sums
    ps = np.zeros(y.shape, np.int32)
    cin_g = w.shape[1]
    icuts = sorted({0, cin_g, *rng.integers(0, cin_g + 1, 2).tolist()})
    for i0, i1 in zip(icuts, icuts[1:]):
        K.conv2d_accumulate(x, w, b, xz, ps, wz, **geo, ic_start=i0, ic_stop=i1)
    assert np.array_equal(K.requantize(ps, rq), y)


@given(conv_case(max_hw=5))
def test_conv2d_py_func_equals_numba(case):
    x, w, b, rq, xz, wz, geo, _ = case
    y = K.conv2d(x, w, b, rq, xz, wz, **geo)
    wzp = K._wzp(wz, w.shape[0])
    (sh, sw), (pt, pl, _, _), (dh, dw) = geo["stride"], geo["pads"], geo["dilation"]
    args = (x, np.int32(xz), w, wzp, b, sh, sw, pt, pl, dh, dw, geo["groups"])
    out = np.zeros_like(y)
    K._conv2d.py_func(*args, rq.mode, rq.scale, rq.multiplier, rq.shift, rq.zero_point, rq.act_min, rq.act_max,
                      0, y.shape[0], out)
    assert np.array_equal(out, y)
    # the im2col + int16 GEMM form, its outer loop in Python, then its two inner kernels in Python
    wk = K.pack_conv_weights(w, wz)
    out2 = np.zeros_like(y)
    kh, kw = w.shape[2:]
    K._conv2d_gemm.py_func(x, np.int32(xz), wk, b, True, kh, kw, sh, sw, pt, pl, dh, dw, geo["groups"], 0, w.shape[1],
                           0, y.shape[0], True, rq.mode, rq.scale, rq.multiplier, rq.shift, rq.zero_point, rq.act_min,
                           rq.act_max, K._NO_PSUM, out2)
    assert np.array_equal(out2, y)
    Ho, Wo = y.shape[1:]
    col = np.zeros((Ho * Wo, w.shape[1] * kh * kw), np.int16)
    K._im2col_rows.py_func(x, np.int32(xz), 0, 0, w.shape[1], kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, col)
    col_nb = np.zeros_like(col)
    K._im2col_rows(x, np.int32(xz), 0, 0, w.shape[1], kh, kw, sh, sw, pt, pl, dh, dw, Ho, Wo, col_nb)
    assert np.array_equal(col, col_nb)
    acc_py = np.full(Ho * Wo, 5, np.int32)
    K._dot_rows.py_func(wk[0], col, acc_py)
    assert np.array_equal(acc_py, 5 + (col.astype(np.int64) @ wk[0].astype(np.int64)).astype(np.int32))
    # the innermost loop itself in Python
    acc = np.zeros(y.shape[1:], np.int32)
    K._conv_channel_acc.py_func(x, np.int32(xz), w, np.int32(wzp[0]), 0, 0, 0, w.shape[1], sh, sw, pt, pl, dh, dw, acc)
    ref = K.conv2d_acc_ref(x[: w.shape[1]], w[:1], None, xz, wzp[:1], geo["stride"], geo["pads"], geo["dilation"], 1)
    assert np.array_equal(acc, ref[0].astype(np.int32))


@given(st.integers(1, 40), st.integers(1, 12), st.integers(0, 2**32 - 1), st.sampled_from(["onnx", "tflite"]))
def test_dense_matches_reference_and_splits(k, n, seed, sem):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, k).astype(np.int8)
    w = rng.integers(-128, 128, (n, k)).astype(np.int8)
    b = rng.integers(-(2**16), 2**16, n).astype(np.int32)
    xz = int(rng.integers(-128, 128))
    rq = Requant.from_scales(sem, 0.02, np.exp(rng.uniform(-7, -3, n)), 0.3, int(rng.integers(-128, 128)))
    y = K.dense(x, w, b, rq, xz)
    assert np.array_equal(y, K.dense_ref(x, w, b, rq, xz))
    out = np.zeros_like(y)
    K._dense_i16.py_func(x, np.int32(xz), K.pack_dense_weights(w, None), b, True, 0, k, 0, n, True, rq.mode, rq.scale,
                         rq.multiplier, rq.shift, rq.zero_point, rq.act_min, rq.act_max, K._NO_VEC32, out)
    assert np.array_equal(out, y)
    ps = np.zeros(n, np.int32)
    cut = int(rng.integers(0, k + 1))
    K.dense_accumulate(x, w, b, xz, ps, ic_start=cut, ic_stop=k)
    K.dense_accumulate(x, w, b, xz, ps, ic_start=0, ic_stop=cut)
    assert np.array_equal(K.requantize(ps, rq), y)


@st.composite
def pool_case(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    pads = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)), draw(st.integers(0, kh - 1)),
            draw(st.integers(0, kw - 1)))
    H, W = draw(st.integers(kh, 8)), draw(st.integers(kw, 8))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    x = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(-128, 128, (draw(st.integers(1, 3)), H, W))
    return x.astype(np.int8), (kh, kw), stride, pads


@given(pool_case(), st.integers(1, 2))
def test_maxpool(case, dil):
    x, k, s, p = case
    try:
        y = K.maxpool2d(x, k, s, p, dil)
    except ModelError:
        return  # dilated window larger than the padded input
    assert np.array_equal(y, K.maxpool2d_ref(x, k, s, p, dil))
    out = np.zeros_like(y)
    K._maxpool2d.py_func(x, k[0], k[1], s[0], s[1], p[0], p[1], dil, dil, -128, 127, 0, x.shape[0], out)
    assert np.array_equal(out, y)


@given(pool_case(), st.sampled_from([(-128, 127), (-5, 60)]))
def test_avgpool_tflite(case, act):
    x, k, s, p = case
    y = K.avgpool2d(x, k, s, p, semantics="tflite", act_min=act[0], act_max=act[1])
    assert np.array_equal(y, K.avgpool2d_tflite_ref(x, k, s, p, *act))
    out = np.zeros_like(y)
    K._avgpool2d_tflite.py_func(x, k[0], k[1], s[0], s[1], p[0], p[1], act[0], act[1], 0, x.shape[0], out)
    assert np.array_equal(out, y)


@given(pool_case())
def test_avgpool_onnx_py_func(case):
    x, k, s, p = case
    y = K.avgpool2d(x, k, s, p, semantics="onnx", x_scale=0.05, x_zero_point=3, y_scale=0.04, y_zero_point=-7)
    out = np.zeros_like(y)
    if k == x.shape[1:] and p == (0, 0, 0, 0):
        n = x.shape[1] * x.shape[2]
        K._gavgpool_onnx.py_func(x.reshape(x.shape[0], n), K.onnx_gavg_scale(0.05, 0.04, n), np.int32(3),
                                 np.int32(-7), 0, x.shape[0], out.reshape(-1))
    else:
        K._avgpool2d_onnx.py_func(x, np.float32(0.05), np.int32(3), np.float32(0.04), np.int32(-7), k[0], k[1], s[0],
                                  s[1], p[0], p[1], False, 0, x.shape[0], out)
    assert np.array_equal(out, y)


@given(st.integers(0, 2**32 - 1), st.sampled_from(["onnx", "tflite"]))
def test_add_and_clip(seed, sem):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (3, 4, 5)).astype(np.int8)
    b = rng.integers(-128, 128, (3, 4, 5)).astype(np.int8)
    sc = [float(np.exp(rng.uniform(-4, 0))) for _ in range(3)]
    zs = [int(v) for v in rng.integers(-128, 128, 3)]
    mk = onnx_add_params if sem == "onnx" else tflite_add_params
    p = mk(sc[0], zs[0], sc[1], zs[1], sc[2], zs[2])
    y = K.add(a, b, p)
    assert np.array_equal(y, K.add_ref(a, b, p))
    out = np.zeros((3, 20), np.int8)
    if sem == "onnx":
        K._add_onnx.py_func(a.reshape(3, -1), b.reshape(3, -1), *(np.float32(v) for v in p), 0, 3, out)
    else:
        K._add_tflite.py_func(a.reshape(3, -1), b.reshape(3, -1), p.as_array(), -128, 127, 0, 3, out)
    assert np.array_equal(out.reshape(y.shape), y)
    r = K.clip(a, zs[0], 100)
    assert np.array_equal(r, np.clip(a, zs[0], 100).astype(np.int8))


def test_kernel_errors_name_the_problem():
    x = np.zeros((4, 5, 5), np.int8)
    rq = Requant("onnx", 0)
    with pytest.raises(ModelError, match="int8"):
        K.conv2d(x.astype(np.int16), np.zeros((2, 4, 3, 3), np.int8), None, rq, 0)
    with pytest.raises(ModelError, match="groups=3"):
        K.conv2d(x, np.zeros((3, 1, 3, 3), np.int8), None, rq, 0, groups=3)
    with pytest.raises(ModelError, match="empty"):
        K.conv2d(x, np.zeros((2, 4, 7, 7), np.int8), None, rq, 0)
    with pytest.raises(ModelError, match=r"range \[0, 9\)"):
        K.conv2d(x, np.zeros((2, 4, 3, 3), np.int8), None, rq, 0, c_stop=9)
    with pytest.raises(ModelError, match="equal shapes"):
        K.add(x, x[:2], onnx_add_params(1, 0, 1, 0, 1, 0))
    with pytest.raises(ModelError, match="TFLite int8 average pooling"):
        from intersim.nn.network import AvgPool2D
        AvgPool2D("p", "a", "b", (4, 5, 5), 2, semantics="tflite", x_scale=0.1, y_scale=0.2)


def test_int32_accumulators_wrap_like_c():
    # 4096 products of 255*255 overflow int32 (~2.66e8 * 16 > 2**31): both paths wrap identically
    k = 40000
    x = np.full(k, 127, np.int8)
    w = np.full((1, k), 127, np.int8)
    rq = Requant("onnx", 0, scale=np.float32(1.0))
    y = K.dense(x, w, None, rq, -128)  # (127+128)*127*k = 1_295_400_000 fits; make it overflow:
    ps = np.zeros(1, np.int32)
    for _ in range(3):
        K.dense_accumulate(x, w, None, -128, ps)
    exact = 3 * 255 * 127 * k
    assert int(ps[0]) == ((exact + 2**31) % 2**32) - 2**31
    assert y.dtype == np.int8
