"""Sweeps: run a scenario over a grid (or a zip) of values of any of its keys.

A sweep file (TOML, see docs/sweeps.md) names a scenario and varies dotted keys of it::

    scenario = "default.toml"              # relative to the sweep file (or an inline table)
    mode = "grid"                          # "grid": every combination; "zip": i-th values together
    [set]                                  # fixed overrides applied to every point
    "workload.duration_s" = 600.0
    [vary]
    "storage.capacitance_f" = { logspace = [4.7e-6, 4.7e-3, 16] }
    seed = [1, 2, 3]

Every point's resolved scenario is validated up front (:func:`intersim.scenario.validate`).
A point is identified by a hash of its resolved scenario and ``intersim.__version__``; it runs
under each of its schedulers (one unit of work per scheduler, so a slow scheduler does not hold
a whole point) and gives one row per (point, scheduler). Results go to ``DIR/parts/`` as a
Parquet dataset whose part files are written to a temporary name and moved into place with
``os.replace``; running again on the same DIR resumes.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import copy
import difflib
import hashlib
import itertools
import json
import math
import os
import socket
import sys
import threading
import time
import tomllib
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import IntersimError, ScenarioError

FORMAT = "intersim-sweep/1"
TOP_KEYS = ("scenario", "mode", "name", "description", "set", "vary")
MODES = ("grid", "zip")
GENERATORS = ("values", "range", "linspace", "logspace")
AXIS_HELP = ("a non-empty list of values, or a table with one of values = [...], "
             "range = [start, stop] or [start, stop, step] (stop excluded), "
             "linspace = [start, stop, n], logspace = [start, stop, n] (start, stop > 0)")
#: Significant digits kept from linspace/logspace/float-range values: the numbers a person
#: would type, and the same on every machine whatever the last ulp of its libm.
ROUND_DIGITS = 12
#: Most points a sweep may have (and values one axis may have): a sweep of 1e9 points would not
#: finish in a lifetime; refusing it up front beats hanging while the points are listed.
MAX_POINTS = 100_000
#: Seconds between part files while results arrive (the first result is written at once).
FLUSH_S = 1.0
#: Rows buffered before a part file is written regardless of time.
FLUSH_ROWS = 5000
DEFINITION_FILE = "sweep.json"
PARTS_DIR = "parts"
LOCK_FILE = ".lock"
TMP_PREFIX = ".tmp-"

#: dtypes of the summary columns (everything else in ``results.SUMMARY_COLUMNS`` is float64).
STRING_COLUMNS = ("scheduler", "verdict", "verdict_detail")
INT_COLUMNS = ("requests", "completed", "dropped", "unfinished", "correct", "power_failures",
               "checkpoints", "restores", "commits", "boots", "wasted_boots", "reexecuted_cycles",
               "events")
#: float64 summary columns without a unit suffix: fractions in [0, 1], NaN without labels
FRACTION_COLUMNS = ("accuracy", "accuracy_all")
#: Columns that are not a function of the inputs (excluded from every comparison).
WALL_COLUMNS = (("wall_s", "float64"), ("wall_host", "string"), ("wall_pid", "int64"),
                ("wall_traceback", "string"))


class SweepAborted(RuntimeError):
    """The sweep stopped for a reason outside any point (a worker process died, the cluster
    went away). Finished points are on disk; running again resumes."""


# --------------------------------------------------------------------------------------------
# the sweep definition

@dataclass(frozen=True)
class Axis:
    """One swept key: dotted ``key``, its ``values`` (as used) and the column dtype."""

    key: str
    values: tuple
    dtype: str  # "bool", "int64", "float64", "string" or "json" (canonical JSON text)


@dataclass(frozen=True)
class Point:
    """One point: its position in the sweep, identity, swept values and resolved scenario."""

    index: int
    id: str
    values: dict
    scenario: dict
    scenario_sha256: str

    @property
    def schedulers(self) -> list[str]:
        return list(self.scenario["schedulers"]["names"])


@dataclass
class Sweep:
    """A validated sweep: its axes, fixed overrides and every point, resolved and validated."""

    source: str
    name: str
    description: str
    mode: str
    axes: list
    fixed: dict
    base_raw: dict
    scenario_source: str
    scenario_dir: Path
    points: list
    trace_files: dict = field(default_factory=dict)
    version: str = ""

    def columns(self) -> list[tuple[str, str]]:
        """(name, dtype) of every result column, in order."""
        from ..report.results import SUMMARY_COLUMNS
        cols = [("point", "int64"), ("point_id", "string"), ("scenario_sha256", "string")]
        cols += [(a.key, "string" if a.dtype == "json" else a.dtype) for a in self.axes]
        for c in SUMMARY_COLUMNS:
            cols.append((c, "string" if c in STRING_COLUMNS else "int64" if c in INT_COLUMNS else "float64"))
        cols.append(("error", "string"))
        return cols + list(WALL_COLUMNS)

    def definition(self) -> dict:
        """The resolved definition stored in DIR: everything that decides the rows."""
        ids = hashlib.sha256("\n".join(p.id for p in self.points).encode()).hexdigest()
        return {
            "format": FORMAT,
            "intersim_version": self.version,
            "name": self.name,
            "mode": self.mode,
            "scenario": _jsonable(self.base_raw),
            "set": _jsonable(self.fixed),
            "vary": [{"key": a.key, "values": _jsonable(list(a.values))} for a in self.axes],
            "trace_files": dict(sorted(self.trace_files.items())),
            "points": len(self.points),
            "point_ids_sha256": ids,
            "columns": [list(c) for c in self.columns()],
        }

    def digest(self) -> str:
        return _sha256_json(self.definition())


def _version() -> str:
    from .._version import __version__
    return __version__


def _jsonable(x):
    return json.loads(json.dumps(x, default=str))


def _sha256_json(x) -> str:
    return hashlib.sha256(json.dumps(x, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _round(x: float) -> float:
    return float(f"{x:.{ROUND_DIGITS}g}")


def _plain(v):
    """numpy scalars/arrays (from Python callers) as plain Python values."""
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _expand(where: str, spec) -> list:
    """The list of values an axis spec stands for; ScenarioError (one line) if it is malformed."""
    spec = _plain(spec)
    bad = ScenarioError(f"{where} = {spec!r} is invalid; allowed: {AXIS_HELP}")
    if isinstance(spec, list):
        if not spec:
            raise bad
        return spec
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in GENERATORS:
        raise bad
    kind, args = next(iter(spec.items()))
    if kind == "values":
        if not isinstance(args, list) or not args:
            raise bad
        return args
    if not isinstance(args, list) or not all(_is_num(a) for a in args):
        raise bad
    if kind == "range":
        if len(args) not in (2, 3):
            raise bad
        start, stop, step = (args + [1])[:3]
        if step == 0:
            raise ScenarioError(f"{where} = {spec!r} is invalid; allowed: a range step other than 0")
        if all(isinstance(a, int) for a in (start, stop, step)):
            _check_count(where, spec, len(range(start, stop, step)))
            values = list(range(start, stop, step))
        else:
            n = max(math.ceil((stop - start) / step - 1e-9), 0)  # stop excluded, to rounding
            _check_count(where, spec, n)
            values = [_round(start + i * step) for i in range(n)]
        if not values:
            raise ScenarioError(f"{where} = {spec!r} is empty; allowed: start < stop for step > 0 "
                                "(start > stop for step < 0)")
        return values
    if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
        raise ScenarioError(f"{where} = {spec!r} is invalid; allowed: {kind} = [start, stop, n] "
                            "with n an integer >= 1")
    start, stop, n = float(args[0]), float(args[1]), args[2]
    _check_count(where, spec, n)
    if n == 1:
        return [_round(start)]
    if kind == "linspace":
        return [_round(start + (stop - start) * i / (n - 1)) for i in range(n)]
    if not (start > 0 and stop > 0):
        raise ScenarioError(f"{where} = {spec!r} is invalid; allowed: logspace start and stop > 0 "
                            "(the values themselves, not exponents)")
    ratio = math.log(stop / start)
    return [_round(start * math.exp(ratio * i / (n - 1))) for i in range(n)]


def _check_count(where, spec, n):
    if n > MAX_POINTS:
        raise ScenarioError(f"{where} = {spec!r} has {n:,} values; allowed: at most {MAX_POINTS:,} "
                            "(a sweep point per value)")


def _dtype(values) -> str:
    if all(isinstance(v, bool) for v in values):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "int64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "float64"
    if all(isinstance(v, str) for v in values):
        return "string"
    return "json"


def _column_value(v, dtype):
    if dtype == "json":
        return json.dumps(v, sort_keys=True, separators=(",", ":"), default=str)
    if dtype == "float64":
        return float(v)
    return v


# ---- keys ----------------------------------------------------------------------------------

def _schema():
    from ..scenario import _schema as scenario_schema
    return scenario_schema()


def _unknown(where, what, key, valid):
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ScenarioError(f"{where}: unknown {what} {key!r}{hint} valid: {', '.join(valid)}")


def _check_key(where: str, path: str, schema: dict):
    """Refuse a dotted key that is not a scenario key (``trace.params.<name>`` may go deeper)."""
    parts = path.split(".")
    tables = [t for t in schema if t]
    top = list(schema[""])
    if len(parts) == 1:
        if parts[0] in schema[""]:
            return
        if parts[0] in tables:
            keys = ", ".join(f"{parts[0]}.{k}" for k in schema[parts[0]])
            raise ScenarioError(f"{where}: {path!r} is a whole table; sweep or set its keys: {keys}")
        raise _unknown(where, "scenario key", path, top + [f"{t}.<key>" for t in tables])
    section, key = parts[0], parts[1]
    if section not in tables:
        raise _unknown(where, "scenario table", section, tables)
    if key not in schema[section]:
        raise _unknown(where, "scenario key", path, [f"{section}.{k}" for k in schema[section]])
    if len(parts) > 2 and (section, key) != ("trace", "params"):
        raise ScenarioError(f"{where}: {path!r} goes below the scenario key {section}.{key}; "
                            "allowed: only trace.params.<name> has sub-keys")


def _flatten(table: dict, where: str, prefix: str, leaf_dicts: bool, schema: dict) -> dict:
    """Dotted paths of a [vary]/[set] table: quoted ("storage.capacitance_f") and nested
    (storage.capacitance_f, [vary.storage]) forms both work."""
    out = {}
    for k, v in table.items():
        path = f"{prefix}.{k}" if prefix else str(k)
        is_spec = isinstance(v, dict) and any(g in v for g in GENERATORS)
        # In [vary] every leaf is a list or a generator table, so a table above a scenario key is
        # a namespace; in [set] a leaf may itself be a table (trace.params), so only scenario
        # tables descend.
        if leaf_dicts:
            descend = isinstance(v, dict) and path in schema and path != ""
        else:
            descend = isinstance(v, dict) and not is_spec and not _is_key(path, schema)
        if descend:
            sub = _flatten(v, where, path, leaf_dicts, schema)
        else:
            sub = {path: v}
        for p, x in sub.items():
            if p in out:
                raise ScenarioError(f"{where}: key {p!r} is given twice")
            out[p] = x
    return out


def _is_key(path: str, schema: dict) -> bool:
    """``path`` names one scenario value (not a table above one)."""
    parts = path.split(".")
    if len(parts) == 1:
        return parts[0] in schema[""]
    if parts[0] not in schema or parts[0] == "" or parts[1] not in schema[parts[0]]:
        return False
    return len(parts) > 2 or (parts[0], parts[1]) != ("trace", "params")


def _set_path(data: dict, path: str, value):
    parts = path.split(".")
    d = data
    for p in parts[:-1]:
        if not isinstance(d.get(p), dict):
            d[p] = {}
        d = d[p]
    d[parts[-1]] = copy.deepcopy(value)


def _describe(values: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


# ---- loading -------------------------------------------------------------------------------

def load_sweep(sweep, base_dir=None) -> Sweep:
    """Read and validate a sweep: a TOML path, a dict with the same schema, or a :class:`Sweep`.

    ``base_dir`` (dicts only): the directory relative paths are resolved against (default: the
    current directory). Raises :class:`~intersim.errors.ScenarioError` (one line) on any problem.
    """
    if isinstance(sweep, Sweep):
        return sweep
    if isinstance(sweep, dict):
        return _build(copy.deepcopy(sweep), "<sweep>", Path(base_dir) if base_dir else Path.cwd())
    if not isinstance(sweep, (str, Path)):
        raise TypeError(f"sweep must be a path, a dict or a Sweep, not {type(sweep).__name__}")
    from ..scenario import read_toml
    path = Path(sweep)
    return _build(read_toml(path, "sweep"), str(path), path.resolve().parent)


def _build(raw: dict, source: str, sweep_dir: Path) -> Sweep:
    from ..scenario import validate
    schema = _schema()
    for k in raw:
        if k not in TOP_KEYS:
            raise _unknown(source, "sweep key", k, list(TOP_KEYS))
    if "scenario" not in raw:
        raise ScenarioError(f"{source}: missing key scenario (a scenario file relative to the sweep "
                            "file, or an inline [scenario] table)")
    mode = raw.get("mode", "grid")
    if mode not in MODES:
        raise ScenarioError(f"{source}: mode = {mode!r} is invalid; allowed: one of 'grid', 'zip'")
    for k in ("name", "description"):
        if k in raw and not isinstance(raw[k], str):
            raise ScenarioError(f"{source}: {k} = {raw[k]!r} is invalid; allowed: a string")
    for k in ("set", "vary"):
        if k in raw and not isinstance(raw[k], dict):
            raise ScenarioError(f"{source}: {k} = {raw[k]!r} is invalid; allowed: a table of dotted "
                                "scenario keys")
    name = raw.get("name") or (Path(source).stem if source != "<sweep>" else "sweep")

    # the base scenario: a file (relative to the sweep file) or an inline table
    scen = raw["scenario"]
    if isinstance(scen, dict):
        base_raw, scen_source, scen_dir = _plain(scen), f"{source} [scenario]", sweep_dir
    elif isinstance(scen, (str, Path)):
        scen_path = Path(scen) if Path(scen).is_absolute() else sweep_dir / scen
        scen_source = str(scen)
        try:
            base_raw = tomllib.loads(scen_path.read_text())
        except FileNotFoundError:
            raise ScenarioError(f"{source}: scenario = {str(scen)!r}: no such file {scen_path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{source}: scenario = {str(scen)!r}: cannot read it ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{source}: scenario = {str(scen)!r} is not valid TOML: {exc}") from None
        scen_dir = scen_path.resolve().parent
    else:
        raise ScenarioError(f"{source}: scenario = {scen!r} is invalid; allowed: a scenario file "
                            "(relative to the sweep file) or an inline table")

    fixed = _flatten(raw.get("set", {}), f"{source}: set", "", True, schema)
    for path in fixed:
        _check_key(f"{source}: set", path, schema)
    fixed = {p: _rebase(p, _plain(v), sweep_dir, scen_dir) for p, v in fixed.items()}

    specs = _flatten(raw.get("vary", {}), f"{source}: vary", "", False, schema)
    axes = []
    for path, spec in specs.items():
        _check_key(f"{source}: vary", path, schema)
        if path in fixed:
            raise ScenarioError(f"{source}: {path!r} is both in [set] and in [vary]; allowed: one of them")
        values = _expand(f"{source}: vary.{path}", spec)
        axes.append(Axis(path, tuple(values), _dtype(values)))
    if mode == "zip" and axes:
        lengths = {a.key: len(a.values) for a in axes}
        if len(set(lengths.values())) > 1:
            raise ScenarioError(f"{source}: mode = 'zip' needs axes of equal length, got "
                                + ", ".join(f"{k} ({n} values)" for k, n in lengths.items())
                                + "; allowed: equal lengths, or mode = 'grid'")
    if mode == "grid":
        total = math.prod(len(a.values) for a in axes)
        if total > MAX_POINTS:
            raise ScenarioError(f"{source}: the grid of " + " x ".join(f"{a.key} ({len(a.values)})" for a in axes)
                                + f" has {total:,} points; allowed: at most {MAX_POINTS:,} points")
        combos = itertools.product(*(range(len(a.values)) for a in axes))
    else:
        combos = ((i,) * len(axes) for i in range(len(axes[0].values) if axes else 1))

    base = copy.deepcopy(base_raw)
    for path, v in fixed.items():
        _set_path(base, path, v)
    version = _version()
    points, seen, checked = [], {}, {}
    stem = Path(source).name
    for index, combo in enumerate(combos):
        data = copy.deepcopy(base)
        values = {}
        for axis, i in zip(axes, combo):
            v = axis.values[i]
            values[axis.key] = v
            _set_path(data, axis.key, _rebase(axis.key, v, sweep_dir, scen_dir))
        where = f"{source} (scenario {scen_source}, point {index}" + (f": {_describe(values)})" if values else ")")
        resolved = validate(data, where)
        _check_resources(resolved, where, scen_dir, checked)
        sha = _sha256_json(resolved)
        pid = hashlib.sha256(f"{sha}|intersim {version}".encode()).hexdigest()[:16]
        if pid in seen:
            raise ScenarioError(f"{source}: points {seen[pid]} and {index} resolve to the same scenario "
                                f"({_describe(values)}); allowed: distinct points (remove the duplicate value)")
        seen[pid] = index
        points.append(Point(index, pid, values, resolved, sha))
    traces = {k: v for k, v in checked.items() if k.startswith("trace:")}
    trace_files = {k[len("trace:"):]: v for k, v in traces.items()}
    return Sweep(source=source if source == "<sweep>" else stem, name=name,
                 description=raw.get("description", ""), mode=mode, axes=axes, fixed=fixed,
                 base_raw=base_raw, scenario_source=scen_source, scenario_dir=scen_dir,
                 points=points, trace_files=trace_files, version=version)


def _rebase(path: str, value, sweep_dir: Path, scen_dir: Path):
    """A trace file in the sweep is relative to the sweep file; in the point's scenario it is
    relative to the scenario file (as in the scenario file itself)."""
    if path not in ("trace.file", "model.file", "model.inputs") or not isinstance(value, str) \
            or Path(value).is_absolute():
        return value
    if sweep_dir == scen_dir:
        return value
    return os.path.relpath(sweep_dir / value, scen_dir)


def _check_resources(s: dict, where: str, scen_dir: Path, checked: dict):
    """Refuse up front what would make every run fail: a missing trace file, an unknown model."""
    tf = s["trace"]["file"]
    if tf is not None and f"trace:{tf}" not in checked:
        p = Path(tf) if Path(tf).is_absolute() else scen_dir / tf
        if not p.is_file():
            raise ScenarioError(f"{where}: trace.file = {tf!r}: no such file {p}")
        checked[f"trace:{tf}"] = hashlib.sha256(p.read_bytes()).hexdigest()
    for key in ("file", "inputs"):  # the user's model and samples (their content is checked by the run)
        mf = s["model"].get(key)
        if mf is not None and not (Path(mf) if Path(mf).is_absolute() else scen_dir / mf).is_file():
            raise ScenarioError(f"{where}: model.{key} = {mf!r}: no such file {scen_dir / mf}")
    model = s["model"]["name"]
    if model is not None and f"model:{model}" not in checked:
        from ..nn import zoo
        if model not in zoo.names():
            raise ScenarioError(f"{where}: model.name = {model!r} is invalid; allowed: one of "
                                + ", ".join(repr(n) for n in zoo.names()))
        checked[f"model:{model}"] = True


# --------------------------------------------------------------------------------------------
# the worker side: one (point, scheduler) unit

_warm_lock = threading.Lock()
_warm = False
_trace_cache: dict = {}
_trace_lock = threading.Lock()
TRACE_CACHE_SIZE = 8


def _ensure_warm(schedulers=None):
    """Compile (or load from the numba cache) the kernels once per process, not per point
    (``schedulers``: the names whose kernels are needed; None: all)."""
    global _warm
    with _warm_lock:
        if not _warm:
            from .warmup import warmup
            warmup(schedulers)
            _warm = True


def _init_worker(parent_pid: int, schedulers=None):
    """Pool initializer: warm numba, leave Ctrl-C to the parent, and exit if the parent dies
    (a SIGKILLed sweep must not leave its workers running)."""
    import signal
    import warnings
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # numba's typeof warns (once per worker) about a broadcast array passed by the engine; it would
    # only garble the progress bar here (it shows in the engine's own tests).
    warnings.filterwarnings("ignore", message="future versions will not create a writeable array",
                            category=FutureWarning)

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)
    threading.Thread(target=watch, daemon=True, name="intersim-parent-watch").start()
    _ensure_warm(schedulers)


def _cached_scenario_class():
    from ..scenario import Scenario

    class CachedScenario(Scenario):
        """Loads each trace once per worker process: a point's schedulers and neighbouring points
        share it (Trace is immutable, so sharing cannot change a result)."""

        def trace(self):
            tr = self.data["trace"]
            key = json.dumps(tr, sort_keys=True, default=str)
            if tr["file"] is not None:
                p = Path(tr["file"]) if Path(tr["file"]).is_absolute() else self.base_dir / tr["file"]
                st = p.stat()
                key += f"|{p.resolve()}|{st.st_mtime_ns}|{st.st_size}"
            else:
                key += f"|seed={self.data['seed']}"
            with _trace_lock:
                hit = _trace_cache.get(key)
            if hit is not None:
                return hit
            trace = super().trace()
            with _trace_lock:
                if len(_trace_cache) >= TRACE_CACHE_SIZE:
                    _trace_cache.pop(next(iter(_trace_cache)))
                _trace_cache[key] = trace
            return trace
    return CachedScenario


def run_unit(unit: dict) -> dict:
    """Simulate one point under one scheduler; return its summary row, or an ``error`` row.

    ``unit``: ``scenario`` (resolved data, ``schedulers.names`` = [the scheduler]), ``base_dir``
    (where relative trace files are), ``source`` (for messages) and ``scheduler``.
    """
    _ensure_warm()
    from ..report.results import SUMMARY_COLUMNS
    from ..simulate import simulate_summaries
    t0 = time.perf_counter()
    error = tb = None
    try:
        sc = _cached_scenario_class()(unit["scenario"], unit["source"], Path(unit["base_dir"]))
        rec = simulate_summaries(sc)[0]
        row = {c: rec[c] for c in SUMMARY_COLUMNS if c in rec}
    except Exception as exc:  # noqa: BLE001 -- a failing point is recorded, the sweep goes on
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
        row = {"scheduler": unit["scheduler"], "verdict": "error"}
    row["error"] = error
    row["wall_s"] = time.perf_counter() - t0
    row["wall_host"] = socket.gethostname()
    row["wall_pid"] = os.getpid()
    row["wall_traceback"] = tb
    return row


def run_units(units: list) -> list:
    """:func:`run_unit` for each of a batch of units, in order (one round trip to a worker)."""
    return [run_unit(unit) for unit in units]


#: most runs sent to a worker in one batch (fewer round trips; small enough to keep the load even)
MAX_BATCH = 8


def _batch_size(n_runs: int, workers: int) -> int:
    """Runs per batch: about 20 batches per worker at least, at most :data:`MAX_BATCH`."""
    return max(1, min(MAX_BATCH, n_runs // (20 * max(workers, 1))))


def _batches(units, size: int):
    """``[(point, unit), ...]`` lists of ``size`` (the first of one: its row reaches disk early)."""
    batch, first = [], True
    for item in units:
        batch.append(item)
        if first or len(batch) >= size:
            yield batch
            batch, first = [], False
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------
# engines: where units run

class _InlineEngine:
    """``workers=0``: in this process (debugging, profiling)."""

    window = 1
    label = "in this process"

    def submit(self, units):
        f = cf.Future()
        f.set_result(run_units(units))
        return f

    def close(self, cancel=False):
        pass


class _PoolEngine:
    """Local worker processes (spawned: same behaviour on every OS, and a cold numba cache can
    be measured by setting NUMBA_CACHE_DIR before the pool starts)."""

    def __init__(self, workers: int, schedulers=None):
        import multiprocessing
        self.ex = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_worker, initargs=(os.getpid(), schedulers))
        self.window = 2 * workers + 2
        self.label = f"{workers} local worker process{'es' if workers > 1 else ''}"

    def submit(self, units):
        return self.ex.submit(run_units, units)

    def close(self, cancel=False):
        if cancel:
            for p in list((getattr(self.ex, "_processes", None) or {}).values()):
                p.terminate()
        self.ex.shutdown(wait=not cancel, cancel_futures=cancel)


class _DaskEngine:
    """A dask.distributed cluster (optional extra: ``pip install intersim[sweep]``)."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise ScenarioError(f"--dask {address}: dask.distributed is not installed; allowed: "
                                "pip install 'intersim[sweep]'") from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError(f"--dask {address!r}: cannot connect to the scheduler ({exc}); "
                                "allowed: the address of a running dask scheduler, e.g. "
                                "tcp://host:8786") from None
        try:  # warm every worker now, in parallel; late joiners warm on their first unit
            self.client.run(_ensure_warm)
        except Exception:  # noqa: BLE001 -- best effort only
            pass
        threads = sum(self.client.nthreads().values()) or 1
        self.window = 2 * threads + 2
        self.ex = self.client.get_executor(pure=False)
        self.label = f"dask cluster {address} ({threads} threads)"

    def submit(self, units):
        return self.ex.submit(run_units, units)

    def close(self, cancel=False):
        try:
            self.ex.shutdown(wait=not cancel)
        finally:
            self.client.close()


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
        from ..sched.registry import SCHEDULERS
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


