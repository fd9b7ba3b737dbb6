"""The co-design spec file (``intersim codesign SPEC.toml``): parsing and up-front validation.

Every problem is one :class:`~intersim.errors.ScenarioError` line naming the file, the key, the
value and what is allowed; nothing is trained or simulated before the whole spec is checked
(including the base scenario with every ``[set]`` override, through the sweep's own loader).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import ScenarioError
from ...nn.tasks import GRANULARITY_HELP

DATASETS = ("digits", "mnist1d")
LIGHTWEIGHTING_FORMS = ("'none', 'prune:F' (keep fraction 0 < F < 1), 'share:K' (K-means codebook, 2 <= K <= 64) "
                        "or 'exit:E' (FreeML's shared early-exit branch, deployed at conv block E < space.n_layers - 1)")
#: the execution design that the iNAS explorer chooses per variant (``space.designs``, ``baselines.inas_designs``)
EXPLORED = "explored"
INAS_DESIGNS = ("explored", "granularities")
TOP_KEYS = ("name", "description", "dataset", "seed", "scenario", "set", "space", "train", "requirements",
            "search", "baselines")
SECTION_KEYS = {
    "space": ("n_layers", "kernels", "widths", "nondecreasing", "pool", "dense", "lightweighting", "designs",
              "schedulers", "explored_schedulers"),
    "train": ("epochs", "batch_size", "learning_rate", "weight_decay", "finetune_epochs", "model_cache"),
    "requirements": ("latency_p95_s", "quantiles", "n_random"),
    "search": ("fidelities", "keep", "budget"),
    "baselines": ("inas_designs", "inas_schedulers", "hwnas_designs"),
}
HARVESTING_SCHEDULERS = ("restart", "static", "jit", "jit-task", "optimal", "optimal-online", "inas", "inas-continue")


@dataclass(frozen=True)
class CodesignSpec:
    """A validated co-design search; see ``docs/codesign.md`` for every key and its default."""

    source: str
    spec_dir: Path
    name: str
    description: str
    dataset: str
    seed: int
    scenario_path: Path
    set_keys: dict
    n_layers: int
    kernels: tuple
    widths: tuple
    nondecreasing: bool
    pool: int
    dense: tuple
    lightweighting: tuple
    designs: tuple
    schedulers: tuple
    explored_schedulers: tuple
    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    finetune_epochs: int
    model_cache: Path | None
    latency_p95_s: tuple
    quantiles: tuple
    n_random: int
    fidelities: tuple
    keep: float
    budget: int
    inas_designs: str
    inas_schedulers: tuple
    hwnas_designs: tuple
    raw: dict = field(repr=False, default_factory=dict)

    def definition(self) -> dict:
        """The resolved spec as plain data (written to ``codesign.json``)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("raw", "spec_dir", "source")}
        out["scenario_path"] = str(self.scenario_path)
        out["model_cache"] = None if self.model_cache is None else str(self.model_cache)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _bad(source, key, value, allowed) -> ScenarioError:
    return ScenarioError(f"{source}: {key} = {value!r} is invalid; allowed: {allowed}")


def _int(source, key, v, lo, hi=None):
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        raise _bad(source, key, v, f"an integer >= {lo}" + (f" and <= {hi}" if hi is not None else ""))
    return v


def _num(source, key, v, lo, hi=None, lo_open=True):
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) \
        and (v > lo if lo_open else v >= lo) and (hi is None or v <= hi)
    if not ok:
        raise _bad(source, key, v, f"a number {'>' if lo_open else '>='} {lo}" + (f" and <= {hi}" if hi else ""))
    return float(v)


def _choice(source, key, v, allowed):
    if not isinstance(v, str) or v not in allowed:
        raise _bad(source, key, v, "one of " + ", ".join(map(repr, allowed)))
    return v


def _list(source, key, v, check, allowed, min_len=1):
    if not isinstance(v, list) or len(v) < min_len or not all(check(x) for x in v):
        raise _bad(source, key, v, allowed)
    if len(set(map(str, v))) != len(v):
        raise _bad(source, key, v, allowed + " without repeats")
    return tuple(v)


def check_lightweighting(x) -> bool:
    """True for ``'none'``, ``'prune:F'`` (0 < F < 1) or ``'share:K'`` (2 <= K <= 64)."""
    if not isinstance(x, str):
        return False
    if x == "none":
        return True
    kind, _, arg = x.partition(":")
    try:
        if kind == "exit":
            return arg.isdigit() and int(arg) >= 0
        if kind == "prune":
            return 0.0 < float(arg) < 1.0
        if kind == "share":
            return 2 <= int(arg) <= 64
    except ValueError:
        return False
    return False


