"""``check_scheduler``: the property every scheduler must hold, checked first systematically
(:mod:`intersim.testing.placement`), then by a random search (hypothesis)."""
from __future__ import annotations

import copy

from ..report.results import books_residual_j

#: runs of the systematic phase per hypothesis example of the active profile (``ci``: 40
#: examples -> 2,400 runs; hypothesis's default, 100 -> 6,000; ``thorough``: 1,000 -> 60,000)
PLACEMENTS_PER_EXAMPLE = 60
#: of them, random pairs of failures (the rest: single failures)
PAIR_SHARE = 0.25


def failure_places(run) -> list[str]:
    """Where brown-outs struck in a run: "task", "preservation" (commit, checkpoint, result copy,
    done flag), "restore", "boot", "sleep" (each listed once)."""
    names = {"compute": "task", "preserve": "preservation", "restore": "restore", "boot": "boot",
             "sleep": "sleep", "idle": "sleep"}
    return sorted({names[k[12:]] for k, v in run.counts.items() if k.startswith("failures_in_") and v})


def violations(run, requests) -> list[str]:
    """What a correct scheduler must never do, as readable sentences (empty: none)."""
    out = []
    done = requests[requests["status"] == "done"]
    wrong = done[~done["correct"]]
    if len(wrong):
        out.append(f"{len(wrong)} of {len(done)} completed requests differ from continuous execution "
                   f"(requests {list(wrong['request'])})")
    scale = run.books["energy_harvested_j"] + run.books["energy_supply_j"] + run.e_initial_j
    residual = books_residual_j(run.books)
    if abs(residual) > 1e-9 * scale + 1e-12:
        out.append(f"energy books do not balance: residual {residual!r} J")
    return out


class SchedulerCheckFailed(AssertionError):
    """``check_scheduler`` found a counterexample; ``.scenario`` holds it (a scenario dict)."""

    def __init__(self, message, scenario, traceback_text=None):
        super().__init__(message)
        self.scenario = scenario
        self.traceback_text = traceback_text  # the scheduler's own, when it raised


def active_examples() -> int:
    """``max_examples`` of the active hypothesis profile (the budgets scale with it)."""
    from hypothesis import settings
    return int(settings().max_examples)


def budget(fraction: float, at_least: int = 1) -> int:
    """An example budget scaled from the active hypothesis profile: ``fraction`` [1] of its
    ``max_examples``, rounded, at least ``at_least``. For a property whose examples cost more
    (or less) than a typical one; it keeps the profiles' ratio (``thorough`` / ``ci`` = 25 in
    ``tests/conftest.py``), so no test pins a count."""
    if not fraction > 0:
        raise ValueError(f"budget: fraction {fraction!r} is not allowed; it must be > 0")
    return max(int(at_least), round(fraction * active_examples()))


def check_scheduler(scheduler_cls, max_examples: int | None = None, name: str | None = None,
                    placements: int | None = None):
    """Property: every completed request's output is bit-equal to continuous execution and the
    energy books balance, under

    1. systematic failure placement (:func:`intersim.testing.placement.scan`): on small cases of
       <= 8 tasks and three requests each, one brown-out at every NVM-word boundary and every
       task boundary of a continuous run, then random pairs -- ``placements`` runs in all
       (default ``PLACEMENTS_PER_EXAMPLE`` per example of ``max_examples``);
    2. then a random search (hypothesis, ``max_examples``; default: the active profile's) over
       structured networks, granularities, capacitors, bursty traces, several requests and
       injected brown-outs, shrinking a counterexample to a small one.

    Raises :class:`SchedulerCheckFailed` whose ``.scenario`` is the counterexample as a scenario
    dict (``Scenario.to_toml`` writes it; ``intersim run`` replays it). ``name`` is how the
    scenario file names the scheduler (``"package.module:Class"``; default: derived from the
    class, for classes importable by that path).
    """
    from hypothesis import HealthCheck, event, given, settings

    from ..scenario import scenario_from_dict
    from ..simulate import simulate
    from .placement import placement_cases, scan
    from .strategies import scenario_cases

    ref = name or f"{scheduler_cls.__module__}:{scheduler_cls.__qualname__}"
    examples = active_examples() if max_examples is None else int(max_examples)
    budget = PLACEMENTS_PER_EXAMPLE * examples if placements is None else int(placements)
    pairs = int(budget * PAIR_SHARE)
    case, schedule, problems, _ = _guarded_scan(scheduler_cls, ref, placement_cases(), budget - pairs, pairs, scan)
    if case is not None:
        found = copy.deepcopy(case)
        found["name"] = "counterexample"
        found["faults"]["brownout_at"] = [f"{k}:{n}" for k, n in schedule]
        found["schedulers"]["names"] = [ref, "continuous"]
        raise SchedulerCheckFailed(f"{'; '.join(problems)} (systematic placement: brown-out at "
                                   f"{', '.join(f'{k}:{n}' for k, n in schedule)})", found)

    failing = {}

    @given(case=scenario_cases((ref, "continuous")))
    def prop(case):
        sc = scenario_from_dict(case, source="<generated case>")
        res = simulate(sc, schedulers=[scheduler_cls], record_timeline=False)
        if res.failures:  # the scheduler raised: a failing example, with its traceback
            failing["case"], failing["traceback"] = case, res.failures[0].traceback_text
            raise AssertionError(res.failures[0].line())
        run = res.runs[0]
        for where in failure_places(run):
            event(f"brown-out inside {where}")
        problems = violations(run, res.requests)
        if problems:
            failing["case"], failing["traceback"] = case, None
        assert not problems, "; ".join(problems)

    # simulations vary in length: no deadline; the caller's profile (e.g. derandomised under CI)
    # still applies otherwise
    prop = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=examples)(prop)
    try:
        prop()
    except AssertionError as exc:
        if "case" not in failing:
            raise
        raise SchedulerCheckFailed(str(exc).splitlines()[0], failing["case"], failing.get("traceback")) from exc


def _guarded_scan(cls, ref, cases, limit, pairs, scan):
    """:func:`scan`, a scheduler that raises reported as a counterexample like any other."""
    try:
        return scan(cls, cases, limit, pairs)
    except Exception as exc:  # noqa: BLE001 -- the user's scheduler raised: theirs is the bug
        from ..sched.registry import is_builtin
        if is_builtin(cls):
            raise
        from ..report.results import SchedulerFailure
        failure = SchedulerFailure.from_exception(cls, exc)
        failure.scheduler = ref
        case = copy.deepcopy(cases[0])
        case["schedulers"]["names"] = [ref, "continuous"]
        raise SchedulerCheckFailed(failure.line(), case, failure.traceback_text) from exc