# --------------------------------------------------------------------------------------------
# running

def run_sweep(sweep, out=None, workers: int = 1, dask_address: str | None = None, *,
              progress: bool = False, base_dir=None):
    """Run a sweep and return its table (pandas DataFrame, one row per (point, scheduler)).

    Parameters
    ----------
    sweep : str, Path, dict or Sweep
        A sweep TOML file, a dict with its schema (relative paths against ``base_dir``, default
        the current directory), or a loaded :class:`Sweep`.
    out : str or Path, optional
        Directory for the Parquet dataset (``out/parts``) and ``out/sweep.json``. Resumes what
        is there (refuses, ScenarioError, if it holds a different sweep). ``None``: in memory.
    workers : int
        Local worker processes; ``0`` runs in this process. Ignored with ``dask_address``.
    dask_address : str, optional
        Address of a dask.distributed scheduler to run on instead.
    progress : bool
        Show a tqdm progress bar on stderr.

    ``df.attrs["sweep"]`` holds ``run_s`` [s] (engine start to the last row on disk), ``units_run``
    and ``parts_written``.
    """
    sw = load_sweep(sweep, base_dir)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ScenarioError(f"workers = {workers!r} is invalid; allowed: an integer >= 0")
    out_path = Path(out) if out is not None else None
    fd, done = _prepare_dir(sw, out_path) if out_path is not None else (None, set())
    try:
        stats = _execute(sw, out_path, done, workers, dask_address, progress)
        if out_path is not None:
            df = load_results(out_path)
        else:
            df = _frame(_table(stats.pop("rows"), sw.columns()))
    finally:
        _unlock(fd)
    stats.pop("rows", None)
    df.attrs["sweep"] = stats
    return df


