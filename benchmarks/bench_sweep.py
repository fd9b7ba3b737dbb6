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
Each repeat runs the pair twice: on *fresh* workers (started by the run: process start, imports,
numba cache load are in the figure) and on *warm* workers (the pools the fresh runs left
running: ``run_sweep`` keeps them for the next sweep of the process, with their loaded kernels,
traces and task memos); ``--no-warm`` skips the warm pair.

``--points N`` runs N log-spaced capacitances over the same range instead of 200 (quick runs;
the default is the full issue setup). ``--profile`` first profiles one point (the middle
capacitance, every scheduler, in this process) with cProfile and prints where the time goes.
Ends with ONE JSON line ``{"points", "wall_1_s", "wall_2_s", "speedup", "wall_1_spread_s",
"wall_2_spread_s", "speedup_pairs", the same with ``_warm``, "simpy_rate_k_per_s",
"load_average", "cold_2_s"}`` (medians; spreads ``[min, max]`` over the repeats; ``speedup_pairs``
the range of each adjacent pair's own ratio).
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


def timed(sw, workers: int, label: str, keep: bool = True):
    from intersim.study.sweep import run_sweep
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        t0 = time.perf_counter()
        df = run_sweep(sw, out=Path(tmp) / "out", workers=workers, progress=sys.stderr.isatty(), keep_workers=keep)
        total = time.perf_counter() - t0
    run_s = df.attrs["sweep"]["run_s"]
    busy = df["wall_s"].sum()
    errors = int(df["error"].notna().sum())
    # busy share near 100 % with a larger sum of run times than on 1 worker means the workers were
    # kept busy but shared the CPUs with something else
    print(f"{label}: {run_s:.2f} s from pool start to the last row ({total:.2f} s with validation and "
          f"read-back); {len(df)} rows, sum of run times {busy:.1f} s, workers busy "
          f"{100 * busy / (workers * run_s):.0f} % of the time, {df.attrs['sweep']['parts_written']} part files, "
          f"workers {'reused warm' if df.attrs['sweep'].get('workers_reused') else 'started'}"
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
    ap.add_argument("--no-warm", action="store_true", help="skip the runs on warm (kept) workers")
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
    # taken from runs made next to each other, and the figures are medians over the repeats.
    # "fresh": each run starts its workers (the pools of the repeat before are shut down first);
    # "warm": the same sweep again on the pools the fresh runs left running (run_sweep keeps them)
    from bench_engine import simpy_event_rate
    from intersim.study.sweep import shutdown_workers
    kinds = ("fresh",) if args.no_warm else ("fresh", "warm")
    walls = {(kind, w): [] for kind in kinds for w in (1, 2)}
    tables, rates, loads = [], [], []
    for k in range(args.repeats):
        tag = f" (repeat {k + 1}/{args.repeats})" if args.repeats > 1 else ""
        shutdown_workers()
        # the machine's speed now, for reading the figures (shared machines drift)
        rates.append(simpy_event_rate())
        loads.append(os.getloadavg()[0])
        print(f"machine speed: raw simpy {rates[-1] / 1e3:.0f} k events/s, load average {loads[-1]:.2f}", flush=True)
        for kind in kinds:
            for w in (1, 2):
                wall, df = timed(sw, w, f"{w} worker{'s' if w > 1 else ''}, {kind} workers, warm cache{tag}")
                if k == 0 and kind == "fresh" and w == 1:
                    slowest(df, wall)
                walls[(kind, w)].append(wall)
                tables.append(df)
    shutdown_workers()
    result = {"points": len(sw.points)}
    for kind in kinds:
        w1, w2 = walls[(kind, 1)], walls[(kind, 2)]
        ratios = [a / b for a, b in zip(w1, w2)]
        sfx = "" if kind == "fresh" else "_warm"
        m1, m2 = statistics.median(w1), statistics.median(w2)
        result |= {f"wall_1{sfx}_s": round(m1, 3), f"wall_2{sfx}_s": round(m2, 3), f"speedup{sfx}": round(m1 / m2, 3),
                   f"wall_1{sfx}_spread_s": [round(min(w1), 3), round(max(w1), 3)],
                   f"wall_2{sfx}_spread_s": [round(min(w2), 3), round(max(w2), 3)],
                   f"speedup{sfx}_pairs": [round(min(ratios), 3), round(max(ratios), 3)]}
        print(f"{kind} workers: wall_1_s {', '.join(f'{x:.2f}' for x in w1)}; wall_2_s {', '.join(f'{x:.2f}' for x in w2)} "
              f"-> medians {m1:.2f} s, {m2:.2f} s, speedup {m1 / m2:.3f} (ratio of the medians; each pair's own "
              f"ratio: {', '.join(f'{x:.3f}' for x in ratios)}, median {statistics.median(ratios):.3f})", flush=True)
    wall_2, speedup = result["wall_2_s"], result["speedup"]
    result["simpy_rate_k_per_s"] = [round(min(rates) / 1e3), round(max(rates) / 1e3)]
    result["load_average"] = [round(min(loads), 2), round(max(loads), 2)]
    df1, others = tables[0], tables[1:]
    cold_2 = None
    if not args.no_cold:
        old = os.environ.get("NUMBA_CACHE_DIR")
        with tempfile.TemporaryDirectory(prefix="bench_numba_cold_") as cache:
            os.environ["NUMBA_CACHE_DIR"] = cache  # read by the spawned workers at import
            try:
                cold_2, df3 = timed(sw, 2, "2 workers, cold cache", keep=False)
            finally:
                if old is None:
                    os.environ.pop("NUMBA_CACHE_DIR", None)
                else:
                    os.environ["NUMBA_CACHE_DIR"] = old
        others.append(df3)
    result["cold_2_s"] = None if cold_2 is None else round(cold_2, 3)
    drop = [c for c, _ in WALL_COLUMNS]
    same = all(df1.drop(columns=drop).equals(df.drop(columns=drop)) for df in others)
    # a difference means intersim's code changed during the benchmark (workers import it anew)
    print("tables identical across runs (wall_* aside)" if same else
          "WARNING: the tables of the runs differ: was intersim edited while the benchmark ran?")
    print(f"targets: wall_2_s <= 30 ({'met' if wall_2 <= 30 else 'NOT met'}), speedup >= 1.7 "
          f"({'met' if speedup >= 1.7 else 'NOT met'})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
