"""QDQ ONNX models rewritten into the QLinear (QOperator) form intersim imports.

A QDQ model (what ``onnxruntime.quantization.quantize_static(quant_format=QDQ)`` writes) runs
float ops between DequantizeLinear and QuantizeLinear nodes; :func:`qdq_to_qlinear` replaces every
``DequantizeLinear -> op -> QuantizeLinear`` pattern by the QLinear op that computes it in int8 and
leaves every other node as it is (so a QOperator model, whose only DequantizeLinear is at the graph
output, passes through unchanged). Q/DQ nodes left without a consumer are removed.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .onnx_common import MS_DOMAIN, attrs, load_model, onnx_modules, where

#: float ops that run unchanged on int8 when quantised the same before and after
PASS_THROUGH = ("MaxPool", "Flatten", "Reshape", "Relu", "Identity", "Concat")


class _Rewrite:
    """The graph being rewritten: constants, producers, consumers, and the new nodes."""

    def __init__(self, model):
        self.onnx, self.nh = onnx_modules()
        g = self.g = model.graph
        self.consts = {t.name: self.nh.to_array(t) for t in g.initializer}
        for n in g.node:
            if n.op_type == "Constant":
                self.consts[n.output[0]] = self.nh.to_array(attrs(n)["value"])
        self.producers = {o: n for n in g.node for o in n.output}
        self.consumers: dict = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self.graph_outputs = {o.name for o in g.output}
        self.new_inits = []
        self.removed = set()    # ids of original nodes a rewrite replaced

    def dq_of(self, name):
        n = self.producers.get(name)
        return n if n is not None and n.op_type == "DequantizeLinear" else None

    def single_q(self, name):
        """The QuantizeLinear that is the only consumer of ``name`` (a float tensor), or None."""
        cs = self.consumers.get(name, [])
        if len(cs) == 1 and cs[0].op_type == "QuantizeLinear" and name not in self.graph_outputs:
            return cs[0]
        return None

    def qp(self, node):
        """(scale name, zero point name) of a Q/DQ node."""
        if len(node.input) < 3 or not node.input[2]:
            raise ModelError(f"{where(node)}: QDQ import needs an explicit zero point input")
        return node.input[1], node.input[2]

    def same_q(self, a, b):
        (sa, za), (sb, zb), c = self.qp(a), self.qp(b), self.consts
        return (np.array_equal(c.get(sa), c.get(sb)) and np.array_equal(c.get(za), c.get(zb))
                and za in c and zb in c and c[za].dtype == c[zb].dtype)

    def add_init(self, arr, hint):
        name = f"_qdq_{hint}_{len(self.new_inits) + 1}"
        self.new_inits.append(self.nh.from_array(np.asarray(arr), name))
        self.consts[name] = np.asarray(arr)
        return name

    def make(self, op, ins, out, src, domain="", copy_attrs=False, **kw):
        node = self.onnx.helper.make_node(op, ins, [out], name=src.name or src.output[0], domain=domain, **kw)
        if copy_attrs:
            node.attribute.extend(src.attribute)
        return node

    # ---- one rewrite per pattern --------------------------------------------------------
    def bias(self, n, x, w_dq):
        """The int32 bias input of a QLinear conv/gemm for float op ``n`` (or "" without one)."""
        if len(n.input) < 3 or not n.input[2]:
            return ""
        bname = n.input[2]
        bdq = self.dq_of(bname)
        if bdq is not None and bdq.input[0] in self.consts and self.consts[bdq.input[0]].dtype == np.int32:
            return bdq.input[0]
        if bname in self.consts:
            scale = np.float64(self.consts[self.qp(x)[0]]) * self.consts[self.qp(w_dq)[0]].astype(np.float64)
            return self.add_init(np.rint(self.consts[bname] / scale).astype(np.int32), "bias")
        raise ModelError(f"{where(n)}: bias must be a constant (or a DequantizeLinear of an int32 constant)")

    def conv_or_gemm(self, n, x, w_dq, q):
        xs, xz = self.qp(x)
        ws, wz = self.qp(w_dq)
        w_name = w_dq.input[0]
        if w_name not in self.consts:
            raise ModelError(f"{where(n)}: weights must be constant for QDQ import")
        bias = self.bias(n, x, w_dq)
        if n.op_type == "Conv":
            return self.make("QLinearConv", [x.input[0], xs, xz, w_name, ws, wz, *self.qp(q)] + ([bias] if bias else []),
                             q.output[0], n, copy_attrs=True)
        at = attrs(n) if n.op_type == "Gemm" else {}
        if at.get("transA", 0) or at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0:
            raise ModelError(f"{where(n)}: Gemm with transA/alpha/beta is not supported; valid: transA=0, "
                             "alpha=1, beta=1")
        return self.make("QGemm", [x.input[0], xs, xz, w_name, ws, wz, bias, *self.qp(q)], q.output[0], n,
                         domain=MS_DOMAIN, transB=int(at.get("transB", 0)))

    def other(self, n, ins, q):
        """Add, pools, Softmax and the int8 pass-through ops; None when no pattern matches."""
        op, x = n.op_type, ins[0] if ins else None
        if op == "Add" and len(ins) == 2 and all(i is not None for i in ins):
            a, b = ins
            return self.make("QLinearAdd", [a.input[0], *self.qp(a), b.input[0], *self.qp(b), *self.qp(q)],
                             q.output[0], n, domain=MS_DOMAIN)
        if x is None:
            return None
        if op in ("AveragePool", "GlobalAveragePool"):
            return self.make(f"QLinear{op}", [x.input[0], *self.qp(x), *self.qp(q)], q.output[0], n,
                             domain=MS_DOMAIN, copy_attrs=True)
        if op == "Softmax":
            return self.make("QLinearSoftmax", [x.input[0], *self.qp(x), *self.qp(q)], q.output[0], n,
                             domain=MS_DOMAIN, axis=int(attrs(n).get("axis", -1)), opset=13)
        if op not in PASS_THROUGH:
            return None
        if not all(i is not None and self.same_q(i, q) for i in ins[: (len(ins) if op == "Concat" else 1)]):
            raise ModelError(f"{where(n)}: QDQ {op} needs the same quantisation before and after")
        if op == "Relu":  # int8 ReLU of a tensor with zero point zp clamps at zp
            zp = np.asarray(self.consts[self.qp(q)[1]]).astype(np.int8).reshape(())
            return self.make("Clip", [x.input[0], self.add_init(zp, "relu_lo")], q.output[0], n)
        src = [i.input[0] for i in ins] if op == "Concat" else [x.input[0]] + list(n.input[1:])
        return self.make(op, src, q.output[0], n, copy_attrs=True)

    def rewrite(self, n):
        """The QLinear node(s) replacing float op ``n`` and its QuantizeLinear; [] if ``n`` stays."""
        ins = [self.dq_of(i) for i in n.input if i]
        out = n.output[0]
        q, relu = self.single_q(out), None
        if q is None and n.op_type in ("Conv", "Gemm", "MatMul", "Add"):
            cs = self.consumers.get(out, [])
            if len(cs) == 1 and cs[0].op_type == "Relu" and self.single_q(cs[0].output[0]) is not None:
                relu = cs[0]
                q = self.single_q(relu.output[0])
        if q is None or not any(ins):
            return []
        if n.op_type in ("Conv", "MatMul", "Gemm") and ins[0] is not None and len(ins) >= 2 and ins[1] is not None:
            node = self.conv_or_gemm(n, ins[0], ins[1], q)
        else:
            node = self.other(n, ins, q)
        if node is None:
            raise ModelError(f"{where(n)}: no QLinear equivalent for this QDQ pattern; supported between "
                             "DequantizeLinear and QuantizeLinear: Conv, MatMul, Gemm, Add, AveragePool, "
                             "GlobalAveragePool, Softmax, " + ", ".join(PASS_THROUGH))
        self.removed.update({id(n), id(q)})
        if relu is None:
            return [node]
        # Q(relu(v)) = max(Q(v), Q(0)) = max(Q(v), zero point): a clamp on the int8 result
        self.removed.add(id(relu))
        pre = f"{q.output[0]}_prerelu"
        node.output[0] = pre
        zp = np.asarray(self.consts[self.qp(q)[1]]).astype(np.int8).reshape(())
        clip = self.onnx.helper.make_node("Clip", [pre, self.add_init(zp, "relu_lo")], [q.output[0]],
                                          name=relu.name or relu.output[0])
        return [node, clip]


def _live(nodes, graph_outputs):
    """``nodes`` without those whose outputs nothing reads (dead-code elimination, order kept)."""
    needed, keep = set(graph_outputs), []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            keep.append(n)
            needed.update(i for i in n.input if i)
    return keep[::-1]


def qdq_to_qlinear(model):
    """Rewrite the QDQ patterns of ``model`` into QLinear ops; every other node is kept.

    Conv -> QLinearConv (bias from a DequantizeLinear of int32, or a float bias quantised to
    ``round(b / (x_scale * w_scale))``), MatMul/Gemm -> QGemm, Add -> QLinearAdd,
    AveragePool -> QLinearAveragePool, GlobalAveragePool -> QLinearGlobalAveragePool, Softmax ->
    QLinearSoftmax; MaxPool, Flatten, Reshape, Concat, Relu, Identity between a DequantizeLinear
    and a QuantizeLinear with the same parameters run on int8 directly. A ReLU between an op and
    its QuantizeLinear becomes a Clip at the output zero point.

    Parameters
    ----------
    model : onnx.ModelProto, str or Path

    Returns
    -------
    onnx.ModelProto
        A new model; ``model`` itself when it has no DequantizeLinear.
    """
    model = load_model(model)
    g = model.graph
    if not any(n.op_type == "DequantizeLinear" for n in g.node):
        return model
    rw = _Rewrite(model)
    order = []  # the original order; a rewrite sits where its float op was
    for n in g.node:
        if id(n) in rw.removed:
            continue
        if n.op_type in ("DequantizeLinear", "QuantizeLinear", "Constant"):
            order.append(n)
            continue
        order.extend(rw.rewrite(n) or [n])
    onnx = rw.onnx
    live = _live(order, rw.graph_outputs)
    read = {i for n in live for i in n.input} | {i.name for i in g.input}
    inits = [t for t in list(g.initializer) + rw.new_inits if t.name in read]
    graph = onnx.helper.make_graph(live, g.name, [i for i in g.input if i.name in read], list(g.output), inits)
    opsets = {o.domain: o.version for o in model.opset_import}
    opsets.setdefault(MS_DOMAIN, 1)
    out = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()])
    out.ir_version = model.ir_version
    return out
