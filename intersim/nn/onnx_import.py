"""ONNX quantised models -> :class:`~intersim.nn.network.Network` (ONNX QLinear semantics).

``load_onnx(path)`` imports the three forms ``onnxruntime.quantization.quantize_static`` writes:

* **QOperator**: QLinearConv, QLinearMatMul, com.microsoft QGemm, QLinearAdd,
  QLinearAveragePool, QLinearGlobalAveragePool, and MaxPool, Flatten, Reshape, Relu/Clip, Concat,
  Identity on int8 (:mod:`intersim.nn.onnx_ops`), with a QuantizeLinear at the graph input and a
  QLinearSoftmax and/or DequantizeLinear (optionally followed by a float Softmax) at the output;
* **QDQ**: DequantizeLinear -> float op -> QuantizeLinear, first rewritten into QOperator form
  (:func:`~intersim.nn.onnx_qdq.qdq_to_qlinear`);
* plain **QLinear**: int8 input and output, no Q/DQ at all.

The network's input is the int8 tensor after the input QuantizeLinear (its scale and zero point in
``meta["input_quant"]``); its output is the int8 tensor before the output *tail* (QLinearSoftmax,
DequantizeLinear, Softmax: monotonic per element, so they never change the arg-max), with its
scale and zero point in ``meta["output_quant"]`` and the tail's nodes in ``meta["output_tail"]``.
Anything else raises :class:`~intersim.errors.ModelError` naming the node, its op and what is
supported.

onnx is optional: ``pip install intersim[onnx]``.
"""
from __future__ import annotations

from ..errors import ModelError
from .network import Network
from .onnx_common import MS_DOMAIN, attrs, load_model, onnx_modules, where
from .onnx_export import ort_session, to_onnx
from .onnx_ops import CONVERTERS, ImportState
from .onnx_qdq import qdq_to_qlinear

#: ops accepted after the network's last int8 tensor, in this order (each at most once)
TAIL_OPS = ("QLinearSoftmax", "DequantizeLinear", "Softmax")
SUPPORTED = (", ".join(CONVERTERS) + ", Identity; QuantizeLinear at the graph input; "
             + ", ".join(TAIL_OPS) + " at the graph output")


def _graph_input(g, consts, onnx):
    """The one non-constant graph input, its shape without the batch axis, and whether it is int8."""
    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelError(f"model needs exactly one input and one output, got {[i.name for i in inputs]} -> "
                         f"{[o.name for o in g.output]}")
    gin = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else 1 for d in gin.type.tensor_type.shape.dim]
    if not dims or dims[0] != 1:
        raise ModelError(f"input {gin.name!r} shape {dims}: the batch axis must be 1")
    elem = gin.type.tensor_type.elem_type
    if elem not in (onnx.TensorProto.INT8, onnx.TensorProto.FLOAT):
        raise ModelError(f"input {gin.name!r}: element type {onnx.TensorProto.DataType.Name(elem)} not supported; "
                         "valid: INT8, or FLOAT followed by QuantizeLinear to int8")
    return gin, tuple(dims[1:]), elem == onnx.TensorProto.INT8


def _output_tail(g) -> list:
    """The nodes after the last int8 tensor (see :data:`TAIL_OPS`), first to last."""
    producers = {o: n for n in g.node for o in n.output}
    readers: dict = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    tail, t = [], g.output[0].name
    while t in producers and producers[t].op_type in TAIL_OPS and len(readers.get(t, [])) <= 1:
        tail.insert(0, producers[t])
        t = producers[t].input[0]
    ops = [n.op_type for n in tail]
    rank = [TAIL_OPS.index(op) for op in ops]
    if rank != sorted(set(rank)) or ops == ["Softmax"] or ops[:1] == ["QLinearSoftmax"] and "Softmax" in ops:
        raise ModelError(f"{where(tail[-1])}: the graph output ends in {' -> '.join(ops)}; supported after the "
                         "last int8 tensor: [QLinearSoftmax] -> [DequantizeLinear], or DequantizeLinear -> Softmax")
    return tail


def _check_tail(tail, st: ImportState, out: str):
    """A softmax in the tail must act along a vector (then the arg-max is the logits' arg-max)."""
    for n in tail:
        if "Softmax" in n.op_type:
            axis = attrs(n).get("axis", -1 if n.op_type == "Softmax" else 1)
            if len(st.shapes[out]) != 1 or axis not in (1, -1):
                raise ModelError(f"{where(n)}: a softmax at the output must act along a vector's last axis; got "
                                 f"input shape {st.shapes[out]} and axis {axis} (valid: a [1, N] input, axis 1 or -1)")


