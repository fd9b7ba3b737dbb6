"""Systematic failure placement: on small cases, a brown-out at every NVM-word boundary and every
task boundary of one continuous run (one failure per run), then pairs of failures within a
budget -- before any random search. (As Stateful-CNN's PC build injects failures by bytes written.)

A *case* is a scenario dict (the schema of :mod:`intersim.scenario`): a small structured network
(<= 8 tasks), a constant harvest, a capacitor charged at the start, several requests. Its
*continuous run* is its first boot without injection; the placements are ``("words", n)`` for
every ``n`` up to the NVM words that boot writes, and ``("cycles", c)`` at each task boundary.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..report.results import request_table
from ..sim.engine import Engine, Setup

#: (model, granularity): small structured networks, each lowered to <= 8 tasks; between them
#: plain tiles, output-channel tiles and input-channel (partial-sum) chains
CASE_MODELS = (("random_cnn:1:4:2-1:3", "layer,ic:2"), ("random_cnn:2:4:2-1:3", "channels:2"),
               ("random_cnn:3:4:2:2", "layer"))
#: supplies (harvest [W], capacitor [F]): "steady" never dips (the harvest exceeds the load);
#: "tight" splits a static partition into groups of a task or two; "dipping" makes the comparator
#: of a checkpointing scheduler fire several times per request (harvest below the active load)
SUPPLIES = {"steady": (20e-3, 47e-6), "tight": (1.5e-3, 4.7e-6), "dipping": (1.5e-3, 2.2e-6)}


def placement_cases(n_requests: int = 3):
    """The small cases of the systematic phase, as scenario dicts (``n_requests`` requests each)."""
    cases = []
    for (model, granularity), (supply, (power_w, c)) in itertools.product(CASE_MODELS, SUPPLIES.items()):
        cases.append({
            "name": f"placement-{supply}-{model.replace(':', '_')}", "seed": 0,
            "trace": {"generator": "constant", "power_w": power_w, "duration_s": 3600.0},
            "source": {"input_efficiency": 0.8},
            "storage": {"capacitance_f": c, "v_on_v": 3.0, "v_off_v": 1.8, "v_max_v": 3.6, "v_initial_v": 3.6},
            "load": {"output_efficiency": 0.9},
            "platform": {"preset": "msp430fr5994"},
            "model": {"name": model, "granularity": granularity},
            "workload": {"period_s": 2.0, "duration_s": 2.0 * n_requests, "drain_s": 8.0,
                         "queue_capacity": n_requests},
            "faults": {"brownout_at": []},
            "schedulers": {"names": ["continuous"]},
        })
    return cases


class Case:
    """One case resolved once (network, tasks, trace, references); runs it under a scheduler with
    any failure schedule."""

    def __init__(self, scenario_dict):
        from ..scenario import scenario_from_dict
        from ..simulate import _resolve, references_for
        self.data = scenario_dict
        self.sc = scenario_from_dict(scenario_dict, source="<placement case>")
        (self.network, self.tasks, self.trace, self.storage, self.platform, self.workload, self.inputs,
         self.labels, _) = _resolve(self.sc, [], False, None)
        self.references = references_for(self.network, self.inputs)

    def engine(self, cls, brownout_at=()):
        setup = Setup(network=self.network, tasks=self.tasks, platform=self.platform, storage=self.storage,
                      trace=self.trace, workload=self.workload, inputs=self.inputs, labels=self.labels,
                      references=self.references, record_timeline=False, brownout_at=tuple(brownout_at))
        return Engine(setup, cls)

    def run(self, cls, brownout_at=()):
        """``(run, requests table)`` of ``cls`` under the failure schedule ``brownout_at``."""
        run = self.engine(cls, brownout_at).run()
        return run, request_table(run, None)

    def placements(self, cls):
        """The single-failure placements of ``cls``'s continuous run (its first boot): every NVM
        word boundary, then every task boundary not already one."""
        eng = self.engine(cls)
        first = {}
        brownout, run_tasks = eng._brownout, eng.runner.run
        ends = []

        def at_brownout():
            first.setdefault("words", eng._words)
            brownout()

        def tasks(first_task, stop, resume_cycles, armed):
            if "words" not in first:
                t = eng._active_s
                for d in eng.runner.base(first_task, stop).dur_list:
                    t += d
                    ends.append(int(round(t * eng.clock_hz)))
            return (yield from run_tasks(first_task, stop, resume_cycles, armed))

        eng._brownout, eng.runner.run = at_brownout, tasks
        eng.run()
        words = first.get("words", eng._words)
        return [("words", n) for n in range(words)] + [("cycles", c) for c in sorted(set(ends))]


def scan(cls, cases, limit: int, pairs: int, rng_seed: int = 0):
    """Run ``cls`` under the placements of each case: every single failure (at most ``limit``
    runs in all: every placement of a case when the budget allows, else an even spread), then ``pairs`` random pairs (a second failure in
    the second boot). Returns ``(case dict, brownout_at, problems, runs done)`` of the first wrong
    run, or ``(None, None, [], runs done)``."""
    from .check import violations
    resolved = [Case(c) for c in cases]
    singles = [[(p,) for p in case.placements(cls)] for case in resolved]
    done = 0
    for case, places, n in zip(resolved, singles, _allot([len(p) for p in singles], limit)):
        for schedule in _spread(places, n):
            run, req = case.run(cls, schedule)
            done += 1
            problems = violations(run, req)
            if problems:
                return case.data, schedule, problems, done
    rng = np.random.default_rng(rng_seed)
    for _ in range(pairs):
        k = int(rng.integers(len(resolved)))
        places = singles[k]
        if not places:
            continue
        a, b = places[int(rng.integers(len(places)))], places[int(rng.integers(len(places)))]
        schedule = a + b
        run, req = resolved[k].run(cls, schedule)
        done += 1
        problems = violations(run, req)
        if problems:
            return resolved[k].data, schedule, problems, done
    return None, None, [], done


def _allot(sizes, budget):
    """Runs per case: every placement of the smaller cases, an equal share of what is left for
    the larger ones (the whole budget used while any case has placements left)."""
    alloc = [0] * len(sizes)
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    left = budget
    for j, i in enumerate(order):
        alloc[i] = min(sizes[i], left // (len(order) - j))
        left -= alloc[i]
    return alloc


def _spread(items, n):
    """At most ``n`` of ``items``, evenly spread (all of them if there are no more than ``n``)."""
    if len(items) <= n:
        return items
    idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
    return [items[i] for i in idx]
