"""Throughput of intersim's numba int8 kernels vs onnxruntime (1 thread, optimisations off), per layer.

    python benchmarks/bench_kernels.py [--repeats N] [--quick]

Each layer is timed in the same run both ways on the same int8 data: intersim through
``Layer.compute`` over all output channels (what a task of the simulator runs, Python call
included), onnxruntime through a one-node QLinear model. Times are medians over repeats.
``ratio_vs_ort`` = intersim throughput / onnxruntime throughput (1.0 = as fast; < 1 slower).
The last line is one JSON object. ``sim_over_device_time``: wall time to simulate one
CIFAR-10-shape (SqueezeNet) inference in correctness mode in the engine (``static``, layer
granularity, every int8 kernel really run on the simulated memory) over its simulated device
time on the MSP430FR5994 preset (supply strong enough that it never browns out); median.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from intersim.nn import zoo
from intersim.nn.network import Network, NetworkBuilder
from intersim.nn.onnx_export import ort_session, to_onnx
from intersim.nn.quant import quantize_weights_per_channel

LARGE_MACS = 1_000_000


def _single_layer_net(name, in_shape, make) -> Network:
    """A one-layer network (plus its input) built by ``make(builder)``."""
    b = NetworkBuilder(name, in_shape, 0.02, 3, "onnx")
    make(b)
    return b.build()


def _conv(cout, k, stride=1, pads=0, groups=1, seed=0):
    def make(b):
        rng = np.random.default_rng(seed)
        cin = b.tensors[b.last][0]
        w, ws = quantize_weights_per_channel(rng.standard_normal((cout, cin // groups, k, k)))
        b.conv2d(w, rng.integers(-500, 500, cout).astype(np.int32), ws, 0.5, -128, stride, pads, 1, groups,
                 act="relu", name="layer")
    return make


def _dense(n, seed=0):
    def make(b):
        rng = np.random.default_rng(seed)
        w, ws = quantize_weights_per_channel(rng.standard_normal((n, b.tensors[b.last][0])))
        b.dense(w, rng.integers(-500, 500, n).astype(np.int32), ws, 0.5, 0, name="layer")
    return make


def layers_to_bench():
    """(name, single-layer network): zoo layers and CIFAR-10-shape convolutions."""
    out = []
    for zname, lname in (("digits_cnn", "conv2"), ("mnist_lenet", "conv1"), ("mnist_lenet", "conv2"),
                         ("cifar10_squeezenet", "conv1"), ("cifar10_squeezenet", "fire2_expand3x3"),
                         ("cifar10_squeezenet", "fire4_squeeze"), ("cifar10_squeezenet", "fire4_expand3x3"),
                         ("kws_dnn_s", "fc1"), ("har_cnn", "conv3")):
        net = zoo.load(zname)
        layer = net.layer(lname)
        x = layer.inputs[0]
        out.append((f"{zname}/{lname}", Network(f"{zname}_{lname}", x, layer.output,
                                                 {x: net.tensors[x], layer.output: layer.out_shape}, [layer],
                                                 {x: net.qparams[x], layer.output: net.qparams[layer.output]})))
    out.append(("cifar_conv3x3_32x32_16to32", _single_layer_net("c1", (16, 32, 32), _conv(32, 3, pads=1))))
    out.append(("cifar_conv3x3_16x16_64to64", _single_layer_net("c2", (64, 16, 16), _conv(64, 3, pads=1))))
    out.append(("cifar_conv3x3_s2_32x32_32to64", _single_layer_net("c3", (32, 32, 32), _conv(64, 3, 2, 1))))
    out.append(("cifar_dwconv3x3_32x32_64", _single_layer_net("c4", (64, 32, 32), _conv(64, 3, pads=1, groups=64))))
    out.append(("cifar_conv1x1_16x16_128to128", _single_layer_net("c5", (128, 16, 16), _conv(128, 1))))
    out.append(("dense_1024to256", _single_layer_net("d1", (1024,), _dense(256))))
    return out


def _loops_for(fn, min_time):
    """Calls per sample so one sample lasts at least ``min_time`` seconds."""
    fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t >= min_time or n >= 1 << 16:
            return n
        n *= 2


def _median_times(fns, repeats, min_time=0.02):
    """Median seconds per call of each function, their samples interleaved so that load on the
    machine hits both alike."""
    loops = [_loops_for(f, min_time) for f in fns]
    samples = [[] for _ in fns]
    for _ in range(repeats):
        for f, n, out in zip(fns, loops, samples):
            t = time.perf_counter()
            for _ in range(n):
                f()
            out.append((time.perf_counter() - t) / n)
    return [float(np.median(s)) for s in samples]


def sim_over_device_time(repeats: int) -> float:
    """Wall time of one simulated CIFAR-10-shape inference over its device time [-] (median)."""
    import math

    from intersim.nn import zoo
    from intersim.energy.capacitor import Storage
    from intersim.sim.engine import Engine, Setup
    from intersim.hw.platform import get_platform
    from intersim.sched.registry import get_scheduler
    from intersim.nn.tasks import lower
    from intersim.energy.trace import Trace
    from intersim.sim.workload import Workload

    net = zoo.load("cifar10_squeezenet")
    x = np.random.default_rng(2).integers(-128, 128, net.input_shape).astype(np.int8)
    tasks = lower(net, "layer")
    trace = Trace(np.array([0.0]), np.array([0.05]), 1e6, loop=True, name="strong constant supply")
    storage = Storage(1e-2, 3.0, 2.2, 3.6, 3.6, math.inf, 0.8, 0.9)
    ratios = []
    for _ in range(repeats):
        setup = Setup(network=net, tasks=tasks, platform=get_platform("msp430fr5994"), storage=storage,
                      trace=trace, workload=Workload(arrivals_s=(0.0,), duration_s=1.0, drain_s=3600.0),
                      inputs=x[None], labels=None, references=[net.run(x)], record_timeline=False)
        t = time.perf_counter()
        run = Engine(setup, get_scheduler("static")).run()
        wall = time.perf_counter() - t
        assert run.requests["correct"][0], "the simulated inference must be correct"
        device = run.requests["done_s"][0] - run.requests["arrival_s"][0]
        ratios.append(wall / device)
    return float(np.median(ratios))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="3 repeats, shorter samples")
    a = ap.parse_args(argv)
    repeats = 3 if a.quick else a.repeats
    rows = []
    print(f"{'layer':<40} {'MACs':>11} {'intersim ms':>12} {'ORT ms':>9} {'GMAC/s':>7} {'ORT GMAC/s':>10} {'ratio':>6}")
    for name, net in layers_to_bench():
        layer = net.layers[0]
        x = np.random.default_rng(1).integers(-128, 128, net.input_shape).astype(np.int8)
        out = np.empty(layer.out_shape, np.int8)
        ins = [x]
        sess = ort_session(to_onnx(net))
        feed = {net.input_name: x[None]}
        sim, ort = _median_times([lambda: layer.compute(ins, out, 0, layer.out_channels),
                                  lambda: sess.run(None, feed)], repeats)
        assert np.array_equal(sess.run(None, feed)[0][0], out), f"{name}: intersim and onnxruntime disagree"
        macs = layer.macs(0, layer.out_channels)
        ratio = ort / sim
        rows.append({"name": name, "macs": int(macs), "intersim_s": sim, "ort_s": ort, "ratio_vs_ort": round(ratio, 4)})
        print(f"{name:<40} {macs:>11,d} {sim * 1e3:>12.4f} {ort * 1e3:>9.4f} {macs / sim / 1e9:>7.2f} "
              f"{macs / ort / 1e9:>10.2f} {ratio:>6.3f}")
    large = [r["ratio_vs_ort"] for r in rows if r["macs"] >= LARGE_MACS]
    sim_ratio = sim_over_device_time(repeats)
    print(f"one CIFAR-10-shape inference in correctness mode: simulation takes {sim_ratio:.2e} of its "
          f"device time on msp430fr5994")
    print(json.dumps({"layers": [{"name": r["name"], "macs": r["macs"], "ratio_vs_ort": r["ratio_vs_ort"]}
                                 for r in rows],
                      "min_ratio_large": min(large) if large else None, "sim_over_device_time": sim_ratio}))


if __name__ == "__main__":
    main()
