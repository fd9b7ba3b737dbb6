"""Load and save harvested-power traces: the project's own formats and common public ones.

Formats (``format=`` or guessed from the suffix and the first lines):

``csv``         the project's CSV: optional ``# key=value`` comment lines, then the header
                ``time_s,power_w``, then one ``time,power`` row per sample [s, W]. ``# end_s=``
                stores the end of the last interval (inferred as last time + median spacing when
                absent), ``# loop=true|false``, ``# name=``, ``# meta=<JSON object>``.
``parquet``     columns ``time_s``, ``power_w`` (float64); ``end_s``/``loop``/``name``/``meta``
                as JSON under the schema metadata key ``intersim``.
``npz``         arrays ``time_s``, ``power_w``, scalar ``end_s``; optional ``loop``, ``name``,
                ``meta`` (JSON string).
``tmy``         TMY3 (``.csv``) or TMY2 (``.tm2``) through ``pvlib.iotools``; GHI [W/m^2] ->
                harvested power with :func:`intersim.energy.harvester.pv_power_w`.
``midc``        NREL MIDC CSV (``DATE (MM/DD/YYYY),<tz>,...``) through ``pvlib.iotools.read_midc``;
                the first ``Global ... [W/m^2]`` column is used, converted like ``tmy``.
``lux``         one illuminance value [lx] per line; ``period_s`` required. Lux -> W/m^2 with the
                daylight luminous efficacy, then the PV model.
``rf-voltage``  ``<time_ms> <voltage_V>`` per line, DC voltage across ``load_ohm``; P = V^2 / R.

Times of measured formats (tmy, midc, lux, rf-voltage) start at 0 s; the original start is in
``trace.meta``. Errors are :class:`~intersim.errors.TraceError` naming the file and the 1-based
``line`` (text files) or 1-based data ``row`` (Parquet, NPZ). Nothing is returned half-loaded.
See docs/traces.md.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import numpy as np

from . import harvester
from ..errors import TraceError
from .trace import MAX_PLAUSIBLE_POWER_W, Trace, infer_end_s, validate_arrays

#: Formats understood by :func:`load_trace`.
FORMATS = ("csv", "parquet", "npz", "tmy", "midc", "lux", "rf-voltage")
#: Formats :func:`save_trace` writes (chosen by suffix).
SAVE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}
#: A time step longer than this many median steps is a gap (tmy, midc, rf-voltage).
DEFAULT_GAP_FACTOR = 10.0
GAP_POLICIES = ("zero", "split")
#: Negative irradiance down to this [W/m^2] is a pyranometer's night offset and is clipped to 0;
#: below it the file is refused. Thermopile offsets are a few W/m^2 (the Golden BMS data: -8.7).
NEGATIVE_IRRADIANCE_CLIP_W_M2 = 20.0
CSV_HEADER = "time_s,power_w"
PARQUET_META_KEY = b"intersim"


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def load_trace(path, format: str | None = None, *, period_s: float | None = None,
               load_ohm: float | None = None, end_s: float | None = None, loop: bool | None = None,
               max_power_w: float = MAX_PLAUSIBLE_POWER_W, gap_factor: float = DEFAULT_GAP_FACTOR,
               gap_policy: str = "zero", area_m2: float = harvester.SMALL_CELL_AREA_M2,
               efficiency: float = harvester.SMALL_CELL_EFFICIENCY,
               efficacy_lm_per_w: float = harvester.DAYLIGHT_EFFICACY_LM_PER_W) -> Trace:
    """Load a trace file as harvested power.

    Parameters
    ----------
    path : str or Path
    format : str, optional
        One of :data:`FORMATS`; guessed from the suffix and content when ``None``.
    period_s : float [s], optional
        Sample period; required for ``lux`` (the format does not store time).
    load_ohm : float [ohm], optional
        Load resistance across which ``rf-voltage`` was measured; required for that format.
    end_s : float [s], optional
        End of the last interval; overrides the file's. Default: stored, else inferred as the
        last time + the median spacing (a one-row file without it is refused).
    loop : bool, optional
        Repeat the trace; default as stored in the file, else ``False``.
    max_power_w : float [W]
        Plausibility bound: a larger sample is refused ("wrong units?").
    gap_factor : float [-]
        In ``tmy``/``midc``/``rf-voltage``, a step longer than ``gap_factor`` x the median step
        is a logging gap.
    gap_policy : {"zero", "split"}
        ``"zero"``: the sample before a gap holds for one median step, then power is 0 until the
        next sample. ``"split"``: cut the trace at every gap and return the longest piece (ties:
        the earliest); :func:`load_trace_pieces` returns all of them.
    area_m2, efficiency : float [m^2], [-]
        PV cell for irradiance and lux formats (:func:`intersim.energy.harvester.pv_power_w`).
    efficacy_lm_per_w : float [lm/W]
        Luminous efficacy for ``lux`` -> W/m^2.

    Returns
    -------
    Trace
    """
    pieces = _load(path, format, 3, period_s=period_s, load_ohm=load_ohm, end_s=end_s,
                   loop=loop, max_power_w=max_power_w, gap_factor=gap_factor,
                   gap_policy=gap_policy, area_m2=area_m2, efficiency=efficiency,
                   efficacy_lm_per_w=efficacy_lm_per_w)
    if len(pieces) == 1:
        return pieces[0]
    longest = max(range(len(pieces)), key=lambda k: (pieces[k].duration_s, -k))
    return pieces[longest]


def load_trace_pieces(path, format: str | None = None, **kwargs) -> list[Trace]:
    """Like :func:`load_trace` but returns every piece (one unless ``gap_policy="split"``)."""
    return _load(path, format, 3, **kwargs)


def _load(path, format, stacklevel, **kwargs) -> list[Trace]:
    path = Path(path)
    opts = _options(path, **kwargs)
    fmt = guess_format(path) if format is None else _check_format(format, path)
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    with warnings.catch_warnings(record=True) as caught:
        # Warnings are replayed only once the whole file has loaded: nothing half-loaded.
        warnings.simplefilter("always")
        pieces = _LOADERS[fmt](path, opts)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=stacklevel)
    return pieces


def save_trace(trace: Trace, path) -> Path:
    """Write ``trace`` to ``path`` in the format its suffix names (:data:`SAVE_FORMATS`).

    Floats round-trip exactly (CSV uses the shortest repr that reads back bit for bit).
    Returns the path written.
    """
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise TraceError(f"{path}: cannot save a trace as {path.suffix!r}; "
                         f"use one of {sorted(SAVE_FORMATS)}")
    meta = _jsonable_meta(trace.meta)
    if fmt == "csv":
        lines = ["# intersim trace: power_w[i] [W] holds on [time_s[i], time_s[i+1]) [s]",
                 f"# end_s={trace.end_s!r}", f"# loop={'true' if trace.loop else 'false'}",
                 f"# name={trace.name}"]
        if meta:
            lines.append(f"# meta={json.dumps(meta, sort_keys=True)}")
        lines.append(CSV_HEADER)
        lines.extend(f"{t!r},{p!r}" for t, p in zip(trace.time_s.tolist(), trace.power_w.tolist()))
        _atomic_write_text(path, "\n".join(lines) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        info = {"end_s": trace.end_s, "loop": bool(trace.loop), "name": trace.name, "meta": meta}
        table = pa.table({"time_s": pa.array(trace.time_s, pa.float64()),
                          "power_w": pa.array(trace.power_w, pa.float64())})
        table = table.replace_schema_metadata({PARQUET_META_KEY: json.dumps(info).encode()})
        tmp = _tmp_path(path)
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    else:
        tmp = _tmp_path(path).with_suffix(".npz")
        np.savez(tmp, time_s=trace.time_s, power_w=trace.power_w, end_s=np.float64(trace.end_s),
                 loop=np.bool_(trace.loop), name=np.str_(trace.name), meta=np.str_(json.dumps(meta)))
        os.replace(tmp, path)
    return path


def guess_format(path) -> str:
    """Format of ``path`` from its suffix and, for text files, its first lines."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".npz":
        return "npz"
    if suffix == ".tm2":
        return "tmy"
    if not path.is_file():
        raise TraceError(f"{path}: no such file")
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        head = [ln.strip() for ln in fh.read(8192).splitlines()[:4]]
    first = next((ln for ln in head if ln and not ln.startswith("#")), "")
    if any(ln.startswith("#") for ln in head[:1]) or first == CSV_HEADER:
        return "csv"
    if first.upper().startswith("DATE (MM/DD/YYYY)"):
        return "midc"
    if len(head) > 1 and head[1].startswith("Date (MM/DD/YYYY)"):
        return "tmy"
    fields = first.split()
    if len(fields) == 2 and "," not in first and all(_is_number(f) for f in fields):
        return "rf-voltage"
    if len(fields) == 1 and _is_number(first):
        return "lux"
    raise TraceError(f"{path}: cannot tell the trace format from the suffix {suffix!r} and the first "
                     f"line {first[:60]!r}; pass format= one of {list(FORMATS)}")


