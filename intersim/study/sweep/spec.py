"""A sweep's definition: the file format, axes and points, the keys a sweep may set or vary, and
loading with every point validated up front (docs/sweeps.md)."""
from __future__ import annotations
import copy
import difflib
import hashlib
import itertools
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from ...errors import ScenarioError


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
STRING_COLUMNS = ("scheduler", "verdict", "verdict_detail", "exits")
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
        from ...report.results import SUMMARY_COLUMNS
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
    from ..._version import __version__
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
    from ...scenario import _schema as scenario_schema
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
    from ...scenario import read_toml
    path = Path(sweep)
    return _build(read_toml(path, "sweep"), str(path), path.resolve().parent)


def _build(raw: dict, source: str, sweep_dir: Path) -> Sweep:
    schema = _schema()
    mode, name = _check_top(raw, source)
    base_raw, scen_source, scen_dir = _base_scenario(raw["scenario"], source, sweep_dir)
    fixed = _flatten(raw.get("set", {}), f"{source}: set", "", True, schema)
    for path in fixed:
        _check_key(f"{source}: set", path, schema)
    fixed = {p: _rebase(p, _plain(v), sweep_dir, scen_dir) for p, v in fixed.items()}
    axes, combos = _axes(raw, source, schema, fixed, mode)
    base = copy.deepcopy(base_raw)
    for path, v in fixed.items():
        _set_path(base, path, v)
    version = _version()
    points, checked = _points(base, axes, combos, source, scen_source, sweep_dir, scen_dir, version)
    traces = {k: v for k, v in checked.items() if k.startswith("trace:")}
    trace_files = {k[len("trace:"):]: v for k, v in traces.items()}
    return Sweep(source=source if source == "<sweep>" else Path(source).name, name=name,
                 description=raw.get("description", ""), mode=mode, axes=axes, fixed=fixed,
                 base_raw=base_raw, scenario_source=scen_source, scenario_dir=scen_dir,
                 points=points, trace_files=trace_files, version=version)


def _check_top(raw: dict, source: str):
    """The sweep file's top-level keys checked; returns ``(mode, name)``."""
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
    return mode, raw.get("name") or (Path(source).stem if source != "<sweep>" else "sweep")


def _base_scenario(scen, source: str, sweep_dir: Path):
    """The base scenario: a file (relative to the sweep file) or an inline table. Returns
    ``(raw table, how it is named, the directory its relative paths start from)``."""
    if isinstance(scen, dict):
        return _plain(scen), f"{source} [scenario]", sweep_dir
    if not isinstance(scen, (str, Path)):
        raise ScenarioError(f"{source}: scenario = {scen!r} is invalid; allowed: a scenario file "
                            "(relative to the sweep file) or an inline table")
    scen_path = Path(scen) if Path(scen).is_absolute() else sweep_dir / scen
    try:
        base_raw = tomllib.loads(scen_path.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"{source}: scenario = {str(scen)!r}: no such file {scen_path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{source}: scenario = {str(scen)!r}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: scenario = {str(scen)!r} is not valid TOML: {exc}") from None
    return base_raw, str(scen), scen_path.resolve().parent


def _axes(raw: dict, source: str, schema, fixed: dict, mode: str):
    """The varied axes and an iterator of index combinations (grid or zip), checked."""
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
        return axes, itertools.product(*(range(len(a.values)) for a in axes))
    return axes, ((i,) * len(axes) for i in range(len(axes[0].values) if axes else 1))


def _points(base, axes, combos, source, scen_source, sweep_dir, scen_dir, version):
    """Every point's resolved (validated) scenario and id. Returns ``(points, checked resources)``."""
    from ...scenario import validate
    points, seen, checked = [], {}, {}
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
    return points, checked


def _rebase(path: str, value, sweep_dir: Path, scen_dir: Path):
    """A trace file in the sweep is relative to the sweep file; in the point's scenario it is
    relative to the scenario file (as in the scenario file itself)."""
    if path not in ("trace.file", "model.file", "model.inputs", "model.design") or not isinstance(value, str) \
            or Path(value).is_absolute() or (path == "model.design" and value == "explored"):
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
    for key in ("file", "inputs", "design"):  # the user's model, samples and design file (their
        mf = s["model"].get(key)                  # content is checked by the run)
        if key == "design" and mf == "explored":
            continue
        if mf is not None and not (Path(mf) if Path(mf).is_absolute() else scen_dir / mf).is_file():
            raise ScenarioError(f"{where}: model.{key} = {mf!r}: no such file {scen_dir / mf}")
    model = s["model"]["name"]
    if model is not None and f"model:{model}" not in checked:
        from ...nn import zoo
        if str(model).startswith("inas:"):  # a published iNAS solution: checked by its scenario
            from ...scenario import Scenario
            Scenario(s, where, scen_dir)._inas_network(model)
        elif model not in zoo.names():
            raise ScenarioError(f"{where}: model.name = {model!r} is invalid; allowed: one of "
                                + ", ".join(repr(n) for n in zoo.names()))
        checked[f"model:{model}"] = True
