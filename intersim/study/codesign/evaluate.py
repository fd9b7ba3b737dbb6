"""Candidates evaluated by the engine, in parallel, through the sweep machinery.

A batch of (candidate, fidelity) pairs is one sweep in ``mode = "zip"``: the base scenario (the
spec's ``scenario`` with its ``[set]``) with the axes ``model.file`` and ``model.inputs`` (the
cached variant's ONNX model and its held-out samples), the design's keys (``model.granularity``
today), ``schedulers.names`` (the candidate's scheduler alone) and ``workload.duration_s`` (the
fidelity: that fraction of the scenario's workload). :func:`intersim.study.sweep.run_sweep` runs
it on local worker processes or dask, writes Parquet part files under ``OUT/evals/<stage>/`` and
resumes there after an interruption; every row is what ``intersim run`` would print for the same
resolved scenario.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path

from ...errors import ScenarioError

#: scenario keys the search sets on every candidate (not allowed in the spec's [set])
OWNED_KEYS = ("model.name", "model.file", "model.inputs", "model.granularity", "model.design",
              "model.design_supply", "schedulers.names")
#: summary columns kept per evaluation
KEPT = ("verdict", "verdict_detail", "requests", "completed", "accuracy", "latency_p95_s", "latency_done_p95_s",
        "latency_p50_s", "power_failures", "error")
#: energy books [J] spent per inference at the MCU pin (and the regulator's loss behind it)
INFERENCE_BOOKS = ("energy_compute_j", "energy_checkpoint_j", "energy_restore_j", "energy_boot_j",
                   "energy_reexecution_j", "energy_output_loss_j")


def base_scenario(spec) -> dict:
    """The spec's scenario file as raw TOML data, without its model choice (the search sets it)."""
    raw = tomllib.loads(spec.scenario_path.read_text())
    model = raw.setdefault("model", {})
    for k in ("name", "file", "inputs"):
        model.pop(k, None)
    return raw


def _set_keys(spec) -> dict:
    """The spec's ``[set]``, dotted, with a relative ``trace.file`` made absolute (it is relative to
    the spec file); the search's own keys are refused."""
    flat = {}

    def walk(d, prefix):
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and not key.startswith("trace.params") and key != "trace.params":
                walk(v, key + ".")
            else:
                flat[key] = v
    walk(spec.set_keys, "")
    for k in flat:
        if k in OWNED_KEYS:
            raise ScenarioError(f"{spec.source}: set.{k} = {flat[k]!r} is invalid; allowed: keys other than "
                                f"{', '.join(OWNED_KEYS)} (the search chooses them)")
    if isinstance(flat.get("trace.file"), str) and not Path(flat["trace.file"]).is_absolute():
        flat["trace.file"] = str((spec.spec_dir / flat["trace.file"]).resolve())
    return flat


def _duration_s(spec) -> float:
    flat = _set_keys(spec)
    if "workload.duration_s" in flat:
        return float(flat["workload.duration_s"])
    return float(base_scenario(spec).get("workload", {}).get("duration_s", 3600.0))


def sweep_dict(spec, items, name: str) -> dict:
    """The zip sweep of ``items``: ``[(candidate, fidelity, model_file, samples_file), ...]``."""
    duration = _duration_s(spec)
    fixed = {k: v for k, v in _set_keys(spec).items() if k != "workload.duration_s"}
    design_keys = sorted({k for c, *_ in items for k, _ in c.design.scenario_keys})
    vary = {"model.file": [m for _, _, m, _ in items], "model.inputs": [s for *_, s in items],
            "schedulers.names": [[c.scheduler] for c, *_ in items],
            "workload.duration_s": [float(f"{duration * f:.12g}") for _, f, _, _ in items]}
    for key in design_keys:
        vary[key] = [dict(c.design.scenario_keys).get(key) for c, *_ in items]
    return {"name": name, "scenario": base_scenario(spec), "mode": "zip", "set": fixed, "vary": vary}