# --------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------
def _options(path, *, period_s=None, load_ohm=None, end_s=None, loop=None,
             max_power_w=MAX_PLAUSIBLE_POWER_W, gap_factor=DEFAULT_GAP_FACTOR, gap_policy="zero",
             area_m2=harvester.SMALL_CELL_AREA_M2, efficiency=harvester.SMALL_CELL_EFFICIENCY,
             efficacy_lm_per_w=harvester.DAYLIGHT_EFFICACY_LM_PER_W) -> dict:
    for key, value, unit in (("period_s", period_s, "s"), ("load_ohm", load_ohm, "ohm"),
                             ("end_s", end_s, "s")):
        if value is not None and not (_finite(value) and (key == "end_s" or value > 0)):
            raise TraceError(f"{path}: {key} {value!r} {unit} must be a finite number"
                             f"{'' if key == 'end_s' else ' > 0'}")
    for key, value, unit in (("max_power_w", max_power_w, "W"), ("gap_factor", gap_factor, "-"),
                             ("area_m2", area_m2, "m^2"), ("efficacy_lm_per_w", efficacy_lm_per_w, "lm/W")):
        if not (_finite(value) and value > 0):
            raise TraceError(f"{path}: {key} {value!r} {unit} must be a finite number > 0")
    if not (_finite(efficiency) and 0 < efficiency <= 1):
        raise TraceError(f"{path}: efficiency {efficiency!r} must be in (0, 1]")
    if gap_policy not in GAP_POLICIES:
        raise TraceError(f"{path}: gap_policy {gap_policy!r} is not one of {list(GAP_POLICIES)}")
    if loop is not None and not isinstance(loop, (bool, np.bool_)):
        raise TraceError(f"{path}: loop {loop!r} must be True, False or None")
    return dict(period_s=period_s, load_ohm=load_ohm, end_s=end_s, loop=loop,
                max_power_w=float(max_power_w), gap_factor=float(gap_factor), gap_policy=gap_policy,
                area_m2=float(area_m2), efficiency=float(efficiency),
                efficacy_lm_per_w=float(efficacy_lm_per_w))


