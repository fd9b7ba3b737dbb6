"""Where the work runs: one (point, scheduler) unit in a worker (warm kernels, cached traces),
batches of units, and the executors (inline, local processes, dask.distributed)."""
from __future__ import annotations
import atexit
import concurrent.futures as cf
import json
import os
import socket
import threading
import time
import traceback
from pathlib import Path
from ...errors import ScenarioError


# --------------------------------------------------------------------------------------------
# the worker side: one (point, scheduler) unit

_warm_lock = threading.Lock()
_warm = False
_trace_cache: dict = {}
_trace_lock = threading.Lock()
TRACE_CACHE_SIZE = 8


def _ensure_warm(schedulers=None):
    """Compile (or load from the numba cache) the kernels once per process, not per point
    (``schedulers``: the names whose kernels are needed; None: all)."""
    global _warm
    with _warm_lock:
        if not _warm:
            from ..warmup import warmup
            warmup(schedulers)
            _warm = True


def _init_worker(parent_pid: int, schedulers=None):
    """Pool initializer: warm numba, leave Ctrl-C to the parent, and exit if the parent dies
    (a SIGKILLed sweep must not leave its workers running)."""
    import signal
    import warnings
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # numba's typeof warns (once per worker) about a broadcast array passed by the engine; it would
    # only garble the progress bar here (it shows in the engine's own tests).
    warnings.filterwarnings("ignore", message="future versions will not create a writeable array",
                            category=FutureWarning)

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(0.5)
    threading.Thread(target=watch, daemon=True, name="intersim-parent-watch").start()
    _ensure_warm(schedulers)


def _cached_scenario_class():
    from ...scenario import Scenario

    class CachedScenario(Scenario):
        """Loads each trace once per worker process: a point's schedulers and neighbouring points
        share it (Trace is immutable, so sharing cannot change a result)."""

        def trace(self):
            tr = self.data["trace"]
            key = json.dumps(tr, sort_keys=True, default=str)
            if tr["file"] is not None:
                p = Path(tr["file"]) if Path(tr["file"]).is_absolute() else self.base_dir / tr["file"]
                st = p.stat()
                key += f"|{p.resolve()}|{st.st_mtime_ns}|{st.st_size}"
            else:
                key += f"|seed={self.data['seed']}"
            with _trace_lock:
                hit = _trace_cache.get(key)
            if hit is not None:
                return hit
            trace = super().trace()
            with _trace_lock:
                if len(_trace_cache) >= TRACE_CACHE_SIZE:
                    _trace_cache.pop(next(iter(_trace_cache)))
                _trace_cache[key] = trace
            return trace
    return CachedScenario


def run_unit(unit: dict) -> dict:
    """Simulate one point under one scheduler; return its summary row, or an ``error`` row.

    ``unit``: ``scenario`` (resolved data, ``schedulers.names`` = [the scheduler]), ``base_dir``
    (where relative trace files are), ``source`` (for messages) and ``scheduler``.
    """
    _ensure_warm()
    from ...report.results import SUMMARY_COLUMNS
    from ...simulate import simulate_summaries
    t0 = time.perf_counter()
    error = tb = None
    try:
        sc = _cached_scenario_class()(unit["scenario"], unit["source"], Path(unit["base_dir"]))
        rec = simulate_summaries(sc)[0]
        row = {c: rec[c] for c in SUMMARY_COLUMNS if c in rec}
    except Exception as exc:  # noqa: BLE001 -- a failing point is recorded, the sweep goes on
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc()
        row = {"scheduler": unit["scheduler"], "verdict": "error"}
    row["error"] = error
    row["wall_s"] = time.perf_counter() - t0
    row["wall_host"] = socket.gethostname()
    row["wall_pid"] = os.getpid()
    row["wall_traceback"] = tb
    return row


def run_units(units: list) -> list:
    """:func:`run_unit` for each of a batch of units, in order (one round trip to a worker)."""
    return [run_unit(unit) for unit in units]


#: most runs sent to a worker in one batch (fewer round trips; small enough to keep the load even)
MAX_BATCH = 8


