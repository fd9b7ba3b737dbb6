"""The project's own trace formats: CSV, Parquet, NPZ (load and save, bit-exact round trips)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ...errors import TraceError
from ..trace import Trace
from .common import (
    CSV_HEADER, PARQUET_META_KEY, atomic_write_text, finish, is_number, jsonable_meta, line_label,
    parse_numbers, read_lines, row_label, split_rows, tmp_path,
)

#: Formats :func:`save_trace` writes (chosen by suffix).
SAVE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".npz": "npz"}


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
    meta = jsonable_meta(trace.meta)
    if fmt == "csv":
        lines = ["# intersim trace: power_w[i] [W] holds on [time_s[i], time_s[i+1]) [s]",
                 f"# end_s={trace.end_s!r}", f"# loop={'true' if trace.loop else 'false'}",
                 f"# name={trace.name}"]
        if meta:
            lines.append(f"# meta={json.dumps(meta, sort_keys=True)}")
        lines.append(CSV_HEADER)
        lines.extend(f"{t!r},{p!r}" for t, p in zip(trace.time_s.tolist(), trace.power_w.tolist()))
        atomic_write_text(path, "\n".join(lines) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        info = {"end_s": trace.end_s, "loop": bool(trace.loop), "name": trace.name, "meta": meta}
        table = pa.table({"time_s": pa.array(trace.time_s, pa.float64()),
                          "power_w": pa.array(trace.power_w, pa.float64())})
        table = table.replace_schema_metadata({PARQUET_META_KEY: json.dumps(info).encode()})
        tmp = tmp_path(path)
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    else:
        tmp = tmp_path(path).with_suffix(".npz")
        np.savez(tmp, time_s=trace.time_s, power_w=trace.power_w, end_s=np.float64(trace.end_s),
                 loop=np.bool_(trace.loop), name=np.str_(trace.name), meta=np.str_(json.dumps(meta)))
        os.replace(tmp, path)
    return path


def load_csv(path, opts):
    lines = read_lines(path)
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
    (t_tok, p_tok), line_no = split_rows(path, lines, header_idx + 1, ",", 2, "comma-separated")
    if not t_tok:
        raise TraceError(f"{path}: no data rows after the header on line {header_idx + 1}")
    time_s = parse_numbers(path, t_tok, line_no, "time_s")
    power_w = parse_numbers(path, p_tok, line_no, "power_w")
    end_s, loop, name, meta = None, False, path.stem, {}
    if "end_s" in stored:
        value, ln = stored["end_s"]
        if not is_number(value):
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
    return [finish(path, time_s, power_w, line_label(line_no), opts, stored_end_s=end_s,
                    stored_loop=loop, name=name, meta=meta)]


def load_parquet(path, opts):
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
    return [finish_stored(path, cols["time_s"], cols["power_w"], info, opts)]


def load_npz(path, opts):
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
    return [finish_stored(path, t.astype(np.float64), p.astype(np.float64), info, opts)]


def finish_stored(path, time_s, power_w, info, opts):
    end_s = info.get("end_s")
    if end_s is not None and not is_number(end_s):
        raise TraceError(f"{path}: stored end_s {end_s!r} is not a number of seconds")
    loop = info.get("loop", False)
    if not isinstance(loop, (bool, np.bool_)):
        raise TraceError(f"{path}: stored loop {loop!r} must be true or false")
    meta = info.get("meta") or {}
    if not isinstance(meta, dict):
        raise TraceError(f"{path}: stored meta must be a JSON object, got {type(meta).__name__}")
    return finish(path, time_s, power_w, row_label, opts,
                   stored_end_s=None if end_s is None else float(end_s), stored_loop=bool(loop),
                   name=str(info.get("name") or path.stem), meta=meta)
