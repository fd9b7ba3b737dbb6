"""Fixtures of tests/train: a tiny digits subset and a tiny CNN trained for a few steps."""
import numpy as np
import pytest

N_TRAIN = 256


@pytest.fixture(scope="session")
def digits():
    pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn (pip install 'intersim[zoo]')")
    from intersim.train.datasets import load_digits_dataset
    return load_digits_dataset()


@pytest.fixture(scope="session")
def tiny(digits):
    """(spec, float params, config) of a 2-conv CNN trained 10 epochs on 256 digits."""
    pytest.importorskip("jax", reason="training needs JAX (pip install 'intersim[train]')")
    pytest.importorskip("optax", reason="training needs optax (pip install 'intersim[train]')")
    from intersim.train import CNNSpec, ConvSpec, TrainConfig, fit
    spec = CNNSpec((1, 8, 8), (ConvSpec(6, 3, 2), ConvSpec(8, 3, 2)), dense=(12,))
    config = TrainConfig(epochs=10, batch_size=32, learning_rate=1e-2, seed=3)
    params = fit(spec, digits.x_train[:N_TRAIN], digits.y_train[:N_TRAIN], config)
    return spec, params, config


def quantise(digits, spec, params, name="t", **kw):
    from intersim.train import to_network
    return to_network(params, spec, digits.x_train[:N_TRAIN], digits.input_scale, digits.input_zero_point, name, **kw)


def layer_arrays(net):
    """Every conv/dense layer's (weight, bias, requant scale) for bit-identity checks."""
    return [(l.name, l.weight, l.bias, l.requant.scale) for l in net.layers if l.reduces]


def assert_same_network(a, b):
    assert a.qparams == b.qparams
    for (na, wa, ba, sa), (nb, wb, bb, sb) in zip(layer_arrays(a), layer_arrays(b), strict=True):
        assert na == nb
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
        assert sa.tobytes() == sb.tobytes()
