"""int8 kernels equal onnxruntime bit for bit (CPU provider, graph optimisations off, 1 thread, s8s8)."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper as nh  # noqa: E402

from intersim.errors import ModelError  # noqa: E402
from intersim.nn.onnx_import import load_onnx, ort_session, qdq_to_qlinear  # noqa: E402

MS = "com.microsoft"


def make_model(nodes, inputs, output, inits, out_type=TensorProto.INT8):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(output, out_type, None)],
                          [nh.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return m


def ort_run(model, x):
    sess = ort_session(model)
    return sess.run(None, {sess.get_inputs()[0].name: x[None]})[0][0]


def scale(rng, lo, hi):
    return np.float32(np.exp(rng.uniform(lo, hi)))


@st.composite
def qconv(draw):
    groups = draw(st.integers(1, 3))
    cin_g, cout_g = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if draw(st.booleans()):
        cin_g = 1  # depthwise (with channel multiplier cout_g)
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    st_ = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    dil = [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    auto = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    pads = [draw(st.integers(0, 3)) for _ in range(4)]
    H = draw(st.integers(dil[0] * (kh - 1) + 1, 12))
    W = draw(st.integers(dil[1] * (kw - 1) + 1, 12))
    return dict(groups=groups, cin_g=cin_g, cout_g=cout_g, k=(kh, kw), strides=st_, dil=dil, auto=auto, pads=pads,
                H=H, W=W, per_channel=draw(st.booleans()), bias=draw(st.booleans()), wzp=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)))


@given(qconv())
def test_qlinearconv_bit_exact(p):
    rng = np.random.default_rng(p["seed"])
    g = p["groups"]
    cin, cout = p["cin_g"] * g, p["cout_g"] * g
    w = rng.integers(-128, 128, (cout, p["cin_g"], *p["k"])).astype(np.int8)
    ws = np.array([scale(rng, -7, -2) for _ in range(cout)], np.float32) if p["per_channel"] \
        else np.array(scale(rng, -7, -2), np.float32)
    wz = rng.integers(-5, 6, cout).astype(np.int8) if p["wzp"] and p["per_channel"] else \
        (np.zeros(cout, np.int8) if p["per_channel"] else np.int8(0))
    inits = dict(xs=scale(rng, -6, 0), xz=np.int8(rng.integers(-128, 128)), w=w, ws=ws, wz=wz,
                 ys=scale(rng, -3, 2), yz=np.int8(rng.integers(-128, 128)))
    names = ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"]
    if p["bias"]:
        inits["b"] = rng.integers(-(2**17), 2**17, cout).astype(np.int32)
        names.append("b")
    attrs = dict(kernel_shape=list(p["k"]), strides=p["strides"], dilations=p["dil"], group=g)
    if p["auto"] == "NOTSET":
        attrs["pads"] = p["pads"]
    else:
        attrs["auto_pad"] = p["auto"]
    m = make_model([helper.make_node("QLinearConv", names, ["y"], **attrs)],
                   [("x", TensorProto.INT8, [1, cin, p["H"], p["W"]])], "y", inits)
    x = rng.integers(-128, 128, (cin, p["H"], p["W"])).astype(np.int8)
    try:
        want = ort_run(m, x)
    except Exception:  # noqa: BLE001 - shapes onnxruntime itself refuses (empty output)
        return
    got = load_onnx(m).run(x)
    assert got.shape == want.shape and np.array_equal(got, want)


@given(st.integers(1, 64), st.integers(1, 16), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_qgemm_and_qlinearmatmul_bit_exact(k, n, per_col, trans_b, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, k).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    bs = np.array([scale(rng, -7, -2) for _ in range(n)], np.float32) if per_col else np.array(scale(rng, -7, -2))
    bz = np.zeros(n, np.int8) if per_col else np.int8(0)
    q = dict(a_s=scale(rng, -5, 0), a_z=np.int8(rng.integers(-128, 128)), b=b.T.copy() if trans_b else b, bs=bs, bz=bz,
             bias=rng.integers(-(2**16), 2**16, n).astype(np.int32), ys=scale(rng, -3, 1),
             yz=np.int8(rng.integers(-128, 128)))
    gemm = helper.make_node("QGemm", ["x", "a_s", "a_z", "b", "bs", "bz", "bias", "ys", "yz"], ["y"], domain=MS,
                            transB=int(trans_b))
    m = make_model([gemm], [("x", TensorProto.INT8, [1, k])], "y", q)
    assert np.array_equal(load_onnx(m).run(x), ort_run(m, x))
    if not per_col or n > 1:
        q2 = {kk: v for kk, v in q.items() if kk != "bias"}
        q2["b"] = b
        mm = helper.make_node("QLinearMatMul", ["x", "a_s", "a_z", "b", "bs", "bz", "ys", "yz"], ["y"])
        m2 = make_model([mm], [("x", TensorProto.INT8, [1, k])], "y", q2)
        assert np.array_equal(load_onnx(m2).run(x), ort_run(m2, x))


@given(st.integers(0, 2**32 - 1), st.tuples(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9)), st.booleans())
def test_qlinearadd_bit_exact(seed, shape, const):
    rng = np.random.default_rng(seed)
    sa, sb, sc = scale(rng, -5, 0), scale(rng, -5, 0), scale(rng, -5, 0)
    inits = dict(sa=sa, za=np.int8(rng.integers(-128, 128)), sb=sb, zb=np.int8(rng.integers(-128, 128)), sc=sc,
                 zc=np.int8(rng.integers(-128, 128)))
    a = rng.integers(-128, 128, shape).astype(np.int8)
    b = rng.integers(-128, 128, shape).astype(np.int8)
    if const:  # second operand a constant (the bias of a QLinearMatMul, as the quantiser writes it)
        inits["b"] = b[None]
        nodes = [helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["c"], domain=MS)]
        m = make_model(nodes, [("a", TensorProto.INT8, [1, *shape])], "c", inits)
    else:  # a + relu(a) so the model has one input and two distinct operands
        inits["zero"] = inits["za"]
        nodes = [helper.make_node("Clip", ["a", "zero"], ["b"]),
                 helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sa", "za", "sc", "zc"], ["c"], domain=MS)]
        m = make_model(nodes, [("a", TensorProto.INT8, [1, *shape])], "c", inits)
    assert np.array_equal(load_onnx(m).run(a), ort_run(m, a))


@st.composite
def pool(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = draw(st.integers(kh, 11)), draw(st.integers(kw, 11))
    glob = draw(st.booleans()) and draw(st.booleans())
    return dict(k=[kh, kw], H=H, W=W, strides=[draw(st.integers(1, 3)), draw(st.integers(1, 3))],
                pads=[draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)), draw(st.integers(0, kh - 1)),
                      draw(st.integers(0, kw - 1))], dil=[draw(st.integers(1, 2)), draw(st.integers(1, 2))],
                cip=draw(st.integers(0, 1)), glob=glob, C=draw(st.integers(1, 4)), seed=draw(st.integers(0, 2**32 - 1)))


@given(pool())
def test_maxpool_bit_exact(p):
    for i in range(2):  # onnxruntime's C division gives 1 output where the dilated window does not fit
        assume(p[("H", "W")[i]] + p["pads"][i] + p["pads"][i + 2] >= p["dil"][i] * (p["k"][i] - 1) + 1)
    x = np.random.default_rng(p["seed"]).integers(-128, 128, (p["C"], p["H"], p["W"])).astype(np.int8)
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=p["k"], strides=p["strides"], pads=p["pads"],
                            dilations=p["dil"])
    m = make_model([node], [("x", TensorProto.INT8, [1, p["C"], p["H"], p["W"]])], "y", {})
    try:
        want = ort_run(m, x)
    except Exception:  # noqa: BLE001
        return
    if want.size == 0:
        with pytest.raises(ModelError, match="empty"):
            load_onnx(m)
        return
    assert np.array_equal(load_onnx(m).run(x), want)


@given(pool())
def test_qlinear_average_pool_bit_exact(p):
    rng = np.random.default_rng(p["seed"])
    x = rng.integers(-128, 128, (p["C"], p["H"], p["W"])).astype(np.int8)
    inits = dict(xs=scale(rng, -5, 0), xz=np.int8(rng.integers(-128, 128)), ys=scale(rng, -5, 0),
                 yz=np.int8(rng.integers(-128, 128)))
    if p["glob"]:
        node = helper.make_node("QLinearGlobalAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS,
                                channels_last=0)
    else:
        node = helper.make_node("QLinearAveragePool", ["x", "xs", "xz", "ys", "yz"], ["y"], domain=MS,
                                kernel_shape=p["k"], strides=p["strides"], pads=p["pads"], count_include_pad=p["cip"])
    m = make_model([node], [("x", TensorProto.INT8, [1, p["C"], p["H"], p["W"]])], "y", inits)
    try:
        want = ort_run(m, x)
    except Exception as e:  # noqa: BLE001 - e.g. global-pool scale outside MLAS's range
        assert "range" in str(e) or p["glob"], e
        return
    assert np.array_equal(load_onnx(m).run(x), want)


def _qdq_model(rng, relu_between: bool):
    """float in -> Q -> DQ -> Conv(+bias) [-> Relu] -> Q -> DQ -> MaxPool -> Q -> DQ -> Flatten -> Q -> DQ -> Gemm -> Q -> DQ."""
    C, H = 2, 6
    s = {k: scale(rng, -5, -1) for k in ("x", "c", "f", "y")}
    z = {k: np.int8(rng.integers(-20, 20)) for k in s}
    z["c"] = np.int8(-128) if not relu_between else np.int8(rng.integers(-20, 20))
    w = rng.integers(-127, 128, (4, C, 3, 3)).astype(np.int8)
    ws = np.array([scale(rng, -6, -3) for _ in range(4)], np.float32)
    bias = rng.integers(-500, 500, 4).astype(np.int32)
    fc = rng.integers(-127, 128, (10, 4 * 3 * 3)).astype(np.int8)
    fs = np.float32(scale(rng, -6, -3))
    inits = {"w": w, "ws": ws, "wz": np.zeros(4, np.int8), "b": bias,
             "bs": (s["x"] * ws).astype(np.float32), "bz": np.zeros(4, np.int32),
             "fc": fc, "fs": fs, "fz": np.int8(0), "fcb": rng.normal(0, 0.1, 10).astype(np.float32)}
    for k in s:
        inits[f"s{k}"], inits[f"z{k}"] = s[k], z[k]
    N = helper.make_node
    nodes = [N("QuantizeLinear", ["x", "sx", "zx"], ["xq"]), N("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
             N("DequantizeLinear", ["w", "ws", "wz"], ["wd"], axis=0),
             N("DequantizeLinear", ["b", "bs", "bz"], ["bd"], axis=0),
             N("Conv", ["xd", "wd", "bd"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])]
    if relu_between:
        nodes.append(N("Relu", ["c"], ["cr"]))
        nodes.append(N("QuantizeLinear", ["cr", "sc", "zc"], ["cq"]))
    else:
        nodes.append(N("QuantizeLinear", ["c", "sc", "zc"], ["cq"]))
    nodes += [N("DequantizeLinear", ["cq", "sc", "zc"], ["cd"]),
              N("MaxPool", ["cd"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
              N("QuantizeLinear", ["p", "sc", "zc"], ["pq"]), N("DequantizeLinear", ["pq", "sc", "zc"], ["pd"]),
              N("Flatten", ["pd"], ["f"], axis=1),
              N("QuantizeLinear", ["f", "sc", "zc"], ["fq"]), N("DequantizeLinear", ["fq", "sc", "zc"], ["fd"]),
              N("DequantizeLinear", ["fc", "fs", "fz"], ["fcd"]),
              N("Gemm", ["fd", "fcd", "fcb"], ["g"], transB=1),
              N("QuantizeLinear", ["g", "sy", "zy"], ["gq"]), N("DequantizeLinear", ["gq", "sy", "zy"], ["y"])]
    return make_model(nodes, [("x", TensorProto.FLOAT, [1, C, H, H])], "y", inits, TensorProto.FLOAT), s, z


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_qdq_converts_to_qlinear(seed, relu_between):
    rng = np.random.default_rng(seed)
    m, s, z = _qdq_model(rng, relu_between)
    net = load_onnx(m)
    ops = ["conv2d", "relu", "maxpool", "flatten", "dense"] if relu_between else ["conv2d", "maxpool", "flatten",
                                                                                      "dense"]
    assert [l.op for l in net.layers] == ops
    assert net.meta["input_quant"] == [float(s["x"]), int(z["x"])]
    q = rng.integers(-128, 128, (2, 6, 6)).astype(np.int8)
    xf = ((q.astype(np.int32) - int(z["x"])).astype(np.float32) * s["x"])  # exactly representable input
    y_int8 = net.run(q)
    y = (y_int8.astype(np.int32) - int(z["y"])).astype(np.float32) * s["y"]
    # bit-exact against onnxruntime on the QLinear form we converted to
    ql = qdq_to_qlinear(m)
    assert np.array_equal(ort_run(ql, xf), y)
    # and close to onnxruntime executing the QDQ graph in float (it rounds differently inside)
    yq = ort_run(m, xf)
    assert np.max(np.abs(yq - y)) <= 3 * s["y"] + 1e-6


def test_unsupported_op_names_node_and_op():
    node = helper.make_node("Softmax", ["x"], ["y"], name="probs")
    m = make_model([node], [("x", TensorProto.INT8, [1, 10])], "y", {})
    with pytest.raises(ModelError, match=r"node 'probs' \(op Softmax\)"):
        load_onnx(m)
    node = helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], ceil_mode=1)
    m = make_model([node], [("x", TensorProto.INT8, [1, 1, 5, 5])], "y", {})
    with pytest.raises(ModelError, match="node 'mp'.*ceil_mode"):
        load_onnx(m)
    with pytest.raises(ModelError, match="does not exist"):
        load_onnx("/nonexistent/model.onnx")


def test_uint8_refused_with_reason():
    inits = dict(xs=np.float32(0.1), xz=np.uint8(128), w=np.zeros((1, 1, 1, 1), np.uint8), ws=np.float32(0.1),
                 wz=np.uint8(0), ys=np.float32(0.1), yz=np.uint8(0))
    node = helper.make_node("QLinearConv", ["x", *inits], ["y"], name="c")
    m = make_model([node], [("x", TensorProto.UINT8, [1, 1, 3, 3])], "y", inits, TensorProto.UINT8)
    with pytest.raises(ModelError, match="UINT8"):
        load_onnx(m)
