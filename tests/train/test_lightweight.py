"""Pruning, weight sharing and the shared early-exit branch produce int8 networks intersim runs."""
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("jax", reason="training needs JAX (pip install 'intersim[train]')")
pytest.importorskip("optax", reason="training needs optax (pip install 'intersim[train]')")

from conftest import N_TRAIN, quantise

from intersim.errors import ModelError
from intersim.train import (
    CNNSpec,
    ConvSpec,
    TrainConfig,
    cascade_predict,
    forward,
    kmeans_1d,
    model_stats,
    prune_and_finetune,
    prune_channels,
    share_weights,
    to_early_exit_networks,
    train_early_exit,
)
from intersim.train.early_exit import check_exit_points

ONE_EPOCH = TrainConfig(epochs=1, batch_size=32, learning_rate=1e-3, seed=1)


def test_pruning_reduces_macs_and_weight_bytes_and_runs(digits, tiny):
    spec, params, _ = tiny
    x, y = digits.x_train[:N_TRAIN], digits.y_train[:N_TRAIN]
    small_spec, small = prune_and_finetune(params, spec, x, y, 0.5, ONE_EPOCH)
    assert [c.out_channels for c in small_spec.convs] == [3, 4]
    before, after = model_stats(quantise(digits, spec, params)), model_stats(quantise(digits, small_spec, small))
    assert after["macs"] < before["macs"] and after["weight_bytes"] < before["weight_bytes"]
    assert after["activation_peak_bytes"] < before["activation_peak_bytes"]
    net = quantise(digits, small_spec, small)
    assert net.run(digits.quantize_input(digits.x_test[:1])[0]).shape == (10,)


def test_pruning_keeps_largest_l1_filters_and_removing_dead_ones_changes_nothing(digits, tiny):
    spec, params, _ = tiny
    p = {k: {n: v.copy() for n, v in d.items()} for k, d in params.items()}
    dead = [1, 4, 6]  # conv1 filters with zero weights and bias: ReLU(0) = 0 feeds the flatten
    p["conv1"]["w"][dead] = 0.0
    p["conv1"]["b"][dead] = 0.0
    p["conv1"]["w"][[0, 2, 3, 5, 7]] += 1.0  # and every other filter's L1 norm well above zero
    new_spec, pruned = prune_channels(p, spec, [1.0, 5])
    assert [c.out_channels for c in new_spec.convs] == [6, 5]
    np.testing.assert_array_equal(pruned["conv1"]["w"], p["conv1"]["w"][[0, 2, 3, 5, 7]])
    x = digits.x_test[:32]
    np.testing.assert_allclose(np.asarray(forward(pruned, new_spec, x)), np.asarray(forward(p, spec, x)),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ModelError, match=r"in \[1, 8\], got 9"):
        prune_channels(p, spec, [1.0, 9])


@pytest.mark.parametrize("k", [4])
def test_weight_sharing_gives_at_most_k_values_per_layer(digits, tiny, k):
    spec, params, _ = tiny
    shared, layers = share_weights(params, spec, k, digits.x_train[:N_TRAIN], digits.y_train[:N_TRAIN], ONE_EPOCH)
    assert layers == spec.layer_names()
    for name in layers:
        assert len(np.unique(shared[name]["w"])) <= k
    net = quantise(digits, spec, shared, per_tensor=layers)
    st = model_stats(net)
    assert all(1 < v <= k for v in st["distinct_weights"].values()), st["distinct_weights"]
    assert st["indexed_weight_bytes"] < st["weight_bytes"]
    # the unshared network uses many more values per layer: the check above can fail
    assert max(model_stats(quantise(digits, spec, params))["distinct_weights"].values()) > k
    assert net.run(digits.quantize_input(digits.x_test[:1])[0]).shape == (10,)


def test_kmeans_is_deterministic_and_checks_k():
    v = np.random.default_rng(0).standard_normal(500)
    c1, i1 = kmeans_1d(v, 8)
    c2, i2 = kmeans_1d(v, 8)
    assert c1.tobytes() == c2.tobytes() and np.array_equal(i1, i2)
    assert np.all(np.diff(c1) > 0) and i1.max() == 7
    assert np.abs(c1[i1] - v).max() < np.abs(v).max()
    with pytest.raises(ModelError, match="got 1"):
        kmeans_1d(v, 1)


def test_early_exit_networks_run_and_share_one_branch(digits):
    spec = CNNSpec((1, 8, 8), (ConvSpec(4, 3, 2), ConvSpec(4, 3), ConvSpec(6, 3, 2)))
    x, y = digits.x_train[:N_TRAIN], digits.y_train[:N_TRAIN]
    params = train_early_exit(spec, (0, 1), x, y, replace(ONE_EPOCH, learning_rate=1e-2))
    nets = to_early_exit_networks(params, spec, (0, 1), x, digits.input_scale, digits.input_zero_point, "ee")
    assert sorted(nets) == ["exit0", "exit1", "final"]
    xq = digits.quantize_input(digits.x_test[:40])
    for net in nets.values():
        assert net.run(xq[0]).shape == (10,)
    b0, b1 = nets["exit0"].layer("exit_fc"), nets["exit1"].layer("exit_fc")
    assert b0.weight.tobytes() == b1.weight.tobytes() and b0.bias.tobytes() == b1.bias.tobytes()
    assert b0.requant.scale.tobytes() == b1.requant.scale.tobytes()
    assert nets["exit0"].total_macs() < nets["exit1"].total_macs() < nets["final"].total_macs() + 40
    pred, taken, macs = cascade_predict(nets, xq, 0.0)  # everything leaves at the first exit
    assert np.all(taken == 0) and np.all(macs == nets["exit0"].total_macs())
    np.testing.assert_array_equal(pred, [int(np.argmax(nets["exit0"].run(v))) for v in xq])
    pred, taken, macs = cascade_predict(nets, xq, 1.0)  # (almost) nothing is that sure: the final head
    final = taken == -1
    assert final.any()
    assert np.all(macs[final] == nets["final"].total_macs() + 2 * 40)  # branch dense 4 -> 10 tried twice


def test_exit_points_must_share_a_channel_count():
    spec = CNNSpec((1, 8, 8), (ConvSpec(4, 3, 2), ConvSpec(6, 3), ConvSpec(6, 3, 2)))
    with pytest.raises(ModelError, match=r"have \[4, 6\]"):
        check_exit_points(spec, (0, 1))
    with pytest.raises(ModelError, match=r"in \[0, 1\]"):
        check_exit_points(spec, (2,))
