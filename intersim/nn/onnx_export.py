"""A :class:`~intersim.nn.network.Network` written as the QLinear ONNX model onnxruntime runs
bit-identically (``to_onnx``), and the onnxruntime session bit-exactness is checked against
(``ort_session``)."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from .network import Add, AvgPool2D, Concat, Conv2D, Dense, Flatten, MaxPool2D, Network, Relu, Reshape
from .onnx_common import MS_DOMAIN, onnx_modules
from .quant import INT8_MAX, INT8_MIN, onnx_add_params, onnx_multiplier


class _Exporter:
    """The nodes and initialisers of the model being written."""

    def __init__(self, net: Network):
        self.onnx, self.nh = onnx_modules()
        self.helper = self.onnx.helper
        self.net = net
        self.inits, self.nodes = [], []

    def c(self, arr, nm):
        self.inits.append(self.nh.from_array(np.asarray(arr), nm))
        return nm

    def node(self, *args, **kw):
        self.nodes.append(self.helper.make_node(*args, **kw))

    def clamp(self, layer, src, lo, hi, dst):
        self.node("Clip", [src, self.c(np.int8(lo), f"{layer.name}.clip_lo"), self.c(np.int8(hi), f"{layer.name}.clip_hi")],
                  [dst], name=f"{layer.name}.clip")

    def conv_or_dense(self, layer):
        net, c, p, out = self.net, self.c, layer.name, layer.output
        x = layer.inputs[0]
        xs, xz = net.qparams[x]
        ys, yz = net.qparams[out]
        if layer.w_scale is None:
            raise ModelError(f"layer {p!r} has no weight scales; cannot express it in ONNX")
        expect = onnx_multiplier(xs, layer.w_scale, ys)
        if not np.array_equal(expect.view(np.uint32), layer.requant.scale.view(np.uint32)):
            raise ModelError(f"layer {p!r}: its multipliers are not float32(x_scale*w_scale/y_scale); "
                             "ONNX cannot express them")
        if layer.requant.zero_point != yz:
            raise ModelError(f"layer {p!r}: requant zero point {layer.requant.zero_point} != tensor's {yz}")
        lo, hi = layer.requant.act_min, layer.requant.act_max
        mid = out if (lo, hi) == (INT8_MIN, INT8_MAX) else f"{p}.preclip"
        common = [c(np.float32(xs), f"{p}.x_scale"), c(np.int8(xz), f"{p}.x_zero_point")]
        w = [c(layer.weight, f"{p}.weight"), c(layer.w_scale.astype(np.float32), f"{p}.w_scale"),
             c(layer.w_zero_point.astype(np.int8), f"{p}.w_zero_point")]
        y = [c(np.float32(ys), f"{p}.y_scale"), c(np.int8(yz), f"{p}.y_zero_point")]
        if isinstance(layer, Conv2D):
            kh, kw = layer.weight.shape[2:]
            self.node("QLinearConv", [x, *common, *w, *y, c(layer.bias, f"{p}.bias")], [mid], name=p,
                      kernel_shape=[kh, kw], strides=list(layer.stride), pads=list(layer.pads),
                      dilations=list(layer.dilation), group=layer.groups)
        else:
            if net.tensors[x] != (layer.weight.shape[1],):
                raise ModelError(f"layer {p!r}: dense input must be a vector")
            self.node("QGemm", [x, *common, *w, c(layer.bias, f"{p}.bias"), *y], [mid], name=p, domain=MS_DOMAIN,
                      transB=1)
        if mid != out:
            self.clamp(layer, mid, lo, hi, out)

    def pool(self, layer):
        p, out, c = layer.name, layer.output, self.c
        if isinstance(layer, MaxPool2D):
            mid = out if (layer.act_min, layer.act_max) == (INT8_MIN, INT8_MAX) else f"{p}.preclip"
            self.node("MaxPool", [layer.inputs[0]], [mid], name=p, kernel_shape=list(layer.kernel_shape),
                      strides=list(layer.stride), pads=list(layer.pads), dilations=list(layer.dilation))
            if mid != out:
                self.clamp(layer, mid, layer.act_min, layer.act_max, out)
            return
        if layer.semantics != "onnx":
            raise ModelError(f"layer {p!r}: TFLite average pooling has no ONNX form")
        ins = [layer.inputs[0], c(layer.x_scale, f"{p}.x_scale"), c(np.int8(layer.x_zero_point), f"{p}.x_zero_point"),
               c(layer.y_scale, f"{p}.y_scale"), c(np.int8(layer.y_zero_point), f"{p}.y_zero_point")]
        if layer.is_global:
            self.node("QLinearGlobalAveragePool", ins, [out], name=p, domain=MS_DOMAIN, channels_last=0)
        else:
            self.node("QLinearAveragePool", ins, [out], name=p, domain=MS_DOMAIN,
                      kernel_shape=list(layer.kernel_shape), strides=list(layer.stride), pads=list(layer.pads),
                      count_include_pad=int(layer.count_include_pad))

    def add(self, layer):
        net, c, p = self.net, self.c, layer.name
        a = layer.inputs[0]
        b = layer.inputs[1] if layer.const is None else c(layer.const[None], f"{p}.const")
        bq = net.qparams[layer.inputs[1]] if layer.const is None else layer.const_qparams
        (as_, az), (cs, cz) = net.qparams[a], net.qparams[layer.output]
        if bq is None:
            raise ModelError(f"layer {p!r}: add with a constant cannot be exported (its scale is not recorded)")
        bs, bz = bq
        if tuple(np.float32(v) for v in layer.params) != tuple(onnx_add_params(as_, az, bs, bz, cs, cz)):
            raise ModelError(f"layer {p!r}: add parameters do not follow from the tensors' qparams")
        ins = [a, c(np.float32(as_), f"{p}.a_scale"), c(np.int8(az), f"{p}.a_zero_point"), b,
               c(np.float32(bs), f"{p}.b_scale"), c(np.int8(bz), f"{p}.b_zero_point"),
               c(np.float32(cs), f"{p}.y_scale"), c(np.int8(cz), f"{p}.y_zero_point")]
        self.node("QLinearAdd", ins, [layer.output], name=p, domain=MS_DOMAIN)

    def layer(self, layer):
        out = layer.output
        if isinstance(layer, (Conv2D, Dense)):
            self.conv_or_dense(layer)
        elif isinstance(layer, (MaxPool2D, AvgPool2D)):
            self.pool(layer)
        elif isinstance(layer, Add):
            self.add(layer)
        elif isinstance(layer, Relu):
            self.clamp(layer, layer.inputs[0], layer.lo, layer.hi, out)
        elif isinstance(layer, Reshape):
            if isinstance(layer, Flatten) and len(layer.in_shapes[0]) > 1:
                self.node("Flatten", [layer.inputs[0]], [out], name=layer.name, axis=1)
            else:
                shp = self.c(np.array((1,) + layer.out_shape, np.int64), f"{layer.name}.shape")
                self.node("Reshape", [layer.inputs[0], shp], [out], name=layer.name)
        elif isinstance(layer, Concat):
            self.node("Concat", list(layer.inputs), [out], name=layer.name, axis=1)
        else:
            raise ModelError(f"layer {layer.name!r} ({layer.op}) has no ONNX export")


def to_onnx(net: Network, path=None, opset: int = 13):
    """Write ``net`` (semantics "onnx") as a QLinear ONNX model onnxruntime runs bit-identically.

    Parameters
    ----------
    net : Network
        A network with ``semantics == "onnx"``.
    path : str or Path, optional
        Where to save the model.
    opset : int
        The default-domain opset (com.microsoft is version 1).

    Returns
    -------
    onnx.ModelProto
        Input int8 ``[1, *input_shape]``, output int8 ``[1, *output_shape]``. Conv -> QLinearConv,
        dense -> com.microsoft QGemm (int32 bias), avgpool -> QLinear(Global)AveragePool, add ->
        QLinearAdd, relu and non-trivial fused clamps -> Clip on int8.
    """
    if net.semantics != "onnx":
        raise ModelError(f"network {net.name!r} uses {net.semantics!r} semantics; ONNX export needs 'onnx'")
    ex = _Exporter(net)
    for layer in net.layers:
        ex.layer(layer)
    helper, onnx = ex.helper, ex.onnx
    graph = helper.make_graph(
        ex.nodes, net.name,
        [helper.make_tensor_value_info(net.input_name, onnx.TensorProto.INT8, [1, *net.input_shape])],
        [helper.make_tensor_value_info(net.output_name, onnx.TensorProto.INT8, [1, *net.output_shape])],
        ex.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS_DOMAIN, 1)],
                              producer_name="intersim")
    model.ir_version = 8
    if path is not None:
        onnx.save(model, str(path))
    return model


def ort_session(model, threads: int = 1):
    """An onnxruntime CPU session with graph optimisations off (what bit-exactness is checked against).

    Parameters
    ----------
    model : onnx.ModelProto, str or Path
    threads : int
        Intra-op threads.
    """
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
