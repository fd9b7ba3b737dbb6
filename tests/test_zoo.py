"""The model zoo: a trained digits CNN with measured accuracy, literature shapes, ONNX round trip."""
import json

import numpy as np
import pytest

from intersim.nn import zoo
from intersim.errors import ModelError


def test_names_and_unknown_name():
    assert zoo.names() == ["digits_cnn", "digits_cnn_jax", "digits_ee", "digits_ee_exit1", "digits_ee_exit2", "digits_ee_final",
                           "mnist1d_cnn", "cifar10_squeezenet", "har_cnn", "kws_dnn_s", "mnist_lenet"]
    with pytest.raises(ModelError, match="unknown zoo model 'lenet'; valid: digits_cnn, "):
        zoo.load("lenet")
    with pytest.raises(ModelError, match="valid:"):
        zoo.samples("nope")


def test_digits_cnn_accuracy_is_what_the_metadata_says():
    net = zoo.load("digits_cnn")
    x, y = zoo.samples("digits_cnn")
    assert x.dtype == np.int8 and x.shape == (540, 1, 8, 8) and y.shape == (540,)
    assert net.input_shape == (1, 8, 8) and net.output_shape == (10,)
    assert 20_000 <= net.total_macs() <= 60_000
    preds = np.array([int(np.argmax(net.run(xi))) for xi in x])
    acc = float((preds == y).mean())
    meta = json.loads((zoo.HERE / "digits_cnn.json").read_text())
    assert acc == pytest.approx(meta["int8_accuracy"], abs=1e-4) == net.meta["int8_accuracy"]
    assert meta["accuracy_claimed"] is True
    assert acc > 0.95 and meta["float_accuracy"] > 0.95
    assert abs(meta["float_accuracy"] - acc) < 0.02


def test_digits_cnn_equals_onnxruntime_on_its_export(tmp_path):
    pytest.importorskip("onnxruntime")
    from intersim.nn.onnx_export import ort_session, to_onnx
    from intersim.nn.onnx_import import load_onnx

    net = zoo.load("digits_cnn")
    x, _ = zoo.samples("digits_cnn")
    path = tmp_path / "digits.onnx"
    to_onnx(net, path)
    sess = ort_session(path)
    want = np.stack([sess.run(None, {net.input_name: xi[None]})[0][0] for xi in x])
    got = np.stack([net.run(xi) for xi in x])
    assert np.array_equal(got, want)  # all 540 held-out inputs, every logit
    back = load_onnx(path)
    assert np.array_equal(np.stack([back.run(xi) for xi in x[:50]]), got[:50])


# MACs of the models Stateful-CNN ran (shared/anchors/stateful_cnn.md §2.3; HAR derived from the notebook)
LITERATURE_MACS = {"mnist_lenet": 786_560, "cifar10_squeezenet": 3_876_032, "kws_dnn_s": 79_200, "har_cnn": 297_216}


@pytest.mark.parametrize("name", sorted(LITERATURE_MACS))
def test_literature_shapes(name):
    net = zoo.load(name)
    assert net.total_macs() == LITERATURE_MACS[name]
    assert net.meta["accuracy_claimed"] is False
    x, y = zoo.samples(name)
    assert (y == -1).all() and x.shape[1:] == net.input_shape
    out = net.run(x[0])
    assert out.shape == net.output_shape
    # calibrated scales: activations are not all saturated or all zero
    acts = net.run_all(x[1])
    for t, a in acts.items():
        assert len(np.unique(a)) > 1, t
    assert zoo.load(name) is net  # cached
    # deterministic: rebuilt from the seed, same weights
    from intersim.nn.zoo.literature import BUILDERS

    again = BUILDERS[name]()
    assert all(np.array_equal(getattr(a, "weight", 0), getattr(b, "weight", 0)) for a, b in zip(net.layers, again.layers))


def test_squeezenet_weight_count_matches_anchor():
    net = zoo.load("cifar10_squeezenet")
    weights = sum(l.weight.size + l.bias.size for l in net.layers if hasattr(l, "weight"))
    assert weights == 73_546
