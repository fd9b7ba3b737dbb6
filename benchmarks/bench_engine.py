"""Engine benchmark (issue "The engine and the schedulers").

Runs ``scenarios/bench_day.toml`` (the digits model, 1 mF, a generated 24-hour solar day at 1-s
resolution, a request every 10 s, correctness mode) under every scheduler and reports, per
scheduler, the wall time of the simulation (numba compilation excluded by a warm-up run;
``optimal``'s offline planning reported separately as ``plan_s``), the number of simpy events and
simulated time / wall time; and the raw simpy event rate (a bare timeout loop) measured in the
same run, and per scheduler ``wall_x_simpy_rate``: the wall time times that rate, i.e. the wall
time in units of raw simpy events (a figure that moves less from machine to machine than
seconds). Medians over ``--repeats`` runs. Ends with one JSON line.

``--timeline`` records the timeline, as ``intersim run`` and ``intersim.simulate`` do by default
(without it the runs record none). ``--dense`` runs the event-dense case of issue 17 instead (``scenarios/dense_hour.toml``: the
cloudy solar hour, 47 uF, ``jit``, a request every 0.1 s). ``benchmarks/bench_against.py`` runs
this script against another checkout of intersim, round-robin, and reports the ratios.

    python benchmarks/bench_engine.py [--repeats 5] [--scheduler NAME ...] [--dense] [--timeline]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import simpy

import intersim
from intersim.sim.engine import Engine, Setup
from intersim.sched.registry import get_scheduler
from intersim.simulate import request_inputs
from intersim.nn.tasks import lower
from intersim.nn import zoo

REPO = Path(__file__).resolve().parent.parent


def simpy_event_rate(n=200_000) -> float:
    """Events per second of a bare simpy process yielding timeouts [1/s]."""
    env = simpy.Environment()

    def proc():
        for _ in range(n):
            yield env.timeout(1.0)

    env.process(proc())
    t = time.perf_counter()
    env.run()
    return n / (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=str(REPO / "scenarios" / "bench_day.toml"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scheduler", action="append")
    ap.add_argument("--dense", action="store_true", help="the event-dense hour (scenarios/dense_hour.toml)")
    ap.add_argument("--timeline", action="store_true", help="record the timeline (as `intersim run` does)")
    args = ap.parse_args(argv)
    if args.dense:
        args.scenario = str(REPO / "scenarios" / "dense_hour.toml")
    sc = intersim.load_scenario(args.scenario)
    names = args.scheduler or sc.scheduler_names()
    trace, storage, platform, workload = sc.trace(), sc.storage(), sc.platform(), sc.workload()
    model = sc.data["model"]
    net = zoo.load(model["name"])
    tasks = lower(net, model["granularity"])
    inputs, labels = request_inputs(net, model["name"], workload.arrival_times().size, sc.data["seed"])
    refs = [net.run(x) for x in inputs]
    sim_s = workload.horizon_s() - min(workload.arrival_times()[0], trace.start_s)
    intersim.warmup()
    rate = statistics.median(simpy_event_rate() for _ in range(3))
    print(f"scenario {sc.name}: {len(tasks)} tasks per inference, {workload.arrival_times().size} requests, "
          f"{sim_s:.0f} s simulated, timeline {'recorded' if args.timeline else 'not recorded'}; "
          f"raw simpy {rate:,.0f} events/s")
    out, plan_s = {}, 0.0
    walls = {name: [] for name in names}
    runs = {}
    # repeats round-robin over the schedulers, so a slow spell of a shared machine falls on all
    # of them rather than on one scheduler's repeats
    for _ in range(args.repeats):
        for name in names:
            setup = Setup(network=net, tasks=tasks, platform=platform, storage=storage, trace=trace,
                          workload=workload, inputs=inputs, labels=labels, references=refs,
                          record_timeline=args.timeline)
            t = time.perf_counter()
            engine = Engine(setup, get_scheduler(name))
            run = engine.run()
            wall = time.perf_counter() - t
            planned = float(engine.plan.get("plan_s", 0.0)) if isinstance(engine.plan, dict) else 0.0
            plan_s = max(plan_s, planned)
            walls[name].append(wall - planned)
            runs[name] = run
    for name in names:
        run = runs[name]
        wall = statistics.median(walls[name])
        done = int((run.requests["status"] == "done").sum())
        out[name] = {"wall_s": wall, "events": run.events, "realtime_factor": sim_s / wall,
                     "wall_x_simpy_rate": wall * rate, "walls_s": walls[name],
                     "compiled_cycles": dict(run.compiled_cycles)}
        print(f"{name:>15}: wall {wall:7.3f} s (median of {args.repeats}, min {min(walls[name]):.3f}), "
              f"= {wall * rate:,.0f} raw simpy events, {run.events:>8,d} events, {sim_s / wall:12,.0f} x real "
              f"time, {done} requests done, verdict {run.verdict}")
    result = {"scenario": sc.name, "timeline": args.timeline, "schedulers": out, "max_wall_s": max(v["wall_s"] for v in out.values()),
              "plan_s": plan_s, "simpy_events_per_s": rate}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
