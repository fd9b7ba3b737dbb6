"""Benchmark: the sweep of scenarios/sweep_bench.toml (200 log-spaced capacitances x 5
schedulers, digits CNN every 10 s, one cloudy solar hour) on 1 and 2 local worker processes.

The 1- and 2-worker runs alternate ``--repeats`` times (default 3); ``wall_1_s`` and ``wall_2_s`` are
the medians and ``speedup`` their ratio; each adjacent pair's own ratio and the raw simpy event rate
before each pair are printed too (the machine is shared: its speed drifts between runs). Each figure is the time from the pool's start to the last row on disk (``run_s`` of
:func:`intersim.study.sweep.run_sweep`: spawning the workers, loading numba's cache in each, every
run, every part file). ``wall_1_s``/``wall_2_s`` use a warm numba cache (this script warms it
first); ``cold_2_s`` repeats the 2-worker run with an empty NUMBA_CACHE_DIR, so each worker
compiles every kernel. The tables of all runs are checked equal (``wall_*`` columns aside).

Usage: ``python benchmarks/bench_sweep.py [--points N] [--repeats K] [--no-cold] [--profile]``.
``--points N`` runs N log-spaced capacitances over the same range instead of 200 (quick runs;
the default is the full issue setup). ``--profile`` first profiles one point (the middle
capacitance, every scheduler, in this process) with cProfile and prints where the time goes.
Ends with ONE JSON line ``{"points", "wall_1_s", "wall_2_s", "speedup", "cold_2_s"}``.
Targets: wall_2_s <= 30, speedup >= 1.7.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SWEEP = REPO / "scenarios" / "sweep_bench.toml"


def bench_sweep(points: int | None):
    from intersim.study.sweep import load_sweep
    raw = tomllib.loads(SWEEP.read_text())
    if points is not None:
        lo, hi, _ = raw["vary"]["storage.capacitance_f"]["logspace"]
        raw["vary"]["storage.capacitance_f"] = {"logspace": [lo, hi, points]}
    return load_sweep(raw, base_dir=SWEEP.parent)


def timed(sw, workers: int, label: str):
    from intersim.study.sweep import run_sweep
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        t0 = time.perf_counter()
        df = run_sweep(sw, out=Path(tmp) / "out", workers=workers, progress=sys.stderr.isatty())
        total = time.perf_counter() - t0
    run_s = df.attrs["sweep"]["run_s"]
    busy = df["wall_s"].sum()
    errors = int(df["error"].notna().sum())
    # busy share near 100 % with a larger sum of run times than on 1 worker means the workers were
    # kept busy but shared the CPUs with something else
    print(f"{label}: {run_s:.2f} s from pool start to the last row ({total:.2f} s with validation and "
          f"read-back); {len(df)} rows, sum of run times {busy:.1f} s, workers busy "
          f"{100 * busy / (workers * run_s):.0f} % of the time, {df.attrs['sweep']['parts_written']} part files"
          + (f", {errors} ERRORS (first: {df['error'].dropna().iloc[0]})" if errors else ""), flush=True)
    return run_s, df


def slowest(df, wall_1: float, n: int = 6):
    """The longest runs, and the best 2-worker time they allow (the longest run cannot split)."""
    cols = ["storage.capacitance_f", "scheduler", "wall_s", "events", "power_failures", "verdict"]
    print(f"slowest {n} runs (1 worker):")
    print(df.nlargest(n, "wall_s")[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    by = df.groupby("scheduler")["wall_s"].agg(["sum", "median", "max"])
    print("run time by scheduler [s]: " + "; ".join(
        f"{name} sum {r['sum']:.1f}, median {r['median']:.3f}, max {r['max']:.2f}" for name, r in by.iterrows()))
    busy, longest = df["wall_s"].sum(), df["wall_s"].max()
    bound = max(busy / 2, longest)
    print(f"runs take {busy:.1f} s in all, the longest {longest:.1f} s: 2 workers need >= {bound:.1f} s "
          f"(speedup <= {wall_1 / bound:.2f}) on 2 otherwise idle CPUs")


def profile_point(sw, top: int = 18):
    from intersim.study.sweep import run_unit
    point = sw.points[len(sw.points) // 2]
    prof = cProfile.Profile()
    times = {}
    for name in point.schedulers:
        data = json.loads(json.dumps(point.scenario))
        data["schedulers"]["names"] = [name]
        unit = {"scenario": data, "base_dir": str(sw.scenario_dir), "scheduler": name, "source": "profile"}
        t0 = time.perf_counter()
        prof.runcall(run_unit, unit)
        times[name] = time.perf_counter() - t0
    cap = point.values.get("storage.capacitance_f")
    print(f"profile of point {point.index} (capacitance {cap} F): "
          + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()) + f"; total {sum(times.values()):.2f} s")
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats(key).print_stats(top)
        lines = [ln for ln in s.getvalue().splitlines() if ln.strip()]
        start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
        print(f"-- top {top} by {key}")
        print("\n".join(lines[start:]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, help="capacitances (default: the 200 of sweep_bench.toml)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-cache run")
    ap.add_argument("--profile", action="store_true", help="cProfile one point first")
    ap.add_argument("--repeats", type=int, default=3, help="alternating 1-/2-worker pairs (default 3)")
    args = ap.parse_args(argv)
    import intersim
    from intersim.study.sweep import WALL_COLUMNS

    sw = bench_sweep(args.points)
    runs = sum(len(p.schedulers) for p in sw.points)
    print(f"sweep_bench: {len(sw.points)} points x {len(sw.points[0].schedulers)} schedulers = {runs} runs, "
          f"{os.cpu_count()} CPUs", flush=True)
    intersim.warmup()  # fill the on-disk numba cache: the warm runs load it
    if args.profile:
        profile_point(sw)
    # the machine is shared and its speed drifts: 1 and 2 workers alternate, each pair's ratio is
    # taken from runs made next to each other, and the figures are medians over the repeats
    from bench_engine import simpy_event_rate
    walls_1, walls_2, ratios, tables = [], [], [], []
    for k in range(args.repeats):
        tag = f" (repeat {k + 1}/{args.repeats})" if args.repeats > 1 else ""
        # the machine's speed now, for reading the figures (shared machines drift)
        print(f"machine speed: raw simpy {simpy_event_rate() / 1e3:.0f} k events/s", flush=True)
        w1, df1 = timed(sw, 1, "1 worker, warm cache" + tag)
        if k == 0:
            slowest(df1, w1)
        w2, df2 = timed(sw, 2, "2 workers, warm cache" + tag)
        walls_1.append(w1)
        walls_2.append(w2)
        ratios.append(w1 / w2)
        tables += [df1, df2]
    wall_1, wall_2 = statistics.median(walls_1), statistics.median(walls_2)
    speedup = wall_1 / wall_2
    if args.repeats > 1:
        print(f"wall_1_s {', '.join(f'{x:.2f}' for x in walls_1)}; wall_2_s {', '.join(f'{x:.2f}' for x in walls_2)} "
              f"-> medians {wall_1:.2f} s, {wall_2:.2f} s, speedup {speedup:.3f} (ratio of the medians; "
              f"each pair's own ratio: {', '.join(f'{x:.3f}' for x in ratios)}, median {statistics.median(ratios):.3f})")
    df1, others = tables[0], tables[1:]
    cold_2 = None
    if not args.no_cold:
        old = os.environ.get("NUMBA_CACHE_DIR")
        with tempfile.TemporaryDirectory(prefix="bench_numba_cold_") as cache:
            os.environ["NUMBA_CACHE_DIR"] = cache  # read by the spawned workers at import
            try:
                cold_2, df3 = timed(sw, 2, "2 workers, cold cache")
            finally:
                if old is None:
                    os.environ.pop("NUMBA_CACHE_DIR", None)
                else:
                    os.environ["NUMBA_CACHE_DIR"] = old
        others.append(df3)
    drop = [c for c, _ in WALL_COLUMNS]
    same = all(df1.drop(columns=drop).equals(df.drop(columns=drop)) for df in others)
    # a difference means intersim's code changed during the benchmark (workers import it anew)
    print("tables identical across runs (wall_* aside)" if same else
          "WARNING: the tables of the runs differ: was intersim edited while the benchmark ran?")
    print(f"targets: wall_2_s <= 30 ({'met' if wall_2 <= 30 else 'NOT met'}), speedup >= 1.7 "
          f"({'met' if speedup >= 1.7 else 'NOT met'})")
    print(json.dumps({"points": len(sw.points), "wall_1_s": round(wall_1, 3), "wall_2_s": round(wall_2, 3),
                      "speedup": round(speedup, 3),
                      "cold_2_s": None if cold_2 is None else round(cold_2, 3)}))


if __name__ == "__main__":
    main()
