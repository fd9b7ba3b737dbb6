"""Digests of the outputs that a layout-only change must leave bit-identical.

Runs the default scenario, ``bench_day`` and ``sweep_bench`` and prints one sha256 per table
(summary, requests, timeline; the sweep's rows sorted by point and scheduler). Wall-clock columns
(``run_wall_s``-like fields) and provenance that names versions or paths are left out.

    python benchmarks/layout_digests.py [--skip-sweep] [--workers 2]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import pandas as pd

import intersim

REPO = Path(__file__).resolve().parent.parent
# columns that measure the machine, not the simulation
_WALL = ("wall", "elapsed", "plan_s")


def _digest(df: pd.DataFrame) -> str:
    keep = [c for c in df.columns if not any(w in c for w in _WALL)]
    df = df[keep].reset_index(drop=True)
    h = hashlib.sha256()
    h.update(",".join(keep).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    out = {}
    for name in ("default", "bench_day"):
        sc = intersim.load_scenario(REPO / "scenarios" / f"{name}.toml")
        res = intersim.simulate(sc, record_timeline=True)
        out[name] = {"summary": _digest(res.summary), "requests": _digest(res.requests),
                     "timeline": _digest(res.timeline)}
        print(name, out[name], flush=True)
    if not args.skip_sweep:
        from intersim.cli import main as cli
        with tempfile.TemporaryDirectory() as tmp:
            rc = cli(["sweep", str(REPO / "scenarios" / "sweep_bench.toml"), "--out", tmp,
                      "--workers", str(args.workers)])
            assert rc == 0, rc
            df = pd.concat([pd.read_parquet(p) for p in sorted(Path(tmp).rglob("*.parquet"))])
            keys = [c for c in df.columns if c in ("point", "scheduler")]
            df = df.sort_values(keys).reset_index(drop=True)
            out["sweep_bench"] = {"rows": len(df), "table": _digest(df)}
            print("sweep_bench", out["sweep_bench"], flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
