"""Models made by ``onnxruntime.quantization.quantize_static`` (QOperator and QDQ, per-channel on
and off) import and run bit-exactly as onnxruntime (graph optimisations off) computes them."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper as nh  # noqa: E402
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,  # noqa: E402
                                      quantize_static)

from intersim.errors import ModelError  # noqa: E402
from intersim.nn.onnx_export import ort_session  # noqa: E402
from intersim.nn.onnx_import import load_onnx  # noqa: E402
from intersim.nn.onnx_qdq import qdq_to_qlinear  # noqa: E402
from intersim.nn.samples import quantize_linear  # noqa: E402

N = helper.make_node


def float_net(path, softmax=True):
    """conv 1->4 3x3 + relu -> maxpool 2 -> conv 4->6 + relu -> flatten -> gemm 96->10 [-> softmax]."""
    rng = np.random.default_rng(3)
    f = lambda *s: nh.from_array(rng.normal(0, 0.4, s).astype(np.float32), f"t{len(s)}_{rng.integers(1 << 30)}")
    w1, b1, w2, b2, w3, b3 = f(4, 1, 3, 3), f(4), f(6, 4, 3, 3), f(6), f(10, 96), f(10)
    nodes = [N("Conv", ["x", w1.name, b1.name], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("Relu", ["c1"], ["r1"], name="relu1"),
             N("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             N("Conv", ["p1", w2.name, b2.name], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("Relu", ["c2"], ["r2"], name="relu2"),
             N("Flatten", ["r2"], ["f"], name="flatten", axis=1),
             N("Gemm", ["f", w3.name, b3.name], ["logits" if softmax else "y"], name="fc", transB=1)]
    if softmax:
        nodes.append(N("Softmax", ["logits"], ["y"], name="softmax", axis=1))
    g = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w1, b1, w2, b2, w3, b3])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))


class Calibration(CalibrationDataReader):
    def __init__(self):
        rng = np.random.default_rng(11)
        self.it = iter([{"x": rng.normal(0, 1, (1, 1, 8, 8)).astype(np.float32)} for _ in range(24)])

    def get_next(self):
        return next(self.it, None)


@pytest.fixture(scope="module", params=[(f, pc) for f in ("QOperator", "QDQ") for pc in (False, True)],
                ids=lambda p: f"{p[0]}-{'per_channel' if p[1] else 'per_tensor'}")
def quantized(request, tmp_path_factory):
    fmt, per_channel = request.param
    d = tmp_path_factory.mktemp(f"{fmt}{per_channel}")
    float_net(d / "f.onnx")
    quantize_static(str(d / "f.onnx"), str(d / "q.onnx"), Calibration(), quant_format=getattr(QuantFormat, fmt),
                    per_channel=per_channel, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return fmt, onnx.load(str(d / "q.onnx"))


def test_imports_every_layer(quantized):
    fmt, m = quantized
    ops = [n.op_type for n in m.graph.node]
    if fmt == "QOperator":  # the form the importer used to refuse
        assert "QLinearConv" in ops and "QLinearSoftmax" in ops and ops[-1] == "DequantizeLinear"
    net = load_onnx(m)
    assert [l.op for l in net.layers] == ["conv2d", "maxpool", "conv2d", "flatten", "dense"]
    assert net.output_shape == (10,)
    assert [t.split()[0] for t in net.meta["output_tail"]] == ["QLinearSoftmax", "DequantizeLinear"]


def test_bit_exact_with_onnxruntime_from_float_input(quantized):
    """The int8 logits (intersim's output) equal onnxruntime's, input quantisation included; the
    arg-max of onnxruntime's float probabilities is intersim's predicted class (up to int8 ties)."""
    fmt, m = quantized
    net = load_onnx(m)
    ql = qdq_to_qlinear(m)  # QOperator: unchanged; QDQ: the QLinear form intersim computes
    ql.graph.output.append(helper.make_tensor_value_info(net.output_name, TensorProto.INT8, None))
    sess = ort_session(ql)
    scale, zp = net.meta["input_quant"]
    rng = np.random.default_rng(5)
    for _ in range(40):
        x = rng.normal(0, 1.5, (1, 1, 8, 8)).astype(np.float32)
        probs, logits = sess.run(None, {"x": x})
        got = net.run(quantize_linear(x[0], scale, zp))
        assert got.dtype == np.int8 and np.array_equal(got, logits[0])
        assert probs[0][int(got.argmax())] == probs[0].max()


def test_qdq_float_graph_predicts_the_same_class(quantized):
    """onnxruntime running the QDQ graph itself (in float, optimisations off) agrees on the class."""
    fmt, m = quantized
    net = load_onnx(m)
    sess = ort_session(m)
    scale, zp = net.meta["input_quant"]
    rng = np.random.default_rng(6)
    xs = rng.normal(0, 1.5, (60, 1, 1, 8, 8)).astype(np.float32)
    agree = [int(net.run(quantize_linear(x[0], scale, zp)).argmax()) == int(sess.run(None, {"x": x})[0].argmax())
             for x in xs]
    assert np.mean(agree) >= 0.95


def test_float_softmax_after_dequantize(tmp_path):
    """Softmax left in float (not quantised): the output is the int8 tensor before the DequantizeLinear."""
    float_net(tmp_path / "f.onnx")
    quantize_static(str(tmp_path / "f.onnx"), str(tmp_path / "q.onnx"), Calibration(),
                    quant_format=QuantFormat.QOperator, op_types_to_quantize=["Conv", "Gemm", "MaxPool", "Relu"],
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    m = onnx.load(str(tmp_path / "q.onnx"))
    assert [n.op_type for n in m.graph.node][-2:] == ["DequantizeLinear", "Softmax"]
    net = load_onnx(m)
    assert [t.split()[0] for t in net.meta["output_tail"]] == ["DequantizeLinear", "Softmax"]
    x = np.random.default_rng(1).normal(0, 1, (1, 1, 8, 8)).astype(np.float32)
    got = net.run(quantize_linear(x[0], *net.meta["input_quant"]))
    probs = ort_session(m).run(None, {"x": x})[0][0]
    s, z = net.meta["output_quant"]
    assert np.allclose(np.exp(s * (got - z)) / np.exp(s * (got - z)).sum(), probs, rtol=1e-5, atol=1e-7)


def _plain(nodes, inits, in_shape, out_type=TensorProto.INT8, in_type=TensorProto.INT8):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", in_type, in_shape)],
                          [helper.make_tensor_value_info("y", out_type, None)],
                          [nh.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def test_refusals_name_node_op_and_what_is_supported():
    q = dict(s=np.float32(0.1), z=np.int8(0))
    mid = [N("QLinearSoftmax", ["x", "s", "z", "s", "z"], ["p"], name="sm", domain="com.microsoft", axis=1, opset=13),
           N("Relu", ["p"], ["y"], name="r")]
    with pytest.raises(ModelError, match=r"node 'sm' \(op QLinearSoftmax\).*only at the graph output"):
        load_onnx(_plain(mid, q, [1, 10]))
    spatial = [N("MaxPool", ["x"], ["t"], name="mp", kernel_shape=[1, 1]),
               N("QLinearSoftmax", ["t", "s", "z", "s", "z"], ["y"], name="sm3", domain="com.microsoft", axis=1,
                 opset=13)]
    with pytest.raises(ModelError, match=r"node 'sm3' \(op QLinearSoftmax\): .*vector.*\(4, 3, 3\)"):
        load_onnx(_plain(spatial, q, [1, 4, 3, 3]))
    empty = [N("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[5, 5])]
    with pytest.raises(ModelError, match=r"^node 'mp' \(op MaxPool\): pool output would be empty"):
        load_onnx(_plain(empty, {}, [1, 1, 3, 3]))
    unknown = [N("QLinearSigmoid", ["x", "s", "z", "s", "z"], ["y"], name="sig", domain="com.microsoft")]
    with pytest.raises(ModelError, match=r"node 'sig' \(op QLinearSigmoid\): op not supported; supported: QLinearConv"):
        load_onnx(_plain(unknown, q, [1, 10]))