def _check_design(x, explored_ok=False) -> bool:
    from ...nn.tasks import parse_granularity
    if not isinstance(x, str):
        return False
    if x == EXPLORED:
        return explored_ok
    try:
        parse_granularity(x)
    except (ValueError, TypeError):
        return False
    return True


def _section(raw, name, source) -> dict:
    sec = raw.get(name, {})
    if not isinstance(sec, dict):
        raise _bad(source, name, sec, "a table")
    for k in sec:
        if k not in SECTION_KEYS[name]:
            raise ScenarioError(f"{source}: unknown key {name}.{k}; valid: "
                                + ", ".join(f"{name}.{x}" for x in SECTION_KEYS[name]))
    return sec


def load_spec(spec, base_dir=None) -> CodesignSpec:
    """Read and validate a co-design spec: a TOML file or a dict of its schema (relative paths
    against ``base_dir``, default the current directory)."""
    if isinstance(spec, CodesignSpec):
        return spec
    if isinstance(spec, dict):
        return _build(spec, "<codesign>", Path(base_dir or ".").resolve())
    from ...scenario import read_toml
    path = Path(spec)
    return _build(read_toml(path, "co-design spec"), path.name, path.resolve().parent)


def _build(raw: dict, source: str, spec_dir: Path) -> CodesignSpec:
    from ...sched.registry import SCHEDULERS
    for k in raw:
        if k not in TOP_KEYS:
            raise ScenarioError(f"{source}: unknown key {k!r}; valid: {', '.join(TOP_KEYS)}")
    dataset = raw.get("dataset", "digits")
    if dataset not in DATASETS:
        raise _bad(source, "dataset", dataset, "one of " + ", ".join(map(repr, DATASETS)))
    scen = raw.get("scenario")
    if not isinstance(scen, str):
        raise _bad(source, "scenario", scen, "a scenario TOML file, relative to the spec file")
    scenario_path = (spec_dir / scen).resolve()
    if not scenario_path.is_file():
        raise ScenarioError(f"{source}: scenario = {scen!r}: no such file {scenario_path}")
    set_keys = raw.get("set", {})
    if not isinstance(set_keys, dict):
        raise _bad(source, "set", set_keys, "a table of dotted scenario keys")
    sp, tr, rq, se, bl = (_section(raw, n, source) for n in ("space", "train", "requirements", "search",
                                                              "baselines"))
    sched_ok = lambda x: isinstance(x, str) and x in SCHEDULERS and x in HARVESTING_SCHEDULERS  # noqa: E731
    sched_allowed = "a list of " + ", ".join(map(repr, HARVESTING_SCHEDULERS))
    lw = _list(source, "space.lightweighting", sp.get("lightweighting", ["none", "prune:0.5"]),
               check_lightweighting, "a list of " + LIGHTWEIGHTING_FORMS)
    if "none" not in lw:
        raise _bad(source, "space.lightweighting", list(lw), "a list that includes 'none' (the baselines' "
                   "models and the models the others are lightened from)")
    fids = _list(source, "search.fidelities", se.get("fidelities", [0.25, 1.0]),
                 lambda x: isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x <= 1,
                 "an increasing list of fractions of the workload in (0, 1], ending with 1.0")
    if list(fids) != sorted(fids) or fids[-1] != 1.0:
        raise _bad(source, "search.fidelities", list(fids), "an increasing list of fractions of the workload "
                   "in (0, 1], ending with 1.0")
    reqs = rq.get("latency_p95_s", [])
    reqs = _list(source, "requirements.latency_p95_s", reqs,
                 lambda x: isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < math.inf,
                 "a list of latencies > 0 [s] (or leave it out to use requirements.quantiles)",
                 min_len=0) if reqs != [] else ()
    quant = _list(source, "requirements.quantiles", rq.get("quantiles", [0.25, 0.5, 0.75]),
                  lambda x: isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < 1,
                  "a list of quantiles in (0, 1)")
    cache = tr.get("model_cache")
    if cache is not None and not isinstance(cache, str):
        raise _bad(source, "train.model_cache", cache, "a directory, relative to the spec file")
    spec = CodesignSpec(
        source=source, spec_dir=spec_dir, name=raw.get("name") or Path(source).stem,
        description=str(raw.get("description", "")), dataset=dataset,
        seed=_int(source, "seed", raw.get("seed", 0), 0), scenario_path=scenario_path,
        set_keys=dict(set_keys),
        n_layers=_int(source, "space.n_layers", sp.get("n_layers", 2), 1, 4),
        kernels=_list(source, "space.kernels", sp.get("kernels", [3, 5]),
                      lambda x: isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 9,
                      "a list of kernel sizes 1..9"),
        widths=_list(source, "space.widths", sp.get("widths", [4, 8, 16]),
                     lambda x: isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 64,
                     "a list of filter counts 1..64"),
        nondecreasing=bool(sp.get("nondecreasing", True)),
        pool=_int(source, "space.pool", sp.get("pool", 2), 1, 4),
        dense=_list(source, "space.dense", sp.get("dense", []),
                    lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= 1,
                    "a list of hidden dense widths >= 1", min_len=0) if sp.get("dense") else (),
        lightweighting=lw,
        designs=_list(source, "space.designs", sp.get("designs", ["layer", "channel"]),
                      lambda x: _check_design(x, explored_ok=True),
                      f"a list of {EXPLORED!r} (iNAS's explorer per variant) and granularities (" + GRANULARITY_HELP + ")"),
        schedulers=_list(source, "space.schedulers", sp.get("schedulers", ["restart", "static", "jit", "jit-task"]),
                         sched_ok, sched_allowed),
        explored_schedulers=_list(source, "space.explored_schedulers", sp.get("explored_schedulers", ["inas"]),
                                  sched_ok, sched_allowed),
        epochs=_int(source, "train.epochs", tr.get("epochs", 30), 1),
        batch_size=_int(source, "train.batch_size", tr.get("batch_size", 32), 1),
        learning_rate=_num(source, "train.learning_rate", tr.get("learning_rate", 3e-3), 0.0),
        weight_decay=_num(source, "train.weight_decay", tr.get("weight_decay", 1e-4), 0.0, lo_open=False),
        finetune_epochs=_int(source, "train.finetune_epochs", tr.get("finetune_epochs", 15), 1),
        model_cache=(spec_dir / cache).resolve() if cache else None,
        latency_p95_s=tuple(float(x) for x in reqs), quantiles=tuple(float(q) for q in quant),
        n_random=_int(source, "requirements.n_random", rq.get("n_random", 40), 4),
        fidelities=tuple(float(f) for f in fids),
        keep=_num(source, "search.keep", se.get("keep", 0.25), 0.0, 1.0),
        budget=_int(source, "search.budget", se.get("budget", 200), 1),
        inas_designs=_choice(source, "baselines.inas_designs", bl.get("inas_designs", "explored"), INAS_DESIGNS),
        inas_schedulers=_list(source, "baselines.inas_schedulers", bl.get("inas_schedulers", ["inas"]),
                              sched_ok, sched_allowed),
        hwnas_designs=_list(source, "baselines.hwnas_designs", bl.get("hwnas_designs", ["layer"]), _check_design,
                            "a list of granularities (" + GRANULARITY_HELP + ")"),
        raw=raw,
    )
    for lw in spec.lightweighting:
        if lw.startswith("exit:") and int(lw[5:]) > spec.n_layers - 2:
            raise _bad(source, "space.lightweighting", list(spec.lightweighting),
                       f"'exit:E' with a conv block E in 0..{spec.n_layers - 2} (space.n_layers = {spec.n_layers}: "
                       "an exit point comes before the last conv block)" if spec.n_layers > 1 else
                       "no 'exit:E' with space.n_layers = 1 (an exit point comes before the last conv block)")
    _check_scenario(spec)
    return spec


def _check_scenario(spec: CodesignSpec) -> None:
    """The base scenario with ``[set]`` and one candidate's keys, checked by the sweep's loader."""
    import re

    from .evaluate import probe_sweep
    from ...study.sweep import load_sweep
    from ...scenario import Scenario
    try:
        sw = load_sweep(probe_sweep(spec), base_dir=spec.scenario_path.parent)
        if EXPLORED in spec.designs or spec.inas_designs == EXPLORED:  # the explorer's equivalent supply
            from .explored import EXPLORED_KEYS
            data = sw.points[0].scenario
            data["model"].update({k.split(".")[1]: v for k, v in EXPLORED_KEYS})
            Scenario(data, "<sweep>", sw.scenario_dir).design_model()
    except ScenarioError as exc:  # name the spec and its scenario, not the internal sweep
        msg = re.sub(r"^<sweep>( \(scenario <sweep> \[scenario\], point \d+(: .*?)?\))?: ", "", str(exc))
        raise ScenarioError(f"{spec.source} (scenario {spec.raw.get('scenario')} with [set]): {msg}") from None
