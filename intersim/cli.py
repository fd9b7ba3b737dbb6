"""The ``intersim`` command line: ``run``, ``trace inspect``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _run(args) -> int:
    from .scenario import load_scenario
    from .simulate import simulate
    scenario = load_scenario(args.scenario)
    if args.scheduler:
        scenario = scenario.with_schedulers(args.scheduler)
    if args.optimal_budget_calls is not None:
        scenario = scenario.with_value("schedulers", "optimal_budget_calls", args.optimal_budget_calls)
    out = Path(args.out) if args.out else Path("out") / scenario.name
    if out.exists() and not out.is_dir():
        print(f"error: --out {out} exists and is not a directory", file=sys.stderr)
        return 2
    from .report.progress import progress_bars
    results = simulate(scenario, record_timeline=True, progress=progress_bars())
    print(f"scenario {scenario.name} ({scenario.source}), trace {results.provenance['trace']}, "
          f"model {results.provenance['model']} in {results.provenance['tasks']} tasks on "
          f"{results.provenance['platform']}")
    print(results.table())
    for _, row in results.summary.iterrows():
        if row["verdict"] != "ok":
            print(f"{row['scheduler']}: {row['verdict']}: {row['verdict_detail']}")
    for name, p in results.setting.get("plannings", {}).items():
        print(f"{name}: {p['plannings']} plannings in {p['plan_s']:.1f} s, {p['exact']} proven minimal; "
              f"the others stopped at the budget of {p['budget_calls']} kernel calls and keep the "
              f"rollout's plan (docs/optimal.md)" if p["exact"] < p["plannings"] else
              f"{name}: {p['plannings']} plannings in {p['plan_s']:.1f} s, every one proven minimal")
    written = results.write(out, plot=not args.no_plot)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _check_scheduler(args) -> int:
    from .scenario import scenario_from_dict
    from .sched.registry import get_scheduler
    from .testing import SchedulerCheckFailed, check_scheduler
    if args.target not in ("restart", "static", "jit", "jit-task") and ":" not in args.target:
        print(f"error: scheduler {args.target!r}: give 'package.module:Class' (or a shipped name)", file=sys.stderr)
        return 2
    cls = get_scheduler(args.target)
    name = args.target if ":" in args.target else f"intersim.sched.registry:{cls.__name__}"
    try:
        check_scheduler(cls, max_examples=args.examples, name=name)
    except SchedulerCheckFailed as exc:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "counterexample.toml"
        sc = scenario_from_dict(exc.scenario, base_dir=out)
        path.write_text(f"# shrunk counterexample for {name}: {exc}\n" + sc.to_toml())
        print(f"FAILED: {name}: {exc}")
        print(f"minimal counterexample written to {path}; replay it with:\n  intersim run {path} --out {out / 'replay'}")
        return 1
    print(f"passed: {name} gave the continuous-power output with balanced energy books in every "
          f"generated case ({args.examples} examples)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__
    parser = argparse.ArgumentParser(prog="intersim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"intersim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a scenario under each scheduler and compare")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--out", help="output directory (default: out/<scenario name>)")
    run.add_argument("--scheduler", action="append", metavar="NAME",
                     help="scheduler to run (repeatable; default: the scenario's list)")
    run.add_argument("--no-plot", action="store_true", help="skip the PNG")
    run.add_argument("--optimal-budget-calls", type=int, metavar="N",
                     help="optimal's planning budget in kernel calls per planning (overrides "
                          "[schedulers] optimal_budget_calls; default 200000)")
    run.set_defaults(func=_run)
    check = sub.add_parser("check-scheduler", help="property-test a scheduler under random power failures")
    check.add_argument("target", metavar="MODULE:CLASS", help="the scheduler class, e.g. mypkg.sched:MyScheduler")
    check.add_argument("--examples", type=int, default=100, help="hypothesis examples (default 100)")
    check.add_argument("--out", default="counterexample", help="where a counterexample is written")
    check.set_defaults(func=_check_scheduler)
    from .study import sweep
    sw = sub.add_parser("sweep", help="run a parameter sweep (local processes or dask), resumable")
    sweep.add_sweep_arguments(sw)
    sw.set_defaults(func=sweep.run_sweep_command)
    pl = sub.add_parser("plot", help="plot a sweep's results directory")
    sweep.add_plot_arguments(pl)
    pl.set_defaults(func=sweep.run_plot_command)
    trace = sub.add_parser("trace", help="trace tools")
    tsub = trace.add_subparsers(dest="trace_command", required=True)
    inspect = tsub.add_parser("inspect", help="validate a trace file, print statistics, save a plot")
    from .energy import inspect as trace_inspect
    trace_inspect.add_arguments(inspect)
    inspect.set_defaults(func=trace_inspect.run)
    return parser


def main(argv=None) -> int:
    from .errors import IntersimError
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except IntersimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