def _quantize_input(st, node, gin, input_name, meta):
    if node.input[0] != gin.name or input_name is not None:
        raise ModelError(f"{where(node)}: QuantizeLinear is supported only on the graph input")
    s, z = st.qpar(node, node.input[1], node.input[2] if len(node.input) > 2 else "", "y")
    out = node.output[0]
    st.shapes[out] = st.shapes[gin.name]
    st.qparams[out] = (s, z)
    meta["input_quant"] = [s, z]
    return out


def _refuse(node, input_name, gin):
    if node.op_type in TAIL_OPS:
        raise ModelError(f"{where(node)}: {node.op_type} is supported only at the graph output, after the last "
                         "int8 tensor (a float op after it would not run on int8)")
    if input_name is None:
        raise ModelError(f"{where(node)}: float input {gin.name!r} must first go through QuantizeLinear")
    raise ModelError(f"{where(node)}: op not supported; supported: {SUPPORTED}")


def _layers(g, st: ImportState, gin, input_name, tail, meta):
    """Convert every node except the tail; returns ``(layers, input_name)``."""
    _, nh = onnx_modules()
    layers, skip = [], {id(n) for n in tail}
    for node in g.node:
        if id(node) in skip:
            continue
        op, at = node.op_type, attrs(node)
        if op == "Constant":
            st.consts[node.output[0]] = nh.to_array(at["value"])
            continue
        try:
            if node.domain not in ("", "ai.onnx", MS_DOMAIN):
                raise ModelError(f"{where(node)}: domain {node.domain!r} not supported; valid: ai.onnx, {MS_DOMAIN}")
            if op == "QuantizeLinear":
                input_name = _quantize_input(st, node, gin, input_name, meta)
                continue
            if op not in CONVERTERS and op != "Identity" or input_name is None:
                _refuse(node, input_name, gin)
            if op == "Identity":
                st.alias[node.output[0]] = st.name(node.input[0])
                continue
            layer, q = CONVERTERS[op](st, node, at, node.name or node.output[0])
        except ModelError as e:  # layer constructors name neither node nor op: add them
            if str(e).startswith("node "):
                raise
            raise ModelError(f"{where(node)}: {e}") from None
        st.qparams[layer.output] = q
        layers.append(layer)
        st.shapes[layer.output] = layer.out_shape
    return layers, input_name


def load_onnx(model, name: str | None = None) -> Network:
    """Import an ONNX QOperator, QDQ or plain QLinear model as a :class:`Network` (semantics "onnx").

    Parameters
    ----------
    model : str, Path or onnx.ModelProto
        The batch axis must be 1 (or symbolic, taken as 1).
    name : str, optional
        The network's name (default: the graph's name).

    Returns
    -------
    Network
        Input: the int8 tensor after a QuantizeLinear at the graph input (``meta["input_quant"]``
        = [scale, zero point]; a float request is quantised with them). Output: the int8 tensor
        before the output tail (``meta["output_quant"]``, ``meta["output_tail"]``).
    """
    onnx, nh = onnx_modules()
    model = qdq_to_qlinear(load_model(model))
    g = model.graph
    st = ImportState({t.name: nh.to_array(t) for t in g.initializer})
    gin, in_shape, int8_in = _graph_input(g, st.consts, onnx)
    st.shapes[gin.name] = in_shape
    tail = _output_tail(g)
    meta = {"source": "onnx", "output_tail": [f"{n.op_type} {n.name or n.output[0]!r}" for n in tail]}
    layers, input_name = _layers(g, st, gin, gin.name if int8_in else None, tail, meta)
    final = st.name(tail[0].input[0] if tail else g.output[0].name)
    if final not in st.shapes or final == gin.name and not int8_in:
        raise ModelError(f"graph output {g.output[0].name!r} is not an int8 tensor this importer produced")
    _check_tail(tail, st, final)
    if st.qparams.get(input_name) is None:
        st.qparams[input_name] = (1.0, 0)
    tensors = {k: v for k, v in st.shapes.items() if k == input_name or any(l.output == k for l in layers)}
    qp = {k: st.qparams.get(k) or (1.0, 0) for k in tensors}
    meta["output_quant"] = list(qp[final])
    return Network(name or g.name or "onnx_model", input_name, final, tensors, layers, qp, "onnx", meta)


__all__ = ["load_onnx", "qdq_to_qlinear", "to_onnx", "ort_session", "TAIL_OPS"]