def _check_format(fmt, path):
    if fmt not in FORMATS:
        raise TraceError(f"{path}: unknown trace format {fmt!r}; choose one of {list(FORMATS)}")
    return fmt


# --------------------------------------------------------------------------------------------
# text parsing helpers
# --------------------------------------------------------------------------------------------
def _read_lines(path) -> list[str]:
    try:
        with open(path, "r", encoding="utf-8") as fh:
            return fh.read().splitlines()
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None


def _parse_numbers(path, tokens: list[str], line_no: np.ndarray, column: str) -> np.ndarray:
    """Floats from strings; on failure names the first bad line (1-based) and value."""
    try:
        # numpy's str -> float conversion is correctly rounded, so CSV floats round-trip exactly
        return np.array(tokens, dtype=np.str_).astype(np.float64)
    except ValueError:
        for tok, ln in zip(tokens, line_no):
            if not _is_number(tok):
                raise TraceError(f"{path}: line {ln}: {column} value {tok!r} is not a number") from None
        # numpy refused a spelling Python accepts (e.g. "1_000"): Python's float is exact too
        return np.array([float(tok) for tok in tokens], dtype=np.float64)


def _split_rows(path, lines, first: int, sep: str | None, ncols: int, what: str):
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


def _line_label(line_no):
    return lambda i: f"line {line_no[i]}"


