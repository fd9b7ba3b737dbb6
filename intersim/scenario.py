"""Scenario files (TOML): schema, validation up front, and resolution into simulation inputs.

Every key carries its unit in its name. A wrong value, a missing key or a misspelled key is
refused with one line naming the file, the key, the value and what is allowed.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import IntersimError, ScenarioError


# --------------------------------------------------------------------------------------------
# the schema: section -> key -> (checker, required, default, help)

def _num(lo=None, hi=None, lo_open=False, unit=""):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
        if lo is not None and (v <= lo if lo_open else v < lo):
            return False
        return hi is None or v <= hi
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    text = "a number" + (" " + " and ".join(parts) if parts else "") + (f" [{unit}]" if unit else "")
    return check, text


def _int(lo=None):
    def check(v):
        return isinstance(v, int) and not isinstance(v, bool) and (lo is None or v >= lo)
    return check, f"an integer >= {lo}" if lo is not None else "an integer"


def _str(choices=None):
    def check(v):
        return isinstance(v, str) and (choices is None or v in choices)
    return check, ("one of " + ", ".join(repr(c) for c in choices)) if choices else "a string"


def _bool():
    return (lambda v: isinstance(v, bool)), "true or false"


def _list_of_num(unit):
    def check(v):
        return (isinstance(v, list) and len(v) > 0
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
                and all(b >= a for a, b in zip(v, v[1:])))
    return check, f"a non-empty, non-decreasing list of numbers [{unit}]"


def _scheduler_names(builtin):
    def check(v):
        return (isinstance(v, list) and len(v) > 0 and len(set(v)) == len(v)
                and all(isinstance(x, str) and (x in builtin or ":" in x) for x in v))
    return check, ("a non-empty list of distinct names from " + ", ".join(repr(c) for c in builtin)
                   + ", or user classes as 'package.module:Class'")


def _fault_list():
    def check(v):
        return isinstance(v, list) and all(isinstance(x, str) and parse_fault(x, strict=False) is not False
                                           for x in v)
    return check, "a list of 'none', 'cycles:N' or 'words:N' (N >= 0), one per boot"


def parse_fault(text, strict=True):
    """'none' -> None, 'cycles:N' -> ("cycles", N), 'words:N' -> ("words", N); else False."""
    if text == "none":
        return None
    kind, _, n = text.partition(":")
    if kind in ("cycles", "words") and n.isdigit():
        return (kind, int(n))
    return False


REQUIRED = object()
#: Most samples a square-wave trace may be generated with (16 B each: 0.8 GB).
MAX_GENERATED_SAMPLES = 50_000_000


def _schema():
    """The scenario schema: ``{section: {key: (check, required, default, meaning)}}`` (the
    top level is section ``""``)."""
    rest = _run_schema()
    return {"": rest.pop(""), **_energy_schema(), **rest}  # the file's order: top level first


def _energy_schema():
    """Sections of the energy side: the trace, the harvester, the source, the storage, the load."""
    from .energy.harvester import PV_MODELS
    from .energy.parts import CAPACITORS, CONVERTERS
    return {
        "trace": {
            "file": (_str(), False, None, "trace file, relative to the scenario file"),
            "format": (_str(("csv", "parquet", "npz", "tmy", "midc", "lux", "rf-voltage")), False, None, "file format"),
            "period_s": (_num(0, lo_open=True, unit="s"), False, None, "sample period (lux logs)"),
            "load_ohm": (_num(0, lo_open=True, unit="Ohm"), False, None, "load resistance (RF voltage logs)"),
            "loop": (_bool(), False, False, "repeat the trace"),
            "max_power_w": (_num(0, lo_open=True, unit="W"), False, 10.0, "plausibility bound"),
            "generator": (_str(("constant", "square", "solar", "indoor", "rf", "random")), False, None,
                          "generated trace"),
            "power_w": (_num(0, unit="W"), False, None, "constant/high power"),
            "low_power_w": (_num(0, unit="W"), False, 0.0, "square-wave low power"),
            "square_period_s": (_num(0, lo_open=True, unit="s"), False, None, "square-wave period"),
            "duty": (_num(0, 1, lo_open=True), False, 0.5, "square-wave duty cycle"),
            "duration_s": (_num(0, lo_open=True, unit="s"), False, None, "generated trace length"),
            "params": ((lambda v: isinstance(v, dict)), False, None, "generator parameters"),
        },
        "harvester": {
            "pv_cell": (_str(PV_MODELS), False, None,
                        "PV model for irradiance/lux traces: 'area' (area x efficiency) or a cell preset's I-V model"),
            "pv_area_m2": (_num(0, lo_open=True, unit="m^2"), False, None, "PV cell area (pv_cell = 'area')"),
            "pv_efficiency": (_num(0, 1, lo_open=True), False, None, "PV efficiency at the MPP (pv_cell = 'area')"),
            "lux_efficacy_lm_per_w": (_num(0, lo_open=True, unit="lm/W"), False, None,
                                      "luminous efficacy between lux and W/m^2"),
            "dark_threshold_w_m2": (_num(0, unit="W/m^2"), False, None,
                                    "irradiance below it is dark (0 W): a pyranometer's night offset"),
        },
        "source": {
            "kind": (_str(("mppt", "current", "thevenin")), False, "mppt",
                     "harvest through an MPPT converter; plus a constant current or a Thevenin source"),
            "converter": (_str(tuple(sorted(CONVERTERS))), False, None, "converter preset (docs/energy.md)"),
            "input_efficiency": (_num(0, 1, lo_open=True), False, None, "converter input efficiency"),
            "quiescent_current_a": (_num(0, unit="A"), False, None, "converter quiescent current"),
            "current_a": (_num(0, unit="A"), False, None, "constant source current (kind = current)"),
            "voltage_v": (_num(0, unit="V"), False, None, "Thevenin source voltage (kind = thevenin)"),
            "resistance_ohm": (_num(0, lo_open=True, unit="Ohm"), False, None,
                               "Thevenin source resistance (kind = thevenin)"),
        },
        "storage": {
            "part": (_str(tuple(sorted(CAPACITORS))), False, None,
                     "capacitor preset: capacitance, ESR and leakage defaults (docs/energy.md)"),
            "capacitance_f": (_num(0, lo_open=True, unit="F"), False, None, "capacitance (required without part)"),
            "v_on_v": (_num(0, lo_open=True, unit="V"), True, REQUIRED, "turn-on voltage"),
            "v_off_v": (_num(0, lo_open=True, unit="V"), True, REQUIRED, "brown-out voltage"),
            "v_max_v": (_num(0, lo_open=True, unit="V"), True, REQUIRED, "clamp voltage"),
            "v_initial_v": (_num(0, unit="V"), False, 0.0, "initial voltage"),
            "leakage_ohm": (_num(0, lo_open=True, unit="Ohm"), False, None, "parallel leakage resistance"),
            "leakage_current_a": (_num(0, unit="A"), False, None, "constant leakage current"),
            "esr_ohm": (_num(0, unit="Ohm"), False, None,
                        "equivalent series resistance: comparators see the terminal voltage"),
        },
        "load": {
            "kind": (_str(("regulator", "current")), False, "regulator",
                     "'regulator': constant power through a switching regulator; 'current': the MCU "
                     "draws a constant current through an LDO (efficiency V_out/V_cap)"),
            "output_efficiency": (_num(0, 1, lo_open=True), False, None, "output regulator efficiency"),
        },
    }


def _run_schema():
    """Sections of the rest: the top level, the platform, the model, the workload, the schedulers,
    the injected faults."""
    from .hw.platform import PRESETS
    from .sched.registry import EARLY_EXIT, SCHEDULERS
    return {
        "": {
            "name": (_str(), False, None, "scenario name"),
            "seed": (_int(0), False, 0, "seed of every random process"),
            "description": (_str(), False, "", "free text"),
        },
        "platform": {
            "preset": (_str(tuple(sorted(PRESETS))), True, REQUIRED, "MCU platform preset"),
        },
        "model": {
            "name": (_str(), False, None, "model zoo name (or give file)"),
            "file": (_str(), False, None, "ONNX model file (QOperator, QDQ or QLinear), relative to the scenario file"),
            "inputs": (_str(), False, None, "request samples: .npz with x [N, ...] and optional y [N] labels"),
            "granularity": (_str(), False, "layer", "task granularity"),
            "design": (_str(), False, None, "execution design: 'explored' or a design file (JSON)"),
            "design_price": (_str(("intersim", "inas-compat")), False, "intersim",
                             "price list of the explored design and of iNAS-PMod's prediction"),
            "design_supply": (_str(("source", "mean-harvest")), False, "source",
                              "iNAS-PMod's supply: the Thevenin [source], or one equivalent to the mean harvest"),
            "task_prices": ((_task_prices_ok, "'cost-model', 'stateful-cnn' or 'stateful-cnn-hawaii:B' "
                             "(B >= 1 jobs per footprint)"), False, "cost-model",
                            "how tasks are priced: the cost model, or as their share of the Stateful-CNN "
                            "engine's loop nest (zoo models mnist_lenet, cifar10_squeezenet, kws_dnn_s)"),
        },
        "reference": {
            "latency_s": (_num(0, lo_open=True, unit="s"), False, None,
                          "a published mean latency to print beside the simulated one"),
            "scheduler": (_str(), False, None, "the scheduler row it belongs to (one of schedulers.names)"),
            "source": (_str(), False, "", "where the figure comes from"),
        },
        "workload": {
            "period_s": (_num(0, lo_open=True, unit="s"), False, None, "request period"),
            "arrivals_s": (_list_of_num("s"), False, None, "explicit arrival times"),
            "start_s": (_num(unit="s"), False, 0.0, "first arrival"),
            "duration_s": (_num(0, lo_open=True, unit="s"), True, REQUIRED, "arrival window"),
            "drain_s": (_num(0, unit="s"), False, 60.0, "time after the last arrival"),
            "queue_capacity": (_int(1), False, 4, "requests held at once"),
            "deadline_s": (_num(0, lo_open=True, unit="s"), False, None,
                           "relative deadline of each request from its arrival (freeml-adaptive)"),
        },
        "schedulers": {
            "names": (_scheduler_names(tuple(SCHEDULERS) + tuple(EARLY_EXIT)), False, list(SCHEDULERS),
                      "schedulers to compare"),
            "optimal_budget_calls": (_int(0), False, None,
                                     "optimal's planning budget: kernel calls per planning after its "
                                     "members (default 200000; past it the rollout's plan, not proven "
                                     "minimal: docs/optimal.md)"),
        },
        "faults": {
            "brownout_at": (_fault_list(), False, [], "forced brown-outs, one entry per boot"),
        },
    }


def _task_prices_ok(v) -> bool:
    """``model.task_prices``: 'cost-model', 'stateful-cnn' or 'stateful-cnn-hawaii:B' (B >= 1)."""
    if v in ("cost-model", "stateful-cnn"):
        return True
    head, _, b = str(v).partition(":") if isinstance(v, str) else ("", "", "")
    return head == "stateful-cnn-hawaii" and b.isdigit() and int(b) >= 1


def _where(section, key):
    return f"{section}.{key}" if section else key


def validate(raw: dict, source: str = "<scenario>") -> dict:
    """Check ``raw`` (parsed TOML) against the schema; return it completed with defaults."""
    schema = _schema()
    out = {}
    tables = [name for name in schema if name]
    for key, value in raw.items():
        if key in schema[""]:
            continue
        if key not in schema:
            _unknown(source, "", key, list(schema[""]) + tables, table=isinstance(value, dict))
        if not isinstance(value, dict):
            raise ScenarioError(f"{source}: [{key}] must be a table, got {value!r}")
    for section, keys in schema.items():
        given = raw if section == "" else raw.get(section, {})
        if section == "":
            given = {k: v for k, v in raw.items() if k in keys}
        else:
            for k in given:
                if k not in keys:
                    _unknown(source, section, k, list(keys))
        resolved = {}
        for key, (checker, required, default, help_) in keys.items():
            check, allowed = checker if isinstance(checker, tuple) else (checker, help_)
            if key in given and given[key] is not None:  # None: omitted (from a resolved dict)
                v = given[key]
                if not check(v):
                    raise ScenarioError(f"{source}: {_where(section, key)} = {v!r} is invalid; allowed: {allowed}")
                resolved[key] = v
            elif required:
                raise ScenarioError(f"{source}: missing key {_where(section, key)} ({help_}; {allowed})")
            else:
                resolved[key] = default
        if section == "":
            out.update(resolved)
        else:
            out[section] = resolved
    _cross_checks(out, source)
    return out


def _unknown(source, section, key, valid, table=False):
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    what = "table" if table else "key"
    raise ScenarioError(f"{source}: unknown {what} {_where(section, key)!r}{hint} valid: {', '.join(valid)}")


def _cross_checks(s, source):
    st = s["storage"]
    if st["capacitance_f"] is None and st["part"] is None:
        raise ScenarioError(f"{source}: missing key storage.capacitance_f (capacitance; a number > 0 [F]), "
                            f"or give storage.part")
    if s["load"]["kind"] == "current" and s["load"]["output_efficiency"] is not None:
        raise ScenarioError(f"{source}: load.output_efficiency = {s['load']['output_efficiency']!r} does not "
                            f"apply with load.kind = 'current' (its efficiency is V_out/V_cap); remove it")
    src = s["source"]
    need = {"current": ("current_a",), "thevenin": ("voltage_v", "resistance_ohm")}.get(src["kind"], ())
    for k in need:
        if src[k] is None:
            raise ScenarioError(f"{source}: source.{k} is required with source.kind = {src['kind']!r}")
    if not st["v_on_v"] > st["v_off_v"]:
        raise ScenarioError(f"{source}: storage.v_on_v = {st['v_on_v']!r} must be above storage.v_off_v = "
                            f"{st['v_off_v']!r} (hysteresis)")
    if not st["v_max_v"] >= st["v_on_v"]:
        raise ScenarioError(f"{source}: storage.v_max_v = {st['v_max_v']!r} must be >= storage.v_on_v = "
                            f"{st['v_on_v']!r}")
    if st["v_initial_v"] > st["v_max_v"]:
        raise ScenarioError(f"{source}: storage.v_initial_v = {st['v_initial_v']!r} must be <= storage.v_max_v = "
                            f"{st['v_max_v']!r}")
    tr = s["trace"]
    if tr["file"] is not None and not tr["file"].strip():
        raise ScenarioError(f"{source}: trace.file = {tr['file']!r} is empty; allowed: a trace file path, "
                            f"relative to the scenario file")
    _harvester_checks(s, source)
    if (tr["file"] is None) == (tr["generator"] is None):
        raise ScenarioError(f"{source}: [trace] needs exactly one of 'file' or 'generator' "
                            f"(got file = {tr['file']!r}, generator = {tr['generator']!r})")
    if tr["generator"] in ("constant", "square"):
        for k in ("power_w", "duration_s") + (("square_period_s",) if tr["generator"] == "square" else ()):
            if tr[k] is None:
                raise ScenarioError(f"{source}: trace.{k} is required with generator = {tr['generator']!r}")
    wl = s["workload"]
    if (wl["period_s"] is None) == (wl["arrivals_s"] is None):
        raise ScenarioError(f"{source}: [workload] needs exactly one of 'period_s' or 'arrivals_s'")
    md = s["model"]
    if (md["name"] is None) == (md["file"] is None):
        raise ScenarioError(f"{source}: [model] needs exactly one of 'name' (a zoo model) or 'file' (an ONNX "
                            f"model) (got name = {md['name']!r}, file = {md['file']!r})")
    if md["file"] is not None and md["inputs"] is None:
        raise ScenarioError(f"{source}: missing key model.inputs (required with model.file = {md['file']!r}; an "
                            f".npz with arrays x [N, ...] and optional y [N] labels)")
    if md["task_prices"] != "cost-model":
        from .hw.stateful_cnn import ZOO_NETWORKS
        if md["name"] not in ZOO_NETWORKS or md["design"] is not None:
            raise ScenarioError(f"{source}: model.task_prices = {md['task_prices']!r} needs model.name one of "
                                f"{', '.join(ZOO_NETWORKS)} and no model.design (got name = {md['name']!r}, "
                                f"file = {md['file']!r}, design = {md['design']!r})")
    ref = s["reference"]
    if (ref["latency_s"] is None) != (ref["scheduler"] is None):
        raise ScenarioError(f"{source}: [reference] needs both latency_s and scheduler (got latency_s = "
                            f"{ref['latency_s']!r}, scheduler = {ref['scheduler']!r})")
    from .sched.registry import SCHEDULERS
    if ref["scheduler"] is not None and ref["scheduler"] not in SCHEDULERS and ":" not in ref["scheduler"]:
        raise ScenarioError(f"{source}: reference.scheduler = {ref['scheduler']!r} is not a scheduler; allowed: "
                            f"{', '.join(SCHEDULERS)} or a user class 'package.module:Class'")
    from .nn.tasks import parse_granularity
    try:
        parse_granularity(s["model"]["granularity"])
    except ScenarioError as exc:
        raise ScenarioError(f"{source}: {exc}") from None


def _harvester_checks(s, source):
    hv, tr = s.get("harvester", {}), s["trace"]
    if hv.get("pv_cell") not in (None, "area"):
        for k in ("pv_area_m2", "pv_efficiency"):
            if hv[k] is not None:
                raise ScenarioError(f"{source}: harvester.{k} = {hv[k]!r} does not apply with harvester.pv_cell = "
                                    f"{hv['pv_cell']!r} (a preset is one physical cell); remove it or use 'area'")
    given = [k for k, v in hv.items() if v is not None]
    if given and tr["generator"] is not None:
        raise ScenarioError(f"{source}: harvester.{given[0]} = {hv[given[0]]!r} applies to trace files "
                            f"(tmy, midc, lux); generator {tr['generator']!r} takes its cell in trace.params")


@dataclass
class Scenario:
    """A validated scenario: ``data`` (every key resolved, defaults filled) and where it came from."""

    data: dict
    source: str = "<scenario>"
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def name(self) -> str:
        return self.data.get("name") or Path(self.source).stem

    def digest(self) -> str:
        """SHA-256 of the resolved scenario (canonical JSON), for provenance and caching."""
        text = json.dumps(self.data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_value(self, section: str, key: str, value) -> "Scenario":
        """A copy with ``[section] key = value``, validated (a bad value is one ScenarioError line)."""
        data = json.loads(json.dumps(self.data))
        data[section][key] = value
        return Scenario(validate(data, self.source), self.source, self.base_dir)

    def with_schedulers(self, names) -> "Scenario":
        data = json.loads(json.dumps(self.data))
        data["schedulers"]["names"] = list(names)
        validate(data, self.source)
        return Scenario(data, self.source, self.base_dir)

    # ---- resolution into simulation inputs -----------------------------------------------
    def trace(self):
        """The harvested-power :class:`~intersim.energy.trace.Trace` (loaded or generated).

        A refused trace file is a :class:`TraceError` naming this scenario file and the key
        ``trace.file`` before the loader's message (which names the trace file and row)."""
        from .errors import TraceError
        tr = self.data["trace"]
        if tr["file"] is None:
            return self._generated_trace(tr)
        path = self.trace_path()
        try:
            trace = self._load_trace_file(path, tr)
        except TraceError as exc:
            raise TraceError(f"{self.source}: trace.file = {tr['file']!r}: {exc}") from None
        hv = self.data.get("harvester", {})
        given = [k for k, v in hv.items() if v is not None]
        if given and trace.meta.get("format") not in ("tmy", "tmy2", "tmy3", "midc", "lux"):
            raise ScenarioError(f"{self.source}: harvester.{given[0]} = {hv[given[0]]!r} applies to irradiance "
                                f"and lux traces (tmy, midc, lux); trace.file = {tr['file']!r} holds power "
                                f"[W] already; remove it")
        return trace

    def trace_path(self) -> Path:
        """The trace file, resolved against the scenario file's folder."""
        path = Path(self.data["trace"]["file"])
        return path if path.is_absolute() else self.base_dir / path

    def _load_trace_file(self, path, tr):
        from .energy import harvester
        from .energy.trace_io import load_trace
        hv = self.data.get("harvester", {})

        def pick(key, default):
            return hv.get(key) if hv.get(key) is not None else default
        return load_trace(path, tr["format"], period_s=tr["period_s"], load_ohm=tr["load_ohm"],
                          loop=tr["loop"], max_power_w=tr["max_power_w"],
                          pv_cell=pick("pv_cell", "area"),
                          area_m2=pick("pv_area_m2", harvester.SMALL_CELL_AREA_M2),
                          efficiency=pick("pv_efficiency", harvester.SMALL_CELL_EFFICIENCY),
                          efficacy_lm_per_w=pick("lux_efficacy_lm_per_w", harvester.DAYLIGHT_EFFICACY_LM_PER_W),
                          dark_threshold_w_m2=hv.get("dark_threshold_w_m2"))

    def _generated_trace(self, tr):
        import numpy as np

        from .energy.trace import Trace
        g = tr["generator"]
        if g == "constant":
            return Trace(np.array([0.0]), np.array([tr["power_w"]]), tr["duration_s"], loop=tr["loop"],
                         name="constant")
        if g == "square":
            period, duty = tr["square_period_s"], tr["duty"]
            n = int(math.ceil(tr["duration_s"] / period))
            if 2 * n > MAX_GENERATED_SAMPLES:
                raise ScenarioError(f"{self.source}: trace.duration_s / trace.square_period_s = {tr['duration_s']!r} / "
                                    f"{period!r} gives {2 * n:.4g} samples; allowed: at most "
                                    f"{MAX_GENERATED_SAMPLES:,} (use loop = true with one period)")
            t = np.repeat(np.arange(n) * period, 2) + np.tile([0.0, duty * period], n)
            p = np.tile([tr["power_w"], tr["low_power_w"]], n)
            return Trace(t, p, n * period, loop=tr["loop"], name="square")
        if g == "random":
            from .energy.generators import random_trace
            params = dict(tr["params"] or {})
            seed = params.pop("seed", self.data["seed"])
            try:
                return random_trace(np.random.default_rng(seed), **params)
            except TypeError as exc:
                raise ScenarioError(f"{self.source}: trace.params for generator 'random': {exc}") from None
        from .energy import generators as trace_gen
        fn = getattr(trace_gen, g, None)
        if fn is None:
            raise ScenarioError(f"{self.source}: trace.generator = {g!r} is not available in this build")
        params = dict(tr["params"] or {})
        try:
            return fn(rng=np.random.default_rng(self.data["seed"]), **params)
        except TypeError as exc:
            raise ScenarioError(f"{self.source}: trace.params for generator {g!r}: {exc}") from None

    def storage(self):
        """The :class:`~intersim.energy.capacitor.Storage`: explicit keys over part/converter presets."""
        from .energy.capacitor import Storage
        from .energy.parts import capacitor_part, converter_part
        st, src, load = self.data["storage"], self.data["source"], self.data["load"]
        part = capacitor_part(st["part"]) if st["part"] else None
        conv = converter_part(src["converter"]) if src["converter"] else None

        def pick(value, preset_value, default):
            return value if value is not None else (preset_value if preset_value is not None else default)

        leak_ohm = pick(st["leakage_ohm"], part.leakage_ohm if part else None, math.inf)
        fields = dict(
            capacitance_f=float(pick(st["capacitance_f"], part.capacitance_f if part else None, 0.0)),
            v_on_v=float(st["v_on_v"]), v_off_v=float(st["v_off_v"]), v_max_v=float(st["v_max_v"]),
            v_initial_v=float(st["v_initial_v"]), leakage_ohm=float(leak_ohm),
            input_efficiency=float(pick(src["input_efficiency"], conv.input_efficiency if conv else None, 1.0)),
            output_efficiency=float(pick(load["output_efficiency"], conv.output_efficiency if conv else None, 1.0)),
            esr_ohm=float(pick(st["esr_ohm"], part.esr_ohm if part else None, 0.0)),
            leakage_current_a=float(pick(st["leakage_current_a"], part.leakage_current_a if part else None, 0.0)),
            quiescent_current_a=float(pick(src["quiescent_current_a"], conv.quiescent_current_a if conv else None, 0.0)),
        )
        if load["kind"] == "current":
            v_out = self.platform().supply_v
            if fields["v_off_v"] < v_out:
                raise ScenarioError(f"{self.source}: load.kind = 'current' (an LDO) needs storage.v_off_v >= the "
                                    f"MCU supply {v_out} V of {self.platform().name}; got v_off_v = "
                                    f"{fields['v_off_v']!r} (an LDO only regulates down)")
            # only offline budgets use this: the worst case of V_out / V_cap, at V_max
            fields["output_efficiency"] = min(1.0, v_out / fields["v_max_v"])
        if src["kind"] == "current":
            fields["source_current_a"] = float(src["current_a"])
        elif src["kind"] == "thevenin":
            fields["source_voltage_v"] = float(src["voltage_v"])
            fields["source_resistance_ohm"] = float(src["resistance_ohm"])
        try:
            return Storage(**fields)
        except ScenarioError as exc:
            raise ScenarioError(f"{self.source}: {exc}") from None

    def platform(self):
        from .hw.platform import get_platform
        return get_platform(self.data["platform"]["preset"])

    def _path(self, key):
        path = Path(self.data["model"][key])
        return path if path.is_absolute() else self.base_dir / path

    def network(self):
        """The :class:`~intersim.nn.network.Network` of ``model.name`` (zoo) or ``model.file`` (ONNX)."""
        from .errors import ModelError
        md = self.data["model"]
        if md["file"] is None and str(md["name"]).startswith("inas:"):
            return self._inas_network(md["name"])
        if md["file"] is None:
            from .nn import zoo
            try:
                return zoo.load(md["name"])
            except ModelError as exc:
                raise ModelError(f"{self.source}: model.name = {md['name']!r}: {exc}") from None
        from .nn.onnx_import import load_onnx
        try:
            return load_onnx(self._path("file"), name=Path(md["file"]).stem)
        except ModelError as exc:
            raise ModelError(f"{self.source}: model.file = {md['file']!r}: {exc}") from None

    def _inas_network(self, name):
        """``inas:<solution>``: a published iNAS solution's template network (random weights)."""
        from .design.networks import template_network
        from .design.published import contpow_solutions, intpow_solutions, network_design, solution_name
        from .errors import ModelError
        sols = {solution_name(s, "intpow"): network_design(s, "intpow") for s in intpow_solutions()}
        sols.update({solution_name(s, "contpow"): network_design(s, "contpow") for s in contpow_solutions()})
        key = name[5:]
        if key not in sols:
            raise ModelError(f"{self.source}: model.name = {name!r}: unknown iNAS solution; valid: "
                             f"{', '.join('inas:' + k for k in sols)}")
        return template_network(sols[key], seed=self.data["seed"])

    def design_model(self, price: str | None = None):
        """``(PriceList, Supply)`` iNAS-PMod prices and explores with for this scenario: the price
        list ``price`` (default ``model.design_price``; ``intersim``: the scenario's platform
        preset) and the supply iNAS's recharge model needs (iNAS's margin 0.55):

        * ``model.design_supply = "source"``: the scenario's Thevenin source (``[source] kind =
          "thevenin"``) with its storage thresholds;
        * ``"mean-harvest"``: a Thevenin source equivalent to the scenario's harvest
          (:func:`intersim.design.supply.equivalent_thevenin`): ``V_sup = storage.v_max_v`` and the
          resistance that refills ``V_off -> V_on`` at the trace's mean power after the converter's
          input efficiency (a Thevenin ``[source]``'s own power is added at its ``V_on`` draw)."""
        from .design import Supply, get_prices
        from .design.supply import equivalent_thevenin
        md = self.data["model"]
        st = self.storage()
        if md.get("design_supply", "source") == "mean-harvest":
            import numpy as np
            tr = self.trace()
            p = float(np.sum(tr.power_w * st.efficiency_per_sample(tr.power_w) * tr.durations_s) / tr.duration_s)
            if math.isfinite(st.source_resistance_ohm):
                p += max(0.0, (st.source_voltage_v - st.v_on_v) * st.v_on_v / st.source_resistance_ohm)
            p += st.source_current_a * st.v_on_v
            supply = equivalent_thevenin(p, st.capacitance_f, st.v_on_v, st.v_off_v, st.v_max_v,
                                         f"{self.source}: model.design_supply = 'mean-harvest'")
        elif not math.isfinite(st.source_resistance_ohm):
            what = f"model.design = {md['design']!r}" if md["design"] else "iNAS's explorer"
            raise ScenarioError(f"{self.source}: {what} needs iNAS's supply model: [source] kind = "
                                f"\"{self.data['source']['kind']}\" is not allowed; allowed: \"thevenin\" with voltage_v and "
                                f"resistance_ohm (iNAS's bench supply, docs/design.md), or model.design_supply = "
                                f"\"mean-harvest\" (a Thevenin source equivalent to the harvest)")
        else:
            supply = Supply(st.capacitance_f, st.source_resistance_ohm, v_sup_v=st.source_voltage_v,
                            v_on_v=st.v_on_v, v_off_v=st.v_off_v)
        price = price or md["design_price"]
        prices = get_prices("inas-compat" if price == "inas-compat" else f"intersim:{self.data['platform']['preset']}")
        return prices, supply

    def design(self, network):
        """``(NetworkDesign, PriceList, Supply)`` of ``model.design`` for ``network``, or None.

        ``"explored"``: iNAS's explorer (C0, C1, min L_e2e per layer) on the network's tileable
        layers with :meth:`design_model`'s prices and supply; a path: a design file
        (``intersim.design.load_design``)."""
        from .design import explore_network, load_design
        from .design.lowering import design_layers
        md = self.data["model"]
        if md["design"] is None:
            return None
        prices, supply = self.design_model()
        if md["design"] == "explored":
            layers = [(network.layers[li].name, shape) for li, shape in design_layers(network)]
            return explore_network(network.name, layers, prices, supply).design, prices, supply
        return load_design(self._path("design")), prices, supply

    def request_samples(self, network):
        """``(x_int8, labels or None)`` from ``model.inputs``, or None when the key is not given."""
        from .errors import ModelError
        from .nn.samples import load_request_samples
        md = self.data["model"]
        if md["inputs"] is None:
            return None
        try:
            return load_request_samples(self._path("inputs"), network)
        except ModelError as exc:
            raise ModelError(f"{self.source}: model.inputs = {md['inputs']!r}: {exc}") from None

    def workload(self):
        from .sim.workload import Workload
        wl = self.data["workload"]
        return Workload(period_s=wl["period_s"] if wl["period_s"] is not None else 1.0,
                        duration_s=float(wl["duration_s"]), drain_s=float(wl["drain_s"]),
                        queue_capacity=wl["queue_capacity"], start_s=float(wl["start_s"]),
                        arrivals_s=tuple(wl["arrivals_s"]) if wl["arrivals_s"] is not None else None,
                        deadline_s=float(wl["deadline_s"]) if wl["deadline_s"] is not None else None)

    def load_kind(self) -> str:
        return self.data["load"]["kind"]

    def scheduler_names(self):
        return list(self.data["schedulers"]["names"])

    def brownout_at(self) -> tuple:
        """Forced brown-outs per boot, as the engine takes them."""
        return tuple(parse_fault(x) for x in self.data.get("faults", {}).get("brownout_at", []))

    def to_toml(self) -> str:
        """The resolved scenario as TOML text (``intersim run`` reads it back identically)."""
        return to_toml(self.data)


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v) if math.isfinite(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(data: dict) -> str:
    """Write a scenario dict (scalars at the top, then one table per section); None is omitted."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def read_toml(path, what: str = "scenario") -> dict:
    """Parse a TOML file; any problem is one :class:`ScenarioError` line naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ScenarioError(f"{source}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{source}: cannot read the {what} file ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None


def load_scenario(path) -> Scenario:
    """Read and validate a scenario TOML file; raises :class:`ScenarioError` on any problem."""
    path = Path(path)
    raw = read_toml(path, "scenario")
    return Scenario(validate(raw, str(path)), str(path), path.resolve().parent)


def scenario_from_dict(raw: dict, base_dir=None, source="<dict>") -> Scenario:
    """Validate a scenario given as a Python dict (same schema as the TOML file)."""
    return Scenario(validate(raw, source), source, Path(base_dir) if base_dir else Path.cwd())


__all__ = ["Scenario", "load_scenario", "scenario_from_dict", "validate", "IntersimError"]
