"""Dataset splits: sizes, a partition of the source data, fixed (hash-pinned), offline."""
import hashlib
import random

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits dataset needs scikit-learn (pip install 'intersim[zoo]')")

from intersim.errors import ModelError
from intersim.train import datasets as D


def _rows(x, y):
    """Examples as sorted bytes rows (label + pixels), for multiset comparisons."""
    flat = np.concatenate([np.asarray(y, np.float64)[:, None], np.asarray(x, np.float64).reshape(len(y), -1)], 1)
    return flat[np.lexsort(flat.T[::-1])]


def _digest(ds):
    h = hashlib.sha256()
    for split in ("train", "val", "test"):
        x, y = ds.split(split)
        h.update(np.ascontiguousarray(x, np.float32).tobytes())
        h.update(np.ascontiguousarray(y, np.int64).tobytes())
    return h.hexdigest()[:16]


def test_digits_splits_partition_the_dataset():
    from sklearn.datasets import load_digits
    ds = D.load_digits_dataset()
    assert ds.sizes() == {"train": 1100, "val": 157, "test": 540}
    d = load_digits()
    xs = np.concatenate([ds.x_train, ds.x_val, ds.x_test]) * 16
    ys = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    np.testing.assert_array_equal(_rows(xs, ys), _rows(d.data, d.target))  # every image exactly once


def test_digits_test_split_is_the_zoo_held_out_set():
    from intersim.nn import zoo
    ds = D.load_digits_dataset()
    x, y = zoo.samples("digits_cnn")
    np.testing.assert_array_equal(ds.quantize_input(ds.x_test), x)
    np.testing.assert_array_equal(ds.y_test, y)


def test_digits_input_quantisation_is_exact():
    ds = D.load_digits_dataset()
    q = ds.quantize_input(ds.x_train).astype(np.int64)
    np.testing.assert_array_equal((q + 128) * ds.input_scale, ds.x_train.astype(np.float64))


def test_mnist1d_generated_offline_partition_and_rng_untouched(monkeypatch):
    pytest.importorskip("mnist1d", reason="MNIST-1D needs the mnist1d package")
    import mnist1d.data

    def no_network(*a, **k):
        raise AssertionError("mnist1d tried to download")

    monkeypatch.setattr(mnist1d.data.requests, "get", no_network)
    D.load_mnist1d_dataset.cache_clear()
    np.random.seed(7)
    random.seed(7)
    before = (np.random.random(), random.random())
    np.random.seed(7)
    random.seed(7)
    ds = D.load_mnist1d_dataset()
    assert (np.random.random(), random.random()) == before  # global generators restored
    assert ds.sizes() == {"train": 3500, "val": 500, "test": 1000}
    assert ds.input_shape == (1, 1, 40)
    every = np.concatenate([ds.x_train, ds.x_val, ds.x_test]).reshape(5000, 40)
    assert len(np.unique(every, axis=0)) == 5000  # no signal in two splits (content pinned below)
    assert np.abs(ds.x_test).max() < 127 * ds.input_scale  # nothing saturates


# sha256 prefixes of the splits as built on the reference machine: a changed split fails here
PINNED = {"digits": "735580e49ffd6249", "mnist1d": "276efbfdbf0b5f15"}


@pytest.mark.parametrize("name", ["digits", "mnist1d"])
def test_splits_are_fixed(name):
    if name == "mnist1d":
        pytest.importorskip("mnist1d", reason="MNIST-1D needs the mnist1d package")
    assert _digest(D.load_dataset(name)) == PINNED[name]


def test_unknown_dataset_and_split_are_refused():
    with pytest.raises(ModelError, match="valid: digits, mnist1d"):
        D.load_dataset("cifar")
    with pytest.raises(ModelError, match="'train', 'val', 'test'"):
        D.load_digits_dataset().split("holdout")
