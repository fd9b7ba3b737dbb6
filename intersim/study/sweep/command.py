"""The command line: ``intersim sweep`` and ``intersim plot`` (wired into :mod:`intersim.cli`)."""
from __future__ import annotations
import argparse
import json
import os
import sys
from pathlib import Path
from ...errors import IntersimError
from .spec import DEFINITION_FILE, PARTS_DIR, SweepAborted, load_sweep
from .store import load_results
from .run import run_sweep


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
        from ..sweep_plots import plot_sweep
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

