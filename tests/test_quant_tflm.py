"""TFLite-Micro fixed-point semantics: bit-exact against the tflite-micro interpreter (PyPI
``tflite-micro``) when it is installed, and against golden vectors recorded from it otherwise."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from intersim.nn import int8_kernels as K
from intersim.nn.quant import Requant, tflite_add_params

try:
    from tflite_micro.python.tflite_micro import runtime as tflm_runtime
    from tflite_micro.tensorflow.lite.micro.compression import model_editor as me
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as tfl
except Exception:  # noqa: BLE001 - optional
    tflm_runtime = None

needs_tflm = pytest.mark.skipif(tflm_runtime is None, reason="pip install tflite-micro")


def _t(shape, dtype, q=None, data=None, name=""):
    return me.Tensor(shape=tuple(shape), dtype=dtype, data=data, quantization=q, name=name)


def _q(scale, zp, axis=None):
    if np.ndim(scale):
        return me.Quantization([float(v) for v in scale], [int(zp)] * len(scale), axis=axis)
    return me.Quantization(float(scale), int(zp))


def _run(op_code, opt_type, opt, inputs, out, feeds):
    op = me.Operator(opcode=op_code, inputs=inputs, outputs=[out])
    if opt is not None:
        op._fb.builtinOptionsType, op._fb.builtinOptions = opt_type, opt
    m = me.Model()
    dyn = [t for t in inputs if t.buffer is None]
    m.add_subgraph(tensors=[t for t in inputs if t is not None] + [out], operators=[op], inputs=dyn, outputs=[out])
    m.buffers.append(me.Buffer(data=b""))
    it = tflm_runtime.Interpreter.from_bytes(bytes(m.build()))
    for i, f in enumerate(feeds):
        it.set_input(f, i)
    it.invoke()
    return it.get_output(0)


ACT = {"none": 0, "relu": 1, "relu6": 3}


def _act_bounds(act, ys, yz):
    if act == "none":
        return -128, 127
    lo = max(-128, yz)
    if act == "relu":
        return lo, 127
    return lo, min(127, yz + int(np.floor(float(np.float32(6.0) / np.float32(ys)) + 0.5)))


@st.composite
def tconv(draw):
    depthwise = draw(st.booleans())
    c = draw(st.integers(1, 4))
    mult = draw(st.integers(1, 3)) if depthwise else 1
    o = c * mult if depthwise else draw(st.integers(1, 5))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    H = draw(st.integers(d[0] * (k[0] - 1) + 1, 9))
    W = draw(st.integers(d[1] * (k[1] - 1) + 1, 9))
    return dict(depthwise=depthwise, c=c, mult=mult, o=o, k=k, s=s, d=d, H=H, W=W,
                same=draw(st.booleans()), act=draw(st.sampled_from(sorted(ACT))), seed=draw(st.integers(0, 2**32 - 1)))


def _same_pads(H, W, k, s, d):
    pads = []
    for n, kk, ss, dd in ((H, k[0], s[0], d[0]), (W, k[1], s[1], d[1])):
        out = -(-n // ss)
        total = max(0, (out - 1) * ss + (kk - 1) * dd + 1 - n)
        pads.append((total // 2, total - total // 2))
    return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])


@needs_tflm
@given(tconv())
def test_conv_and_depthwise_match_tflm(p):
    rng = np.random.default_rng(p["seed"])
    c, o, (kh, kw) = p["c"], p["o"], p["k"]
    xs, ys = float(np.exp(rng.uniform(-5, -1))), float(np.exp(rng.uniform(-3, 1)))
    xz, yz = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    ws = np.exp(rng.uniform(-7, -3, o)).astype(np.float32)
    x = rng.integers(-128, 128, (1, p["H"], p["W"], c)).astype(np.int8)
    b = rng.integers(-(2**15), 2**15, o).astype(np.int32)
    i8, i32 = tfl.TensorType.INT8, tfl.TensorType.INT32
    if p["depthwise"]:
        w = rng.integers(-127, 128, (1, kh, kw, o)).astype(np.int8)
        ours_w = w[0].transpose(2, 0, 1)[:, None].copy()
        opt = tfl.DepthwiseConv2DOptionsT()
        opt.depthMultiplier = p["mult"]
        code, otype, axis, groups = tfl.BuiltinOperator.DEPTHWISE_CONV_2D, tfl.BuiltinOptions.DepthwiseConv2DOptions, 3, c
    else:
        w = rng.integers(-127, 128, (o, kh, kw, c)).astype(np.int8)
        ours_w = w.transpose(0, 3, 1, 2).copy()
        opt = tfl.Conv2DOptionsT()
        code, otype, axis, groups = tfl.BuiltinOperator.CONV_2D, tfl.BuiltinOptions.Conv2DOptions, 0, 1
    opt.padding = tfl.Padding.SAME if p["same"] else tfl.Padding.VALID
    opt.strideH, opt.strideW = p["s"]
    opt.dilationHFactor, opt.dilationWFactor = p["d"]
    opt.fusedActivationFunction = ACT[p["act"]]
    pads = _same_pads(p["H"], p["W"], p["k"], p["s"], p["d"]) if p["same"] else (0, 0, 0, 0)
    Ho, Wo = K.conv_out_hw(p["H"], p["W"], kh, kw, p["s"], pads, p["d"])
    tin = _t(x.shape, i8, _q(xs, xz))
    tw = _t(w.shape, i8, _q(ws, 0, axis), w)
    tb = _t(b.shape, i32, _q((np.float32(xs) * ws).astype(np.float32), 0, 0), b)
    tout = _t((1, Ho, Wo, o), i8, _q(ys, yz))
    want = _run(code, otype, opt, [tin, tw, tb], tout, [x])[0].transpose(2, 0, 1)
    lo, hi = _act_bounds(p["act"], ys, yz)
    rq = Requant.from_scales("tflite", xs, ws, ys, yz, lo, hi)
    got = K.conv2d(x[0].transpose(2, 0, 1).copy(), ours_w, b, rq, xz, None, p["s"], pads, p["d"], groups)
    assert np.array_equal(got, want)


@needs_tflm
@given(st.integers(1, 48), st.integers(1, 12), st.sampled_from(sorted(ACT)), st.integers(0, 2**32 - 1))
def test_fully_connected_matches_tflm(k, n, act, seed):
    rng = np.random.default_rng(seed)
    xs, ws, ys = (float(np.exp(rng.uniform(a, b))) for a, b in ((-5, -1), (-7, -3), (-3, 1)))
    xz, yz = int(rng.integers(-128, 128)), int(rng.integers(-128, 128))
    x = rng.integers(-128, 128, (1, k)).astype(np.int8)
    w = rng.integers(-127, 128, (n, k)).astype(np.int8)
    b = rng.integers(-(2**15), 2**15, n).astype(np.int32)
    i8, i32 = tfl.TensorType.INT8, tfl.TensorType.INT32
    opt = tfl.FullyConnectedOptionsT()
    opt.fusedActivationFunction = ACT[act]
    want = _run(tfl.BuiltinOperator.FULLY_CONNECTED, tfl.BuiltinOptions.FullyConnectedOptions, opt,
                [_t(x.shape, i8, _q(xs, xz)), _t(w.shape, i8, _q(ws, 0), w),
                 _t(b.shape, i32, _q(float(np.float32(xs) * np.float32(ws)), 0), b)],
                _t((1, n), i8, _q(ys, yz)), [x])[0]
    rq = Requant.from_scales("tflite", xs, ws, ys, yz, *_act_bounds(act, ys, yz))
    assert np.array_equal(K.dense(x[0], w, b, rq, xz), want)


@needs_tflm
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.booleans(), st.booleans(),
       st.sampled_from(sorted(ACT)), st.integers(0, 2**32 - 1))
def test_pools_match_tflm(kh, kw, s, same, is_max, act, seed):
    rng = np.random.default_rng(seed)
    H, W, C = int(rng.integers(kh, 9)), int(rng.integers(kw, 9)), int(rng.integers(1, 4))
    sc, zp = float(np.exp(rng.uniform(-4, 0))), int(rng.integers(-128, 128))
    x = rng.integers(-128, 128, (1, H, W, C)).astype(np.int8)
    opt = tfl.Pool2DOptionsT()
    opt.padding = tfl.Padding.SAME if same else tfl.Padding.VALID
    opt.strideH = opt.strideW = s
    opt.filterHeight, opt.filterWidth = kh, kw
    opt.fusedActivationFunction = ACT[act]
    pads = _same_pads(H, W, (kh, kw), (s, s), (1, 1)) if same else (0, 0, 0, 0)
    Ho, Wo = K.conv_out_hw(H, W, kh, kw, (s, s), pads, (1, 1))
    code = tfl.BuiltinOperator.MAX_POOL_2D if is_max else tfl.BuiltinOperator.AVERAGE_POOL_2D
    i8 = tfl.TensorType.INT8
    want = _run(code, tfl.BuiltinOptions.Pool2DOptions, opt, [_t(x.shape, i8, _q(sc, zp))],
                _t((1, Ho, Wo, C), i8, _q(sc, zp)), [x])[0].transpose(2, 0, 1)
    lo, hi = _act_bounds(act, sc, zp)
    xc = x[0].transpose(2, 0, 1).copy()
    if is_max:
        got = K.maxpool2d(xc, (kh, kw), s, pads, act_min=lo, act_max=hi)
    else:
        got = K.avgpool2d(xc, (kh, kw), s, pads, semantics="tflite", act_min=lo, act_max=hi)
    assert np.array_equal(got, want)


@needs_tflm
@given(st.sampled_from(sorted(ACT)), st.integers(0, 2**32 - 1))
def test_add_matches_tflm(act, seed):
    rng = np.random.default_rng(seed)
    shape = (1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    sa, sb, sc = (float(np.exp(rng.uniform(-5, 0))) for _ in range(3))
    za, zb, zc = (int(v) for v in rng.integers(-128, 128, 3))
    a = rng.integers(-128, 128, shape).astype(np.int8)
    b = rng.integers(-128, 128, shape).astype(np.int8)
    i8 = tfl.TensorType.INT8
    opt = tfl.AddOptionsT()
    opt.fusedActivationFunction = ACT[act]
    want = _run(tfl.BuiltinOperator.ADD, tfl.BuiltinOptions.AddOptions, opt,
                [_t(shape, i8, _q(sa, za)), _t(shape, i8, _q(sb, zb))], _t(shape, i8, _q(sc, zc)), [a, b])
    lo, hi = _act_bounds(act, sc, zc)
    got = K.add(a[0], b[0], tflite_add_params(sa, za, sb, zb, sc, zc), act_min=lo, act_max=hi)
    assert np.array_equal(got, want[0])


# Golden vectors recorded from tflite-micro 0.dev20261023182759 (the cases of _golden_cases), so the
# fixed-point path stays checked where the interpreter is not installed.
GOLDEN = {
    "conv": [
        -5, -1, -5, -5, -5, -5, -5, 64, 79, 69, -5, -5, -5, -5, -5, -5, -5, -5, -5, -5, 83, 7, 21, 21, -5, -5,
        -5, -4, 8, 6, 19, 8, -1, 0, -5, 4, 6, -2, -2, -5, -5, -5, -2, 0, 2, -5, 1, -2, -3, -5, 1, -2, -5, -4, 3,
        -1, 0, -4, -2, -2, -3, -3, -4, 9, -4, 20, -5, -5, 26, 25, 29, 13, 14, 7, 1, 46, -1, 9, 35, 40, 18, 18,
        29, -5
    ],
    "depthwise": [
        9, 9, 9, 15, 0, 12, 17, 21, 2, -1, 6, 15, 12, -5, 3, 17, 1, 3, 21, -5, 15, 15, 24, 1, -2, -1, 12, 18, 6,
        2, 15, -4, 14, 17, -1, 2, 9, 12, 1, 15, 3, 8, 8, 12, 5, 10, 24, 8, 6, 0, 13, 8, 10, 13, 21, 20, 17, 5,
        11, -2, 12, 28, 4, 0, 5, 17, 10, 13, 16, 6, 14, 13, 11, 22, -2, 16, 13, 11, 1, 14, 16, 12, 25, 9, 10, 8,
        6, 4, 8, 6, 4, 15, 17, 15, 6, 1, 0, 7, 21, 18, 17, 15, 11, 4, 7, 19, 17, 14, 11, 6, 11, 6, 16, 18, 9,
        12, 10, 11, 7, 9, 12, 18, 18, 12, 10, 13, 11, 47, -7, 24, -4, 17, 20, 33, 33, 46, 12, 38, 16, 19, 4,
        -28, -8, 27, 1, 23, -12, -11, -4, -28, 6, 6, 29, 5, 2, 18, 45, 30, 14, 8, 40, -16, 12, -1, -13, 25, -7,
        13, -35, 2, -21, -71, 105, -90, -88, 79, -128, -10, 69, 21, -13, 97, -89, 127, -65, 97, -74, 49, 68, 58,
        118, -128, 19, -33, 30, 46, 121, -128, 79, -12, 110, -128, 102, -54, 68, 63, -9, -42, 105, -123, 34,
        -44, 77, 76, 31, -100, -11, -128, -50, 70, 66, 15, 3, -54, 7, -19, -128, 5, 1, 44, -61, 63, -128, -104,
        15, 41, -55, 103, -48, 33, -26, 3, -55, 17, 21, 66, 61, -43, -54, 33, -77, 25
    ],
    "fc": [
        -10, 4, -6, 9, -1, 16, -11, 16
    ],
    "add": [
        37, 23, -105, 105, -84, -16, 30, -100, -56, -11, -116, 36, 9, -12, 55, -38, -30, 0, -5, 14, -83, -69,
        33, 11
    ],
}


def _golden_cases():
    rng = np.random.default_rng(2024)
    x = rng.integers(-128, 128, (3, 6, 7)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)
    ws = np.exp(rng.uniform(-7, -3, 4)).astype(np.float32)
    b = rng.integers(-(2**15), 2**15, 4).astype(np.int32)
    # conv 3x3 stride (2, 1) SAME (TFLite pads (0, 1, 1, 1)), fused ReLU
    conv = K.conv2d(x, w, b, Requant.from_scales("tflite", 0.03, ws, 0.4, -5, -5, 127), 7, None, (2, 1), (0, 1, 1, 1))
    wd = rng.integers(-127, 128, (6, 1, 3, 3)).astype(np.int8)
    wsd = np.exp(rng.uniform(-7, -3, 6)).astype(np.float32)
    # depthwise 3x3, multiplier 2, SAME, no bias (zeros)
    dw = K.conv2d(x, wd, None, Requant.from_scales("tflite", 0.03, wsd, 0.2, 9), 7, None, 1, (1, 1, 1, 1), 1, 3)
    v = rng.integers(-128, 128, 40).astype(np.int8)
    wf = rng.integers(-127, 128, (8, 40)).astype(np.int8)
    fc = K.dense(v, wf, rng.integers(-5000, 5000, 8).astype(np.int32),
                 Requant.from_scales("tflite", 0.05, 0.004, 0.7, 3), -11)
    a = rng.integers(-128, 128, (2, 3, 4)).astype(np.int8)
    bb = rng.integers(-128, 128, (2, 3, 4)).astype(np.int8)
    add = K.add(a, bb, tflite_add_params(0.07, 4, 0.02, -9, 0.09, 1))
    return {"conv": conv, "depthwise": dw, "fc": fc, "add": add}


def test_golden_vectors_from_tflm():
    got = _golden_cases()
    for k, v in GOLDEN.items():
        assert got[k].reshape(-1).tolist() == v, k
