"""Design files: a network's per-layer shapes and execution designs as JSON.

Format (``format`` = "intersim-design", ``version`` = 1)::

    {"format": "intersim-design", "version": 1, "name": "my-net",
     "layers": [{"name": "CONV_0", "kind": "conv",
                 "shape": {"N": 3, "H": 32, "W": 32, "M": 8, "R": 30, "C": 30, "Kh": 3, "Kw": 3},
                 "design": {"Tr": 3, "Tc": 15, "Tm": 8, "Tn": 1, "order": "reuse_O", "S": 1}}]}

Every value is an integer or a string, so a save/load round trip is exact, and
:func:`dumps_design` is canonical (``loads`` then ``dumps`` gives the same text back). Errors
are :class:`~intersim.errors.ModelError` naming the file, the key, the value and what is allowed.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ModelError
from .designs import DESIGN_KEYS, LOOP_ORDERS, ExecutionDesign, LayerPlan, NetworkDesign
from .shapes import LAYER_KINDS, SHAPE_KEYS, LayerShape
from .space import check_design

FORMAT = "intersim-design"
VERSION = 1
_TOP_KEYS = ("format", "version", "name", "layers")
_LAYER_KEYS = ("name", "kind", "shape", "design")


def _plan_dict(p: LayerPlan) -> dict:
    return {"name": p.name, "kind": p.shape.kind, "shape": p.shape.as_dict(),
            "design": p.design.as_dict()}


def dumps_design(net: NetworkDesign) -> str:
    """Canonical JSON text of ``net`` (ends with a newline)."""
    doc = {"format": FORMAT, "version": VERSION, "name": net.name,
           "layers": [_plan_dict(p) for p in net.layers]}
    return json.dumps(doc, indent=1) + "\n"


def save_design(net: NetworkDesign, path) -> Path:
    """Write ``net`` to ``path`` (JSON); returns the path."""
    path = Path(path)
    path.write_text(dumps_design(net), encoding="utf-8")
    return path


def _keys(obj, allowed, where, src):
    if not isinstance(obj, dict):
        raise ModelError(f"{src}: {where} = {obj!r}; it must be an object with keys {list(allowed)}")
    missing = [k for k in allowed if k not in obj]
    extra = sorted(set(obj) - set(allowed))
    if missing or extra:
        bad = f"missing key(s) {missing}" if missing else f"unknown key(s) {extra}"
        raise ModelError(f"{src}: {where} has {bad}; valid keys: {list(allowed)}")


def _int(obj, key, where, src):
    v = obj[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ModelError(f"{src}: {where}.{key} = {v!r}; it must be an integer >= 1")
    return v


def _layer(entry, i, src, check_legal) -> LayerPlan:
    where = f"layers[{i}]"
    _keys(entry, _LAYER_KEYS, where, src)
    name = entry["name"]
    if not isinstance(name, str) or not name:
        raise ModelError(f"{src}: {where}.name = {name!r}; it must be a non-empty string")
    where = f"layers[{i}] ({name})"
    if entry["kind"] not in LAYER_KINDS:
        raise ModelError(f"{src}: {where}.kind = {entry['kind']!r}; valid: {', '.join(LAYER_KINDS)}")
    _keys(entry["shape"], SHAPE_KEYS, f"{where}.shape", src)
    _keys(entry["design"], DESIGN_KEYS, f"{where}.design", src)
    dims = {k: _int(entry["shape"], k, f"{where}.shape", src) for k in SHAPE_KEYS}
    tiles = {k: _int(entry["design"], k, f"{where}.design", src) for k in DESIGN_KEYS if k != "order"}
    order = entry["design"]["order"]
    if order not in LOOP_ORDERS:
        raise ModelError(f"{src}: {where}.design.order = {order!r}; valid: {', '.join(LOOP_ORDERS)}")
    try:
        shape = LayerShape(entry["kind"], **dims)
        design = ExecutionDesign(order=order, **tiles)
        if check_legal:
            check_design(shape, design, where)
    except ModelError as exc:
        raise ModelError(f"{src}: {exc}") from None
    return LayerPlan(name, shape, design)


def loads_design(text: str, source: str = "<string>", check_legal: bool = True) -> NetworkDesign:
    """Parse a design file's text; ``source`` names it in errors.

    ``check_legal``: also refuse designs outside the legal space (anchor §3).
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{source}: not valid JSON ({exc})") from None
    _keys(doc, _TOP_KEYS, "the top level", source)
    if doc["format"] != FORMAT:
        raise ModelError(f"{source}: format = {doc['format']!r}; valid: {FORMAT!r}")
    if doc["version"] != VERSION:
        raise ModelError(f"{source}: version = {doc['version']!r}; valid: {VERSION}")
    if not isinstance(doc["name"], str):
        raise ModelError(f"{source}: name = {doc['name']!r}; it must be a string")
    if not isinstance(doc["layers"], list) or not doc["layers"]:
        raise ModelError(f"{source}: layers = {doc['layers']!r}; it must be a non-empty list")
    plans = tuple(_layer(e, i, source, check_legal) for i, e in enumerate(doc["layers"]))
    try:
        return NetworkDesign(doc["name"], plans)
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from None


def load_design(path, check_legal: bool = True) -> NetworkDesign:
    """Read a design file (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the design file ({exc.strerror})") from None
    return loads_design(text, str(path), check_legal)


__all__ = ["FORMAT", "VERSION", "dumps_design", "loads_design", "load_design", "save_design"]
