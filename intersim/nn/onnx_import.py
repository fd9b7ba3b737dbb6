"""ONNX quantised models <-> :class:`~intersim.nn.network.Network` (ONNX QLinear semantics).

``load_onnx(path)`` reads a QLinear model (QLinearConv, QLinearMatMul, com.microsoft QGemm,
QLinearAdd, MaxPool, QLinearAveragePool, QLinearGlobalAveragePool, QLinearConcat is not
supported but plain Concat of equally quantised inputs is, Flatten, Reshape, Relu/Clip on int8,
Identity) with an optional QuantizeLinear at the input and DequantizeLinear at the output. A QDQ
model (DequantizeLinear -> float op -> QuantizeLinear) is first rewritten into that QLinear form
(:func:`qdq_to_qlinear`). Anything else raises :class:`~intersim.errors.ModelError` naming the
node and its op.

``to_onnx(network, path)`` writes the QLinear model onnxruntime runs bit-identically to
``network.run`` (int8 input ``[1, *input_shape]``, int8 output).

onnx is optional: ``pip install intersim[onnx]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError
from .network import (Add, AvgPool2D, Concat, Conv2D, Dense, Flatten, MaxPool2D, Network, Relu, Reshape,
                      _prod)
from .quant import INT8_MAX, INT8_MIN, Requant, onnx_add_params, onnx_multiplier

MS_DOMAIN = "com.microsoft"


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelError("ONNX support needs the optional dependency: pip install intersim[onnx]") from e
    return onnx, numpy_helper


def _load_model(model):
    onnx, _ = _onnx()
    if isinstance(model, (str, Path)):
        p = Path(model)
        if not p.exists():
            raise ModelError(f"ONNX file {p} does not exist")
        try:
            return onnx.load(str(p))
        except Exception as e:
            raise ModelError(f"{p}: not a readable ONNX model ({e})") from e
    return model


def _attrs(node) -> dict:
    onnx, _ = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _where(node) -> str:
    return f"node {node.name or '(unnamed)'!r} (op {node.op_type})"


# =============================================================================================
# QDQ -> QLinear rewrite
# =============================================================================================
def qdq_to_qlinear(model):
    """Rewrite a QDQ model (DequantizeLinear -> float op -> QuantizeLinear) into QLinear ops.

    Conv -> QLinearConv (bias from a DequantizeLinear of int32, or a float bias quantised to
    ``round(b / (x_scale * w_scale))``), MatMul/Gemm -> QGemm, Add -> QLinearAdd,
    AveragePool -> QLinearAveragePool, GlobalAveragePool -> QLinearGlobalAveragePool; MaxPool,
    Flatten, Reshape, Concat, Relu between a DequantizeLinear and a QuantizeLinear with the
    same parameters run on int8 directly. A ReLU between an op and its QuantizeLinear becomes the
    clamp of the QLinear op when the output zero point makes it one, else a Clip on int8.
    Returns a new ModelProto; a model with no DequantizeLinear is returned unchanged.
    """
    onnx, nh = _onnx()
    model = _load_model(model)
    g = model.graph
    if not any(n.op_type == "DequantizeLinear" for n in g.node):
        return model
    inits = {t.name: t for t in g.initializer}
    consts = {k: nh.to_array(v) for k, v in inits.items()}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = nh.to_array(_attrs(n)["value"])
    producers = {o: n for n in g.node for o in n.output}
    consumers: dict = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}

    def dq_of(name):
        n = producers.get(name)
        return n if n is not None and n.op_type == "DequantizeLinear" else None

    def single_q(name):
        """The QuantizeLinear that is the only consumer of ``name`` (a float tensor), or None."""
        cs = consumers.get(name, [])
        if len(cs) == 1 and cs[0].op_type == "QuantizeLinear" and name not in graph_outputs:
            return cs[0]
        return None

    def qp(node):  # (scale name, zero point name) of a Q/DQ node
        if len(node.input) < 3:
            raise ModelError(f"{_where(node)}: QDQ import needs an explicit zero point input")
        return node.input[1], node.input[2]

    def same_q(a, b):
        sa, za = qp(a)
        sb, zb = qp(b)
        return (np.array_equal(consts.get(sa), consts.get(sb)) and np.array_equal(consts.get(za), consts.get(zb))
                and consts[za].dtype == consts[zb].dtype)

    new_nodes, new_inits, drop = [], [], set()
    counter = [0]

    def add_init(arr, hint):
        counter[0] += 1
        name = f"_qdq_{hint}_{counter[0]}"
        new_inits.append(nh.from_array(np.asarray(arr), name))
        consts[name] = np.asarray(arr)
        return name

    rewritten, fused = {}, set()
    for n in g.node:
        if n.op_type in ("DequantizeLinear", "QuantizeLinear", "Constant") or id(n) in fused:
            continue
        ins = [dq_of(i) for i in n.input if i]
        out = n.output[0]
        q = single_q(out)
        relu = None
        if q is None and n.op_type in ("Conv", "Gemm", "MatMul", "Add"):
            cs = consumers.get(out, [])
            if len(cs) == 1 and cs[0].op_type == "Relu" and single_q(cs[0].output[0]) is not None:
                relu = cs[0]
                fused.add(id(relu))
                q = single_q(relu.output[0])
        if q is None:
            continue
        op = n.op_type
        x = ins[0] if ins else None
        if op in ("Conv", "MatMul", "Gemm") and x is not None and len(ins) >= 2 and ins[1] is not None:
            w_dq = ins[1]
            xs, xz = qp(x)
            ws, wz = qp(w_dq)
            w_name = w_dq.input[0]
            if w_name not in consts:
                raise ModelError(f"{_where(n)}: weights must be constant for QDQ import")
            bias = None
            bidx = 2
            if len(n.input) > bidx and n.input[bidx]:
                bname = n.input[bidx]
                bdq = dq_of(bname)
                if bdq is not None and bdq.input[0] in consts and consts[bdq.input[0]].dtype == np.int32:
                    bias = bdq.input[0]
                    drop.add(bdq.output[0])
                elif bname in consts:
                    scale = np.float64(consts[xs]) * consts[ws].astype(np.float64)
                    bias = add_init(np.rint(consts[bname] / scale).astype(np.int32), "bias")
                else:
                    raise ModelError(f"{_where(n)}: bias must be constant")
            if op == "Conv":
                node = onnx.helper.make_node("QLinearConv", [x.input[0], xs, xz, w_name, ws, wz, *qp(q)]
                                             + ([bias] if bias else []), [q.output[0]], name=n.name or out)
                node.attribute.extend(n.attribute)
            else:
                at = _attrs(n) if op == "Gemm" else {}
                if at.get("transA", 0) or at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0:
                    raise ModelError(f"{_where(n)}: Gemm with transA/alpha/beta is not supported")
                node = onnx.helper.make_node("QGemm", [x.input[0], xs, xz, w_name, ws, wz, bias or "", *qp(q)],
                                             [q.output[0]], name=n.name or out, domain=MS_DOMAIN,
                                             transB=int(at.get("transB", 0)))
        elif op == "Add" and len(ins) == 2 and all(i is not None for i in ins):
            a, b = ins
            node = onnx.helper.make_node("QLinearAdd", [a.input[0], *qp(a), b.input[0], *qp(b), *qp(q)],
                                         [q.output[0]], name=n.name or out, domain=MS_DOMAIN)
        elif op in ("AveragePool", "GlobalAveragePool") and x is not None:
            qop = "QLinearAveragePool" if op == "AveragePool" else "QLinearGlobalAveragePool"
            node = onnx.helper.make_node(qop, [x.input[0], *qp(x), *qp(q)], [q.output[0]], name=n.name or out,
                                         domain=MS_DOMAIN)
            node.attribute.extend(n.attribute)
        elif op in ("MaxPool", "Flatten", "Reshape", "Relu", "Identity", "Concat") and x is not None:
            if not all(i is not None and same_q(i, q) for i in ins[: (len(ins) if op == "Concat" else 1)]):
                raise ModelError(f"{_where(n)}: QDQ {op} needs the same quantisation before and after")
            node = onnx.helper.make_node(op, [i.input[0] for i in ins] if op == "Concat"
                                         else [x.input[0]] + list(n.input[1:]), [q.output[0]], name=n.name or out)
            node.attribute.extend(n.attribute)
            if op == "Relu":  # int8 ReLU of a tensor with zero point zp clamps at zp
                zp = int(consts[qp(q)[1]])
                node = onnx.helper.make_node("Clip", [x.input[0], add_init(np.int8(zp), "relu_lo")],
                                             [q.output[0]], name=n.name or out)
        else:
            raise ModelError(f"{_where(n)}: no QLinear equivalent for this QDQ pattern")
        if relu is not None:
            # Q(relu(v)) = max(Q(v), Q(0)) = max(Q(v), zero point): a clamp on the int8 result
            pre = f"{q.output[0]}_prerelu"
            node.output[0] = pre
            zp = np.asarray(consts[qp(q)[1]])
            new_nodes.append(node)
            node = onnx.helper.make_node("Clip", [pre, add_init(zp.astype(np.int8).reshape(()), "relu_lo")],
                                         [q.output[0]], name=f"{relu.name or relu.output[0]}")
        rewritten[n.name or out] = node
        new_nodes.append(node)
        drop.update({q.output[0]})
        if relu is not None:
            drop.add(relu.output[0])

    # assemble: QuantizeLinear of the graph input and DequantizeLinear of the graph output stay
    keep = []
    graph_inputs = {i.name for i in g.input}
    for n in g.node:
        if n.op_type == "QuantizeLinear" and n.input[0] in graph_inputs:
            keep.append(n)
        elif n.op_type == "DequantizeLinear" and n.output[0] in graph_outputs:
            keep.append(n)
        elif n.op_type == "Constant":
            keep.append(n)
    nodes = [k for k in keep if k.op_type != "DequantizeLinear"] + new_nodes + \
            [k for k in keep if k.op_type == "DequantizeLinear"]
    graph = onnx.helper.make_graph(nodes, g.name, list(g.input), list(g.output), list(g.initializer) + new_inits)
    opsets = {o.domain: o.version for o in model.opset_import}
    opsets.setdefault(MS_DOMAIN, 1)
    out = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()])
    out.ir_version = model.ir_version
    return out


# =============================================================================================
# QLinear import
# =============================================================================================
def _pads_2d(node, at, in_hw, kernel, stride, dilation):
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        p = list(at.get("pads", [0, 0, 0, 0]))
        if len(p) != 4:
            raise ModelError(f"{_where(node)}: pads {p} is not 2-D")
        return tuple(int(v) for v in p)
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for i in range(2):
            out = -(-in_hw[i] // stride[i])
            total = max(0, (out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - in_hw[i])
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    raise ModelError(f"{_where(node)}: auto_pad {auto!r} not supported; valid: NOTSET, VALID, SAME_UPPER, SAME_LOWER")


def _scalar(consts, name, node, what):
    if name not in consts:
        raise ModelError(f"{_where(node)}: {what} {name!r} must be a constant")
    v = np.asarray(consts[name])
    if v.size != 1:
        raise ModelError(f"{_where(node)}: {what} must be a scalar, got shape {v.shape}")
    return v.reshape(()).item(), v.dtype


def load_onnx(model, name: str | None = None) -> Network:
    """Import an ONNX QLinear or QDQ model as a :class:`Network` (semantics "onnx").

    model : path or ``onnx.ModelProto``. The batch axis must be 1 (or symbolic, taken as 1).
    The network's input is the int8 tensor (after a QuantizeLinear at the graph input, whose
    scale/zero point are in ``meta["input_quant"]``), its output the int8 tensor (before a
    DequantizeLinear at the graph output, see ``meta["output_quant"]``).
    """
    onnx, nh = _onnx()
    model = qdq_to_qlinear(_load_model(model))
    g = model.graph
    consts = {t.name: nh.to_array(t) for t in g.initializer}
    init_names = set(consts)
    inputs = [i for i in g.input if i.name not in init_names]
    if len(inputs) != 1 or len(g.output) != 1:
        raise ModelError(f"model needs exactly one input and one output, got {[i.name for i in inputs]} -> "
                         f"{[o.name for o in g.output]}")
    gin = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else 1 for d in gin.type.tensor_type.shape.dim]
    if not dims or dims[0] != 1:
        raise ModelError(f"input {gin.name!r} shape {dims}: the batch axis must be 1")
    shapes = {gin.name: tuple(dims[1:])}
    qparams: dict = {}
    alias: dict = {}
    layers = []
    meta = {"source": "onnx"}
    elem = gin.type.tensor_type.elem_type
    if elem == onnx.TensorProto.INT8:
        input_name = gin.name
    elif elem == onnx.TensorProto.FLOAT:
        input_name = None  # set by the QuantizeLinear that reads it
    else:
        raise ModelError(f"input {gin.name!r}: element type {onnx.TensorProto.DataType.Name(elem)} not supported; "
                         "valid: INT8, or FLOAT followed by QuantizeLinear to int8")
    out_name = g.output[0].name
    final_output = None

    def T(nm):
        return alias.get(nm, nm)

    def need(nm, node):
        nm = T(nm)
        if nm not in shapes:
            raise ModelError(f"{_where(node)}: input {nm!r} is not an int8 tensor this importer produced")
        return nm

    def qpar(node, s_name, z_name, what):
        s, _ = _scalar(consts, s_name, node, f"{what} scale")
        if not z_name:
            return float(np.float32(s)), 0
        z, zt = _scalar(consts, z_name, node, f"{what} zero point")
        if zt != np.int8:
            raise ModelError(f"{_where(node)}: {what} zero point is {zt}; only int8 (s8) tensors are supported")
        return float(np.float32(s)), int(z)

    for node in g.node:
        op = node.op_type
        at = _attrs(node)
        ins = list(node.input)
        if op == "Constant":
            consts[node.output[0]] = nh.to_array(at["value"])
            continue
        if node.domain not in ("", "ai.onnx", MS_DOMAIN):
            raise ModelError(f"{_where(node)}: domain {node.domain!r} not supported")
        lname = node.name or node.output[0]
        out = node.output[0]
        if op == "QuantizeLinear":
            if ins[0] != gin.name or input_name is not None:
                raise ModelError(f"{_where(node)}: QuantizeLinear is supported only on the graph input")
            s, z = qpar(node, ins[1], ins[2] if len(ins) > 2 else "", "y")
            input_name = out
            shapes[out] = shapes[gin.name]
            qparams[out] = (s, z)
            meta["input_quant"] = [s, z]
            continue
        if op == "DequantizeLinear":
            if out != out_name:
                raise ModelError(f"{_where(node)}: DequantizeLinear is supported only at the graph output")
            final_output = need(ins[0], node)
            meta["output_quant"] = list(qparams[final_output])
            continue
        if input_name is None:
            raise ModelError(f"{_where(node)}: float input {gin.name!r} must first go through QuantizeLinear")
        if op == "Identity":
            alias[out] = T(ins[0])
            continue
        if op == "QLinearConv":
            x = need(ins[0], node)
            xs, xz = qpar(node, ins[1], ins[2], "x")
            w = consts.get(ins[3])
            if w is None or w.dtype != np.int8 or w.ndim != 4:
                raise ModelError(f"{_where(node)}: weight must be a constant int8 4-D tensor (2-D convolution), "
                                 f"got {None if w is None else (w.dtype, w.shape)}")
            ws = np.atleast_1d(np.asarray(consts[ins[4]], np.float32))
            wz = np.atleast_1d(np.asarray(consts[ins[5]]))
            if wz.dtype != np.int8:
                raise ModelError(f"{_where(node)}: weight zero point is {wz.dtype}; only int8 is supported")
            ys, yz = qpar(node, ins[6], ins[7], "y")
            bias = consts[ins[8]].astype(np.int32) if len(ins) > 8 and ins[8] else None
            k = tuple(at.get("kernel_shape", w.shape[2:]))
            stride = tuple(at.get("strides", [1, 1]))
            dil = tuple(at.get("dilations", [1, 1]))
            pads = _pads_2d(node, at, shapes[x][1:], k, stride, dil)
            rq = Requant("onnx", yz, onnx_multiplier(xs, ws, ys))
            layer = Conv2D(lname, x, out, shapes[x], w, bias, rq, xz, wz.astype(np.int32), stride, pads, dil,
                           int(at.get("group", 1)), w_scale=np.broadcast_to(ws, (w.shape[0],)))
            _note_input(qparams, x, xs, xz, node)
        elif op in ("QLinearMatMul", "QGemm"):
            x = need(ins[0], node)
            xs, xz = qpar(node, ins[1], ins[2], "a")
            b = consts.get(ins[3])
            if b is None or b.dtype != np.int8 or b.ndim != 2:
                raise ModelError(f"{_where(node)}: B must be a constant int8 matrix")
            bs = np.atleast_1d(np.asarray(consts[ins[4]], np.float32))
            bz = np.atleast_1d(np.asarray(consts[ins[5]]))
            if bz.dtype != np.int8:
                raise ModelError(f"{_where(node)}: B zero point is {bz.dtype}; only int8 is supported")
            if op == "QGemm":
                if at.get("transA", 0) or at.get("alpha", 1.0) != 1.0:
                    raise ModelError(f"{_where(node)}: transA and alpha != 1 are not supported")
                wt = b if at.get("transB", 0) else b.T
                bias = consts[ins[6]].astype(np.int32).reshape(-1) if len(ins) > 6 and ins[6] else None
                if len(ins) < 8 or not ins[7]:
                    raise ModelError(f"{_where(node)}: QGemm with float output (no y_scale) is not supported")
                ys, yz = qpar(node, ins[7], ins[8] if len(ins) > 8 else "", "y")
            else:
                wt = b.T
                bias = None
                ys, yz = qpar(node, ins[6], ins[7], "y")
            if bias is not None and bias.size == 1:
                bias = np.repeat(bias, wt.shape[0])
            xshape = shapes[x]
            if len(xshape) != 1:
                raise ModelError(f"{_where(node)}: input {x!r} has shape {xshape}; flatten it to a vector first")
            rq = Requant("onnx", yz, onnx_multiplier(xs, bs, ys))
            layer = Dense(lname, x, out, xshape, np.ascontiguousarray(wt), bias, rq, xz, bz.astype(np.int32),
                          w_scale=np.broadcast_to(bs, (wt.shape[0],)))
            _note_input(qparams, x, xs, xz, node)
        elif op == "QLinearAdd":
            a_s, a_z = qpar(node, ins[1], ins[2], "A")
            b_s, b_z = qpar(node, ins[4], ins[5], "B")
            ys, yz = qpar(node, ins[6], ins[7] if len(ins) > 7 else "", "C")
            params = onnx_add_params(a_s, a_z, b_s, b_z, ys, yz)
            dyn = [T(i) in shapes for i in (ins[0], ins[3])]
            if all(dyn):
                a, bb = need(ins[0], node), need(ins[3], node)
                if shapes[a] != shapes[bb]:
                    raise ModelError(f"{_where(node)}: broadcasting add {shapes[a]} + {shapes[bb]} is not supported")
                layer = Add(lname, [a, bb], out, [shapes[a], shapes[bb]], params)
                _note_input(qparams, a, a_s, a_z, node)
                _note_input(qparams, bb, b_s, b_z, node)
            elif dyn[0] and ins[3] in consts:
                a = need(ins[0], node)
                c = np.asarray(consts[ins[3]])
                if c.dtype != np.int8 or c.size != _prod(shapes[a]):
                    raise ModelError(f"{_where(node)}: constant operand must be int8 of the other operand's size "
                                     f"{shapes[a]} (no broadcasting), got {c.dtype} {c.shape}")
                layer = Add(lname, [a], out, [shapes[a]], params, const=c.reshape(shapes[a]), const_qparams=(b_s, b_z))
                _note_input(qparams, a, a_s, a_z, node)
            else:
                raise ModelError(f"{_where(node)}: QLinearAdd needs a tensor as first operand and a tensor or a "
                                 "constant as second")
        elif op == "MaxPool":
            x = need(ins[0], node)
            if len(node.output) > 1 and node.output[1]:
                raise ModelError(f"{_where(node)}: the Indices output is not supported")
            if at.get("ceil_mode", 0):
                raise ModelError(f"{_where(node)}: ceil_mode=1 not supported; valid: 0")
            k = tuple(at["kernel_shape"])
            if len(k) != 2:
                raise ModelError(f"{_where(node)}: kernel_shape {k} is not 2-D")
            stride = tuple(at.get("strides", [1, 1]))
            dil = tuple(at.get("dilations", [1, 1]))
            pads = _pads_2d(node, at, shapes[x][1:], k, stride, dil)
            layer = MaxPool2D(lname, x, out, shapes[x], k, stride, pads, dil)
            qparams[out] = qparams.get(x)
        elif op in ("QLinearAveragePool", "QLinearGlobalAveragePool"):
            x = need(ins[0], node)
            if at.get("channels_last", 0):
                raise ModelError(f"{_where(node)}: channels_last=1 not supported; valid: 0")
            if at.get("ceil_mode", 0):
                raise ModelError(f"{_where(node)}: ceil_mode=1 not supported; valid: 0")
            xs, xz = qpar(node, ins[1], ins[2], "x")
            ys, yz = qpar(node, ins[3], ins[4] if len(ins) > 4 else "", "y")
            if op == "QLinearGlobalAveragePool":
                k, stride, pads = tuple(shapes[x][1:]), (1, 1), (0, 0, 0, 0)
            else:
                k = tuple(at["kernel_shape"])
                if len(k) != 2:
                    raise ModelError(f"{_where(node)}: kernel_shape {k} is not 2-D")
                stride = tuple(at.get("strides", [1, 1]))
                pads = _pads_2d(node, at, shapes[x][1:], k, stride, (1, 1))
            layer = AvgPool2D(lname, x, out, shapes[x], k, stride, pads, semantics="onnx", x_scale=xs,
                              x_zero_point=xz, y_scale=ys, y_zero_point=yz,
                              count_include_pad=bool(at.get("count_include_pad", 0)))
            _note_input(qparams, x, xs, xz, node)
        elif op in ("Flatten", "Reshape"):
            x = need(ins[0], node)
            if op == "Flatten":
                if at.get("axis", 1) != 1:
                    raise ModelError(f"{_where(node)}: Flatten axis {at.get('axis')} not supported; valid: 1")
                layer = Flatten(lname, x, out, shapes[x])
            else:
                if ins[1] not in consts:
                    raise ModelError(f"{_where(node)}: Reshape needs a constant shape")
                tgt = [int(v) for v in consts[ins[1]]]
                if not tgt or tgt[0] not in (1, 0, -1):
                    raise ModelError(f"{_where(node)}: Reshape target {tgt} must keep a batch axis of 1")
                rest = tgt[1:]
                n = _prod(shapes[x])
                rest = [shapes[x][i] if v == 0 and i < len(shapes[x]) else v for i, v in enumerate(rest)]
                if -1 in rest:
                    known = _prod([v for v in rest if v != -1])
                    rest[rest.index(-1)] = n // max(known, 1)
                layer = Reshape(lname, x, out, shapes[x], tuple(rest))
            qparams[out] = qparams.get(x)
        elif op in ("Relu", "Clip"):
            x = need(ins[0], node)
            if op == "Relu":
                lo, hi = 0, INT8_MAX
            else:
                lo = int(np.asarray(consts[ins[1]]).item()) if len(ins) > 1 and ins[1] else INT8_MIN
                hi = int(np.asarray(consts[ins[2]]).item()) if len(ins) > 2 and ins[2] else INT8_MAX
            layer = Relu(lname, x, out, shapes[x], lo, hi)
            qparams[out] = qparams.get(x)
        elif op == "Concat":
            xs_ = [need(i, node) for i in ins]
            if at.get("axis", 1) != 1:
                raise ModelError(f"{_where(node)}: Concat axis {at.get('axis')} not supported; valid: 1 (channels)")
            q = {qparams.get(i) for i in xs_}
            if len(q) > 1:
                raise ModelError(f"{_where(node)}: Concat inputs are quantised differently: {q}")
            layer = Concat(lname, xs_, out, [shapes[i] for i in xs_])
            qparams[out] = q.pop()
        else:
            raise ModelError(f"{_where(node)}: op not supported; supported: QLinearConv, QLinearMatMul, QGemm, "
                             "QLinearAdd, MaxPool, QLinearAveragePool, QLinearGlobalAveragePool, Flatten, Reshape, "
                             "Relu, Clip, Concat, Identity, QuantizeLinear (input), DequantizeLinear (output)")
        if isinstance(layer, (Conv2D, Dense, Add, AvgPool2D)):
            qparams[out] = (float(np.float32(ys)), int(yz))
        layers.append(layer)
        shapes[out] = layer.out_shape
    final_output = final_output or T(out_name)
    if final_output not in shapes:
        raise ModelError(f"graph output {out_name!r} is not an int8 tensor this importer produced")
    if qparams.get(input_name) is None:
        qparams[input_name] = (1.0, 0)
    qp = {k: v for k, v in qparams.items() if v is not None and k in shapes}
    for k in shapes:
        qp.setdefault(k, (1.0, 0))
    tensors = {k: v for k, v in shapes.items() if k == input_name or any(l.output == k for l in layers)}
    return Network(name or g.name or "onnx_model", input_name, final_output, tensors, layers,
                   {k: qp[k] for k in tensors}, "onnx", meta)


def _note_input(qparams, x, s, z, node):
    """Record or check the quantisation of tensor ``x`` as a consumer sees it."""
    prev = qparams.get(x)
    if prev is None:
        qparams[x] = (float(np.float32(s)), int(z))


# =============================================================================================
# export
# =============================================================================================
def to_onnx(net: Network, path=None, opset: int = 13):
    """Write ``net`` (semantics "onnx") as a QLinear ONNX model onnxruntime runs bit-identically.

    Input: int8 ``[1, *input_shape]``; output: int8 ``[1, *output_shape]``. Conv -> QLinearConv,
    dense -> com.microsoft QGemm (int32 bias), avgpool -> QLinear(Global)AveragePool, add ->
    QLinearAdd, relu and non-trivial fused clamps -> Clip on int8. Returns the ModelProto and
    saves it when ``path`` is given.
    """
    onnx, nh = _onnx()
    helper = onnx.helper
    if net.semantics != "onnx":
        raise ModelError(f"network {net.name!r} uses {net.semantics!r} semantics; ONNX export needs 'onnx'")
    inits, nodes = [], []

    def c(arr, nm):
        inits.append(nh.from_array(np.asarray(arr), nm))
        return nm

    def clamp(layer, src, lo, hi, dst):
        nodes.append(helper.make_node("Clip", [src, c(np.int8(lo), f"{layer.name}.clip_lo"),
                                               c(np.int8(hi), f"{layer.name}.clip_hi")], [dst],
                                      name=f"{layer.name}.clip"))

    for layer in net.layers:
        out = layer.output
        if isinstance(layer, (Conv2D, Dense)):
            x = layer.inputs[0]
            xs, xz = net.qparams[x]
            ys, yz = net.qparams[layer.output]
            if layer.w_scale is None:
                raise ModelError(f"layer {layer.name!r} has no weight scales; cannot express it in ONNX")
            expect = onnx_multiplier(xs, layer.w_scale, ys)
            if not np.array_equal(expect.view(np.uint32), layer.requant.scale.view(np.uint32)):
                raise ModelError(f"layer {layer.name!r}: its multipliers are not float32(x_scale*w_scale/y_scale); "
                                 "ONNX cannot express them")
            if layer.requant.zero_point != yz:
                raise ModelError(f"layer {layer.name!r}: requant zero point {layer.requant.zero_point} != tensor's {yz}")
            lo, hi = layer.requant.act_min, layer.requant.act_max
            mid = out if (lo, hi) == (INT8_MIN, INT8_MAX) else f"{layer.name}.preclip"
            p = layer.name
            common = [c(np.float32(xs), f"{p}.x_scale"), c(np.int8(xz), f"{p}.x_zero_point")]
            wz = layer.w_zero_point.astype(np.int8)
            if isinstance(layer, Conv2D):
                ins = [x, *common, c(layer.weight, f"{p}.weight"), c(layer.w_scale.astype(np.float32), f"{p}.w_scale"),
                       c(wz, f"{p}.w_zero_point"), c(np.float32(ys), f"{p}.y_scale"), c(np.int8(yz), f"{p}.y_zero_point"),
                       c(layer.bias, f"{p}.bias")]
                kh, kw = layer.weight.shape[2:]
                nodes.append(helper.make_node("QLinearConv", ins, [mid], name=p, kernel_shape=[kh, kw],
                                              strides=list(layer.stride), pads=list(layer.pads),
                                              dilations=list(layer.dilation), group=layer.groups))
            else:
                if net.tensors[x] != (layer.weight.shape[1],):
                    raise ModelError(f"layer {layer.name!r}: dense input must be a vector")
                ins = [x, *common, c(layer.weight, f"{p}.weight"), c(layer.w_scale.astype(np.float32), f"{p}.w_scale"),
                       c(wz, f"{p}.w_zero_point"), c(layer.bias, f"{p}.bias"), c(np.float32(ys), f"{p}.y_scale"),
                       c(np.int8(yz), f"{p}.y_zero_point")]
                nodes.append(helper.make_node("QGemm", ins, [mid], name=p, domain=MS_DOMAIN, transB=1))
            if mid != out:
                clamp(layer, mid, lo, hi, out)
        elif isinstance(layer, MaxPool2D):
            mid = out if (layer.act_min, layer.act_max) == (INT8_MIN, INT8_MAX) else f"{layer.name}.preclip"
            nodes.append(helper.make_node("MaxPool", [layer.inputs[0]], [mid], name=layer.name,
                                          kernel_shape=list(layer.kernel_shape), strides=list(layer.stride),
                                          pads=list(layer.pads), dilations=list(layer.dilation)))
            if mid != out:
                clamp(layer, mid, layer.act_min, layer.act_max, out)
        elif isinstance(layer, AvgPool2D):
            if layer.semantics != "onnx":
                raise ModelError(f"layer {layer.name!r}: TFLite average pooling has no ONNX form")
            p = layer.name
            ins = [layer.inputs[0], c(layer.x_scale, f"{p}.x_scale"), c(np.int8(layer.x_zero_point), f"{p}.x_zero_point"),
                   c(layer.y_scale, f"{p}.y_scale"), c(np.int8(layer.y_zero_point), f"{p}.y_zero_point")]
            if layer.is_global:
                nodes.append(helper.make_node("QLinearGlobalAveragePool", ins, [out], name=p, domain=MS_DOMAIN,
                                              channels_last=0))
            else:
                nodes.append(helper.make_node("QLinearAveragePool", ins, [out], name=p, domain=MS_DOMAIN,
                                              kernel_shape=list(layer.kernel_shape), strides=list(layer.stride),
                                              pads=list(layer.pads), count_include_pad=int(layer.count_include_pad)))
        elif isinstance(layer, Add):
            p = layer.name
            a = layer.inputs[0]
            b = layer.inputs[1] if layer.const is None else c(layer.const[None], f"{p}.const")
            bq = net.qparams[layer.inputs[1]] if layer.const is None else layer.const_qparams
            (as_, az), (cs, cz) = net.qparams[a], net.qparams[layer.output]
            if bq is None:
                raise ModelError(f"layer {layer.name!r}: add with a constant cannot be exported (its scale is "
                                 "not recorded)")
            bs, bz = bq
            if tuple(np.float32(v) for v in layer.params) != tuple(onnx_add_params(as_, az, bs, bz, cs, cz)):
                raise ModelError(f"layer {layer.name!r}: add parameters do not follow from the tensors' qparams")
            ins = [a, c(np.float32(as_), f"{p}.a_scale"), c(np.int8(az), f"{p}.a_zero_point"), b,
                   c(np.float32(bs), f"{p}.b_scale"), c(np.int8(bz), f"{p}.b_zero_point"),
                   c(np.float32(cs), f"{p}.y_scale"), c(np.int8(cz), f"{p}.y_zero_point")]
            nodes.append(helper.make_node("QLinearAdd", ins, [out], name=p, domain=MS_DOMAIN))
        elif isinstance(layer, Relu):
            clamp(layer, layer.inputs[0], layer.lo, layer.hi, out)
        elif isinstance(layer, Reshape):
            if isinstance(layer, Flatten) and len(layer.in_shapes[0]) > 1:
                nodes.append(helper.make_node("Flatten", [layer.inputs[0]], [out], name=layer.name, axis=1))
            else:
                shp = c(np.array((1,) + layer.out_shape, np.int64), f"{layer.name}.shape")
                nodes.append(helper.make_node("Reshape", [layer.inputs[0], shp], [out], name=layer.name))
        elif isinstance(layer, Concat):
            nodes.append(helper.make_node("Concat", list(layer.inputs), [out], name=layer.name, axis=1))
        else:
            raise ModelError(f"layer {layer.name!r} ({layer.op}) has no ONNX export")
    graph = helper.make_graph(
        nodes, net.name,
        [helper.make_tensor_value_info(net.input_name, onnx.TensorProto.INT8, [1, *net.input_shape])],
        [helper.make_tensor_value_info(net.output_name, onnx.TensorProto.INT8, [1, *net.output_shape])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS_DOMAIN, 1)],
                              producer_name="intersim")
    model.ir_version = 8
    if path is not None:
        onnx.save(model, str(path))
    return model


def ort_session(model, threads: int = 1):
    """An onnxruntime CPU session with graph optimisations off (what bit-exactness is checked against)."""
    try:
        import onnxruntime as ort
    except ImportError as e:  # pragma: no cover
        raise ModelError("onnxruntime is needed: pip install intersim[onnx]") from e
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    data = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
