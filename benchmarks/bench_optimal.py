"""``optimal`` against ``jit`` on every case of issue 17, target 1.

Each measurement is one ``intersim.simulate`` of a case under one scheduler (the timeline
recorded, as ``intersim run`` does), timed in a fresh worker process after an untimed warm-up run
of the same whole case (every kernel the case calls loaded from numba's cache: a warm-up on the
case's first 20 s, used before, left kernels that are first called later -- on ``default`` the
device has not yet booted by then -- to load inside the timed run, ~30 ms that made ``jit``'s
0.05 s run read 0.08 s). Repeats run
round-robin over the cases and schedulers; the figures are medians, with the (min, max) spread.
The raw simpy event rate (a bare process yielding timeouts) is measured before and after, in the
same run, so that the figures can be read against the machine's speed.

Cases (the default: all of them):

- every shipped scenario of ``scenarios/`` where ``optimal`` applies, under its own name; the
  files that are not single scenarios (sweep and co-design specs) are skipped and listed with
  the reason, as is a scenario where ``optimal`` cannot run (its verdict without a run);
- ``event_dense``: the NREL-site cloudy hour of ``scenarios/sweep_bench.toml``'s scenario
  (``traces/solar_cloudy_1h.csv``, digits CNN by layer), 47 uF, one arrival every 0.1 s;
- ``cloudy_8u2``: ``scenarios/sweep_capacitor.toml``'s node (``rf_reader.toml`` with its
  ``[set]``: the cloudy hour, a request every 10 s for 3600 s) at 8.2 uF;
- ``esr200``: ``scenarios/default.toml`` with ``storage.esr_ohm = 200``.

``--baseline DIR`` times every case under the code of ``DIR`` too (a pristine worktree, e.g.
``git worktree add --detach /tmp/base HEAD``), alternating the two versions run by run, and
reports whether each case's summary row is bit-identical under both. Ends with one JSON line
``{"cases": {NAME: {"optimal_s", "jit_s", "ratio", "optimal_verdict", "jit_verdict"}}, "max_ratio",
"max_ratio_where_jit_runs"}`` (this code's figures; a case where ``jit`` is refused by the precheck
(``REFUSED``, e.g. ``infeasible``) times ``jit``'s set-up alone, so its ratio is printed but flagged).

    python benchmarks/bench_optimal.py [--repeats 3] [--case NAME ...] [--baseline DIR]
                                       [--code DIR] [--timeout S] [--list]

Targets (issue 17): ``ratio <= 3`` on ``default``, ``<= 10`` on every case.
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
SCENARIOS = REPO / "scenarios"
SCHEDULERS = ("jit", "optimal")
#: verdicts the engine's precheck gives before any simulation (``intersim.sim.prechecks``)
REFUSED = ("does_not_fit", "boot_loop", "infeasible")


def shipped():
    """``(cases, skipped)``: the shipped scenario files by stem, and ``{file: reason}`` for the
    files that are not single scenarios."""
    from intersim.scenario import read_toml
    cases, skipped = {}, {}
    for path in sorted(SCENARIOS.glob("*.toml")):
        raw = read_toml(path)
        if "vary" in raw or "space" in raw or "scenario" in raw:
            kind = "co-design spec" if "space" in raw else "sweep spec"
            skipped[path.name] = f"a {kind}, not a scenario (its runs are other scenarios' runs)"
        else:
            cases[path.stem] = path
    return cases, skipped


def case_names():
    return [*shipped()[0], "event_dense", "cloudy_8u2", "esr200"]


def build(name):
    """The Scenario of case ``name``."""
    from intersim.scenario import load_scenario, read_toml, scenario_from_dict
    files, _ = shipped()
    if name in files:
        return load_scenario(files[name])
    if name == "event_dense":
        path = SCENARIOS / "sweep_bench.toml"
        sc = scenario_from_dict(read_toml(path)["scenario"], SCENARIOS, str(path))
        return sc.with_value("storage", "capacitance_f", 47e-6).with_value("workload", "period_s", 0.1)
    if name == "cloudy_8u2":
        spec = read_toml(SCENARIOS / "sweep_capacitor.toml")
        sc = load_scenario(SCENARIOS / spec["scenario"])
        for key, value in spec["set"].items():
            if not key.startswith("schedulers."):
                sc = sc.with_value(*key.split("."), value)
        return sc.with_value("storage", "capacitance_f", 8.2e-6)
    if name == "esr200":
        return load_scenario(SCENARIOS / "default.toml").with_value("storage", "esr_ohm", 200.0)
    raise SystemExit(f"bench_optimal: no case {name!r}; the cases: {', '.join(case_names())}")


def worker(name, sched):
    """One timed run of case ``name`` under ``sched`` after the warm-up; prints one JSON line
    (wall [s], the summary row, plannings)."""
    import intersim
    sc = build(name)
    intersim.simulate(sc, schedulers=[sched])  # the warm-up: every kernel this run calls loaded
    t = time.perf_counter()
    res = intersim.simulate(sc, schedulers=[sched])
    wall = time.perf_counter() - t
    row = res.summary.iloc[0].to_dict()
    row = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
    print(json.dumps({"wall_s": wall, "summary": row, "plannings": res.setting.get("plannings", {})},
                     default=str))


def measure(code, name, sched, timeout):
    """One worker run under the code at ``code``: the worker's record, or ``{"wall_s": None,
    "timeout": timeout}`` if it ran out of time."""
    env = dict(os.environ, PYTHONPATH=str(code))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, sched]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"wall_s": None, "timeout": timeout}
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"bench_optimal: {name} / {sched} under {code} failed:\n{exc.stderr}") from None
    return json.loads(out.stdout.strip().splitlines()[-1])


def stats(walls):
    """``(median, min, max)`` [s]; a timed-out run counts as its timeout (a lower bound)."""
    return statistics.median(walls), min(walls), max(walls)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", help="a case name (repeatable); default: every case")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--code", default=str(REPO), help="the code to time (default: this repository)")
    ap.add_argument("--baseline", help="also time the code of this directory (alternating)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="per run [s]; beyond it the run "
                    "counts as this long (a lower bound, marked '>')")
    ap.add_argument("--list", action="store_true", help="list the cases and the skipped files")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "SCHEDULER"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    _, skipped = shipped()
    names = args.case or case_names()
    if args.list:
        print("cases:", ", ".join(case_names()))
    for name in names:
        build(name)  # an unknown case fails before any run
    for file, why in skipped.items():
        print(f"skipped {file}: {why}")
    if args.list:
        return 0
    versions = {"new": Path(args.code).resolve()}
    if args.baseline:
        versions["base"] = Path(args.baseline).resolve()
    from bench_engine import simpy_event_rate  # the raw simpy event rate, as every benchmark measures it
    rates = [simpy_event_rate()]
    runs = {(v, c, s): [] for v in versions for c in names for s in SCHEDULERS}
    rows, inapplicable = {}, {}
    for rep in range(args.repeats):
        for name in names:
            if name in inapplicable:
                continue
            for sched in SCHEDULERS:
                order = list(versions) if rep % 2 == 0 else list(reversed(versions))
                for v in order:
                    rec = measure(versions[v], name, sched, args.timeout)
                    runs[v, name, sched].append(rec)
                    row = rec.get("summary")
                    if row is not None:
                        rows.setdefault((name, sched), {}).setdefault(v, row)
                        if sched == "optimal" and row.get("verdict") == "does_not_fit":
                            inapplicable[name] = row.get("verdict_detail") or row["verdict"]
    rates.append(simpy_event_rate())
    rate = statistics.median(rates)
    print(f"raw simpy: {rate:,.0f} events/s (before {rates[0]:,.0f}, after {rates[1]:,.0f}); "
          f"medians of {args.repeats} runs, [min, max]")
    out = {}
    for name in names:
        if name in inapplicable:
            print(f"skipped {name}: optimal does not apply ({inapplicable[name]})")
            continue
        for v in versions:
            walls = {s: [r["wall_s"] if r["wall_s"] is not None else r["timeout"] for r in runs[v, name, s]]
                     for s in SCHEDULERS}
            timed_out = any(r["wall_s"] is None for r in runs[v, name, "optimal"])
            (o, o_lo, o_hi), (j, j_lo, j_hi) = stats(walls["optimal"]), stats(walls["jit"])
            mark = ">" if timed_out else ""
            plan = (runs[v, name, "optimal"][-1].get("plannings") or {}).get("optimal", {})
            print(f"{name:>16} {v:>4}: optimal {mark}{o:8.3f} s [{o_lo:.3f}, {o_hi:.3f}], "
                  f"jit {j:7.3f} s [{j_lo:.3f}, {j_hi:.3f}], ratio {mark}{o / j:7.2f}; "
                  f"plannings {plan.get('plannings', 0)} (exact {plan.get('exact', 0)}, "
                  f"{plan.get('plan_s', 0.0):.3f} s); raw simpy {rate:,.0f} events/s")
            if v == "new":
                verdicts = {s: (runs[v, name, s][-1].get("summary") or {}).get("verdict") for s in SCHEDULERS}
                out[name] = {"optimal_s": o, "jit_s": j, "ratio": o / j,
                             "optimal_verdict": verdicts["optimal"], "jit_verdict": verdicts["jit"]}
                if verdicts["jit"] in REFUSED:
                    # a refused run is the set-up alone: the ratio compares optimal's whole run with it
                    print(f"{'':>18}jit is refused here ({verdicts['jit']!r}: no simulation after the precheck): "
                          f"its wall is the set-up alone")
        if "base" in versions:
            for sched in SCHEDULERS:
                got = rows.get((name, sched), {})
                if len(got) == 2:
                    same = got["new"] == got["base"]
                    diff = "" if same else "; differs in " + ", ".join(
                        k for k in got["new"] if got["new"][k] != got["base"].get(k))
                    print(f"{name:>16}  {sched}: summary row {'bit-identical' if same else 'CHANGED'}{diff}")
                    if not same:
                        print(f"{'':>18}base {json.dumps(got['base'], default=str)}")
                        print(f"{'':>18} new {json.dumps(got['new'], default=str)}")
    print(json.dumps({"cases": out, "max_ratio": max((v["ratio"] for v in out.values()), default=None),
                      "max_ratio_where_jit_runs": max((v["ratio"] for v in out.values() if v["jit_verdict"] not in REFUSED),
                                                      default=None)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
