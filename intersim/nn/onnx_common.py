"""What every ONNX module shares: the optional import, model loading, attributes, node names,
constant scalars and 2-D padding.

onnx is optional: ``pip install intersim[onnx]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelError

MS_DOMAIN = "com.microsoft"


def onnx_modules():
    """``(onnx, onnx.numpy_helper)``, or a :class:`ModelError` saying how to install them."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ModelError("ONNX support needs the optional dependency: pip install intersim[onnx]") from e
    return onnx, numpy_helper


def load_model(model):
    """``model`` as an ``onnx.ModelProto``: a path is read (one clear error if it cannot be)."""
    onnx, _ = onnx_modules()
    if isinstance(model, (str, Path)):
        p = Path(model)
        if not p.is_file():
            raise ModelError(f"ONNX file {p} does not exist")
        try:
            return onnx.load(str(p))
        except Exception as e:  # noqa: BLE001 - onnx raises many types for a corrupt file
            raise ModelError(f"{p}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    return model


def attrs(node) -> dict:
    """The attributes of ``node`` as Python values."""
    onnx, _ = onnx_modules()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def where(node) -> str:
    """``node 'name' (op Op)``: how every refusal names a node."""
    return f"node {node.name or '(unnamed)'!r} (op {node.op_type})"


def constant_scalar(consts: dict, name: str, node, what: str):
    """``(value, dtype)`` of the constant scalar ``name`` that ``node`` reads as ``what``."""
    if name not in consts:
        raise ModelError(f"{where(node)}: {what} {name!r} must be a constant")
    v = np.asarray(consts[name])
    if v.size != 1:
        raise ModelError(f"{where(node)}: {what} must be a scalar, got shape {v.shape}")
    return v.reshape(()).item(), v.dtype


def pads_2d(node, at: dict, in_hw, kernel, stride, dilation) -> tuple:
    """(top, left, bottom, right) padding of a 2-D window op, from ``pads`` or ``auto_pad``."""
    auto = at.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        p = list(at.get("pads", [0, 0, 0, 0]))
        if len(p) != 4:
            raise ModelError(f"{where(node)}: pads {p} is not 2-D")
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
    raise ModelError(f"{where(node)}: auto_pad {auto!r} not supported; valid: NOTSET, VALID, SAME_UPPER, SAME_LOWER")