def _expected_cost(point, name) -> tuple:
    """A sort key: runs expected to take longest first. A run's work grows with the power cycles
    it lives through, roughly the harvest over the energy window ``C (V_on^2 - V_off^2) / 2``;
    ``continuous`` never cycles. Only the order of the runs depends on it, never a result."""
    st = point.scenario.get("storage", {})
    try:
        window = float(st["capacitance_f"]) * (float(st["v_on_v"]) ** 2 - float(st["v_off_v"]) ** 2)
    except (KeyError, TypeError, ValueError):
        window = math.inf
    return (name == "continuous", window if window > 0 else math.inf)


def _units(sw: Sweep, done: set):
    """The runs left, longest expected first (so no long run starts last and leaves one worker
    alone at the end), except one expected-short run first, whose row reaches disk early."""
    todo = [(p, name) for p in sw.points for name in p.schedulers if (p.id, name) not in done]
    todo.sort(key=lambda pn: _expected_cost(*pn))
    if len(todo) > 1:
        todo.insert(0, todo.pop())
    for p, name in todo:
        data = copy.deepcopy(p.scenario)
        data["schedulers"]["names"] = [name]
        yield p, {"scenario": data, "base_dir": str(sw.scenario_dir), "scheduler": name,
                  "source": f"{sw.source} point {p.index}"}


