"""Inference requests: when they arrive, how many may wait, and how long the run drains."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError


@dataclass(frozen=True)
class Workload:
    """Request arrivals.

    Attributes
    ----------
    period_s : float [s] time between periodic arrivals (ignored if ``arrivals_s`` is given)
    duration_s : float [s] arrivals happen in ``[start_s, start_s + duration_s)``
    drain_s : float [s] the run continues this long after the last arrival
    queue_capacity : int [requests] requests held at once (in service + waiting); newer ones drop
    start_s : float [s] time of the first arrival
    arrivals_s : tuple of float [s] or None, explicit arrival times
    deadline_s : float [s] or None, relative deadline of every request (from its arrival); None: none.
        Seen by schedulers as ``dev.request_deadline_s`` (``freeml-adaptive`` decides with it)
    """

    period_s: float = 10.0
    duration_s: float = 600.0
    drain_s: float = 60.0
    queue_capacity: int = 4
    start_s: float = 0.0
    arrivals_s: tuple | None = None
    deadline_s: float | None = None

    def __post_init__(self):
        def bad(key, value, allowed):
            raise ScenarioError(f"workload.{key} = {value!r} is invalid; allowed: {allowed}")

        if self.arrivals_s is None and not (math.isfinite(self.period_s) and self.period_s > 0):
            bad("period_s", self.period_s, "a finite number > 0 [s]")
        if not (math.isfinite(self.duration_s) and self.duration_s > 0):
            bad("duration_s", self.duration_s, "a finite number > 0 [s]")
        if not (math.isfinite(self.drain_s) and self.drain_s >= 0):
            bad("drain_s", self.drain_s, "a finite number >= 0 [s]")
        if not (isinstance(self.queue_capacity, int) and self.queue_capacity >= 1):
            bad("queue_capacity", self.queue_capacity, "an integer >= 1")
        if self.deadline_s is not None and (isinstance(self.deadline_s, bool) or not isinstance(self.deadline_s, (int, float))
                                            or not (math.isfinite(self.deadline_s) and self.deadline_s > 0)):
            bad("deadline_s", self.deadline_s, "a finite number > 0 [s] (the relative deadline of each request)")
        if self.arrivals_s is not None:
            a = np.asarray(self.arrivals_s, dtype=float)
            if a.size == 0 or not np.all(np.isfinite(a)) or np.any(np.diff(a) < 0):
                bad("arrivals_s", self.arrivals_s, "a non-empty, non-decreasing list of finite times [s]")

    def n_arrivals(self) -> int:
        """Number of arrivals, computed without listing them."""
        if self.arrivals_s is not None:
            return len(self.arrivals_s)
        return max(int(math.ceil(self.duration_s / self.period_s - 1e-12)), 1)

    def last_arrival_s(self) -> float:
        """Time of the last arrival [s], computed without listing them."""
        if self.arrivals_s is not None:
            return float(self.arrivals_s[-1])
        return float(self.start_s + self.period_s * (self.n_arrivals() - 1))

    def arrival_times(self) -> np.ndarray:
        """Arrival times [s], non-decreasing."""
        if self.arrivals_s is not None:
            return np.asarray(self.arrivals_s, dtype=float)
        return self.start_s + self.period_s * np.arange(self.n_arrivals())

    def horizon_s(self) -> float:
        """End of the run [s]: last arrival plus the drain time."""
        return float(self.arrival_times()[-1] + self.drain_s)
