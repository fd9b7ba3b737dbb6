"""The Network/Layer contract the engine relies on: any split of any layer gives run()'s bytes."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from intersim.errors import ModelError
from intersim.nn.network import Conv2D, Network, NetworkBuilder, Relu
from intersim.nn.network_io import load_network, load_samples, save_network
from intersim.nn.quant import Requant


def random_net(seed: int, sem: str) -> Network:
    """A small random network using every op: conv (grouped, depthwise), pools, add, relu, concat, dense."""
    rng = np.random.default_rng(seed)
    c0 = int(rng.integers(1, 4))
    h = int(rng.integers(6, 10))
    b = NetworkBuilder(f"rand{seed}", (c0, h, h), 0.05, int(rng.integers(-20, 20)), sem)

    def wts(shape):
        return rng.integers(-127, 128, shape).astype(np.int8), rng.uniform(0.002, 0.02, shape[0])

    c1 = int(rng.integers(2, 6))
    w, ws = wts((c1, c0, 3, 3))
    b.conv2d(w, rng.integers(-3000, 3000, c1).astype(np.int32), ws, 0.3, -128, pads=1, act="relu", name="c1")
    b.maxpool(2, name="p1")
    w, ws = wts((c1, 1, 3, 3))
    dw = b.conv2d(w, None, ws, 0.2, 4, pads=1, groups=c1, act="relu6", name="dw")
    add = b.add(dw, "p1", 0.4, -3, name="add")
    r = b.relu(input=add, name="relu")
    w, ws = wts((c1, c1, 1, 1))
    e1 = b.conv2d(w, None, ws, 0.25, 0, input=r, name="e1")
    w, ws = wts((c1, c1, 3, 3))
    e3 = b.conv2d(w, None, ws, 0.25, 0, pads=1, input=r, name="e3")
    b.concat([e1, e3], name="cat")
    if sem == "onnx" or rng.integers(0, 2):
        b.avgpool(2, y_scale=None, name="ap")
    b.flatten(name="flat")
    n_in = b.tensors[b.last][0]
    w, ws = wts((7, n_in))
    b.dense(w, rng.integers(-3000, 3000, 7).astype(np.int32), ws, 0.5, 1, name="fc")
    return b.build()


def _splits(rng, n):
    cuts = sorted({0, n, *rng.integers(0, n + 1, int(rng.integers(0, 4))).tolist()})
    return list(zip(cuts, cuts[1:]))


@given(st.integers(0, 10**6), st.sampled_from(["onnx", "tflite"]))
def test_any_split_gives_run_output(seed, sem):
    net = random_net(seed, sem)
    rng = np.random.default_rng(seed + 1)
    x = rng.integers(-128, 128, net.input_shape).astype(np.int8)
    ref = net.run_all(x)
    assert np.array_equal(net.run(x), ref[net.output_name])
    bufs = {net.input_name: x}
    for layer in net.layers:
        out = np.full(layer.out_shape, 77, np.int8)
        ins = [bufs[t] for t in layer.inputs]
        tiles = _splits(rng, layer.out_channels)
        if layer.reduces and rng.integers(0, 2):
            psum = np.full(layer.out_shape, 0, np.int32)
            for ic0, ic1 in _splits(rng, layer.in_channels):
                for c0, c1 in tiles:
                    layer.accumulate(ins, psum, ic0, ic1, c0, c1)
            for c0, c1 in tiles:
                layer.finalize(psum, out, c0, c1)
            assert sum(layer.macs_partial(a, b_, 0, layer.out_channels)
                       for a, b_ in _splits(rng, layer.in_channels)) == layer.macs(0, layer.out_channels)
        else:
            for c0, c1 in tiles:
                layer.compute(ins, out, c0, c1)
        assert np.array_equal(out, ref[layer.output]), layer.name
        assert sum(layer.macs(c0, c1) for c0, c1 in tiles) == layer.macs(0, layer.out_channels)
        assert sum(layer.weight_bytes(c0, c1) for c0, c1 in tiles) == layer.weight_bytes(0, layer.out_channels)
        bufs[layer.output] = out


def test_compute_writes_only_its_channels():
    net = random_net(3, "onnx")
    x = np.random.default_rng(0).integers(-128, 128, net.input_shape).astype(np.int8)
    ref = net.run_all(x)
    for layer in net.layers:
        if layer.out_channels < 2:
            continue
        out = np.full(layer.out_shape, 55, np.int8)
        layer.compute([ref[t] for t in layer.inputs], out, 1, 2)
        assert np.all(out[:1] == 55) and np.all(out[2:] == 55), layer.name


def test_contract_attributes():
    net = random_net(5, "onnx")
    assert set(net.tensors) == {net.input_name} | {l.output for l in net.layers}
    for layer in net.layers:
        assert layer.out_channels == layer.out_shape[0]
        assert layer.kernel == "cpu"
        assert net.tensors[layer.output] == layer.out_shape
    conv = net.layer("c1")
    assert conv.in_channels == conv.weight.shape[1] and conv.macs(0, conv.out_channels) == \
        conv.out_channels * conv.in_channels * 9 * conv.out_shape[1] * conv.out_shape[2]
    assert conv.weight_bytes(0, 1) == conv.in_channels * 9 + 4
    dw = net.layer("dw")
    assert dw.in_channels == 1
    with pytest.raises(ModelError, match="no reduction"):
        net.layer("p1").accumulate([], None, 0, 1, 0, 1)
    with pytest.raises(ModelError, match="no layer 'nope'"):
        net.layer("nope")


def test_save_load_round_trip(tmp_path):
    for sem in ("onnx", "tflite"):
        net = random_net(11, sem)
        x = np.random.default_rng(1).integers(-128, 128, (4,) + net.input_shape).astype(np.int8)
        save_network(net, tmp_path / f"n_{sem}.npz", samples=(x, np.arange(4)))
        back = load_network(tmp_path / f"n_{sem}.npz")
        assert back.tensors == net.tensors and back.semantics == sem
        for xi in x:
            assert np.array_equal(back.run(xi), net.run(xi))
        xs, ys = load_samples(tmp_path / f"n_{sem}.npz")
        assert np.array_equal(xs, x) and ys.tolist() == [0, 1, 2, 3]


def test_validation_errors():
    rq = Requant("onnx", 0)
    w = np.zeros((2, 1, 3, 3), np.int8)
    conv = Conv2D("c", "in", "out", (1, 5, 5), w, None, rq, 0)
    with pytest.raises(ModelError, match="reads 'x' before"):
        Network("n", "in", "out", {"in": (1, 5, 5), "out": (2, 3, 3)},
                [Conv2D("c", "x", "out", (1, 5, 5), w, None, rq, 0)])
    with pytest.raises(ModelError, match="shape"):
        Network("n", "in", "out", {"in": (1, 5, 5), "out": (2, 5, 5)}, [conv])
    with pytest.raises(ModelError, match="already written"):
        Network("n", "in", "out", {"in": (1, 5, 5), "out": (2, 3, 3)},
                [conv, Relu("r", "in", "out", (1, 5, 5), 0)])
    net = Network("n", "in", "out", {"in": (1, 5, 5), "out": (2, 3, 3)}, [conv])
    with pytest.raises(ModelError, match=r"int8 input of shape \(1, 5, 5\)"):
        net.run(np.zeros((1, 5, 5), np.float32))
    with pytest.raises(ModelError, match="valid: None, 'relu', 'relu6'"):
        NetworkBuilder("b", (1, 5, 5), 0.1, 0).conv2d(w, None, 0.1, 0.1, 0, act="gelu")


@given(st.integers(0, 10**6))
def test_exported_random_networks_bit_exact(seed):
    """Export whole networks (concat, add, fused ReLU6 as Clip, pools, dense as QGemm) and run them in ORT."""
    pytest.importorskip("onnxruntime")
    from intersim.nn.onnx_export import ort_session, to_onnx
    from intersim.nn.onnx_import import load_onnx

    net = random_net(seed, "onnx")
    m = to_onnx(net)
    x = np.random.default_rng(seed).integers(-128, 128, net.input_shape).astype(np.int8)
    sess = ort_session(m)
    assert np.array_equal(sess.run(None, {net.input_name: x[None]})[0][0], net.run(x))
    back = load_onnx(m)
    assert np.array_equal(back.run(x), net.run(x))
