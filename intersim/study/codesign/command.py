"""``run_codesign`` and the ``intersim codesign`` command line."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ...errors import ScenarioError

OUTPUTS = ("codesign.json", "candidates.csv", "chosen.csv", "pareto.png")


def _prepare(spec, out: Path | None) -> None:
    """Write ``codesign.json`` first; refuse a directory holding a different search."""
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / "codesign.json"
    from ..._version import __version__
    definition = {**spec.definition(), "intersim_version": __version__}
    if path.exists():
        old = json.loads(path.read_text())
        if old != json.loads(json.dumps(definition)):
            changed = sorted(k for k in set(old) | set(definition) if old.get(k) != json.loads(json.dumps(definition)).get(k))
            raise ScenarioError(f"{out} holds a different co-design search (changed: {', '.join(changed)}); "
                                "allowed: the same spec to resume it, or a new --out directory")
        return
    path.write_text(json.dumps(definition, indent=1) + "\n")


def run_codesign(spec, out=None, workers: int = 1, dask_address: str | None = None, *, progress: bool = False,
                 log=None, base_dir=None):
    """Run a co-design search and return every candidate evaluation (pandas DataFrame).

    Parameters
    ----------
    spec : str, Path, dict or CodesignSpec
        A co-design spec TOML file (``docs/codesign.md``) or a dict of its schema.
    out : str or Path, optional
        Output directory: ``codesign.json``, ``models/`` (the model cache), ``evals/<stage>/``
        (the sweeps' Parquet parts), ``candidates.csv``, ``chosen.csv``, ``pareto.png``. Running
        again on the same directory resumes: cached models and evaluated candidates are reused.
        ``None``: models are cached in a temporary directory, nothing else is written.
    workers : int
        Local worker processes for the engine runs (``0``: in this process).
    dask_address : str, optional
        A dask.distributed scheduler to run the engine runs on instead.
    progress : bool
        Progress bars of the sweeps on stderr.
    log : callable, optional
        Receives one line per step (default: nothing).

    ``df.attrs["codesign"]`` holds ``requirements`` [s], ``chosen`` (the choice-per-requirement
    table as records), ``front`` (the co-design Pareto front's candidate keys), ``spent`` (engine
    runs per method, in full-scenario equivalents), ``trained``, ``train_s``, ``units_run``, ``wall_s``.
    """
    import tempfile

    from .evaluate import Evaluator
    from .models import ModelCache
    from .report import candidate_table, chosen_table, pareto_front, plot
    from .spec import load_spec
    from .strategy import search
    t0 = time.perf_counter()
    spec = load_spec(spec, base_dir)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ScenarioError(f"workers = {workers!r} is invalid; allowed: an integer >= 0")
    out = Path(out) if out is not None else None
    _prepare(spec, out)
    tmp = None
    if spec.model_cache is not None:
        cache_dir = spec.model_cache
    elif out is not None:
        cache_dir = out / "models"
    else:
        tmp = tempfile.TemporaryDirectory(prefix="intersim-codesign-")
        cache_dir = Path(tmp.name)
    try:
        cache = ModelCache(spec, cache_dir, log)
        ev = Evaluator(spec, out, cache, workers, dask_address, progress, log)
        res = search(spec, ev, cache, log)
        res["quantiles"] = None if spec.latency_p95_s else list(spec.quantiles)
        df = candidate_table(res, ev, cache)
        chosen = chosen_table(res, ev, cache)
        if out is not None:
            df.to_csv(out / "candidates.csv", index=False)
            chosen.to_csv(out / "chosen.csv", index=False)
            plot(res, ev, cache, out / "pareto.png",
                 f"{spec.name}: accuracy vs p95 latency ({spec.dataset}, {len(df)} evaluations)")
        df.attrs["codesign"] = {
            "requirements": res["requirements"], "chosen": chosen.to_dict("records"),
            "front": [c.key for c in pareto_front(res["methods"]["codesign"].final, ev, cache)],
            "spent": res["spent"], "trained": cache.trained, "train_s": cache.train_s, "units_run": ev.units,
            "sweep_s": ev.run_s, "wall_s": time.perf_counter() - t0}
        return df
    finally:
        if tmp is not None:
            tmp.cleanup()


def add_codesign_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="co-design spec TOML file (docs/codesign.md)")
    parser.add_argument("--out", help="output directory (default: out/<spec name>); resumes what is there")
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, help="local worker processes (default: the usable CPUs)")
    g.add_argument("--dask", metavar="ADDR", help="run the engine runs on a dask.distributed scheduler")


def run_codesign_command(args) -> int:
    import os

    from ...errors import OutputError
    from .spec import load_spec
    spec = load_spec(args.spec)
    workers = len(os.sched_getaffinity(0)) if args.workers is None else args.workers
    if workers < 0:
        raise ScenarioError(f"--workers {workers} is invalid; allowed: an integer >= 0")
    out = Path(args.out) if args.out else Path("out") / spec.name
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory; allowed: a new or existing directory")
    df = run_codesign(spec, out, workers, args.dask, progress=sys.stderr.isatty(),
                      log=lambda m: print(m, flush=True))
    info = df.attrs["codesign"]
    print(f"{len(df)} candidate evaluations ({info['units_run']} run now), {info['trained']} models trained "
          f"now ({info['train_s']:.0f} s), {info['wall_s']:.0f} s in all")
    print("budget (engine runs, full-scenario equivalents): "
          + ", ".join(f"{m} {v:g}" for m, v in info["spent"].items()))
    for r in info["chosen"]:
        acc = "-" if r["accuracy"] != r["accuracy"] else f"{r['accuracy']:.4f}"
        lat = "-" if r["latency_p95_s"] != r["latency_p95_s"] else f"{r['latency_p95_s']:.4g} s"
        cand = r["candidate"] if isinstance(r["candidate"], str) else "-"
        print(f"p95 <= {r['requirement_p95_s']:.4g} s  {r['method']:<8} {r['verdict']:<13} accuracy {acc:<7} "
              f"p95 {lat}  {cand}")
    print("wrote " + ", ".join(str(out / f) for f in OUTPUTS))
    return 0
