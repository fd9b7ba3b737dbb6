"""Make the example's own model: a float CNN trained on scikit-learn's digits, quantised with
onnxruntime's ``quantize_static`` (QOperator, per-channel, int8), and its held-out samples.

Writes, beside this script:

* ``net.onnx``: the quantised model (QuantizeLinear -> QLinearConv ... QGemm -> QLinearSoftmax ->
  DequantizeLinear; float input and output), quantised from a float ONNX graph kept only in a
  temporary directory;
* ``samples.npz``: ``x`` float32 [540, 1, 8, 8] (pixel / 16, the model's float input) and ``y``
  int64 [540] labels of the held-out split.

Run:  python scenarios/own_model/make_model.py   (needs intersim[onnx,zoo]; about 30 s)
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 7
EPOCHS = 30
WIDTHS = (4, 8)


def float_onnx(p: dict, path: Path):
    """The trained float CNN as an ONNX graph (what a user exports from a training framework)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    N = helper.make_node
    nodes = [N("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("Relu", ["c1"], ["r1"], name="relu1"),
             N("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
             N("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             N("Relu", ["c2"], ["r2"], name="relu2"),
             N("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
             N("Flatten", ["p2"], ["f"], name="flatten", axis=1),
             N("Gemm", ["f", "w3", "b3"], ["logits"], name="fc", transB=1),
             N("Softmax", ["logits"], ["probs"], name="softmax", axis=1)]
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in p.items()]
    graph = helper.make_graph(nodes, "own_digits_cnn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def main():
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from intersim.nn.zoo.build_digits import train

    d = load_digits()
    xtr, xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.3, random_state=SEED,
                                          stratify=d.target)
    xtr, xte = xtr.reshape(-1, 1, 8, 8), xte.reshape(-1, 1, 8, 8).astype(np.float32)
    net = train(xtr, ytr, np.random.default_rng(SEED), epochs=EPOCHS, widths=WIDTHS)
    print(f"float accuracy on the held-out split: {(net.forward(xte)[0].argmax(1) == yte).mean():.4f}")

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.it = iter({"x": xtr[i:i + 1].astype(np.float32)} for i in range(0, len(xtr), 4))

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp:
        fpath = Path(tmp) / "net_float.onnx"
        float_onnx(net.p, fpath)
        quantize_static(str(fpath), str(HERE / "net.onnx"), Calibration(), quant_format=QuantFormat.QOperator,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    np.savez_compressed(HERE / "samples.npz", x=xte, y=yte.astype(np.int64))

    from intersim.nn.onnx_import import load_onnx
    from intersim.nn.samples import load_request_samples
    q = load_onnx(HERE / "net.onnx")
    x, y = load_request_samples(HERE / "samples.npz", q)
    acc = np.mean([int(q.run(xi).argmax()) == yi for xi, yi in zip(x, y)])
    print(f"int8 accuracy (intersim's kernels) on the held-out split: {acc:.4f}")
    print(f"wrote {HERE / 'net.onnx'} and {HERE / 'samples.npz'}")


if __name__ == "__main__":
    main()