def _row_label(i):
    return f"row {i + 1}"


# --------------------------------------------------------------------------------------------
# project formats
# --------------------------------------------------------------------------------------------
def _load_csv(path, opts):
    lines = _read_lines(path)
    header_idx, stored = None, {}
    for k, ln in enumerate(lines):
        s = ln.strip()
        if not s:
            continue
        if s.startswith("#"):
            key, eq, value = s[1:].strip().partition("=")
            if eq:
                stored[key.strip()] = (value.strip(), k + 1)
            continue
        header_idx = k
        break
    if header_idx is None:
        raise TraceError(f"{path}: empty trace file (no header {CSV_HEADER!r} and no data)")
    header = lines[header_idx].strip().replace(" ", "")
    if header != CSV_HEADER:
        raise TraceError(f"{path}: line {header_idx + 1}: header {lines[header_idx].strip()[:60]!r} "
                         f"must be exactly {CSV_HEADER!r} (columns time [s], power [W])")
    (t_tok, p_tok), line_no = _split_rows(path, lines, header_idx + 1, ",", 2, "comma-separated")
    if not t_tok:
        raise TraceError(f"{path}: no data rows after the header on line {header_idx + 1}")
    time_s = _parse_numbers(path, t_tok, line_no, "time_s")
    power_w = _parse_numbers(path, p_tok, line_no, "power_w")
    end_s, loop, name, meta = None, False, path.stem, {}
    if "end_s" in stored:
        value, ln = stored["end_s"]
        if not _is_number(value):
            raise TraceError(f"{path}: line {ln}: end_s {value!r} is not a number of seconds")
        end_s = float(value)
    if "loop" in stored:
        value, ln = stored["loop"]
        if value.lower() not in ("true", "false"):
            raise TraceError(f"{path}: line {ln}: loop {value!r} must be 'true' or 'false'")
        loop = value.lower() == "true"
    if "name" in stored and stored["name"][0]:
        name = stored["name"][0]
    if "meta" in stored:
        value, ln = stored["meta"]
        try:
            meta = json.loads(value)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: line {ln}: meta is not a JSON object ({exc.msg})") from None
        if not isinstance(meta, dict):
            raise TraceError(f"{path}: line {ln}: meta must be a JSON object, got {type(meta).__name__}")
    return [_finish(path, time_s, power_w, _line_label(line_no), opts, stored_end_s=end_s,
                    stored_loop=loop, name=name, meta=meta)]


def _load_parquet(path, opts):
    import pyarrow as pa
    import pyarrow.parquet as pq
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("time_s", "power_w") if c not in table.column_names]
    if missing:
        raise TraceError(f"{path}: Parquet columns {table.column_names} lack {missing}; "
                         f"expected 'time_s' [s] and 'power_w' [W]")
    cols = {}
    for c in ("time_s", "power_w"):
        col = table.column(c)
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            raise TraceError(f"{path}: column {c} has type {col.type}, expected float64")
        arr = col.to_numpy(zero_copy_only=False)
        cols[c] = np.asarray(arr, dtype=np.float64)  # nulls become NaN and are refused below
    if table.num_rows == 0:
        raise TraceError(f"{path}: empty trace (no rows)")
    info = {}
    raw = (table.schema.metadata or {}).get(PARQUET_META_KEY)
    if raw is not None:
        try:
            info = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: schema metadata 'intersim' is not JSON ({exc.msg})") from None
    return [_finish_stored(path, cols["time_s"], cols["power_w"], info, opts)]


