"""Training determinism, quantisation to an intersim Network, accuracy through the int8 kernels."""
import numpy as np
import pytest

pytest.importorskip("jax", reason="training needs JAX (pip install 'intersim[train]')")
pytest.importorskip("optax", reason="training needs optax (pip install 'intersim[train]')")

from conftest import N_TRAIN, assert_same_network, quantise

from intersim.errors import ModelError
from intersim.train import (
    CNNSpec,
    ConvSpec,
    TrainConfig,
    fit,
    forward,
    inas_template_space,
    measure_accuracy,
    predict,
)


def test_same_seed_gives_bit_identical_weights_and_int8_network(digits, tiny):
    spec, params, config = tiny
    again = fit(spec, digits.x_train[:N_TRAIN], digits.y_train[:N_TRAIN], config)
    for layer in params:
        for k in ("w", "b"):
            assert params[layer][k].tobytes() == again[layer][k].tobytes(), (layer, k)
    assert_same_network(quantise(digits, spec, params), quantise(digits, spec, again))


def test_another_seed_gives_other_weights(tiny):
    from intersim.train import init_params
    spec, _, config = tiny
    a, b = init_params(spec, config.seed), init_params(spec, config.seed + 1)
    assert not np.array_equal(np.asarray(a["conv0"]["w"]), np.asarray(b["conv0"]["w"]))
    assert np.asarray(init_params(spec, config.seed)["conv0"]["w"]).tobytes() == np.asarray(a["conv0"]["w"]).tobytes()


def test_int8_network_follows_the_float_model(digits, tiny):
    spec, params, _ = tiny
    net = quantise(digits, spec, params)
    assert [l.op for l in net.layers] == ["conv2d", "maxpool", "conv2d", "maxpool", "flatten", "dense", "dense"]
    assert net.input_shape == (1, 8, 8) and net.output_shape == (10,)
    xq = digits.quantize_input(digits.x_test)
    int8_pred = predict(net, xq)
    float_pred = np.asarray(forward(params, spec, digits.x_test)).argmax(1)
    assert (int8_pred == float_pred).mean() >= 0.9
    acc = measure_accuracy(net, xq, digits.y_test)
    assert acc == pytest.approx(float((int8_pred == digits.y_test).mean()))
    assert acc > 0.7  # 10 epochs on 256 images already learn something


def test_tflite_semantics_builds_and_runs(digits, tiny):
    spec, params, _ = tiny
    net = quantise(digits, spec, params, semantics="tflite")
    assert net.semantics == "tflite"
    assert measure_accuracy(net, digits.quantize_input(digits.x_test[:50]), digits.y_test[:50]) > 0.3


def test_measure_accuracy_refuses_bad_inputs(digits, tiny):
    spec, params, _ = tiny
    net = quantise(digits, spec, params)
    with pytest.raises(ModelError, match="int8 inputs of shape"):
        measure_accuracy(net, digits.x_test[:4], digits.y_test[:4])  # float, not int8
    with pytest.raises(ModelError, match="as many labels"):
        measure_accuracy(net, digits.quantize_input(digits.x_test[:4]), digits.y_test[:3])


def test_one_d_cnn_on_a_signal():
    spec = CNNSpec((1, 1, 40), (ConvSpec(4, (1, 5), (1, 2)), ConvSpec(6, (1, 4), (1, 2))))
    assert spec.feature_shapes() == [(4, 1, 20), (6, 1, 10)]
    assert spec.convs[1].pads == (0, 1, 0, 2)  # even kernel: the extra pad at the end
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 1, 40)).astype(np.float32)
    y = (x[:, 0, 0, :20].sum(1) > 0).astype(np.int64)
    spec = CNNSpec(spec.input_shape, spec.convs, n_classes=2)
    params = fit(spec, x, y, TrainConfig(epochs=1, batch_size=16))
    from intersim.train import to_network
    net = to_network(params, spec, x, 1 / 16, 0, "sig")
    assert net.run(np.clip(np.rint(x[0] * 16), -128, 127).astype(np.int8)).shape == (2,)


def test_inas_template_space_and_spec_errors():
    specs = inas_template_space((1, 8, 8), 2, (3, 5), (4, 8))
    assert len(specs) == 16 and len(set(specs)) == 16
    assert {s.convs[1].kernel for s in specs} == {(3, 3), (5, 5)}
    assert inas_template_space((1, 8, 8), 4, (3,), (4,)) == []  # four pools do not fit in 8x8
    with pytest.raises(ModelError, match="shrinks the feature map"):
        CNNSpec((1, 4, 4), (ConvSpec(4, 3, 2), ConvSpec(4, 3, 4)))
    with pytest.raises(ModelError, match="got -1"):
        ConvSpec(-1)
    with pytest.raises(ModelError, match="TrainConfig"):
        TrainConfig(epochs=0)
