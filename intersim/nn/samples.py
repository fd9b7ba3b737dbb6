"""Request inputs from a user's file: ``samples.npz`` with arrays ``x`` (and optionally ``y``).

``x`` is ``[N, *input_shape]`` (no batch axis of 1 per sample): int8, used as is, or float,
quantised as the model's input says (:func:`quantize_linear` with the input tensor's scale and
zero point, which for an ONNX model are those of its QuantizeLinear). ``y`` is ``[N]`` integer
class labels in ``[0, output size)``. Anything else is refused with one line naming the file, the
array, the value and what is allowed.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .layers import element_count
from .network import Network

ARRAYS = ("x", "y")


def quantize_linear(x, scale: float, zero_point: int) -> np.ndarray:
    """ONNX QuantizeLinear to int8 as onnxruntime computes it.

    Parameters
    ----------
    x : array of float
        Real values (cast to float32).
    scale : float
        Quantisation step (real units per LSB), taken as float32.
    zero_point : int
        int8 zero point.

    Returns
    -------
    numpy.ndarray of int8
        ``saturate(rint(float32(x) / float32(scale)) + zero_point)``: float32 division, round half
        to even (MLAS ``MlasQuantizeLinear``).
    """
    q = np.rint(np.asarray(x, np.float32) / np.float32(scale)) + np.float32(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def _read(path: Path) -> dict:
    if not path.is_file():
        raise ModelError(f"{path}: no such samples file (an .npz with arrays x[N, ...] and optional y[N])")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path}: not a readable .npz file ({e})") from None


def _inputs(path, x, network: Network) -> np.ndarray:
    shape = tuple(network.input_shape)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape or x.shape[0] == 0:
        raise ModelError(f"{path}: x has shape {list(x.shape)}; allowed: [N, {', '.join(map(str, shape))}] with "
                         f"N >= 1 (the model's input {network.input_name!r} without its batch axis)")
    if x.dtype == np.int8:
        return np.ascontiguousarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ModelError(f"{path}: x has dtype {x.dtype}; allowed: int8 (quantised inputs) or float (quantised "
                         "as the model's input says)")
    bad = np.argwhere(~np.isfinite(x))
    if bad.size:
        at = [int(i) for i in bad[0]]
        raise ModelError(f"{path}: x{at} = {float(x[tuple(at)])!r}; allowed: finite numbers")
    scale, zero_point = network.qparams[network.input_name]
    return quantize_linear(x, scale, zero_point)


def _labels(path, y, n: int, n_classes: int) -> np.ndarray:
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ModelError(f"{path}: y has shape {list(y.shape)} and dtype {y.dtype}; allowed: integers, shape [{n}] "
                         "(one label per x)")
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if bad.size:
        raise ModelError(f"{path}: y[{bad[0]}] = {int(y[bad[0]])}; allowed: class indices 0..{n_classes - 1} "
                         "(the model's output size)")
    return y.astype(np.int64)


def load_request_samples(path, network: Network) -> tuple[np.ndarray, np.ndarray | None]:
    """The request inputs and labels in ``path`` for ``network``.

    Parameters
    ----------
    path : str or Path
        An ``.npz`` with ``x`` (int8 or float, ``[N, *input_shape]``) and optional ``y``
        (integers ``[N]`` in ``[0, output size)``).
    network : Network

    Returns
    -------
    (x_int8, labels)
        ``labels`` is None without ``y``. Requests cycle over the N samples.
    """
    path = Path(path)
    return samples_from_arrays(_read(path), network, str(path))


def samples_from_arrays(arrays: dict, network: Network, source: str = "inputs"):
    """As :func:`load_request_samples`, for arrays given as ``{"x": ..., "y": ...}``; errors name ``source``."""
    path = source
    arrays = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
    extra = sorted(set(arrays) - set(ARRAYS))
    if extra:
        raise ModelError(f"{path}: unknown array {extra[0]!r}; allowed: x (inputs), y (labels)")
    if "x" not in arrays:
        raise ModelError(f"{path}: no array 'x'; allowed: x (inputs, [N, ...]) and optional y (labels, [N])")
    x = _inputs(path, arrays["x"], network)
    y = _labels(path, arrays["y"], len(x), element_count(network.output_shape)) if "y" in arrays else None
    return x, y
