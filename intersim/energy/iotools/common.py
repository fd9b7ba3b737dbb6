"""Shared pieces of the trace loaders: text parsing with file-aware line/row labels, the
final validation into a :class:`~intersim.energy.trace.Trace`, gap handling, the PV conversion of
irradiance, atomic writes."""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np

from ...errors import TraceError
from .. import harvester
from ..trace import Trace, infer_end_s, validate_arrays

#: A time step longer than this many median steps is a gap (tmy, midc, rf-voltage).
DEFAULT_GAP_FACTOR = 10.0
GAP_POLICIES = ("zero", "split")
#: Negative irradiance down to this [W/m^2] is a pyranometer's night offset and is clipped to 0;
#: below it the file is refused. Thermopile offsets are a few W/m^2 (the Golden BMS data: -8.7).
NEGATIVE_IRRADIANCE_CLIP_W_M2 = 20.0
CSV_HEADER = "time_s,power_w"
PARQUET_META_KEY = b"intersim"


def read_lines(path) -> list[str]:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return fh.read().splitlines()
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


def parse_numbers(path, tokens: list[str], line_no: np.ndarray, column: str) -> np.ndarray:
    """Floats from strings; on failure names the first bad line (1-based) and value."""
    try:
        # numpy's str -> float conversion is correctly rounded, so CSV floats round-trip exactly
        return np.array(tokens, dtype=np.str_).astype(np.float64)
    except ValueError:
        for tok, ln in zip(tokens, line_no):
            if not is_number(tok):
                raise TraceError(f"{path}: line {ln}: {column} value {tok!r} is not a number") from None
        # numpy refused a spelling Python accepts (e.g. "1_000"): Python's float is exact too
        return np.array([float(tok) for tok in tokens], dtype=np.float64)


def split_rows(path, lines, first: int, sep: str | None, ncols: int, what: str):
    """Split data lines ``lines[first:]`` (blank lines skipped) into ``ncols`` token lists."""
    body = lines[first:]
    line_no = np.arange(first + 1, first + 1 + len(body))
    keep = [k for k, ln in enumerate(body) if ln.strip()]
    if len(keep) != len(body):
        body = [body[k] for k in keep]
        line_no = line_no[keep]
    cols = [[] for _ in range(ncols)]
    for ln, n in zip(body, line_no):
        fields = ln.split(sep)
        if len(fields) != ncols:
            raise TraceError(f"{path}: line {n}: expected {ncols} {what} value(s), got {len(fields)}: "
                             f"{ln.strip()[:60]!r}")
        for c, f in zip(cols, fields):
            c.append(f.strip())
    return cols, line_no


def line_label(line_no):
    return lambda i: f"line {line_no[i]}"


def row_label(i):
    return f"row {i + 1}"


def finish(path, time_s, power_w, row_label, opts, *, stored_end_s=None, stored_loop=False,
            name=None, meta=None):
    """Validate with file-aware row labels, then build the Trace."""
    end_s = opts["end_s"] if opts["end_s"] is not None else stored_end_s
    if end_s is None:
        end_s = infer_end_s(time_s, str(path)) if time_s.size >= 2 else None
        if end_s is None:
            store = {".npz": "a scalar array 'end_s' in the NPZ", ".parquet": "'end_s' in the schema "
                     "metadata 'intersim'", ".pq": "'end_s' in the schema metadata 'intersim'"}.get(
                         Path(path).suffix.lower(), "'# end_s=...' in the file")
            raise TraceError(f"{path}: a one-row trace needs end_s (store {store} or pass end_s=); "
                             f"cannot infer the sample period from one row")
    validate_arrays(time_s, power_w, end_s, str(path), max_power_w=opts["max_power_w"],
                    row_label=row_label)
    loop = stored_loop if opts["loop"] is None else bool(opts["loop"])
    meta = dict(meta or {})
    meta["source"] = meta.get("source", str(path))
    meta["max_power_w"] = opts["max_power_w"]
    return Trace(time_s, power_w, end_s, loop=loop, name=name or path.stem, meta=meta)


def irradiance_to_power(path, ghi, row_label, opts, meta, what="irradiance"):
    """Clip small negative irradiance (warn, count in meta), refuse large; apply the PV model."""
    ghi = np.asarray(ghi, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(ghi))
    if bad.size:
        raise TraceError(f"{path}: {row_label(bad[0])}: {what} {float(ghi[bad[0]])!r} W/m^2 is not a finite number")
    bad = np.flatnonzero(ghi < -NEGATIVE_IRRADIANCE_CLIP_W_M2)
    if bad.size:
        raise TraceError(f"{path}: {row_label(bad[0])}: {what} {float(ghi[bad[0]])!r} W/m^2 is below "
                         f"-{NEGATIVE_IRRADIANCE_CLIP_W_M2} W/m^2 (only small night offsets are "
                         f"clipped to 0; wrong column or units?)")
    neg = np.flatnonzero(ghi < 0)
    meta["clipped_negative_rows"] = int(neg.size)
    if neg.size:
        meta["min_irradiance_w_m2"] = float(ghi.min())
        warnings.warn(f"{path}: clipped {neg.size} negative {what} values (min {ghi.min():.4g} W/m^2, "
                      f"first at {row_label(neg[0])}) to 0 (pyranometer night offset)", stacklevel=3)
        ghi = np.maximum(ghi, 0.0)
    return apply_pv(ghi, opts, meta, pyranometer=True)