def _load_npz(path, opts):
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise TraceError(f"{path}: not a readable NPZ file ({exc})") from None
    missing = [k for k in ("time_s", "power_w") if k not in data]
    if missing:
        raise TraceError(f"{path}: NPZ arrays {sorted(data)} lack {missing}; "
                         f"expected 'time_s' [s], 'power_w' [W] and scalar 'end_s' [s]")
    info = {}
    for key in ("end_s", "loop", "name"):
        if key in data:
            if data[key].shape != ():
                raise TraceError(f"{path}: NPZ '{key}' must be a scalar, got shape {data[key].shape}")
            info[key] = data[key].item()
    if "meta" in data:
        try:
            info["meta"] = json.loads(str(data["meta"].item()))
        except json.JSONDecodeError as exc:
            raise TraceError(f"{path}: NPZ 'meta' is not a JSON string ({exc.msg})") from None
    t, p = data["time_s"], data["power_w"]
    for key, arr in (("time_s", t), ("power_w", p)):
        if arr.dtype.kind not in "fiu":
            raise TraceError(f"{path}: NPZ array {key} has dtype {arr.dtype}, expected float64")
    if t.ndim != 1 or p.ndim != 1 or t.shape != p.shape:
        raise TraceError(f"{path}: NPZ time_s and power_w must be 1-D of equal length, "
                         f"got shapes {t.shape} and {p.shape}")
    if t.size == 0:
        raise TraceError(f"{path}: empty trace (no rows)")
    return [_finish_stored(path, t.astype(np.float64), p.astype(np.float64), info, opts)]


def _finish_stored(path, time_s, power_w, info, opts):
    end_s = info.get("end_s")
    if end_s is not None and not _is_number(end_s):
        raise TraceError(f"{path}: stored end_s {end_s!r} is not a number of seconds")
    loop = info.get("loop", False)
    if not isinstance(loop, (bool, np.bool_)):
        raise TraceError(f"{path}: stored loop {loop!r} must be true or false")
    meta = info.get("meta") or {}
    if not isinstance(meta, dict):
        raise TraceError(f"{path}: stored meta must be a JSON object, got {type(meta).__name__}")
    return _finish(path, time_s, power_w, _row_label, opts,
                   stored_end_s=None if end_s is None else float(end_s), stored_loop=bool(loop),
                   name=str(info.get("name") or path.stem), meta=meta)


def _finish(path, time_s, power_w, row_label, opts, *, stored_end_s=None, stored_loop=False,
            name=None, meta=None):
    """Validate with file-aware row labels, then build the Trace."""
    end_s = opts["end_s"] if opts["end_s"] is not None else stored_end_s
    if end_s is None:
        end_s = infer_end_s(time_s, str(path)) if time_s.size >= 2 else None
        if end_s is None:
            raise TraceError(f"{path}: a one-row trace needs end_s (store '# end_s=...' in the file "
                             f"or pass end_s=); cannot infer the sample period from one row")
    validate_arrays(time_s, power_w, end_s, str(path), max_power_w=opts["max_power_w"],
                    row_label=row_label)
    loop = stored_loop if opts["loop"] is None else bool(opts["loop"])
    meta = dict(meta or {})
    meta["source"] = meta.get("source", str(path))
    meta["max_power_w"] = opts["max_power_w"]
    return Trace(time_s, power_w, end_s, loop=loop, name=name or path.stem, meta=meta)


# --------------------------------------------------------------------------------------------
# public source formats
# --------------------------------------------------------------------------------------------
def _irradiance_to_power(path, ghi, row_label, opts, meta, what="irradiance"):
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
    meta.update(area_m2=opts["area_m2"], efficiency=opts["efficiency"], pv_model="area x efficiency")
    return harvester.pv_power_w(ghi, opts["area_m2"], opts["efficiency"])


