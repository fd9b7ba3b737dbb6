"""Datasets that ship inside Python packages, with fixed train / validation / test splits.

Two datasets, both generated or read offline:

``digits`` (scikit-learn ``load_digits``, 1,797 8x8 images, pixels 0..16, 10 classes)
    test: the zoo's held-out split, exactly the 540 images ``intersim.nn.zoo.samples("digits_cnn")``
    returns, in the same order (``train_test_split(test_size=0.3, stratify=y,
    random_state=20240611)``). The zoo's 1,257 training images are split once more,
    ``train_test_split(test_size=157, stratify=y, random_state=20240611)``, into 1,100 train and
    157 validation images. Layout NCHW ``(N, 1, 8, 8)``, float ``pixel / 16`` in [0, 1]; int8
    ``q = 15 * pixel - 128`` (scale 1/240, zero point -128) represents it exactly.

``mnist1d`` (package ``mnist1d``, Greydanus 2020; 5,000 signals of length 40, 10 classes)
    generated in code by ``mnist1d.data.make_dataset(get_dataset_args())`` (seed 42, never the
    download path). Its own split gives 4,000 train and 1,000 test signals; the last 500 of the
    4,000 are our validation split: 3,500 train / 500 validation / 1,000 test. Layout
    ``(N, 1, 1, 40)``: intersim's convolutions are 2-D, a 1-D signal is one channel of height 1
    and a 1-D kernel is ``1 x K``. int8 input: scale 1/16, zero point 0 (``q = rint(16 x)``
    saturated; the standardised signals stay within +-5.5, so nothing saturates).

Every split is deterministic; sizes are checked when the dataset is built.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

import numpy as np

from ._backend import ModelError

DIGITS_SEED = 20240611          # the zoo's split seed (intersim/nn/zoo/build_digits.py)
DIGITS_TEST_SIZE = 0.3          # -> 540 test images, as the zoo
DIGITS_VAL_SIZE = 157           # carved from the zoo's 1,257 training images
MNIST1D_VAL_SIZE = 500          # the last 500 of mnist1d's own 4,000 training signals
MNIST1D_IN_SCALE = 1.0 / 16.0
DATASETS = ("digits", "mnist1d")


@dataclass(frozen=True)
class Dataset:
    """Float splits for training plus the int8 quantisation of the network input.

    Attributes
    ----------
    name : str
    x_train, x_val, x_test : float32 (N, C, H, W)
        Model inputs in real units.
    y_train, y_val, y_test : int64 (N,)
        Class labels 0..n_classes-1.
    input_scale : float
        Real units per LSB of the int8 input.
    input_zero_point : int
    n_classes : int
    description : str
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_scale: float
    input_zero_point: int
    n_classes: int
    description: str

    @property
    def input_shape(self) -> tuple:
        """Shape of one input, (C, H, W)."""
        return tuple(self.x_train.shape[1:])

    def quantize_input(self, x) -> np.ndarray:
        """Float inputs (N, C, H, W) -> int8: ``saturate(rint(x / scale) + zero_point)`` in float64."""
        q = np.rint(np.asarray(x, np.float64) / self.input_scale) + self.input_zero_point
        return np.clip(q, -128, 127).astype(np.int8)

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``which`` in ("train", "val", "test")."""
        if which not in ("train", "val", "test"):
            raise ModelError(f"unknown split {which!r}; valid: 'train', 'val', 'test'")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def sizes(self) -> dict:
        """Number of examples per split."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def _frozen(*arrays):
    for a in arrays:
        a.flags.writeable = False
    return arrays


@cache
def load_digits_dataset() -> Dataset:
    """scikit-learn's 8x8 digits: 1,100 train / 157 validation / 540 test (the zoo's held-out set)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    pixels = d.data.astype(np.int32)
    y = d.target.astype(np.int64)
    p_trv, p_te, y_trv, y_te = train_test_split(pixels, y, test_size=DIGITS_TEST_SIZE, random_state=DIGITS_SEED,
                                                stratify=y)
    p_tr, p_va, y_tr, y_va = train_test_split(p_trv, y_trv, test_size=DIGITS_VAL_SIZE, random_state=DIGITS_SEED,
                                              stratify=y_trv)
    as_x = lambda p: (p.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    arrays = _frozen(as_x(p_tr), y_tr, as_x(p_va), y_va, as_x(p_te), y_te)
    ds = Dataset("digits", *arrays, input_scale=1.0 / 240.0, input_zero_point=-128, n_classes=10,
                 description="scikit-learn load_digits 8x8; test = intersim zoo digits_cnn held-out split")
    _check_sizes(ds, {"train": 1100, "val": 157, "test": 540})
    return ds


@cache
def load_mnist1d_dataset() -> Dataset:
    """MNIST-1D generated offline (seed 42): 3,500 train / 500 validation / 1,000 test, (N, 1, 1, 40).

    ``make_dataset`` seeds numpy's and Python's global generators; their states are restored
    afterwards so loading the data does not disturb the caller's random streams.
    """
    from mnist1d.data import get_dataset_args, make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(get_dataset_args())  # generates in memory; get_dataset() would download
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    as_x = lambda a: np.asarray(a, np.float32).reshape(-1, 1, 1, 40)
    n_tr = len(d["y"]) - MNIST1D_VAL_SIZE
    arrays = _frozen(as_x(d["x"][:n_tr]), np.asarray(d["y"][:n_tr], np.int64),
                     as_x(d["x"][n_tr:]), np.asarray(d["y"][n_tr:], np.int64),
                     as_x(d["x_test"]), np.asarray(d["y_test"], np.int64))
    ds = Dataset("mnist1d", *arrays, input_scale=MNIST1D_IN_SCALE, input_zero_point=0, n_classes=10,
                 description="MNIST-1D (mnist1d.data.make_dataset, default args, seed 42), length 40")
    _check_sizes(ds, {"train": 3500, "val": 500, "test": 1000})
    return ds


def _check_sizes(ds: Dataset, expected: dict) -> None:
    if ds.sizes() != expected:
        raise ModelError(f"dataset {ds.name!r}: split sizes {ds.sizes()} differ from the documented {expected}")


def load_dataset(name: str) -> Dataset:
    """The dataset called ``name`` (one of :data:`DATASETS`)."""
    if name == "digits":
        return load_digits_dataset()
    if name == "mnist1d":
        return load_mnist1d_dataset()
    raise ModelError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
