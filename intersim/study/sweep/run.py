"""Running a sweep: the units not yet finished, dispatched longest-expected-first to an executor,
their rows appended to the store as they arrive, one failing point recorded, not fatal."""
from __future__ import annotations
import concurrent.futures as cf
import copy
import math
import sys
import time
from pathlib import Path
from ...errors import ScenarioError
from .spec import SweepAborted, Sweep, load_sweep
from .workers import _batch_size, _batches, _InlineEngine, _PoolEngine, _DaskEngine
from .store import _row, _table, _frame, _Sink, _unlock, _prepare_dir, load_results


# --------------------------------------------------------------------------------------------
# running

def run_sweep(sweep, out=None, workers: int = 1, dask_address: str | None = None, *,
              progress: bool = False, base_dir=None, keep_workers: bool = True):
    """Run a sweep and return its table (pandas DataFrame, one row per (point, scheduler)).

    Parameters
    ----------
    sweep : str, Path, dict or Sweep
        A sweep TOML file, a dict with its schema (relative paths against ``base_dir``, default
        the current directory), or a loaded :class:`Sweep`.
    out : str or Path, optional
        Directory for the Parquet dataset (``out/parts``) and ``out/sweep.json``. Resumes what
        is there (refuses, ScenarioError, if it holds a different sweep). ``None``: in memory.
    workers : int
        Local worker processes; ``0`` runs in this process. Ignored with ``dask_address``.
    dask_address : str, optional
        Address of a dask.distributed scheduler to run on instead.
    progress : bool
        Show a tqdm progress bar on stderr.
    keep_workers : bool
        Keep the local worker processes running after the sweep (default): the next sweep of
        this process with as many workers reuses them warm (kernels loaded, traces and task memos
        kept); :func:`intersim.study.sweep.shutdown_workers` ends them (else they end with this
        process). False: end them with this sweep. A dask cluster's workers live on regardless.

    ``df.attrs["sweep"]`` holds ``run_s`` [s] (engine start to the last row on disk), ``units_run``,
    ``parts_written`` and ``workers_reused`` (the local workers were kept from an earlier sweep).
    """
    sw = load_sweep(sweep, base_dir)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ScenarioError(f"workers = {workers!r} is invalid; allowed: an integer >= 0")
    out_path = Path(out) if out is not None else None
    fd, done = _prepare_dir(sw, out_path) if out_path is not None else (None, set())
    try:
        stats = _execute(sw, out_path, done, workers, dask_address, progress, keep_workers)
        if out_path is not None:
            df = load_results(out_path)
        else:
            df = _frame(_table(stats.pop("rows"), sw.columns()))
    finally:
        _unlock(fd)
    stats.pop("rows", None)
    df.attrs["sweep"] = stats
    return df


def _expected_cost(point, name) -> tuple:
    """A sort key: runs expected to take longest first. A run's work grows with the power cycles
    it lives through, roughly the harvest over the energy window ``C (V_on^2 - V_off^2) / 2``;
    ``continuous`` never cycles. Only the order of the runs depends on it, never a result."""
    st = point.scenario.get("storage", {})
    try:
        window = float(st["capacitance_f"]) * (float(st["v_on_v"]) ** 2 - float(st["v_off_v"]) ** 2)
    except (KeyError, TypeError, ValueError):
        window = math.inf
    return (name == "continuous", window if window > 0 else math.inf)


def _units(sw: Sweep, done: set):
    """The runs left, longest expected first (so no long run starts last and leaves one worker
    alone at the end), except one expected-short run first, whose row reaches disk early."""
    todo = [(p, name) for p in sw.points for name in p.schedulers if (p.id, name) not in done]
    todo.sort(key=lambda pn: _expected_cost(*pn))
    if len(todo) > 1:
        todo.insert(0, todo.pop())
    for p, name in todo:
        data = copy.deepcopy(p.scenario)
        data["schedulers"]["names"] = [name]
        yield p, {"scenario": data, "base_dir": str(sw.scenario_dir), "scheduler": name,
                  "source": f"{sw.source} point {p.index}"}


def _execute(sw: Sweep, out: Path | None, done: set, workers: int, dask_address, progress,
             keep_workers: bool = True) -> dict:
    sink = _Sink(sw, out)
    columns = sink.columns
    left = {p.id: sum((p.id, n) not in done for n in p.schedulers) for p in sw.points}
    n_done_points = sum(1 for v in left.values() if v == 0)
    total_runs = sum(len(p.schedulers) for p in sw.points)
    n_before = total_runs - sum(left.values())
    batches = _batches(_units(sw, done), _batch_size(sum(left.values()), max(workers, 1)))
    errors = n_run = 0
    t0 = time.perf_counter()
    engine = bar = None
    ok = False
    try:
        if any(left.values()):
            engine = (_DaskEngine(dask_address) if dask_address else
                      _PoolEngine(workers, sorted({n for p in sw.points for n in p.schedulers}), keep_workers)
                      if workers > 0 else _InlineEngine())
        if progress and engine is not None:
            from tqdm import tqdm
            bar = tqdm(total=len(sw.points), initial=n_done_points, unit="pt", desc=sw.name,
                       file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
            bar.set_postfix_str(f"runs {n_before}/{total_runs}")
        tick = bar is not None and sys.stderr.isatty()  # keep the clock moving between points
        pending: dict = {}

        def refill():
            while engine is not None and len(pending) < engine.window:
                batch = next(batches, None)
                if batch is None:
                    return
                pending[engine.submit([unit for _, unit in batch])] = [point for point, _ in batch]

        refill()
        while pending:
            finished, _ = cf.wait(list(pending), timeout=sink.due_in(), return_when=cf.FIRST_COMPLETED)
            for f in finished:
                points = pending.pop(f)
                try:
                    results = f.result()
                except Exception as exc:  # noqa: BLE001 -- outside any point: stop, keep what is done
                    where = ", ".join(str(i) for i in dict.fromkeys(p.index for p in points))
                    raise SweepAborted(f"point {where} could not run ({type(exc).__name__}: {exc}); "
                                       "finished points are saved, run the same command again to resume") from exc
                for point, result in zip(points, results):
                    row = _row(sw, point, result, columns)
                    sink.add(row)
                    n_run += 1
                    errors += row["error"] is not None
                    left[point.id] -= 1
                    if bar is not None:
                        bar.update(int(left[point.id] == 0))
                if bar is not None:
                    bar.set_postfix_str(f"runs {n_before + n_run}/{total_runs}"
                                        + (f", errors {errors}" if errors else ""), refresh=False)
            if tick and not finished:
                bar.refresh()
            sink.maybe_flush()
            refill()
        sink.flush()
        ok = True
    finally:
        try:
            sink.flush()  # rows already computed are kept, even on Ctrl-C
        finally:
            if engine is not None:
                engine.close(cancel=not ok)
            if bar is not None:
                bar.close()
    return {"run_s": time.perf_counter() - t0, "units_run": n_run, "errors": errors,
            "parts_written": sink.parts, "engine": engine.label if engine else "none",
            "workers_reused": bool(getattr(engine, "reused", False)),
            "rows": sink.rows}