def _load_tmy(path, opts):
    from .generators import _import_pvlib  # one place names the optional dependency
    pvlib = _import_pvlib()
    import pandas as pd
    tm2 = path.suffix.lower() == ".tm2"
    try:
        if tm2:
            data, info = pvlib.iotools.read_tmy2(str(path))
            first_line = 2  # one header line
        else:
            # coerce_year makes the index increase monotonically (TMY months come from different
            # years); 1990 is not a leap year, like every TMY.
            data, info = pvlib.iotools.read_tmy3(str(path), coerce_year=1990, map_variables=True)
            first_line = 3  # site line + column header
    except Exception as exc:  # pvlib raises whatever pandas raises on a malformed file
        raise TraceError(f"{path}: not a readable TMY{'2' if tm2 else '3'} file "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    col = "ghi" if "ghi" in data.columns else ("GHI" if "GHI" in data.columns else None)
    if col is None:
        raise TraceError(f"{path}: TMY file has no GHI column (columns: {list(data.columns)[:8]} ...)")
    ghi = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=np.float64)
    if data.empty:
        raise TraceError(f"{path}: TMY file has no data rows")
    # TMY values are for the hour ENDING at the file's time stamp. read_tmy3 keeps that stamp
    # (01:00 for the first hour): shift it to the interval's start. read_tmy2 already stamps
    # hour h as h-1, the start.
    start = data.index if tm2 else data.index - pd.Timedelta(hours=1)
    if tm2:
        # TMY2 months come from different years: put every row in one (non-leap) year, as
        # read_tmy3's coerce_year does, so time increases monotonically.
        try:
            start = pd.DatetimeIndex([ts.replace(year=1990) for ts in start])
        except ValueError as exc:
            raise TraceError(f"{path}: TMY2 time stamps cannot be put in one year ({exc})") from None
    rows = np.arange(first_line + 1, first_line + 1 + len(data))
    label = _line_label(rows)
    time_s = _seconds_since_first(start)
    meta = {"format": "tmy3" if not tm2 else "tmy2", "start_time": start[0].isoformat(),
            "latitude": info.get("latitude"), "longitude": info.get("longitude"),
            "site": str(info.get("Name", info.get("City", ""))).strip('"')}
    power = _irradiance_to_power(path, ghi, label, opts, meta, "GHI")
    return _timed_pieces(path, time_s, power, rows, opts, meta)


def _load_midc(path, opts):
    from .generators import _import_pvlib
    pvlib = _import_pvlib()
    import pandas as pd
    try:
        data = pvlib.iotools.read_midc(str(path))
    except Exception as exc:  # pvlib/pandas raise many types on a malformed file
        raise TraceError(_midc_diagnose(path) or f"{path}: not a readable MIDC file "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    cols = [c for c in data.columns if "global" in c.lower() and "w/m" in c.lower()]
    if not cols:
        raise TraceError(f"{path}: no 'Global ... [W/m^2]' irradiance column in {list(data.columns)}")
    if data.empty:
        raise TraceError(f"{path}: empty MIDC file (header only)")
    rows = np.arange(2, 2 + len(data))  # line 1 is the header
    label = _line_label(rows)
    raw = data[cols[0]]
    ghi = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(ghi) & raw.notna().to_numpy())
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: {cols[0]} value {raw.iloc[bad[0]]!r} is not a number")
    time_s = _seconds_since_first(data.index)
    order = np.flatnonzero(np.diff(time_s) <= 0)
    if order.size:
        i = order[0] + 1
        raise TraceError(f"{path}: {label(i)}: time stamp {data.index[i]} is not after the previous "
                         f"row's {data.index[i - 1]} (times must be strictly increasing)")
    meta = {"format": "midc", "column": cols[0], "start_time": data.index[0].isoformat()}
    power = _irradiance_to_power(path, ghi, label, opts, meta, "irradiance")
    return _timed_pieces(path, time_s, power, rows, opts, meta)


