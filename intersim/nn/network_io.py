"""Saving and loading a :class:`~intersim.nn.network.Network` (and held-out samples) as one
``.npz`` with a JSON description of its layers."""
from __future__ import annotations
import numpy as np
from ..errors import ModelError
from .quant import (Requant, TfliteAddParams)
from .layers import (OPS, Layer, Conv2D, Dense, MaxPool2D, AvgPool2D, Add, Relu, Reshape, Flatten, Concat)
from .network import (Network)


def _f(v) -> float:
    return float(np.float32(v))


def _layer_spec(layer: Layer, arrays: dict, i: int) -> dict:
    s = {"name": layer.name, "op": layer.op, "inputs": layer.inputs, "output": layer.output,
         "in_shapes": [list(v) for v in layer.in_shapes], "out_shape": list(layer.out_shape), "kernel": layer.kernel}
    key = f"L{i}."
    if isinstance(layer, (Conv2D, Dense)):
        arrays[key + "weight"] = layer.weight
        arrays[key + "bias"] = layer.bias
        arrays[key + "w_zero_point"] = layer.w_zero_point
        if layer.w_scale is not None:
            arrays[key + "w_scale"] = layer.w_scale
        rq = layer.requant
        arrays[key + "rq_scale"], arrays[key + "rq_multiplier"], arrays[key + "rq_shift"] = rq.scale, rq.multiplier, rq.shift
        s.update(x_zero_point=layer.x_zero_point,
                 requant={"semantics": rq.semantics, "zero_point": rq.zero_point, "act_min": rq.act_min,
                          "act_max": rq.act_max})
        if isinstance(layer, Conv2D):
            s.update(stride=list(layer.stride), pads=list(layer.pads), dilation=list(layer.dilation), groups=layer.groups)
    elif isinstance(layer, MaxPool2D):
        s.update(kernel_shape=list(layer.kernel_shape), stride=list(layer.stride), pads=list(layer.pads),
                 dilation=list(layer.dilation), act_min=layer.act_min, act_max=layer.act_max)
    elif isinstance(layer, AvgPool2D):
        s.update(kernel_shape=list(layer.kernel_shape), stride=list(layer.stride), pads=list(layer.pads),
                 semantics=layer.semantics, x_scale=_f(layer.x_scale), x_zero_point=layer.x_zero_point,
                 y_scale=_f(layer.y_scale), y_zero_point=layer.y_zero_point,
                 count_include_pad=layer.count_include_pad, act_min=layer.act_min, act_max=layer.act_max)
    elif isinstance(layer, Add):
        if isinstance(layer.params, TfliteAddParams):
            s["params"] = {"tflite": layer.params.__dict__.copy()}
        else:
            s["params"] = {"onnx": [_f(v) for v in layer.params]}
        if layer.const is not None:
            arrays[key + "const"] = layer.const
        s.update(act_min=layer.act_min, act_max=layer.act_max,
                 const_qparams=None if layer.const_qparams is None else list(layer.const_qparams))
    elif isinstance(layer, Relu):
        s.update(lo=layer.lo, hi=layer.hi)
    elif isinstance(layer, (Reshape, Concat)):
        pass
    else:
        raise ModelError(f"cannot serialise layer {layer.name!r} of type {type(layer).__name__}")
    return s


