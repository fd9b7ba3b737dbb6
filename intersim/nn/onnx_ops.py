"""One converter per int8 ONNX op: a node of a QLinear (QOperator) model -> a network layer.

Each converter takes the import state (:class:`ImportState`: constants, the int8 tensors made so
far with their shapes and quantisation), the node, its attributes and a layer name, and returns
the :class:`~intersim.nn.network.Layer` computing the node's output with onnxruntime's arithmetic.
:data:`CONVERTERS` maps op types to converters.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .network import Add, AvgPool2D, Concat, Conv2D, Dense, Flatten, MaxPool2D, Relu, Reshape
from .layers import element_count
from .onnx_common import constant_scalar, pads_2d, where
from .quant import INT8_MAX, INT8_MIN, Requant, onnx_add_params, onnx_multiplier


class ImportState:
    """What the import knows so far: constants, int8 tensor shapes and quantisation, aliases."""

    def __init__(self, consts: dict):
        self.consts = consts
        self.shapes: dict = {}
        self.qparams: dict = {}
        self.alias: dict = {}

    def name(self, nm):
        """``nm`` through Identity aliases."""
        return self.alias.get(nm, nm)

    def need(self, nm, node):
        """The int8 tensor ``nm`` that ``node`` reads (refused if the import did not make it)."""
        nm = self.name(nm)
        if nm not in self.shapes:
            raise ModelError(f"{where(node)}: input {nm!r} is not an int8 tensor this importer produced "
                             "(a float tensor, or an op before it was not imported)")
        return nm

    def qpar(self, node, s_name, z_name, what):
        """(scale, zero point) of constant inputs ``s_name``/``z_name``; the zero point must be int8."""
        s, _ = constant_scalar(self.consts, s_name, node, f"{what} scale")
        if not z_name:
            return float(np.float32(s)), 0
        z, zt = constant_scalar(self.consts, z_name, node, f"{what} zero point")
        if zt != np.int8:
            raise ModelError(f"{where(node)}: {what} zero point is {zt}; only int8 (s8) tensors are supported")
        return float(np.float32(s)), int(z)

    def note_input(self, x, s, z):
        """Record the quantisation of tensor ``x`` as a consumer sees it (first one wins)."""
        if self.qparams.get(x) is None:
            self.qparams[x] = (float(np.float32(s)), int(z))

    def int8_weight(self, node, name, ndim, what):
        w = self.consts.get(name)
        if w is None or w.dtype != np.int8 or w.ndim != ndim:
            raise ModelError(f"{where(node)}: {what} must be a constant int8 {ndim}-D tensor, got "
                             f"{None if w is None else (w.dtype, w.shape)}")
        return w

    def weight_qparams(self, node, s_name, z_name, what):
        ws = np.atleast_1d(np.asarray(self.consts[s_name], np.float32))
        wz = np.atleast_1d(np.asarray(self.consts[z_name]))
        if wz.dtype != np.int8:
            raise ModelError(f"{where(node)}: {what} zero point is {wz.dtype}; only int8 is supported")
        return ws, wz


def _window(node, at, in_shape, dilated=True):
    k = tuple(at["kernel_shape"]) if "kernel_shape" in at else ()
    if len(k) != 2:
        raise ModelError(f"{where(node)}: kernel_shape {list(k)} is not 2-D")
    stride = tuple(at.get("strides", [1, 1]))
    dil = tuple(at.get("dilations", [1, 1])) if dilated else (1, 1)
    return k, stride, pads_2d(node, at, in_shape[1:], k, stride, dil), dil


def conv(st: ImportState, node, at, lname):
    ins = list(node.input)
    x = st.need(ins[0], node)
    xs, xz = st.qpar(node, ins[1], ins[2], "x")
    w = st.int8_weight(node, ins[3], 4, "weight (2-D convolution)")
    ws, wz = st.weight_qparams(node, ins[4], ins[5], "weight")
    ys, yz = st.qpar(node, ins[6], ins[7], "y")
    bias = st.consts[ins[8]].astype(np.int32) if len(ins) > 8 and ins[8] else None
    k = tuple(at.get("kernel_shape", w.shape[2:]))
    stride = tuple(at.get("strides", [1, 1]))
    dil = tuple(at.get("dilations", [1, 1]))
    pads = pads_2d(node, at, st.shapes[x][1:], k, stride, dil)
    rq = Requant("onnx", yz, onnx_multiplier(xs, ws, ys))
    st.note_input(x, xs, xz)
    return Conv2D(lname, x, node.output[0], st.shapes[x], w, bias, rq, xz, wz.astype(np.int32), stride, pads, dil,
                  int(at.get("group", 1)), w_scale=np.broadcast_to(ws, (w.shape[0],))), (ys, yz)


def gemm(st: ImportState, node, at, lname):
    ins, op = list(node.input), node.op_type
    x = st.need(ins[0], node)
    xs, xz = st.qpar(node, ins[1], ins[2], "a")
    b = st.int8_weight(node, ins[3], 2, "B")
    bs, bz = st.weight_qparams(node, ins[4], ins[5], "B")
    if op == "QGemm":
        if at.get("transA", 0) or at.get("alpha", 1.0) != 1.0:
            raise ModelError(f"{where(node)}: transA and alpha != 1 are not supported; valid: transA=0, alpha=1")
        wt = b if at.get("transB", 0) else b.T
        bias = st.consts[ins[6]].astype(np.int32).reshape(-1) if len(ins) > 6 and ins[6] else None
        if len(ins) < 8 or not ins[7]:
            raise ModelError(f"{where(node)}: QGemm with float output (no y_scale) is not supported")
        ys, yz = st.qpar(node, ins[7], ins[8] if len(ins) > 8 else "", "y")
    else:
        wt, bias = b.T, None
        ys, yz = st.qpar(node, ins[6], ins[7], "y")
    if bias is not None and bias.size == 1:
        bias = np.repeat(bias, wt.shape[0])
    if len(st.shapes[x]) != 1:
        raise ModelError(f"{where(node)}: input {x!r} has shape {st.shapes[x]}; flatten it to a vector first")
    rq = Requant("onnx", yz, onnx_multiplier(xs, bs, ys))
    st.note_input(x, xs, xz)
    return Dense(lname, x, node.output[0], st.shapes[x], np.ascontiguousarray(wt), bias, rq, xz, bz.astype(np.int32),
                 w_scale=np.broadcast_to(bs, (wt.shape[0],))), (ys, yz)


def add(st: ImportState, node, at, lname):
    ins, out = list(node.input), node.output[0]
    a_s, a_z = st.qpar(node, ins[1], ins[2], "A")
    b_s, b_z = st.qpar(node, ins[4], ins[5], "B")
    ys, yz = st.qpar(node, ins[6], ins[7] if len(ins) > 7 else "", "C")
    params = onnx_add_params(a_s, a_z, b_s, b_z, ys, yz)
    dyn = [st.name(i) in st.shapes for i in (ins[0], ins[3])]
    if all(dyn):
        a, b = st.need(ins[0], node), st.need(ins[3], node)
        if st.shapes[a] != st.shapes[b]:
            raise ModelError(f"{where(node)}: broadcasting add {st.shapes[a]} + {st.shapes[b]} is not supported")
        st.note_input(a, a_s, a_z)
        st.note_input(b, b_s, b_z)
        return Add(lname, [a, b], out, [st.shapes[a], st.shapes[b]], params), (ys, yz)
    if dyn[0] and ins[3] in st.consts:
        a = st.need(ins[0], node)
        c = np.asarray(st.consts[ins[3]])
        if c.dtype != np.int8 or c.size != element_count(st.shapes[a]):
            raise ModelError(f"{where(node)}: constant operand must be int8 of the other operand's size "
                             f"{st.shapes[a]} (no broadcasting), got {c.dtype} {c.shape}")
        st.note_input(a, a_s, a_z)
        return Add(lname, [a], out, [st.shapes[a]], params, const=c.reshape(st.shapes[a]),
                   const_qparams=(b_s, b_z)), (ys, yz)
    raise ModelError(f"{where(node)}: QLinearAdd needs a tensor as first operand and a tensor or a constant as second")


def maxpool(st: ImportState, node, at, lname):
    x = st.need(node.input[0], node)
    if len(node.output) > 1 and node.output[1]:
        raise ModelError(f"{where(node)}: the Indices output is not supported")
    if at.get("ceil_mode", 0):
        raise ModelError(f"{where(node)}: ceil_mode=1 not supported; valid: 0")
    k, stride, pads, dil = _window(node, at, st.shapes[x])
    return MaxPool2D(lname, x, node.output[0], st.shapes[x], k, stride, pads, dil), st.qparams.get(x)


def avgpool(st: ImportState, node, at, lname):
    ins = list(node.input)
    x = st.need(ins[0], node)
    for a in ("channels_last", "ceil_mode"):
        if at.get(a, 0):
            raise ModelError(f"{where(node)}: {a}=1 not supported; valid: 0")
    xs, xz = st.qpar(node, ins[1], ins[2], "x")
    ys, yz = st.qpar(node, ins[3], ins[4] if len(ins) > 4 else "", "y")
    if node.op_type == "QLinearGlobalAveragePool":
        k, stride, pads = tuple(st.shapes[x][1:]), (1, 1), (0, 0, 0, 0)
    else:
        k, stride, pads, _ = _window(node, at, st.shapes[x], dilated=False)
    st.note_input(x, xs, xz)
    return AvgPool2D(lname, x, node.output[0], st.shapes[x], k, stride, pads, semantics="onnx", x_scale=xs,
                     x_zero_point=xz, y_scale=ys, y_zero_point=yz,
                     count_include_pad=bool(at.get("count_include_pad", 0))), (ys, yz)


def reshape(st: ImportState, node, at, lname):
    ins, out = list(node.input), node.output[0]
    x = st.need(ins[0], node)
    if node.op_type == "Flatten":
        if at.get("axis", 1) != 1:
            raise ModelError(f"{where(node)}: Flatten axis {at.get('axis')} not supported; valid: 1")
        return Flatten(lname, x, out, st.shapes[x]), st.qparams.get(x)
    if len(ins) < 2 or ins[1] not in st.consts:
        raise ModelError(f"{where(node)}: Reshape needs a constant shape")
    tgt = [int(v) for v in st.consts[ins[1]]]
    if not tgt or tgt[0] not in (1, 0, -1):
        raise ModelError(f"{where(node)}: Reshape target {tgt} must keep a batch axis of 1")
    shape = st.shapes[x]
    rest = [shape[i] if v == 0 and i < len(shape) else v for i, v in enumerate(tgt[1:])]
    if -1 in rest:
        rest[rest.index(-1)] = element_count(shape) // max(element_count([v for v in rest if v != -1]), 1)
    return Reshape(lname, x, out, shape, tuple(rest)), st.qparams.get(x)


def clamp(st: ImportState, node, at, lname):
    ins = list(node.input)
    x = st.need(ins[0], node)
    if node.op_type == "Relu":
        lo, hi = 0, INT8_MAX
    else:
        bounds = []
        for i, default in ((1, INT8_MIN), (2, INT8_MAX)):
            if len(ins) > i and ins[i]:
                if ins[i] not in st.consts:
                    raise ModelError(f"{where(node)}: Clip bounds must be constants")
                bounds.append(int(np.asarray(st.consts[ins[i]]).item()))
            else:
                bounds.append(default)
        lo, hi = bounds
    return Relu(lname, x, node.output[0], st.shapes[x], lo, hi), st.qparams.get(x)


def concat(st: ImportState, node, at, lname):
    xs = [st.need(i, node) for i in node.input]
    if at.get("axis", 1) != 1:
        raise ModelError(f"{where(node)}: Concat axis {at.get('axis')} not supported; valid: 1 (channels)")
    q = {st.qparams.get(i) for i in xs}
    if len(q) > 1:
        raise ModelError(f"{where(node)}: Concat inputs are quantised differently: {sorted(q, key=str)}")
    return Concat(lname, xs, node.output[0], [st.shapes[i] for i in xs]), q.pop()


#: op type -> converter returning ``(layer, (y_scale, y_zero_point) or None)``
CONVERTERS = {
    "QLinearConv": conv, "QLinearMatMul": gemm, "QGemm": gemm, "QLinearAdd": add, "MaxPool": maxpool,
    "QLinearAveragePool": avgpool, "QLinearGlobalAveragePool": avgpool, "Flatten": reshape, "Reshape": reshape,
    "Relu": clamp, "Clip": clamp, "Concat": concat,
}