def probe_sweep(spec) -> dict:
    """A sweep (a shipped zoo model in place of a trained one) that checks the base scenario with
    ``[set]``, every granularity and scheduler axis value, before anything is trained."""
    from ...nn import zoo
    from .spec import EXPLORED
    d = sweep_dict(spec, [], f"{spec.name}-check")
    grans = list(dict.fromkeys(g for g in (*spec.designs, *spec.hwnas_designs) if g != EXPLORED)) or ["layer"]
    scheds = list(dict.fromkeys((*spec.schedulers, *spec.explored_schedulers, *spec.inas_schedulers)))
    n = max(len(grans), len(scheds))
    model = "mnist1d_cnn" if spec.dataset == "mnist1d" else "digits_cnn_jax"
    d["vary"] = {"schedulers.names": [[scheds[i % len(scheds)]] for i in range(n)],
                 "model.granularity": [grans[i % len(grans)] for i in range(n)]}
    d["set"] = {**d["set"], "model.name": model}
    assert model in zoo.names()
    return d


def energy_per_inference_j(row) -> float:
    """Energy the node spent per completed inference [J]: compute, checkpoints, restores, boots,
    re-execution and the output regulator's loss behind them (sleep and leakage left out: they
    depend on the idle time between requests, not on the candidate's work)."""
    done = row.get("completed")
    if done is None or (isinstance(done, float) and math.isnan(done)) or int(done) == 0:
        return math.inf
    return float(sum(float(row[k]) for k in INFERENCE_BOOKS)) / int(done)


class Evaluator:
    """Runs batches of candidates through :func:`run_sweep` and remembers every result, keyed
    by ``(candidate.key, fidelity)``; a pair already evaluated is never run again."""

    def __init__(self, spec, out: Path | None, cache, workers: int = 1, dask_address=None, progress=False,
                 log=None):
        self.spec, self.out, self.cache = spec, out, cache
        self.workers, self.dask, self.progress = workers, dask_address, progress
        self.log = log or (lambda msg: None)
        self.results: dict = {}   # (key, fidelity) -> row dict
        self.stage_of: dict = {}  # (key, fidelity) -> stage that evaluated it
        self.units = 0            # engine runs made by this process
        self.run_s = 0.0

    def run(self, stage: str, pairs) -> None:
        """Evaluate ``[(candidate, fidelity), ...]`` (those not already known) as sweep ``stage``
        (designs selected by other keys than ``model.granularity``, e.g. explored designs, as
        sweep ``stage-<design label>``: a zip sweep's points share their axes)."""
        todo, seen = [], set()
        for c, f in pairs:
            if (c.key, f) not in self.results and (c.key, f) not in seen:
                seen.add((c.key, f))
                todo.append((c, f))
        groups: dict = {}  # one sweep per set of design keys (a zip sweep's axes are shared by its points)
        for c, f in todo:
            groups.setdefault(tuple(sorted(k for k, _ in c.design.scenario_keys)), []).append((c, f))
        for keys, group in groups.items():
            labels = "-".join(sorted({c.design.label for c, _ in group}))
            self._run(stage if keys == ("model.granularity",) else f"{stage}-{labels}", stage, group)

    def _run(self, name: str, stage: str, todo) -> None:
        from ..sweep import run_sweep
        items = []
        for c, f in todo:
            meta = self.cache.get(c.variant)
            items.append((c, f, meta["model_file"], meta["samples_file"]))
        d = sweep_dict(self.spec, items, f"{self.spec.name}-{name}")
        where = None if self.out is None else self.out / "evals" / name
        self.log(f"{name}: {len(items)} candidate evaluations on "
                 + (f"dask {self.dask}" if self.dask else f"{self.workers} worker(s)"))
        df = run_sweep(d, out=where, workers=self.workers, dask_address=self.dask, progress=self.progress,
                       base_dir=self.spec.scenario_path.parent)
        stats = df.attrs.get("sweep", {})
        self.units += int(stats.get("units_run", 0))
        self.run_s += float(stats.get("run_s", 0.0))
        by_point = {int(r["point"]): r for r in df.to_dict("records")}
        for i, (c, f) in enumerate(todo):
            row = by_point[i]
            rec = {k: row.get(k) for k in KEPT}
            rec["energy_per_inference_j"] = energy_per_inference_j(row) if row.get("verdict") != "error" else math.nan
            p95 = rec["latency_p95_s"]
            rec["latency_p95_s"] = math.inf if p95 is None or (isinstance(p95, float) and math.isnan(p95)) else float(p95)
            self.results[(c.key, f)] = rec
            self.stage_of[(c.key, f)] = stage

    def p95(self, c, f: float) -> float:
        return self.results[(c.key, f)]["latency_p95_s"]