def _layer_from_spec(s: dict, arrays, i: int) -> Layer:
    key = f"L{i}."
    op, name, inputs, output = s["op"], s["name"], s["inputs"], s["output"]
    in_shapes = [tuple(v) for v in s["in_shapes"]]
    if op in ("conv2d", "dense"):
        r = s["requant"]
        rq = Requant(r["semantics"], r["zero_point"], arrays[key + "rq_scale"], arrays[key + "rq_multiplier"],
                     arrays[key + "rq_shift"], r["act_min"], r["act_max"])
        ws = arrays[key + "w_scale"] if key + "w_scale" in arrays else None
        if op == "conv2d":
            return Conv2D(name, inputs[0], output, in_shapes[0], arrays[key + "weight"], arrays[key + "bias"], rq,
                          s["x_zero_point"], arrays[key + "w_zero_point"], s["stride"], s["pads"], s["dilation"],
                          s["groups"], w_scale=ws, kernel=s.get("kernel", "cpu"))
        return Dense(name, inputs[0], output, in_shapes[0], arrays[key + "weight"], arrays[key + "bias"], rq,
                     s["x_zero_point"], arrays[key + "w_zero_point"], w_scale=ws, kernel=s.get("kernel", "cpu"))
    if op == "maxpool":
        return MaxPool2D(name, inputs[0], output, in_shapes[0], s["kernel_shape"], s["stride"], s["pads"],
                         s["dilation"], s["act_min"], s["act_max"])
    if op == "avgpool":
        return AvgPool2D(name, inputs[0], output, in_shapes[0], s["kernel_shape"], s["stride"], s["pads"],
                         semantics=s["semantics"], x_scale=s["x_scale"], x_zero_point=s["x_zero_point"],
                         y_scale=s["y_scale"], y_zero_point=s["y_zero_point"],
                         count_include_pad=s["count_include_pad"], act_min=s["act_min"], act_max=s["act_max"])
    if op == "add":
        p = s["params"]
        params = TfliteAddParams(**p["tflite"]) if "tflite" in p else tuple(np.float32(v) for v in p["onnx"])
        const = arrays[key + "const"] if key + "const" in arrays else None
        return Add(name, inputs, output, in_shapes, params, const, s["act_min"], s["act_max"],
                   s.get("const_qparams"))
    if op == "relu":
        return Relu(name, inputs[0], output, in_shapes[0], s["lo"], s["hi"])
    if op == "flatten":
        return Flatten(name, inputs[0], output, in_shapes[0])
    if op == "reshape":
        return Reshape(name, inputs[0], output, in_shapes[0], s["out_shape"])
    if op == "concat":
        return Concat(name, inputs, output, in_shapes)
    raise ModelError(f"layer {name!r}: unknown op {op!r}; valid: {', '.join(OPS)}")


def save_network(net: Network, path, samples=None) -> None:
    """Write ``net`` (and optionally ``samples = (x_int8[N, ...], labels[N])``) to one ``.npz``."""
    import json

    arrays: dict = {}
    spec = {"format": "intersim-network", "version": 1, "name": net.name, "input_name": net.input_name,
            "output_name": net.output_name, "tensors": {k: list(v) for k, v in net.tensors.items()},
            "qparams": {k: [_f(v[0]), int(v[1])] for k, v in net.qparams.items()}, "semantics": net.semantics,
            "meta": net.meta, "layers": [_layer_spec(l, arrays, i) for i, l in enumerate(net.layers)]}
    if samples is not None:
        arrays["samples_x"] = np.asarray(samples[0], np.int8)
        arrays["samples_y"] = np.asarray(samples[1])
    arrays["spec"] = np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)


def load_network(path) -> Network:
    """Read a network written by :func:`save_network`."""
    import json

    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if "spec" not in arrays:
        raise ModelError(f"{path}: not an intersim network file (no 'spec' entry)")
    spec = json.loads(arrays["spec"].tobytes().decode())
    if spec.get("format") != "intersim-network":
        raise ModelError(f"{path}: format {spec.get('format')!r}, expected 'intersim-network'")
    layers = [_layer_from_spec(s, arrays, i) for i, s in enumerate(spec["layers"])]
    return Network(spec["name"], spec["input_name"], spec["output_name"],
                   {k: tuple(v) for k, v in spec["tensors"].items()}, layers,
                   {k: (float(v[0]), int(v[1])) for k, v in spec["qparams"].items()}, spec["semantics"],
                   spec.get("meta", {}))


def load_samples(path) -> tuple[np.ndarray, np.ndarray]:
    """(x_int8[N, ...], labels[N]) stored beside a network by :func:`save_network`."""
    with np.load(path, allow_pickle=False) as z:
        if "samples_x" not in z.files:
            raise ModelError(f"{path}: holds no samples")
        return z["samples_x"], z["samples_y"]
