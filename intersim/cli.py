"""intersim: simulate batteryless, intermittently powered MCUs running int8 inference.

Commands: run a scenario, sweep a parameter grid, plot a sweep's results, codesign (model x
execution design x scheduler under a latency requirement), explore (iNAS's design explorer), trace
inspect a trace file, check-scheduler (property-test your own scheduler). `intersim COMMAND --help`
for each."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _run(args) -> int:
    import warnings

    from .scenario import load_scenario
    from .simulate import simulate
    scenario = load_scenario(args.scenario)
    if args.scheduler:
        _check_scheduler_names(args.scheduler)
        scenario = scenario.with_schedulers(args.scheduler)
    if args.optimal_budget_calls is not None:
        scenario = scenario.with_value("schedulers", "optimal_budget_calls", args.optimal_budget_calls)
    out = Path(args.out) if args.out else Path("out") / scenario.name
    _check_out(out)
    from .report.progress import progress_bars
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = simulate(scenario, record_timeline=not args.no_timeline, progress=progress_bars())
    _print_warnings(caught)
    print(f"scenario {scenario.name} ({scenario.source}), trace {results.provenance['trace']}, "
          f"model {results.provenance['model']}"
          + (f" ({results.provenance['model_accuracy']})" if results.provenance.get("model_accuracy") else "")
          + f" in {results.provenance['tasks']} tasks on "
          f"{results.provenance['platform']}")
    print(f"trace conversion: {results.provenance['trace_conversion']}")
    print(results.table())
    if results.provenance.get("predicted_latency_s") is not None:  # a scenario with model.design
        sims = ", ".join(f"{r['scheduler']} {r['latency_mean_s']:.4g} s" for _, r in results.summary.iterrows()
                         if r["scheduler"].startswith("inas"))
        print(f"iNAS-PMod predicted latency: {results.provenance['predicted_latency_s']:.4g} s "
              f"(simulated mean: {sims})")
    for _, row in results.summary.iterrows():
        if row["verdict"] not in ("ok", "error"):
            print(f"{row['scheduler']}: {row['verdict']}: {row['verdict_detail']}")
    for name, p in results.setting.get("plannings", {}).items():
        print(_plannings_line(name, p))
    for failure in results.failures:  # their bug: their traceback, then one line
        print(failure.traceback_text.rstrip(), file=sys.stderr)
        print(f"error: {failure.line()}; its row has verdict = error, the other schedulers' results "
              f"are written", file=sys.stderr)
    written = results.write(out, plot=not args.no_plot, timeline=not args.no_timeline)
    print("wrote " + ", ".join(str(p) for p in written))
    return 1 if results.failures else 0


def _plannings_line(name, p):
    """One line on a planning scheduler's plannings: how many were proven minimal, and why the
    others were not (the exact search not attempted, or stopped at its budget)."""
    head = f"{name}: {p['plannings']} plannings in {p['plan_s']:.1f} s, "
    if p["exact"] == p["plannings"]:
        return head + "every one proven minimal"
    if not p.get("exact_calls", 1):
        why = (f"the exact search is not attempted on a model of {p['tasks']} tasks (it cannot finish "
               f"there); each keeps its rollout's plan, of {p['rollout_calls']} kernel calls at most")
    else:
        why = (f"the others stopped at the exact search's budget of {p['exact_calls']} kernel calls "
               f"and keep their rollout's plan")
    return head + f"{p['exact']} proven minimal; {why} (docs/optimal.md)"


def _print_warnings(caught):
    """Each warning as one clean ``warning:`` line (no source line), once."""
    seen = set()
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            print(f"warning: {text}", file=sys.stderr)


def _check_scheduler_names(names):
    """Refuse an unknown ``--scheduler`` name as the option's error, not the scenario's."""
    import difflib

    from .errors import IntersimError
    from .sched.registry import EARLY_EXIT, SCHEDULERS
    from .sched.freeml import FIXED_PREFIX
    known = list(SCHEDULERS) + list(EARLY_EXIT)
    for name in names:
        if name not in known and ":" not in name:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise IntersimError(f"--scheduler {name!r} is not a scheduler{hint} allowed: "
                                f"{', '.join(known)}, {FIXED_PREFIX}K, or a user class as 'package.module:Class'")


def _check_out(out: Path):
    """Refuse an output folder that cannot be created or written, before any work."""
    import os

    from .errors import OutputError
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a directory; allowed: a new or existing directory")
    parent = out
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"--out {out}: {parent} is a regular file, not a directory; allowed: a path "
                          f"under a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: no permission to write in {parent}; allowed: a writable directory")


def _check_scheduler(args) -> int:
    from .errors import IntersimError
    from .scenario import scenario_from_dict
    from .sched.registry import EARLY_EXIT, SCHEDULERS, get_scheduler
    from .testing import SchedulerCheckFailed, check_scheduler
    if args.target not in SCHEDULERS and args.target not in EARLY_EXIT and ":" not in args.target:
        raise IntersimError(f"scheduler {args.target!r}: give 'package.module:Class' (or a shipped name: "
                            f"{', '.join(list(SCHEDULERS) + list(EARLY_EXIT))})")
    if args.examples < 1:
        raise IntersimError(f"--examples {args.examples} is invalid; allowed: an integer >= 1")
    out = Path(args.out)
    _check_out(out)
    cls = get_scheduler(args.target)
    name = args.target if ":" in args.target else f"intersim.sched.registry:{cls.__name__}"
    try:
        check_scheduler(cls, max_examples=args.examples, name=name)
    except SchedulerCheckFailed as exc:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "counterexample.toml"
        sc = scenario_from_dict(exc.scenario, base_dir=out)
        path.write_text(f"# shrunk counterexample for {name}: {exc}\n" + sc.to_toml())
        if exc.traceback_text:
            print(exc.traceback_text.rstrip(), file=sys.stderr)
        print(f"FAILED: {name}: {exc}")
        print(f"minimal counterexample written to {path}; replay it with:\n  intersim run {path} --out {out / 'replay'}")
        return 1
    from .testing import PLACEMENTS_PER_EXAMPLE
    print(f"passed: {name} gave the continuous-power output with balanced energy books under every "
          f"systematic failure placement (up to {PLACEMENTS_PER_EXAMPLE * args.examples} runs) and in "
          f"every generated case ({args.examples} examples)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__
    parser = argparse.ArgumentParser(prog="intersim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"intersim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="simulate a scenario under each scheduler and compare")
    run.add_argument("scenario", help="scenario TOML file")
    run.add_argument("--out", help="output directory (default: out/<scenario name>)")
    run.add_argument("--scheduler", action="extend", nargs="+", metavar="NAME",
                     help="schedulers to run (one or more, repeatable; default: the scenario's list)")
    run.add_argument("--no-plot", action="store_true", help="skip the PNG")
    run.add_argument("--optimal-budget-calls", type=int, metavar="N",
                     help="optimal's planning budget in kernel calls per planning (overrides "
                          "[schedulers] optimal_budget_calls; default 200000)")
    run.add_argument("--no-timeline", action="store_true",
                     help="do not record or write timeline.parquet (a long run's largest part)")
    run.set_defaults(func=_run)
    check = sub.add_parser("check-scheduler", help="property-test a scheduler under systematic and random power failures")
    check.add_argument("target", metavar="MODULE:CLASS", help="the scheduler class, e.g. mypkg.sched:MyScheduler")
    check.add_argument("--examples", type=int, default=100, help="hypothesis examples (default 100); the systematic failure placement first runs up "
                       "to 60 per example")
    check.add_argument("--out", default="counterexample", help="where a counterexample is written")
    check.set_defaults(func=_check_scheduler)
    from .study import sweep
    sw = sub.add_parser("sweep", help="run a parameter sweep (local processes or dask), resumable")
    sweep.add_sweep_arguments(sw)
    sw.set_defaults(func=sweep.run_sweep_command)
    from .study.codesign import command as codesign
    cd = sub.add_parser("codesign", help="search model x execution design x scheduler for accuracy under a "
                                         "simulated latency requirement (docs/codesign.md)")
    codesign.add_codesign_arguments(cd)
    cd.set_defaults(func=codesign.run_codesign_command)
    from .study import explore
    ex = sub.add_parser("explore", help="iNAS's execution-design explorer on a scenario's model (docs/design.md)")
    explore.add_explore_arguments(ex)
    ex.set_defaults(func=explore.run_explore_command)
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
    except MemoryError:
        print("error: out of memory: the run needs more memory than this machine has; shorten "
              "workload.duration_s, or drop the timeline (intersim run --no-timeline)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
