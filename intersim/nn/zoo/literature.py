"""Network shapes from the intermittent-inference literature, with seeded random int8 weights.

These reproduce layer shapes (hence MACs, weight bytes, tiling) of the models Stateful-CNN /
HAWAII / JAPARI ran on the MSP430FR5994 (EMCLab-Sinica/Stateful-CNN; shapes as in
``shared/anchors/stateful_cnn.md`` §2.3 and, for HAR, ``dnn-models/deep-learning-HAR/HAR-CNN.ipynb``
@ fd8d62d). Their weights are random (He-normal, quantised per channel) and their activation
scales are calibrated on random inputs so values use the int8 range: they compute real int8
arithmetic but classify nothing. ``meta["accuracy_claimed"]`` is False; the published fp32
accuracy of the original is recorded for reference only.
"""
from __future__ import annotations

import numpy as np

from .. import int8_kernels as K
from ..network import Network, NetworkBuilder
from ..quant import quantize_weights_per_channel

IN_SCALE = 1.0 / 128.0  # random inputs: real value in [-1, 1)
N_CAL = 2               # random inputs used to calibrate activation scales


class _Calibrated:
    """A NetworkBuilder that picks each layer's output scale from the layer's int32 accumulators
    on a few random inputs (max |value|; post-ReLU tensors use zero point -128)."""

    def __init__(self, name, input_shape, seed: int):
        self.rng = np.random.default_rng(seed)
        self.b = NetworkBuilder(name, input_shape, IN_SCALE, 0, "onnx")
        self.samples = {"input": [self.rng.integers(-128, 128, input_shape).astype(np.int8) for _ in range(N_CAL)]}

    def _weights(self, shape):
        fan_in = int(np.prod(shape[1:]))
        return quantize_weights_per_channel(self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in))

    def _pick(self, reals, relu):
        m = max(float(np.abs(r).max()) for r in reals) or 1.0
        if relu:
            m = max(max(float(r.max()) for r in reals), 1e-6)
            return m / 255.0, -128
        return m / 127.0, 0

    def _propagate(self):
        layer = self.b.layers[-1]
        outs = []
        for i in range(N_CAL):
            ins = [self.samples[t][i] for t in layer.inputs]
            o = np.empty(layer.out_shape, np.int8)
            layer.compute(ins, o, 0, layer.out_channels)
            outs.append(o)
        self.samples[layer.output] = outs
        return layer.output

    def _conv_accs(self, inp, w, stride, pads, groups):
        xs, xz = self.b.qparams[inp]
        accs = []
        for x in self.samples[inp]:
            accs.append(K.conv2d_acc_ref(x, w, None, xz, None, stride, pads, 1, groups).astype(np.float64))
        return accs

    def conv(self, cout, k, stride=1, pads=0, groups=1, relu=True, name=None, inp=None):
        return self.convs([(cout, k, stride, pads, groups, name)], relu, inp)[0]

    def convs(self, specs, relu=True, inp=None):
        """Several convolutions of one input sharing one output scale (so they can be concatenated)."""
        inp = inp or self.b.last
        cin = self.b.tensors[inp][0]
        xs, _ = self.b.qparams[inp]
        made, reals = [], []
        for cout, k, stride, pads, groups, name in specs:
            kh, kw = (k, k) if np.isscalar(k) else k
            w, ws = self._weights((cout, cin // groups, kh, kw))
            accs = self._conv_accs(inp, w, stride, pads, groups)
            reals += [a * (xs * ws.astype(np.float64))[:, None, None] for a in accs]
            made.append((w, ws, stride, pads, groups, name))
        ys, yz = self._pick(reals, relu)
        outs = []
        for w, ws, stride, pads, groups, name in made:
            self.b.conv2d(w, np.zeros(len(w), np.int32), ws, ys, yz, stride, pads, 1, groups,
                          act="relu" if relu else None, input=inp, name=name)
            outs.append(self._propagate())
        return outs

    def dense(self, nout, relu=True, name=None):
        inp = self.b.last
        xs, xz = self.b.qparams[inp]
        w, ws = self._weights((nout, self.b.tensors[inp][0]))
        reals = [(w.astype(np.float64) @ (x.astype(np.float64) - xz)) * xs * ws for x in self.samples[inp]]
        ys, yz = self._pick(reals, relu)
        self.b.dense(w, np.zeros(nout, np.int32), ws, ys, yz, act="relu" if relu else None, name=name)
        return self._propagate()

    def maxpool(self, k, stride=None, pads=0, name=None):
        self.b.maxpool(k, stride, pads, name=name)
        return self._propagate()

    def gavgpool(self, name=None):
        self.b.avgpool(None, name=name)
        return self._propagate()

    def flatten(self, name=None):
        self.b.flatten(name=name)
        return self._propagate()

    def concat(self, inputs, name=None):
        self.b.concat(inputs, name=name)
        return self._propagate()

    def build(self, meta) -> Network:
        return self.b.build(meta=meta)


def mnist_lenet(seed: int = 1) -> Network:
    """Stateful-CNN's MNIST model (ONNX zoo mnist-8, CNTK): 786,560 MACs."""
    c = _Calibrated("mnist_lenet", (1, 28, 28), seed)
    c.conv(8, 5, pads=2, name="conv1")          # SAME_UPPER 5x5 -> pads 2
    c.maxpool(2, name="pool1")
    c.conv(16, 5, pads=2, name="conv2")
    c.maxpool(3, 3, name="pool2")               # 14 -> 4
    c.flatten(name="flatten")
    c.dense(10, relu=False, name="fc")
    return c.build(_meta("mnist-8 (ONNX model zoo, CNTK 2.5.1), Stateful-CNN data/mnist-8-opt.onnx", 0.9889, seed))


def cifar10_squeezenet(seed: int = 2) -> Network:
    """Stateful-CNN's SqueezeNet variant for CIFAR-10 (largest layer removed): 3,876,032 MACs."""
    c = _Calibrated("cifar10_squeezenet", (3, 32, 32), seed)
    c.conv(64, 3, stride=2, name="conv1")       # VALID: 32 -> 15
    c.maxpool(3, 2, name="pool1")               # 15 -> 7
    for fire, (sq, ex) in zip((2, 3, 4), ((16, 64), (16, 64), (32, 128))):
        c.conv(sq, 1, name=f"fire{fire}_squeeze")
        e1, e3 = c.convs([(ex, 1, 1, 0, 1, f"fire{fire}_expand1x1"), (ex, 3, 1, 1, 1, f"fire{fire}_expand3x3")])
        c.concat([e1, e3], name=f"fire{fire}_concat")
    c.conv(10, 1, name="conv10")
    c.gavgpool(name="gap")
    c.flatten(name="flatten")
    return c.build(_meta("squeezenet_cifar10 (tf2onnx 1.8.5), Stateful-CNN data/squeezenet_cifar10-opt.onnx",
                         0.7704, seed))


def kws_dnn_s(seed: int = 3) -> Network:
    """ARM ML-KWS-for-MCU DNN-S as Stateful-CNN ran it (MFCC 25x10 -> 12 classes): 79,200 MACs."""
    c = _Calibrated("kws_dnn_s", (250,), seed)
    c.dense(144, name="fc1")
    c.dense(144, name="fc2")
    c.dense(144, name="fc3")
    c.dense(12, relu=False, name="fc4")
    return c.build(_meta("ML-KWS-for-MCU Pretrained_models/DNN/DNN_S.pb (tf2onnx 1.8.5), Stateful-CNN", 0.6323, seed))


def har_cnn(seed: int = 4) -> Network:
    """Stateful-CNN's HAR-CNN (UCI HAR, 9 channels x 128 steps -> 6 classes) as 2-D (C, 1, T): 297,216 MACs.

    Conv1d kernel 2 'same' (TensorFlow pads the end: pads (0, 0, 0, 1)), ReLU, max-pool 2."""
    c = _Calibrated("har_cnn", (9, 1, 128), seed)
    for i, cout in enumerate((18, 36, 72), start=1):
        c.conv(cout, (1, 2), pads=(0, 0, 0, 1), name=f"conv{i}")
        c.maxpool((1, 2), (1, 2), name=f"pool{i}")
    c.flatten(name="flatten")
    c.dense(6, relu=False, name="fc")
    return c.build(_meta("HAR-CNN, Stateful-CNN dnn-models/deep-learning-HAR/HAR-CNN.ipynb @ fd8d62d", 0.9121, seed))


def _meta(source, fp32_acc, seed):
    return {"source": source, "accuracy_claimed": False, "published_fp32_accuracy": fp32_acc,
            "weights": f"random He-normal, per-channel int8, np.random.default_rng({seed})",
            "note": "shapes only; random weights classify nothing"}


BUILDERS = {"mnist_lenet": mnist_lenet, "cifar10_squeezenet": cifar10_squeezenet, "kws_dnn_s": kws_dnn_s,
            "har_cnn": har_cnn}
