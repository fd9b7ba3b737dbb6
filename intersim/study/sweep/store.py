"""The output directory: result rows and their Arrow schema, Parquet part files written whole
and moved into place, the lock, resuming (which points are finished) and reading results back."""
from __future__ import annotations
import hashlib
import json
import math
import os
import time
from pathlib import Path
from ...errors import ScenarioError
from .spec import (
    FLUSH_S, FLUSH_ROWS, DEFINITION_FILE, PARTS_DIR, LOCK_FILE, TMP_PREFIX, Point, Sweep, _version, _column_value,
)


# --------------------------------------------------------------------------------------------
# result rows, part files, the output directory

def _arrow_schema(columns, digest: str | None = None):
    import pyarrow as pa
    types = {"int64": pa.int64(), "float64": pa.float64(), "string": pa.string(), "bool": pa.bool_()}
    meta = {b"intersim_sweep": json.dumps({"sweep_sha256": digest, "intersim_version": _version()}).encode()} \
        if digest else None
    return pa.schema([pa.field(n, types[t]) for n, t in columns], metadata=meta)


def _coerce(value, dtype):
    """A value as the column's Python type (None stays null; numpy scalars become plain)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if dtype == "float64":
        return float(value)
    if dtype == "int64":
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return int(value)
    if dtype == "string":
        return str(value)
    return bool(value)


def _row(sweep: Sweep, point: Point, result: dict, columns) -> dict:
    row = {"point": point.index, "point_id": point.id, "scenario_sha256": point.scenario_sha256}
    for a in sweep.axes:
        row[a.key] = _column_value(point.values[a.key], a.dtype)
    row.update(result)
    return {n: _coerce(row.get(n), t) for n, t in columns}


def _table(rows, columns, digest=None):
    import pyarrow as pa
    return pa.Table.from_pylist(rows, schema=_arrow_schema(columns, digest))


def _frame(table):
    """Arrow -> pandas with fixed dtypes: nullable Int64/boolean (error rows hold nulls)."""
    import pandas as pd
    import pyarrow as pa
    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    df = table.to_pandas(types_mapper=mapping.get)
    if len(df):
        from ...sched.registry import SCHEDULERS
        order = {n: i for i, n in enumerate(SCHEDULERS)}
        key = df["scheduler"].map(lambda s: (order.get(s, len(order)), s))
        df = df.assign(_k=key).sort_values(["point", "_k"], kind="stable").drop(columns="_k")
    return df.reset_index(drop=True)


class _Sink:
    """Collects rows; with a directory, writes them as part files (atomically, every FLUSH_S)."""

    def __init__(self, sweep: Sweep, out: Path | None):
        self.sweep, self.out = sweep, out
        self.columns = sweep.columns()
        self.digest = sweep.digest()
        self.buffer, self.rows = [], []
        self.last_flush = -math.inf
        self.parts = 0

    def add(self, row):
        (self.buffer if self.out is not None else self.rows).append(row)

    def due_in(self) -> float:
        if not self.buffer:
            return FLUSH_S
        return max(self.last_flush + FLUSH_S - time.monotonic(), 0.0)

    def maybe_flush(self):
        if self.buffer and (time.monotonic() - self.last_flush >= FLUSH_S or len(self.buffer) >= FLUSH_ROWS):
            self.flush()

    def flush(self):
        if not self.buffer or self.out is None:
            return
        import pyarrow.parquet as pq
        rows = sorted(self.buffer, key=lambda r: (r["point"], r["scheduler"]))
        keys = "\n".join(f"{r['point_id']}|{r['scheduler']}" for r in rows)
        name = f"part-{hashlib.sha256(keys.encode()).hexdigest()[:16]}.parquet"
        table = _table(rows, self.columns, self.digest)
        tmp = self.out / f"{TMP_PREFIX}{name}"
        with open(tmp, "wb") as f:
            pq.write_table(table, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.out / PARTS_DIR / name)  # a SIGKILL never leaves a torn part
        self.buffer = []
        self.parts += 1
        self.last_flush = time.monotonic()


def _lock(out: Path):
    """An exclusive lock on DIR for the life of this process (released by the OS if killed)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return None
    fd = os.open(out / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ScenarioError(f"{out}: another sweep is running on this directory; allowed: one "
                            "sweep per directory at a time") from None
    return fd


def _unlock(fd):
    if fd is not None:
        os.close(fd)


def _prepare_dir(sweep: Sweep, out: Path) -> tuple[int | None, set]:
    """Create or check DIR; returns the lock and the (point_id, scheduler) pairs already done."""
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out {out}: exists and is not a directory; allowed: a new or sweep directory")
    out.mkdir(parents=True, exist_ok=True)
    defn_path = out / DEFINITION_FILE
    ours = {DEFINITION_FILE, PARTS_DIR, LOCK_FILE, "plots"}
    if not defn_path.exists():
        stray = [p.name for p in out.iterdir() if p.name not in ours and not p.name.startswith(TMP_PREFIX)]
        if stray:
            raise ScenarioError(f"--out {out}: exists, is not empty ({', '.join(sorted(stray)[:3])}) and "
                                f"holds no {DEFINITION_FILE}; allowed: a new directory or one a sweep wrote")
    fd = _lock(out)
    try:
        new = sweep.definition()
        if defn_path.exists():
            try:
                old = json.loads(defn_path.read_text())
            except (OSError, ValueError) as exc:
                raise ScenarioError(f"{defn_path}: unreadable ({exc}); allowed: a {DEFINITION_FILE} "
                                    "written by intersim sweep") from None
            changes = diff_definitions(old, new)
            if changes:
                raise ScenarioError(f"{out} holds a different sweep: {changes}; allowed: the same sweep "
                                    "to resume it, or a new --out directory")
        else:
            tmp = out / f"{TMP_PREFIX}{DEFINITION_FILE}"
            tmp.write_text(json.dumps(new, indent=1) + "\n")
            os.replace(tmp, defn_path)
        for p in out.glob(f"{TMP_PREFIX}*"):  # left by a killed run (we hold the lock)
            p.unlink(missing_ok=True)
        (out / PARTS_DIR).mkdir(exist_ok=True)
        done = _finished(out, sweep.digest())
    except BaseException:
        _unlock(fd)
        raise
    return fd, done


def _part_files(out: Path) -> list[Path]:
    return sorted(p for p in (out / PARTS_DIR).glob("part-*.parquet"))


def _finished(out: Path, digest: str) -> set:
    import pyarrow.parquet as pq
    done = set()
    for p in _part_files(out):
        try:
            meta = pq.read_schema(p).metadata or {}
            tag = json.loads(meta.get(b"intersim_sweep", b"{}"))
            t = pq.read_table(p, columns=["point_id", "scheduler"])
        except Exception as exc:  # noqa: BLE001
            raise ScenarioError(f"{p}: not a readable part file ({exc}); allowed: parts written by "
                                "this sweep (delete the file to recompute its points)") from None
        if tag.get("sweep_sha256") != digest:
            raise ScenarioError(f"{p}: written by a different sweep; allowed: parts of this sweep only")
        done.update(zip(t.column("point_id").to_pylist(), t.column("scheduler").to_pylist()))
    return done


def load_results(out_dir):
    """The rows of the sweep in ``out_dir`` (finished so far) as a DataFrame, sorted by point
    and scheduler; dtypes fixed (counts are nullable ``Int64``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    out = Path(out_dir)
    defn_path = out / DEFINITION_FILE
    if not defn_path.is_file():
        raise ScenarioError(f"{out}: not a sweep directory (no {DEFINITION_FILE}); allowed: the --out "
                            "directory of intersim sweep")
    try:
        defn = json.loads(defn_path.read_text())
        columns = [tuple(c) for c in defn["columns"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{defn_path}: unreadable ({exc})") from None
    schema = _arrow_schema(columns)
    tables = [pq.read_table(p, schema=schema) for p in _part_files(out)]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    return _frame(table.replace_schema_metadata(None))


def diff_definitions(old: dict, new: dict) -> str:
    """What differs between two stored sweep definitions, in one line ("" if nothing)."""
    msgs = []
    if old.get("format") != new.get("format"):
        return f"format {old.get('format')!r} -> {new.get('format')!r}"
    for k in ("intersim_version", "mode"):
        if old.get(k) != new.get(k):
            msgs.append(f"{k} {old.get(k)!r} -> {new.get(k)!r}")
    ov = {a["key"]: a["values"] for a in old.get("vary", [])}
    nv = {a["key"]: a["values"] for a in new.get("vary", [])}
    for k in nv:
        if k not in ov:
            msgs.append(f"vary.{k} added")
    for k in ov:
        if k not in nv:
            msgs.append(f"vary.{k} removed")
        elif ov[k] != nv[k]:
            a, b = ov[k], nv[k]
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            what = f"vary.{k}: {len(a)} -> {len(b)} values" if len(a) != len(b) else f"vary.{k} values changed"
            if first < min(len(a), len(b)):
                what += f" (value {first}: {a[first]!r} -> {b[first]!r})"
            msgs.append(what)
    if [k for k in ov if k in nv] != [k for k in nv if k in ov]:
        msgs.append("order of the vary keys changed")
    for label, o, n in (("set", old.get("set", {}), new.get("set", {})),
                        ("scenario", _dotted(old.get("scenario", {})), _dotted(new.get("scenario", {})))):
        for k in sorted(set(o) | set(n)):
            if o.get(k, "<absent>") != n.get(k, "<absent>"):
                msgs.append(f"{label} {k}: {o.get(k, '<absent>')!r} -> {n.get(k, '<absent>')!r}")
    ot, nt = old.get("trace_files", {}), new.get("trace_files", {})
    for k in sorted(set(ot) & set(nt)):
        if ot[k] != nt[k]:
            msgs.append(f"trace file {k} content changed (sha256 {ot[k][:12]} -> {nt[k][:12]})")
    if not msgs and old.get("point_ids_sha256") != new.get("point_ids_sha256"):
        msgs.append("the points' resolved scenarios changed (intersim's defaults or schema)")
    if not msgs and old.get("columns") != new.get("columns"):
        msgs.append("the result columns changed")
    if len(msgs) > 4:
        msgs = msgs[:4] + [f"and {len(msgs) - 4} more"]
    return "; ".join(msgs)


def _dotted(d: dict, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        p = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v:
            out.update(_dotted(v, p))
        else:
            out[p] = v
    return out
