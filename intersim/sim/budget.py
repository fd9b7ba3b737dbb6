"""Up-front size estimates of a run, so what cannot fit is refused with the numbers before any
work (instead of a 745 GiB allocation traceback, or a timeline that grows past the machine's
memory an hour into the run).

The estimate counts one timeline segment per trace sample crossed in the horizon for each
scheduler that runs on the harvest (not ``continuous``, which has an ideal supply), two per task
per request, and the request rows. A node that is off, or sleeps, between requests does cross
every sample (a starved 10-day run of a 1-s trace: 860 410 rows for 867 840 estimated); a
scheduler found infeasible early records fewer, so the estimate can refuse a run that would
have fit: drop the timeline then. ``intersim run --no-timeline`` (``record_timeline=False``)
drops the timeline, by far the largest part of a long run.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from ..errors import ScenarioError

#: Bytes one timeline row holds at the peak, all copies counted: the engine's five float64
#: buffers with their doubling slack, the run's column dict, the per-scheduler DataFrame, the
#: concatenated table and the Arrow table written to Parquet. Measured 270 B/row (peak RSS) on a
#: starved 10-day run of a 1-s trace, 860 410 rows (tests/test_budget.py keeps it honest).
TIMELINE_BYTES_PER_ROW = 300
#: Bytes one request holds per scheduler: the engine's per-request arrays, the requests
#: DataFrame (a Python string per status) and the CSV writer's shortest-repr strings.
REQUEST_BYTES = 1500
#: Most requests a run may have: ten million arrivals per scheduler is days of simulation.
MAX_REQUESTS = 10_000_000


@dataclass(frozen=True)
class RunEstimate:
    """Sizes of a run before it starts.

    Attributes
    ----------
    requests : int
        Arrivals per scheduler.
    horizon_s : float [s]
        End of the run: last arrival + drain.
    trace_segments : int
        Trace samples crossed in the horizon (loops counted), per harvesting scheduler.
    timeline_rows : int
        Estimated timeline rows over all schedulers (0 without a timeline).
    memory_bytes : int
        Estimated peak memory of the result tables [bytes].
    """

    requests: int
    horizon_s: float
    trace_segments: int
    timeline_rows: int
    memory_bytes: int


def estimate_run(trace, workload, n_tasks: int, n_schedulers: int, record_timeline: bool,
                 n_harvesting: int | None = None) -> RunEstimate:
    """Estimate the size of a run of ``workload`` on ``trace`` under ``n_schedulers`` schedulers,
    ``n_harvesting`` of which run on the harvest (default: all)."""
    n_harvesting = n_schedulers if n_harvesting is None else n_harvesting
    n_req = workload.n_arrivals()
    horizon = workload.last_arrival_s() + workload.drain_s
    start = min(workload.start_s if workload.arrivals_s is None else workload.arrivals_s[0], trace.start_s)
    span = max(horizon - start, 0.0)
    samples = int(trace.time_s.size)
    period = trace.end_s - trace.start_s
    if trace.loop and period > 0:
        segments = samples * math.ceil(span / period) if math.isfinite(span) else math.inf
    else:
        segments = samples
    rows = 0
    if record_timeline:
        rows = n_harvesting * segments + n_schedulers * n_req * (2 * n_tasks + 4)
    memory = rows * TIMELINE_BYTES_PER_ROW + n_schedulers * n_req * REQUEST_BYTES
    return RunEstimate(n_req, horizon, segments, rows, memory)


def available_memory_bytes() -> int | None:
    """Memory the OS says is available now [bytes] (``MemAvailable``), else physical memory,
    else ``None`` (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(est: RunEstimate, source: str, limit_bytes: int | None, record_timeline: bool) -> None:
    """Raise one :class:`ScenarioError` line with the estimate and the limit if the run cannot fit."""
    if est.requests > MAX_REQUESTS:
        raise ScenarioError(f"{source}: workload.duration_s / workload.period_s gives {est.requests:.4g} requests "
                            f"per scheduler; allowed: at most {MAX_REQUESTS:,} (shorten workload.duration_s "
                            f"or lengthen workload.period_s)")
    if limit_bytes is None or est.memory_bytes <= limit_bytes:
        return
    hint = ("; drop the timeline (intersim run --no-timeline) or shorten workload.duration_s"
            if record_timeline and est.timeline_rows else "; shorten workload.duration_s")
    rows = f" ({est.timeline_rows:.4g} timeline rows: {est.trace_segments:.4g} trace segments in " \
           f"{est.horizon_s:.4g} s for each scheduler on the harvest)" if est.timeline_rows else ""
    raise ScenarioError(f"{source}: the run needs about {_gib(est.memory_bytes)}{rows}, more than the "
                        f"{_gib(limit_bytes)} of memory available{hint}")


def _gib(n) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**28 else f"{n / 2**20:.3g} MiB"
