"""Co-design evaluation throughput (issue 14 item 7): >= 1000 candidate evaluations, each a
simulated scenario, in <= 600 s on 2 workers.

    python benchmarks/bench_codesign.py [--workers 2] [--out DIR] [--budget 700]

The spec is ``scenarios/codesign_digits.toml`` with a larger space (lightweighting none /
prune 0.5 / prune 0.75 / exit 0, four granularities under 4 schedulers and the explored design
under ``inas`` and ``inas-continue``: 48 variants x 18 = 864 candidates) and a budget that makes the halving simulate every candidate at 20 % of the workload
and most again on the whole of it. Models are trained first into ``OUT/models`` (reused by later
runs; ``train_s``), then the search runs in a fresh directory so every evaluation is simulated
now. ``wall_s`` is the time spent in the sweeps (worker start-up and warm-up included); the last
line is ``{"candidates": ..., "wall_s": ..., "candidates_per_s": ...}`` plus the other figures.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
import tomllib
from pathlib import Path

from intersim.study.codesign import run_codesign

ROOT = Path(__file__).resolve().parent.parent


def spec(out: Path, budget: int) -> dict:
    raw = tomllib.loads((ROOT / "scenarios" / "codesign_digits.toml").read_text())
    raw["name"] = "bench_codesign"
    raw["space"]["lightweighting"] = ["none", "prune:0.5", "prune:0.75", "exit:0"]
    raw["space"]["designs"] = ["layer", "channel", "rows:2", "rows:4", "explored"]
    raw["search"]["budget"] = budget
    raw["train"]["model_cache"] = str((out / "models").resolve())
    return raw


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("out/bench_codesign"))
    ap.add_argument("--budget", type=int, default=700)
    a = ap.parse_args(argv)
    s = spec(a.out, a.budget)
    t0 = time.perf_counter()
    from intersim.study.codesign.models import ModelCache
    from intersim.study.codesign.space import variants
    from intersim.study.codesign.spec import load_spec
    loaded = load_spec(s, ROOT / "scenarios")
    cache = ModelCache(loaded, loaded.model_cache, print)
    for v in variants(loaded):
        cache.get(v)
    train_s = time.perf_counter() - t0
    run_dir = a.out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    df = run_codesign(s, out=run_dir, workers=a.workers, base_dir=ROOT / "scenarios", log=print)
    info = df.attrs["codesign"]
    n, wall = info["units_run"], info["sweep_s"]
    print(json.dumps({"candidates": n, "wall_s": round(wall, 1), "candidates_per_s": round(n / wall, 2),
                      "workers": a.workers, "train_s": round(train_s, 1), "search_total_s": round(info["wall_s"], 1),
                      "variants_trained_now": cache.trained}))


if __name__ == "__main__":
    main()
