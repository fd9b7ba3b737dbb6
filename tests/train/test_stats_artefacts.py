"""model_stats on a known network, and the shipped artefacts re-measured through intersim's kernels.

Needs no JAX: the artefacts are plain intersim networks."""
import fnmatch
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from intersim.nn import zoo
from intersim.train import (
    ARTEFACTS,
    artefact_info,
    artefact_samples,
    load_artefact,
    model_stats,
    predict,
)
from intersim.train.artefacts import ZOO_DIR, final_network
from intersim.train.early_exit import cascade_predict
from intersim.train.stats import indexed_weight_bytes

REPO = Path(__file__).resolve().parents[2]


def test_model_stats_of_the_zoo_digits_cnn():
    st = model_stats(zoo.load("digits_cnn"))
    assert st["macs"] == 23_680 and st["weight_bytes"] == 2_000
    # input 64 B dies after conv1 (512 B); pool1 (128 B) is written while conv1's output lives
    assert st["activation_peak_bytes"] == 512 + 128
    assert st["largest_tensor_bytes"] == 512
    assert st["n_weights"] == 8 * 9 + 16 * 8 * 9 + 10 * 64


def test_indexed_weight_bytes_counts_index_bits_and_codebook():
    net = zoo.load("digits_cnn")
    expected = 0
    for layer in net.layers:
        if layer.reduces:
            k = len(np.unique(layer.weight))
            expected += -(-layer.weight.size * int(np.ceil(np.log2(k))) // 8) + k + 4 * layer.bias.size
    assert indexed_weight_bytes(net) == expected


@pytest.mark.parametrize("name", ARTEFACTS)
def test_artefact_accuracy_re_measured_equals_stored(name):
    info = artefact_info(name)
    net = final_network(load_artefact(name))
    x, y = artefact_samples(name)
    correct = int((predict(net, x) == y).sum())
    assert (correct, len(y)) == (info["int8_correct"], info["n_test"])
    assert info["int8_accuracy"] == correct / len(y)
    stats = info["stats"] if "stats" in info else info["networks"]["final"]["stats"]
    assert model_stats(net) == stats


def test_digits_cnn_jax_is_at_least_as_good_as_the_numpy_digits_cnn():
    old = json.loads((ZOO_DIR / "digits_cnn.json").read_text())
    new = artefact_info("digits_cnn_jax")
    assert new["int8_accuracy"] >= old["int8_accuracy"]
    x_old, y_old = zoo.samples("digits_cnn")
    x_new, y_new = artefact_samples("digits_cnn_jax")
    np.testing.assert_array_equal(x_new, x_old)  # the same 540 held-out images
    np.testing.assert_array_equal(y_new, y_old)


def test_early_exit_cascade_re_measured_equals_stored():
    info = artefact_info("digits_ee")
    nets = load_artefact("digits_ee")
    x, y = artefact_samples("digits_ee")
    for key, net in nets.items():
        assert int((predict(net, x) == y).sum()) == info["networks"][key]["int8_correct"]
    c = info["cascade"]
    pred, _, macs = cascade_predict(nets, x, c["threshold"])
    assert int((pred == y).sum()) == c["test_int8_correct"]
    assert float(macs.mean()) == c["test_mean_macs"]
    assert c["test_mean_macs"] < nets["final"].total_macs()  # exiting early saves work


def test_artefacts_are_package_data():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["intersim"]
    extras = pyproject["project"]["optional-dependencies"]
    assert any(r.startswith("jax") for r in extras["train"]) and any(r.startswith("optax") for r in extras["train"])
    assert set(extras["train"]) <= set(extras["all"])
    for name in ARTEFACTS:
        info = artefact_info(name)
        files = info["files"].values() if isinstance(info["files"], dict) else [info["files"]]
        for f in [*files, f"{name}.json"]:
            rel = f"nn/zoo/{f}"
            assert (ZOO_DIR / f).exists(), rel
            assert any(fnmatch.fnmatch(rel, p) for p in patterns), (rel, patterns)
