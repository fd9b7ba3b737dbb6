"""Benchmark: wall time against task count, from ``layer`` to ``element`` granularity (issue 17, target 4).

One scenario (default: ``scenarios/default.toml``, its workload ``--duration`` seconds long
(default 600 s, the scenario's own: 60 requests), under ``jit``; ``--scheduler a,b`` runs several,
which then share the memo as the schedulers of one ``simulate`` do) is simulated at ``layer``, ``channel``, ``rows:4``, ``rows:1`` and
``element``. Each measurement is a fresh process (so no memo or cache carries over from another
granularity): it loads the kernels (``intersim.warmup``), then times one ``simulate`` of the
scenario, and reports the tasks of one inference, the wall time [s] and the task memo's hits and
misses. ``--base DIR`` times a second code tree (e.g. a detached worktree of the code before a
change) in the same run: the two trees alternate within every repeat, so drift of a shared machine
hits both alike. The raw simpy event rate is printed before each repeat (the machine's speed).

Target: the log-log slope of wall time against tasks from ``rows:1`` to ``element`` <= 1.1.
``slope_rows1_element_above_layer`` is the same slope of the wall time above the ``layer`` run's
(the part that grows with tasks, without the fixed cost of resolving the scenario and its trace).

Usage::

    python benchmarks/bench_granularity.py [--repeats 3] [--duration 600] [--scheduler jit] [--base DIR]

Ends with ONE JSON line ``{"tasks": {G: n}, "wall_s": {G: median}, "wall_spread_s": {G: [min, max]},
"memo_hits": {G: n}, "memo_misses": {G: n}, "slope_rows1_element": s, "slope_rows1_element_above_layer": s,
"base": {...the same for --base...}, "speedup_vs_base": {G: base wall / wall}}``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRANULARITIES = ("layer", "channel", "rows:4", "rows:1", "element")
#: the slope target of issue 17 (target 4)
SLOPE_TARGET = 1.1


def child(granularity: str, duration_s: float, scheduler: str) -> dict:
    """One measurement in this process (the code under PYTHONPATH)."""
    import intersim
    from intersim.nn.tasks import lower
    from intersim.scenario import read_toml, scenario_from_dict
    from intersim.sim.task_memo import memo_for
    data = read_toml(REPO / "scenarios" / "default.toml")
    data["model"]["granularity"] = granularity
    data["workload"]["duration_s"] = float(duration_s)
    data["schedulers"]["names"] = scheduler.split(",")
    sc = scenario_from_dict(data, base_dir=REPO / "scenarios", source="bench_granularity")
    net = sc.network()
    intersim.warmup(scheduler.split(","))
    t0 = time.perf_counter()
    res = intersim.simulate(sc, record_timeline=False, network=net)
    wall = time.perf_counter() - t0
    memo = memo_for(net)
    row = res.summary.iloc[0]
    return {"granularity": granularity, "tasks": len(lower(net, granularity)), "wall_s": wall,
            "memo_hits": int(memo.hits), "memo_misses": int(memo.misses), "completed": int(row["completed"]),
            "requests": int(row["requests"]), "verdict": str(row["verdict"])}


def measure(tree: Path, granularity: str, duration_s: float, scheduler: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", granularity,
                          "--duration", str(duration_s), "--scheduler", scheduler],
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def slope(tasks: dict, wall: dict, a: str = "rows:1", b: str = "element") -> float:
    """d log(wall) / d log(tasks) between granularities ``a`` and ``b``."""
    return math.log(wall[b] / wall[a]) / math.log(tasks[b] / tasks[a])


def summarise(rows: list) -> dict:
    by = {g: [r for r in rows if r["granularity"] == g] for g in GRANULARITIES}
    tasks = {g: r[0]["tasks"] for g, r in by.items() if r}
    walls = {g: [x["wall_s"] for x in r] for g, r in by.items() if r}
    wall = {g: statistics.median(v) for g, v in walls.items()}
    out = {"tasks": tasks, "wall_s": {g: round(v, 3) for g, v in wall.items()},
           "wall_spread_s": {g: [round(min(v), 3), round(max(v), 3)] for g, v in walls.items()},
           "memo_hits": {g: r[0]["memo_hits"] for g, r in by.items() if r},
           "memo_misses": {g: r[0]["memo_misses"] for g, r in by.items() if r},
           "completed": {g: r[0]["completed"] for g, r in by.items() if r}}
    if "rows:1" in wall and "element" in wall:
        out["slope_rows1_element"] = round(slope(tasks, wall), 3)
        if "layer" in wall and min(wall["rows:1"], wall["element"]) > wall["layer"]:
            above = {g: wall[g] - wall["layer"] for g in ("rows:1", "element")}
            out["slope_rows1_element_above_layer"] = round(slope(tasks, above), 3)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", metavar="GRANULARITY", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=600.0, help="workload duration [s] (default 600)")
    ap.add_argument("--scheduler", default="jit")
    ap.add_argument("--base", type=Path, help="a second code tree to time alternately (e.g. the code before)")
    ap.add_argument("--granularity", action="append", help="only these (repeatable; default: all five)")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.duration, args.scheduler)))
        return 0
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_engine import simpy_event_rate
    grans = args.granularity or list(GRANULARITIES)
    trees = {"new": REPO} | ({"base": args.base.resolve()} if args.base else {})
    rows = {name: [] for name in trees}
    print(f"default scenario, workload {args.duration:g} s, {args.scheduler}; trees: "
          + ", ".join(f"{k} {v}" for k, v in trees.items()) + f"; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for k in range(args.repeats):
        print(f"repeat {k + 1}/{args.repeats}: raw simpy {simpy_event_rate() / 1e3:.0f} k events/s, "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        for g in grans:
            for name, tree in trees.items():
                r = measure(tree, g, args.duration, args.scheduler)
                rows[name].append(r)
                print(f"  {name:4s} {g:8s} {r['tasks']:6d} tasks {r['wall_s']:8.3f} s  memo hits {r['memo_hits']:7d} "
                      f"misses {r['memo_misses']:7d}  completed {r['completed']}/{r['requests']} {r['verdict']}",
                      flush=True)
    result = summarise(rows["new"])
    if "base" in rows:
        result["base"] = summarise(rows["base"])
        result["speedup_vs_base"] = {g: round(result["base"]["wall_s"][g] / result["wall_s"][g], 2)
                                     for g in result["wall_s"]}
    for name, res in [("new", result)] + ([("base", result["base"])] if "base" in result else []):
        print(f"{name}: " + "; ".join(f"{g} {res['tasks'][g]} tasks {res['wall_s'][g]:.3f} s "
                                      f"[{res['wall_spread_s'][g][0]:.3f}-{res['wall_spread_s'][g][1]:.3f}]"
                                      for g in res["wall_s"])
              + (f"; slope rows:1 -> element {res['slope_rows1_element']:.2f}" if "slope_rows1_element" in res else "")
              + (f" ({res['slope_rows1_element_above_layer']:.2f} above the layer run's wall)"
                 if "slope_rows1_element_above_layer" in res else ""))
    if "slope_rows1_element" in result:
        s = result["slope_rows1_element"]
        print(f"target: slope <= {SLOPE_TARGET} ({'met' if s <= SLOPE_TARGET else 'NOT met'})")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