def _midc_diagnose(path):
    """Name the first MIDC row whose date/time does not parse (pvlib's error does not)."""
    import pandas as pd
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:
        return None
    if raw.shape[1] < 3 or raw.columns[0].upper() != "DATE (MM/DD/YYYY)":
        return (f"{path}: line 1: MIDC header {','.join(raw.columns)[:60]!r} must start with "
                f"'DATE (MM/DD/YYYY),<timezone>,' and have an irradiance column")
    stamp = pd.to_datetime(raw.iloc[:, 0] + " " + raw.iloc[:, 1], format="%m/%d/%Y %H:%M", errors="coerce")
    bad = np.flatnonzero(stamp.isna().to_numpy())
    if bad.size:
        i = bad[0]
        return (f"{path}: line {i + 2}: date/time {raw.iloc[i, 0]!r} {raw.iloc[i, 1]!r} does not parse "
                f"as MM/DD/YYYY HH:MM")
    return None


def _load_lux(path, opts):
    if opts["period_s"] is None:
        raise TraceError(f"{path}: the lux format needs period_s (sample period [s]; "
                         f"the file does not state it), e.g. --period-s 60")
    lines = _read_lines(path)
    (tok,), line_no = _split_rows(path, lines, 0, None, 1, "illuminance")
    if not tok:
        raise TraceError(f"{path}: empty lux file (no values)")
    lux = _parse_numbers(path, tok, line_no, "illuminance [lx]")
    label = _line_label(line_no)
    bad = np.flatnonzero(~np.isfinite(lux))
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: illuminance {float(lux[bad[0]])!r} lx is not a finite number")
    bad = np.flatnonzero(lux < 0)
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: negative illuminance {float(lux[bad[0]])!r} lx (must be >= 0)")
    irr = harvester.lux_to_irradiance_w_m2(lux, opts["efficacy_lm_per_w"])
    power = harvester.pv_power_w(irr, opts["area_m2"], opts["efficiency"])
    period = float(opts["period_s"])
    time_s = period * np.arange(lux.size, dtype=np.float64)
    meta = {"format": "lux", "period_s": period, "efficacy_lm_per_w": opts["efficacy_lm_per_w"],
            "area_m2": opts["area_m2"], "efficiency": opts["efficiency"], "pv_model": "area x efficiency"}
    opts = {**opts, "end_s": opts["end_s"] if opts["end_s"] is not None else period * lux.size}
    return [_finish(path, time_s, power, label, opts, name=path.stem, meta=meta)]


def _load_rf_voltage(path, opts):
    if opts["load_ohm"] is None:
        raise TraceError(f"{path}: the rf-voltage format needs load_ohm (the resistance [ohm] the "
                         f"voltage was measured across; Mementos WISP traces: 30e3), e.g. --load-ohm 30e3")
    lines = _read_lines(path)
    (t_tok, v_tok), line_no = _split_rows(path, lines, 0, None, 2, "whitespace-separated <time_ms> <voltage_V>")
    if not t_tok:
        raise TraceError(f"{path}: empty rf-voltage file (no '<time_ms> <voltage_V>' rows)")
    t_ms = _parse_numbers(path, t_tok, line_no, "time_ms")
    volt = _parse_numbers(path, v_tok, line_no, "voltage_V")
    label = _line_label(line_no)
    for what, arr, unit in (("time", t_ms, "ms"), ("voltage", volt, "V")):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise TraceError(f"{path}: {label(bad[0])}: {what} {float(arr[bad[0]])!r} {unit} is not a finite number")
    bad = np.flatnonzero(volt < 0)
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: negative voltage {float(volt[bad[0]])!r} V (the trace is "
                         f"DC after the rectifier: must be >= 0)")
    keep = _longest_increasing(t_ms)
    meta = {"format": "rf-voltage", "load_ohm": float(opts["load_ohm"]), "dropped_out_of_order": 0}
    if keep.size != t_ms.size:
        dropped = np.setdiff1d(np.arange(t_ms.size), keep)
        meta["dropped_out_of_order"] = int(dropped.size)
        first = dropped[0]
        warnings.warn(f"{path}: dropped {dropped.size} out-of-order sample(s) (time not after its "
                      f"neighbours), first at {label(first)} (time {float(t_ms[first])!r} ms)", stacklevel=3)
        t_ms, volt, line_no = t_ms[keep], volt[keep], line_no[keep]
    meta["start_time_ms"] = float(t_ms[0])
    time_s = (t_ms - t_ms[0]) * 1e-3
    power = volt * volt / float(opts["load_ohm"])
    return _timed_pieces(path, time_s, power, line_no, opts, meta)