def _batch_size(n_runs: int, workers: int) -> int:
    """Runs per batch: about 20 batches per worker at least, at most :data:`MAX_BATCH`."""
    return max(1, min(MAX_BATCH, n_runs // (20 * max(workers, 1))))


def _batches(units, size: int):
    """``[(point, unit), ...]`` lists of ``size`` (the first of one: its row reaches disk early)."""
    batch, first = [], True
    for item in units:
        batch.append(item)
        if first or len(batch) >= size:
            yield batch
            batch, first = [], False
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------
# engines: where units run

class _InlineEngine:
    """``workers=0``: in this process (debugging, profiling)."""

    window = 1
    label = "in this process"

    def submit(self, units):
        f = cf.Future()
        f.set_result(run_units(units))
        return f

    def close(self, cancel=False):
        pass


#: live local pools, kept between sweeps of this process: (workers, NUMBA_CACHE_DIR) -> executor
_POOLS: dict = {}
_pools_lock = threading.Lock()


def _pool(workers: int, schedulers=None):
    """The pool of ``workers`` local processes: the one a previous sweep of this process left
    running (its workers warm: kernels loaded, traces and task memos kept), else a new one.
    A pool whose worker died (broken) is replaced. Pools are keyed by the worker count and
    NUMBA_CACHE_DIR (read by a worker when it starts: a different cache needs new workers).
    Returns (executor, reused)."""
    import multiprocessing
    key = (workers, os.environ.get("NUMBA_CACHE_DIR"))
    with _pools_lock:
        ex = _POOLS.get(key)
        if ex is not None and not (getattr(ex, "_broken", False) or getattr(ex, "_shutdown_thread", False)):
            return ex, True
        ex = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_init_worker, initargs=(os.getpid(), schedulers))
        _POOLS[key] = ex
        return ex, False


def _drop_pool(ex, cancel: bool) -> None:
    """Shut ``ex`` down and forget it (``cancel``: terminate its workers now)."""
    with _pools_lock:
        for key in [k for k, v in _POOLS.items() if v is ex]:
            del _POOLS[key]
    if cancel:
        for p in list((getattr(ex, "_processes", None) or {}).values()):
            p.terminate()
    ex.shutdown(wait=not cancel, cancel_futures=cancel)


def shutdown_workers() -> int:
    """End the local worker pools kept between sweeps (they otherwise end with this process).
    Returns the number of pools shut down."""
    with _pools_lock:
        pools = list(_POOLS.values())
    for ex in pools:
        _drop_pool(ex, cancel=False)
    return len(pools)


# end the kept pools while the interpreter is whole (an executor collected during its teardown
# warns from its weakref callback)
atexit.register(shutdown_workers)


def live_workers() -> dict:
    """``{(workers, NUMBA_CACHE_DIR): [pid, ...]}`` of the pools kept between sweeps (their
    processes started so far)."""
    with _pools_lock:
        return {k: sorted((getattr(ex, "_processes", None) or {}).keys()) for k, ex in _POOLS.items()}


class _PoolEngine:
    """Local worker processes (spawned: same behaviour on every OS, and a cold numba cache can
    be measured by setting NUMBA_CACHE_DIR before the pool starts). The pool outlives the sweep
    (``keep``): the next sweep of this process with as many workers reuses its warm workers."""

    def __init__(self, workers: int, schedulers=None, keep: bool = True):
        self.ex, self.reused = _pool(workers, schedulers)
        self.keep = keep
        self.window = 2 * workers + 2
        self.label = (f"{workers} local worker process{'es' if workers > 1 else ''}"
                      + (" (warm, kept from an earlier sweep)" if self.reused else ""))

    def submit(self, units):
        return self.ex.submit(run_units, units)

    def close(self, cancel=False):
        if cancel or not self.keep:
            _drop_pool(self.ex, cancel)


class _DaskEngine:
    """A dask.distributed cluster (optional extra: ``pip install intersim[sweep]``)."""

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError:
            raise ScenarioError(f"--dask {address}: dask.distributed is not installed; allowed: "
                                "pip install 'intersim[sweep]'") from None
        try:
            self.client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ScenarioError(f"--dask {address!r}: cannot connect to the scheduler ({exc}); "
                                "allowed: the address of a running dask scheduler, e.g. "
                                "tcp://host:8786") from None
        try:  # warm every worker now, in parallel; late joiners warm on their first unit
            self.client.run(_ensure_warm)
        except Exception:  # noqa: BLE001 -- best effort only
            pass
        threads = sum(self.client.nthreads().values()) or 1
        self.window = 2 * threads + 2
        self.ex = self.client.get_executor(pure=False)
        self.label = f"dask cluster {address} ({threads} threads)"

    def submit(self, units):
        return self.ex.submit(run_units, units)

    def close(self, cancel=False):
        try:
            self.ex.shutdown(wait=not cancel)
        finally:
            self.client.close()
