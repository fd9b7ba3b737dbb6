"""``optimal`` against ``jit`` (issue 17, target 1).

Runs each case under ``jit`` and ``optimal`` (numba compilation excluded by a warm-up run) and
reports the wall times, their ratio (median over ``--repeats``, round-robin) and the raw simpy
event rate measured in the same run. Cases: every shipped scenario given (default:
``scenarios/default.toml``), ``--esr`` (the default scenario with ``esr_ohm = 200``). Ends with
one JSON line ``{"cases": {NAME: {"optimal_s", "jit_s", "ratio"}}, "max_ratio", "simpy_events_per_s"}``.

    python benchmarks/bench_optimal.py [--repeats 3] [--scenario FILE ...] [--esr]

Target: ``ratio <= 3`` on the default scenario, ``<= 10`` elsewhere.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import intersim
from bench_engine import simpy_event_rate

REPO = Path(__file__).resolve().parent.parent


def wall(sc, name):
    """Wall time [s] of one ``simulate`` of ``sc`` under scheduler ``name``."""
    t = time.perf_counter()
    intersim.simulate(sc, schedulers=[name])
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", action="append")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--esr", action="store_true", help="add the default scenario at esr_ohm = 200")
    args = ap.parse_args(argv)
    cases = {Path(p).stem: intersim.load_scenario(p)
             for p in (args.scenario or [str(REPO / "scenarios" / "default.toml")])}
    if args.esr:
        sc = intersim.load_scenario(str(REPO / "scenarios" / "default.toml"))
        data = copy.deepcopy(sc.data)
        data["storage"]["esr_ohm"] = 200.0
        cases["default_esr200"] = type(sc)(data, sc.path) if hasattr(sc, "path") else sc
    intersim.warmup()
    rate = statistics.median(simpy_event_rate() for _ in range(3))
    walls = {(c, s): [] for c in cases for s in ("jit", "optimal")}
    for name, sc in cases.items():  # warm-up: compile every kernel once
        wall(sc, "optimal")
    for _ in range(args.repeats):
        for name, sc in cases.items():
            for sched in ("jit", "optimal"):
                walls[name, sched].append(wall(sc, sched))
    out = {}
    for name in cases:
        o, j = statistics.median(walls[name, "optimal"]), statistics.median(walls[name, "jit"])
        out[name] = {"optimal_s": o, "jit_s": j, "ratio": o / j,
                     "optimal_spread_s": [min(walls[name, "optimal"]), max(walls[name, "optimal"])],
                     "jit_spread_s": [min(walls[name, "jit"]), max(walls[name, "jit"])]}
        print(f"{name:>16}: optimal {o:7.3f} s, jit {j:7.3f} s, ratio {o / j:6.2f} "
              f"(median of {args.repeats}); raw simpy {rate:,.0f} events/s")
    print(json.dumps({"cases": out, "max_ratio": max(v["ratio"] for v in out.values()),
                      "simpy_events_per_s": rate}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