def _longest_increasing(t: np.ndarray) -> np.ndarray:
    """Indices of a longest strictly increasing subsequence: dropping the fewest samples fixes
    the order (one misstamped sample costs one sample, not the run it jumps over)."""
    if t.size < 2 or np.all(np.diff(t) > 0):
        return np.arange(t.size)
    import bisect
    tails, tails_idx, parent = [], [], np.full(t.size, -1)
    for i, x in enumerate(t.tolist()):
        k = bisect.bisect_left(tails, x)
        if k == len(tails):
            tails.append(x)
            tails_idx.append(i)
        else:
            tails[k] = x
            tails_idx[k] = i
        parent[i] = tails_idx[k - 1] if k else -1
    out, i = [], tails_idx[-1]
    while i >= 0:
        out.append(i)
        i = parent[i]
    return np.array(out[::-1])


def _timed_pieces(path, time_s, power_w, line_no, opts, meta):
    """Apply the gap policy to a measured series, then validate and build the piece(s)."""
    label = _line_label(line_no)
    if time_s.size < 2:
        return [_finish(path, time_s, power_w, label, opts, name=path.stem, meta=meta)]
    steps = np.diff(time_s)
    median = float(np.median(steps))
    meta["median_step_s"] = median
    gaps = np.flatnonzero(steps > opts["gap_factor"] * median) if median > 0 else np.array([], int)
    meta["gaps"] = int(gaps.size)
    end_s = opts["end_s"] if opts["end_s"] is not None else float(time_s[-1] + median)
    if gaps.size == 0:
        return [_finish(path, time_s, power_w, label, {**opts, "end_s": end_s}, name=path.stem, meta=meta)]
    if opts["gap_policy"] == "zero":
        # after the sample before a gap has held one median step, nothing was logged: 0 W
        ins = gaps + 1
        time_s = np.insert(time_s, ins, time_s[gaps] + median)
        power_w = np.insert(power_w, ins, 0.0)
        line_no = np.insert(line_no, ins, line_no[gaps])
        meta["gap_policy"] = "zero"
        return [_finish(path, time_s, power_w, _line_label(line_no), {**opts, "end_s": end_s},
                        name=path.stem, meta=meta)]
    bounds = np.concatenate(([0], gaps + 1, [time_s.size]))
    pieces = []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        t0 = time_s[a]
        piece_end = (time_s[b - 1] + median) if b < time_s.size else end_s
        piece_meta = {**meta, "gap_policy": "split", "piece": k, "pieces": len(bounds) - 1,
                      "offset_s": float(t0), "first_line": int(line_no[a])}
        piece_opts = {**opts, "end_s": piece_end - t0}
        pieces.append(_finish(path, time_s[a:b] - t0, power_w[a:b], _line_label(line_no[a:b]),
                              piece_opts, name=f"{path.stem}#{k}", meta=piece_meta))
    return pieces


def _seconds_since_first(index) -> np.ndarray:
    """Seconds since the first time stamp of a pandas DatetimeIndex [s]."""
    delta = index - index[0]
    return np.asarray(delta.total_seconds(), dtype=np.float64)


_LOADERS = {"csv": _load_csv, "parquet": _load_parquet, "npz": _load_npz, "tmy": _load_tmy,
            "midc": _load_midc, "lux": _load_lux, "rf-voltage": _load_rf_voltage}


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def _is_number(s) -> bool:
    if isinstance(s, (int, float, np.integer, np.floating)) and not isinstance(s, bool):
        return True
    try:
        float(s)
    except (TypeError, ValueError):
        return False
    return True


def _finite(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def _jsonable_meta(meta: dict) -> dict:
    return json.loads(json.dumps(meta, default=str))


def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def _atomic_write_text(path: Path, text: str):
    tmp = _tmp_path(path)
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)
