"""``optimal`` no slower than each member of its class, over generated single-request instances
(issue 16, item 7; docs/optimal.md, *The claim, measured*).

Draws ``--instances`` distinct instances from ``intersim.testing.optimal_claim.single_request_instances``
(hypothesis, generation only, seeded by ``--seed``: the same instances on every run): structured
random CNNs at every granularity, multi-hour traces (1-6 h) with zero-harvest gaps, 1 uF to 10 mF
log-uniform. Simulates each under ``optimal`` (planning budget ``--budget-calls`` kernel calls) and
under each member (``restart``, ``jit-task``, ``static-sram``) in the engine (at a horizon of 600 s x 4^k,
at most the trace's duration, until every one completed: ``check_instance``), and prints the counts:
instances, where ``optimal`` was slower than which member and by how much, where it did not
complete but a member did, where no member completed, where the planning was not proven exact,
where the planner's model of a member missed the member's engine completion, where the engine's
precheck refused a member, and any correctness violation. Ends with one JSON line.

    python benchmarks/check_optimal_claim.py --instances 1000 --seed 0 [--budget-calls 20000] [--jobs 1]
        [--timeout S] [--out FILE.jsonl [--resume]]
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import Counter


def draw_instances(n, seed):
    """``n`` distinct instances (dicts), deterministic given ``seed``."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from intersim.testing.optimal_claim import single_request_instances

    draws = n + n // 5 + 20  # hypothesis repeats a few (its simplest examples come first in every run)
    while True:
        batch, found, keys = [], [], set()

        @hseed(seed)
        @settings(max_examples=draws, phases=[Phase.generate], deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(single_request_instances())
        def collect(instance):
            batch.append(instance)

        collect()
        for inst in batch:
            key = json.dumps(inst, sort_keys=True)
            if key not in keys and len(found) < n:
                keys.add(key)
                found.append(inst)
        if len(found) == n:
            return found
        draws *= 2


class _InstanceTimeout(Exception):  # noqa: N818 -- raised by the alarm only
    pass


def _alarm(signum, frame):
    raise _InstanceTimeout


def _check(args):
    """One instance's outcome; ``{"timed_out": True, ...}`` when it runs past ``timeout_s`` wall
    seconds (a SIGALRM in the worker: tiny capacitors can boot-loop millions of times)."""
    k, inst, budget_calls, timeout_s = args
    import signal
    from intersim.testing.optimal_claim import check_instance
    t = time.perf_counter()
    if timeout_s:
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        out = check_instance(inst, budget_calls)
    except Exception as exc:  # noqa: BLE001 -- the alarm may surface wrapped (simpy, a numba dispatcher)
        if not (timeout_s and (isinstance(exc, _InstanceTimeout) or time.perf_counter() - t >= timeout_s)):
            raise
        out = {"timed_out": True}
    finally:
        if timeout_s:
            signal.setitimer(signal.ITIMER_REAL, 0)
    out["wall_s"] = time.perf_counter() - t
    return k, inst, out


def _jsonable(x):
    return str(x)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget-calls", type=int, default=20_000,
                    help="optimal's planning budget [kernel calls] (default 20000; the scheduler's is 200000)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--timeout", type=float, default=0.0,
                    help="wall seconds per instance before it is recorded as timed out (default 0: none); "
                         "timed-out instances are counted and listed, never taken as support for the claim")
    ap.add_argument("--show", type=int, default=10, help="list at most this many instances of each miss")
    ap.add_argument("--out", help="also write one JSON line per instance (instance and outcome) to this file")
    ap.add_argument("--summarize", metavar="FILE.jsonl",
                    help="only print the counts of the outcomes in this file (an --out of an earlier run)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the outcomes already in --out for the same instances and run only the rest")
    args = ap.parse_args(argv)
    wall = time.perf_counter()
    if args.summarize:
        with open(args.summarize) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        results = sorted(((d["k"], d["instance"], d["outcome"]) for d in rows), key=lambda r: r[0])
        return report(results, args, wall)
    instances = draw_instances(args.instances, args.seed)
    work = [(k, inst, args.budget_calls, args.timeout) for k, inst in enumerate(instances)]
    results = []
    if args.resume and args.out:
        import os
        if os.path.exists(args.out):
            with open(args.out) as f:
                done = [json.loads(line) for line in f if line.strip()]
            by_k = {d["k"]: d for d in done if d["k"] < len(instances)
                    and json.dumps(d["instance"], sort_keys=True) == json.dumps(instances[d["k"]], sort_keys=True)}
            for k, d in sorted(by_k.items()):
                results.append((k, instances[k], d["outcome"]))
            work = [w for w in work if w[0] not in by_k]
            print(f"  resumed {len(by_k)} outcomes from {args.out}", flush=True)
    sink = open(args.out, "a" if args.resume else "w") if args.out else None
    pool = None
    if args.jobs > 1:
        import multiprocessing as mp
        pool = mp.get_context("spawn").Pool(args.jobs)
        stream = pool.imap_unordered(_check, work, chunksize=1)
    else:
        stream = map(_check, work)
    for k, inst, r in stream:
        results.append((k, inst, r))
        if sink:
            sink.write(json.dumps({"k": k, "instance": inst, "outcome": r}, default=_jsonable) + "\n")
            sink.flush()
        if len(results) % 50 == 0:
            print(f"  ... {len(results)} of {len(work)} instances, {time.perf_counter() - wall:.0f} s", flush=True)
    if pool is not None:
        pool.close()
    if sink:
        sink.close()
    results.sort(key=lambda r: r[0])
    return report(results, args, wall)