def pv_conversion(opts, pyranometer: bool) -> harvester.PVConversion:
    """The :class:`~intersim.energy.harvester.PVConversion` of the load options; the dark
    threshold defaults to :data:`~intersim.energy.harvester.PYRANOMETER_DARK_THRESHOLD_W_M2` for
    pyranometer formats (tmy, midc) and to 0 for lux logs (no thermal offset; dim light is real)."""
    dark = opts["dark_threshold_w_m2"]
    if dark is None:
        dark = harvester.PYRANOMETER_DARK_THRESHOLD_W_M2 if pyranometer else 0.0
    return harvester.PVConversion(cell=opts["pv_cell"], area_m2=opts["area_m2"], efficiency=opts["efficiency"],
                                  efficacy_lm_per_w=opts["efficacy_lm_per_w"], dark_threshold_w_m2=float(dark))


def apply_pv(irradiance_w_m2, opts, meta, pyranometer: bool, lux: bool = False) -> np.ndarray:
    """Convert irradiance (>= 0) [W/m^2] to power [W]; record the conversion in ``meta``."""
    pv = pv_conversion(opts, pyranometer)
    meta.update(pv.as_dict())
    meta["pv_model"] = "area x efficiency" if pv.cell == "area" else f"{pv.cell} I-V model at the MPP"
    meta["dark_rows"] = int(np.count_nonzero((irradiance_w_m2 > 0) & (irradiance_w_m2 < pv.dark_threshold_w_m2)))
    meta["conversion"] = pv.describe(lux=lux)
    return pv.irradiance_to_power_w(irradiance_w_m2)


def timed_pieces(path, time_s, power_w, line_no, opts, meta):
    """Apply the gap policy to a measured series, then validate and build the piece(s)."""
    label = line_label(line_no)
    if time_s.size < 2:
        return [finish(path, time_s, power_w, label, opts, name=path.stem, meta=meta)]
    steps = np.diff(time_s)
    median = float(np.median(steps))
    meta["median_step_s"] = median
    gaps = np.flatnonzero(steps > opts["gap_factor"] * median) if median > 0 else np.array([], int)
    meta["gaps"] = int(gaps.size)
    end_s = opts["end_s"] if opts["end_s"] is not None else float(time_s[-1] + median)
    if gaps.size == 0:
        return [finish(path, time_s, power_w, label, {**opts, "end_s": end_s}, name=path.stem, meta=meta)]
    if opts["gap_policy"] == "zero":
        # after the sample before a gap has held one median step, nothing was logged: 0 W
        ins = gaps + 1
        time_s = np.insert(time_s, ins, time_s[gaps] + median)
        power_w = np.insert(power_w, ins, 0.0)
        line_no = np.insert(line_no, ins, line_no[gaps])
        meta["gap_policy"] = "zero"
        return [finish(path, time_s, power_w, line_label(line_no), {**opts, "end_s": end_s},
                        name=path.stem, meta=meta)]
    bounds = np.concatenate(([0], gaps + 1, [time_s.size]))
    pieces = []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        t0 = time_s[a]
        piece_end = (time_s[b - 1] + median) if b < time_s.size else end_s
        piece_meta = {**meta, "gap_policy": "split", "piece": k, "pieces": len(bounds) - 1,
                      "offset_s": float(t0), "first_line": int(line_no[a])}
        piece_opts = {**opts, "end_s": piece_end - t0}
        pieces.append(finish(path, time_s[a:b] - t0, power_w[a:b], line_label(line_no[a:b]),
                              piece_opts, name=f"{path.stem}#{k}", meta=piece_meta))
    return pieces


def seconds_since_first(index) -> np.ndarray:
    """Seconds since the first time stamp of a pandas DatetimeIndex [s]."""
    delta = index - index[0]
    return np.asarray(delta.total_seconds(), dtype=np.float64)


def is_number(s) -> bool:
    if isinstance(s, (int, float, np.integer, np.floating)) and not isinstance(s, bool):
        return True
    try:
        float(s)
    except (TypeError, ValueError):
        return False
    return True


def finite(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def jsonable_meta(meta: dict) -> dict:
    return json.loads(json.dumps(meta, default=str))


def tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def atomic_write_text(path: Path, text: str):
    tmp = tmp_path(path)
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