def _execute(sw: Sweep, out: Path | None, done: set, workers: int, dask_address, progress) -> dict:
    sink = _Sink(sw, out)
    columns = sink.columns
    left = {p.id: sum((p.id, n) not in done for n in p.schedulers) for p in sw.points}
    n_done_points = sum(1 for v in left.values() if v == 0)
    total_runs = sum(len(p.schedulers) for p in sw.points)
    n_before = total_runs - sum(left.values())
    batches = _batches(_units(sw, done), _batch_size(sum(left.values()), max(workers, 1)))
    errors = n_run = 0
    t0 = time.perf_counter()
    engine = bar = None
    ok = False
    try:
        if any(left.values()):
            engine = (_DaskEngine(dask_address) if dask_address else
                      _PoolEngine(workers, sorted({n for p in sw.points for n in p.schedulers}))
                      if workers > 0 else _InlineEngine())
        if progress and engine is not None:
            from tqdm import tqdm
            bar = tqdm(total=len(sw.points), initial=n_done_points, unit="pt", desc=sw.name,
                       file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
            bar.set_postfix_str(f"runs {n_before}/{total_runs}")
        tick = bar is not None and sys.stderr.isatty()  # keep the clock moving between points
        pending: dict = {}

        def refill():
            while engine is not None and len(pending) < engine.window:
                batch = next(batches, None)
                if batch is None:
                    return
                pending[engine.submit([unit for _, unit in batch])] = [point for point, _ in batch]

        refill()
        while pending:
            finished, _ = cf.wait(list(pending), timeout=sink.due_in(), return_when=cf.FIRST_COMPLETED)
            for f in finished:
                points = pending.pop(f)
                try:
                    results = f.result()
                except Exception as exc:  # noqa: BLE001 -- outside any point: stop, keep what is done
                    where = ", ".join(str(p.index) for p in dict.fromkeys(points))
                    raise SweepAborted(f"point {where} could not run ({type(exc).__name__}: {exc}); "
                                       "finished points are saved, run the same command again to resume") from exc
                for point, result in zip(points, results):
                    row = _row(sw, point, result, columns)
                    sink.add(row)
                    n_run += 1
                    errors += row["error"] is not None
                    left[point.id] -= 1
                    if bar is not None:
                        bar.update(int(left[point.id] == 0))
                if bar is not None:
                    bar.set_postfix_str(f"runs {n_before + n_run}/{total_runs}"
                                        + (f", errors {errors}" if errors else ""), refresh=False)
            if tick and not finished:
                bar.refresh()
            sink.maybe_flush()
            refill()
        sink.flush()
        ok = True
    finally:
        try:
            sink.flush()  # rows already computed are kept, even on Ctrl-C
        finally:
            if engine is not None:
                engine.close(cancel=not ok)
            if bar is not None:
                bar.close()
    return {"run_s": time.perf_counter() - t0, "units_run": n_run, "errors": errors,
            "parts_written": sink.parts, "engine": engine.label if engine else "none",
            "rows": sink.rows}


# --------------------------------------------------------------------------------------------
# command line (wired into intersim.cli as ``intersim sweep`` and ``intersim plot``)

def _default_workers() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:
        return os.cpu_count() or 1


def add_sweep_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("sweep", help="sweep TOML file (see docs/sweeps.md)")
    parser.add_argument("--out", metavar="DIR",
                        help="output directory; run again on it to resume (default: out/<sweep name>)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"local worker processes (default: {_default_workers()}, the usable CPUs; "
                             "0: in this process)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run on the dask.distributed scheduler at ADDRESS (e.g. tcp://host:8786)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _error(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def run_sweep_command(args) -> int:
    try:
        if args.workers is not None and args.dask:
            return _error(f"--workers {args.workers} and --dask {args.dask}: give one of them")
        workers = _default_workers() if args.workers is None else args.workers
        if workers < 0:
            return _error(f"--workers {workers} is invalid; allowed: an integer >= 0")
        sw = load_sweep(args.sweep)
        out = Path(args.out) if args.out else Path("out") / sw.name
        n_units = sum(len(p.schedulers) for p in sw.points)
        keys = ", ".join(f"{a.key} ({len(a.values)})" for a in sw.axes) or "nothing"
        print(f"sweep {sw.name}: {len(sw.points)} points ({n_units} runs) of {sw.scenario_source}, "
              f"{sw.mode} over {keys} -> {out}", flush=True)
        df = run_sweep(sw, out, workers=workers, dask_address=args.dask, progress=not args.no_progress)
    except IntersimError as exc:
        return _error(str(exc))
    except SweepAborted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    st = df.attrs.get("sweep", {})
    ran = st.get("units_run", 0)
    if ran == 0:
        print(f"nothing to run: all {n_units} runs are already in {out / PARTS_DIR}")
    else:
        print(f"ran {ran} runs on {st.get('engine')} in {st.get('run_s', 0.0):.1f} s"
              + (f" (resumed: {n_units - ran} were already done)" if n_units > ran else "")
              + f"; {len(df)} rows in {out / PARTS_DIR}")
    errors = df[df["verdict"] == "error"]
    if len(errors):
        print(f"{len(errors)} runs failed (column 'error'); first: point {errors['point'].iloc[0]} "
              f"{errors['scheduler'].iloc[0]}: {errors['error'].iloc[0]}")
    best = best_per_scheduler(df, [a.key for a in sw.axes])
    if len(best):
        print("lowest p95 latency per scheduler (ties: first point):")
        print(best.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def best_per_scheduler(df, keys, metric: str = "latency_p95_s"):
    """Per scheduler, the first point (sweep order) with the lowest finite ``metric``."""
    import numpy as np
    import pandas as pd
    ok = df[np.isfinite(df[metric].astype(float)) & (df["verdict"] == "ok")]
    if not len(ok):
        return pd.DataFrame()
    rows = []
    for name in dict.fromkeys(df["scheduler"]):
        sub = ok[ok["scheduler"] == name]
        if len(sub):
            rows.append(sub.loc[sub[metric].astype(float).idxmin()])
    cols = ["scheduler"] + list(keys) + [metric, "latency_p50_s", "completion_rate", "power_failures"]
    return pd.DataFrame(rows)[cols].reset_index(drop=True)


def add_plot_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("dir", metavar="DIR", help="output directory of intersim sweep")
    parser.add_argument("--out", metavar="PLOTDIR", help="where to write the PNG files (default: DIR/plots)")


def run_plot_command(args) -> int:
    try:
        from .sweep_plots import plot_sweep
        out_dir = Path(args.dir)
        df = load_results(out_dir)
        if not len(df):
            return _error(f"{out_dir}: no finished rows yet; allowed: a sweep directory with results")
        defn = json.loads((out_dir / DEFINITION_FILE).read_text())
        written = plot_sweep(df, Path(args.out) if args.out else out_dir / "plots",
                             keys=[a["key"] for a in defn.get("vary", [])], title=defn.get("name", ""))
    except IntersimError as exc:
        return _error(str(exc))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def main(argv=None) -> int:
    """``python -m intersim.study.sweep sweep|plot ...`` (the same as ``intersim sweep|plot``)."""
    parser = argparse.ArgumentParser(prog="python -m intersim.study.sweep")
    sub = parser.add_subparsers(dest="command", required=True)
    add_sweep_arguments(sub.add_parser("sweep", help="run a sweep"))
    add_plot_arguments(sub.add_parser("plot", help="plot a sweep directory"))
    args = parser.parse_args(argv)
    try:
        return run_sweep_command(args) if args.command == "sweep" else run_plot_command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


__all__ = ["Axis", "Point", "Sweep", "SweepAborted", "load_sweep", "run_sweep", "load_results",
           "diff_definitions", "best_per_scheduler", "run_unit", "run_units", "add_sweep_arguments",
           "run_sweep_command", "add_plot_arguments", "run_plot_command"]

if __name__ == "__main__":
    # Run the imported module's main, so worker processes unpickle intersim.study.sweep.run_unit
    # (not a second copy of this file executed as __main__).
    from intersim.study.sweep import main as _main
    raise SystemExit(_main())