def report(results, args, wall):
    """Print the counts of ``results`` (``(k, instance, outcome)``) and the JSON line; the exit status."""
    from intersim.testing.optimal_claim import MEMBERS
    c = Counter()
    slower = {name: [] for name in MEMBERS}
    shown = Counter()

    def show(kind, k, inst, detail):
        if shown[kind] < args.show:
            print(f"  {kind} #{k}: {detail}" + (f"; instance {json.dumps(inst, sort_keys=True)}" if inst else ""))
        shown[kind] += 1

    timed_out = [(k, r) for k, _, r in results if r.get("timed_out")]
    for k, r in timed_out:
        show("timed out", k, None, f"after {r['wall_s']:.0f} s")
    results = [x for x in results if not x[2].get("timed_out")]
    for k, inst, r in results:
        c["instances"] += 1
        c[f"granularity {inst['granularity']}"] += 1
        c["horizon " + ("the trace's duration" if r["horizon_s"] >= inst["trace"]["duration_s"]
                        else f"{r['horizon_s']:g} s")] += 1
        member_done = [n for n, t in r["members_s"].items() if t < math.inf]
        c["optimal completed"] += r["optimal_s"] < math.inf
        c["no member completed"] += not member_done
        if r["exact"] is not None:
            c["plannings"] += 1
            c["not proven exact"] += not r["exact"]
        for name in member_done:
            c[f"{name} completed"] += 1
            if r["optimal_s"] < r["members_s"][name]:
                c[f"strictly faster than {name}"] += 1
        for name, dt in r["slower"].items():
            slower[name].append((dt, dt / r["members_s"][name]))
            show(f"slower than {name}", k, inst, f"+{dt:.6g} s")
        for name in r["not_completed"]:
            c[f"not completed where {name} did"] += 1
            show(f"not completed where {name} did", k, inst, f"{name} at {r['members_s'][name]:.6g} s")
        for name, (pred, got) in r["model_off"].items():
            c[f"model of {name} off"] += 1
            show(f"model of {name} off", k, inst, f"predicted {pred:.9g} s, engine {got:.9g} s")
        for name, verdict in r["refused"].items():
            c[f"{name} refused by the precheck ({verdict})"] += 1
            pred = r["predicted_s"].get(name)
            if pred is not None and pred < math.inf:
                c[f"{name} refused by the precheck where its model completes"] += 1
        if r["problems"]:
            c["correctness problems"] += 1
            show("problems", k, inst, "; ".join(r["problems"][:3]))

    walls = [r["wall_s"] for _, _, r in results]
    tasks = [r["tasks"] for _, _, r in results]
    caps = [inst["storage"]["capacitance_f"] for _, inst, _ in results]
    hours = [inst["trace"]["duration_s"] / 3600 for _, inst, _ in results]
    gaps = [len(inst["trace"]["gaps"]) for _, inst, _ in results]
    print(f"{len(timed_out)} instance(s) timed out (not counted below)")
    print(f"{c['instances']} instances (seed {args.seed}, budget {args.budget_calls} kernel calls per planning): "
          f"{min(tasks)}-{max(tasks)} tasks (median {statistics.median(tasks):g}), "
          f"C {min(caps):.3g}-{max(caps):.3g} F, traces {min(hours):.2f}-{max(hours):.2f} h, "
          f"{sum(g > 0 for g in gaps)} with zero-harvest gaps")
    for key in sorted(c):
        print(f"  {key}: {c[key]}")
    for name, xs in slower.items():
        if xs:
            print(f"  optimal slower than {name}: {len(xs)}, by at most {max(x[0] for x in xs):.6g} s "
                  f"({max(x[1] for x in xs):.3g} relative)")
        else:
            print(f"  optimal slower than {name}: 0")
    print(f"  wall per instance: median {statistics.median(walls):.3f} s, max {max(walls):.2f} s; "
          f"total {time.perf_counter() - wall:.1f} s with {args.jobs} job(s)")
    summary = {"instances": c["instances"], "timed_out": len(timed_out), "seed": args.seed, "from": args.summarize, "budget_calls": args.budget_calls,
               "slower": {n: len(xs) for n, xs in slower.items()},
               "slower_max_s": {n: max((x[0] for x in xs), default=0.0) for n, xs in slower.items()},
               "not_completed_where_member_did": sum(c[f"not completed where {n} did"] for n in MEMBERS),
               "no_member_completed": c["no member completed"], "optimal_completed": c["optimal completed"],
               "not_proven_exact": c["not proven exact"], "plannings": c["plannings"],
               "model_off": {n: c[f"model of {n} off"] for n in MEMBERS},
               "refused_where_model_completes": {
                   n: c[f"{n} refused by the precheck where its model completes"] for n in MEMBERS},
               "completed": {n: c[f"{n} completed"] for n in MEMBERS},
               "strictly_faster": {n: c[f"strictly faster than {n}"] for n in MEMBERS},
               "correctness_problems": c["correctness problems"],
               "wall_median_s": statistics.median(walls)}
    print(json.dumps(summary))
    bad = sum(summary["slower"].values()) + summary["not_completed_where_member_did"] + summary["correctness_problems"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
