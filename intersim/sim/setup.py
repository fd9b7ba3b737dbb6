"""What one run takes and what it gives back: :class:`Setup` (everything resolved) and
:class:`RunResult` (raw columns, books and counts), and the two ways a run ends early."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..energy import capacitor as cap


class _Horizon(Exception):
    """The run reached its horizon."""


class _Stop(Exception):
    """The run stopped early with a verdict."""


@dataclass
class Setup:
    """Everything one run needs, resolved (see :func:`intersim.simulate.simulate`)."""

    network: object
    tasks: list
    platform: object
    storage: cap.Storage
    trace: object
    workload: object
    inputs: np.ndarray              # int8 request inputs, cycled over
    labels: np.ndarray | None       # labels of those inputs, or None
    references: list                # continuous-power output per input
    costs: list = field(default_factory=list)
    record_timeline: bool = True
    #: forced brown-outs, one entry per boot (whatever the voltage): the k-th boot fails after
    #: ``brownout_at[k]`` active cycles since boot (an int, or ``("cycles", n)``), or after
    #: ``("words", n)`` non-volatile words written since boot; ``None``: no injection
    brownout_at: tuple = ()
    #: "regulator" (constant power through the output regulator) or "current" (the MCU draws a
    #: constant current ``P_pin / platform.supply_v`` at the capacitor: direct or LDO supply)
    load_kind: str = "regulator"
    #: carry out runs of identical normal power cycles in compiled kernels (:mod:`intersim.sim.power_cycles`);
    #: False steps every action in Python -- the same results, bit for bit (the tests compare)
    fast_cycles: bool = True
    #: called as ``progress(t_s)`` with the simulated time [s] as the run advances, at most about
    #: once per thousandth of the run (a progress bar; it must not touch the run)
    progress: object = None
    #: ``optimal``'s planning budget in kernel calls per planning (None: its default)
    optimal_budget_calls: int | None = None


@dataclass
class RunResult:
    """Raw outcome of one run; :mod:`intersim.report.results` turns it into tables."""

    scheduler: str
    verdict: str
    verdict_detail: str
    requests: dict                  # column -> array, one row per request
    books: dict                     # energy_*_j -> float
    counts: dict                    # power_failures, checkpoints, restores, ...
    timeline: dict                  # column -> array
    events: int
    horizon_s: float
    e_initial_j: float
    #: power cycles taken by the compiled kernels, by kind ("checkpoint", "boot") -- a diagnostic:
    #: the results are the same without them
    compiled_cycles: dict = field(default_factory=dict)
