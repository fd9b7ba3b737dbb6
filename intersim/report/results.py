"""Result tables (pandas) and their files: summary.csv, requests.csv, timeline.parquet, run.json."""
from __future__ import annotations

import functools
import json
import math
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..compensated import neumaier_sum

#: Energy-book columns in the order of the balance equation (inputs first).
BOOK_INPUTS = ("energy_harvested_j", "energy_supply_j")
BOOK_OUTPUTS = ("energy_input_loss_j", "energy_clamped_j", "energy_stored_delta_j",
                "energy_leakage_j", "energy_esr_j", "energy_output_loss_j", "energy_boot_j",
                "energy_restore_j", "energy_compute_j", "energy_checkpoint_j",
                "energy_reexecution_j", "energy_sleep_j")
BOOK_COLUMNS = BOOK_INPUTS + BOOK_OUTPUTS
#: an early exit's answering layer (:func:`intersim.nn.early_exit.compose` names them so)
_EXIT_LAYER = re.compile(r"exit\d+_fc")

SUMMARY_COLUMNS = (
    "scheduler", "requests", "completed", "dropped", "unfinished", "completion_rate", "correct",
    "accuracy", "accuracy_all", "latency_mean_s", "latency_p50_s", "latency_p95_s", "latency_max_s",
    "throughput_per_h",
    "power_failures", "verdict",
    "latency_done_p50_s", "latency_done_p95_s",
) + BOOK_COLUMNS + (
    "energy_residual_j", "checkpoints", "restores", "commits", "boots", "wasted_boots",
    "reexecuted_cycles", "events", "verdict_detail", "exit_final_rate", "exits", "deadline_met_rate",
)
#: Summary columns that count things (integers; nullable in the row of a scheduler that raised).
COUNT_COLUMNS = ("requests", "completed", "dropped", "unfinished", "correct", "power_failures", "checkpoints",
                 "restores", "commits", "boots", "wasted_boots", "reexecuted_cycles", "events")
REQUEST_COLUMNS = ("scheduler", "request", "status", "arrival_s", "done_s", "latency_s", "correct",
                   "power_failures", "queue_s", "off_s", "compute_s", "preserve_s", "restore_s",
                   "reexecution_s", "label", "predicted", "label_ok", "exit_layer", "deadline_met")
TIMELINE_COLUMNS = ("scheduler", "t_start_s", "t_end_s", "state", "harvest_w", "load_w",
                    "v_start_v", "v_end_v")


def books_residual_j(books: dict) -> float:
    """``inputs - outputs`` of the energy books [J], compensated."""
    return neumaier_sum([books[k] for k in BOOK_INPUTS] + [-books[k] for k in BOOK_OUTPUTS])


def quantile_with_inf(latencies: np.ndarray, q: float) -> float:
    """Empirical quantile (inverted CDF, no interpolation), so ``+inf`` entries stay meaningful."""
    if latencies.size == 0:
        return math.nan
    return float(np.quantile(latencies, q, method="inverted_cdf"))


def request_columns(run, labels) -> dict:
    """The per-request columns of ``run`` as numpy arrays (see :data:`REQUEST_COLUMNS`)."""
    r = run.requests
    n = r["arrival_s"].size
    status = r["status"].astype(str)
    done = status == "done"
    latency = np.where(done, r["done_s"] - r["arrival_s"], math.inf)
    queue = np.where(np.isnan(r["service_s"]), math.nan, r["service_s"] - r["arrival_s"])
    lab = (np.asarray(labels)[np.arange(n) % len(labels)] if labels is not None and len(labels)
           else np.full(n, -1)).astype(np.int64)
    predicted = np.where(done, r["predicted"], -1)
    # the user's answer was right: completed and top-1 = label; wrong when dropped or unfinished;
    # <NA> without a label (-1)
    label_ok = pd.array(np.where(lab >= 0, done & (predicted == lab), False), dtype="boolean")
    label_ok[lab < 0] = pd.NA
    return {
        "scheduler": run.scheduler, "request": np.arange(n), "status": status,
        "arrival_s": r["arrival_s"], "done_s": r["done_s"], "latency_s": latency,
        "correct": r["correct"] & done, "power_failures": r["power_failures"],
        "queue_s": queue, "off_s": r["off_s"], "compute_s": r["compute_s"],
        "preserve_s": r["preserve_s"], "restore_s": r["restore_s"],
        "reexecution_s": r["reexecution_s"], "label": lab, "predicted": predicted, "label_ok": label_ok,
        # the layer whose output answered (an early exit's ``exit{k}_fc`` or the final head); "" if not done
        "exit_layer": np.where(done, r["exit_layer"], "").astype(object) if "exit_layer" in r else np.full(n, "", object),
        # completed within ``[workload] deadline_s`` of its arrival; <NA> without a deadline
        "deadline_met": _deadline_met(r, done),
    }


def _deadline_met(r, done):
    """Per request: completed within the deadline (False when dropped or unfinished); all <NA>
    without ``[workload] deadline_s``."""
    if "deadline_met" not in r:
        return pd.array([pd.NA] * done.size, dtype="boolean")
    return pd.array(np.asarray(r["deadline_met"], bool) & done, dtype="boolean")


def accuracy(status, label, predicted) -> dict:
    """``accuracy``: top-1 over completed requests with a label; ``accuracy_all``: over every
    labelled arrival, dropped and unfinished ones counted wrong (what the device's user gets).
    NaN where no request has a label (``label`` -1)."""
    done = np.asarray(status, dtype=str) == "done"
    label, predicted = np.asarray(label, np.int64), np.asarray(predicted, np.int64)
    known = label >= 0
    right = done & known & (predicted == label)
    n_done, n_all = int((done & known).sum()), int(known.sum())
    return {"accuracy": float(right.sum()) / n_done if n_done else math.nan,
            "accuracy_all": float(right.sum()) / n_all if n_all else math.nan}


def request_table(run, labels, columns: dict | None = None) -> pd.DataFrame:
    """The requests table of ``run`` (``columns``: its :func:`request_columns`, if made already)."""
    return pd.DataFrame(columns if columns is not None else request_columns(run, labels),
                        columns=list(REQUEST_COLUMNS))


def summary_row(run, req, t0_s: float) -> dict:
    """The summary of ``run`` from its requests (:func:`request_columns`, or the table)."""
    status = np.asarray(req["status"], dtype=str)
    n = status.size
    done = status == "done"
    lat = np.asarray(req["latency_s"], dtype=np.float64)
    n_done = int(done.sum())
    row = {
        "scheduler": run.scheduler, "requests": n, "completed": n_done,
        "dropped": int((status == "dropped").sum()),
        "unfinished": int((status == "unfinished").sum()),
        "completion_rate": float(done.mean()) if n else math.nan,
        "correct": int(np.asarray(req["correct"]).sum()),
        **accuracy(status, req["label"], req["predicted"]),
        "latency_mean_s": float(lat[done].mean()) if n_done else math.nan,
        "latency_p50_s": quantile_with_inf(lat, 0.50),
        "latency_p95_s": quantile_with_inf(lat, 0.95),
        "latency_max_s": float(lat.max()) if n else math.nan,
        # completed requests only: finite whenever something completed (NaN otherwise)
        "latency_done_p50_s": quantile_with_inf(lat[done], 0.50),
        "latency_done_p95_s": quantile_with_inf(lat[done], 0.95),
        # completed requests per hour of the run; undefined for a run of zero length (one arrival, no drain)
        "throughput_per_h": (float(n_done) / (run.horizon_s - t0_s) * 3600.0 if run.horizon_s > t0_s
                             else math.nan),
        "power_failures": run.counts["power_failures"], "verdict": run.verdict,
    }
    row.update(run.books)
    row["energy_residual_j"] = books_residual_j(run.books)
    for k in ("checkpoints", "restores", "commits", "boots", "wasted_boots", "reexecuted_cycles"):
        row[k] = run.counts[k]
    row["events"] = run.events
    row["verdict_detail"] = run.verdict_detail
    row.update(exit_stats(req["exit_layer"], done))
    met = pd.array(req["deadline_met"], dtype="boolean")
    # share of all arrivals completed within their deadline (NaN without one)
    row["deadline_met_rate"] = float(met.sum()) / n if n and not met.isna().all() else math.nan
    return row


def exit_stats(exit_layer, done) -> dict:
    """``exits``: completed requests per answering layer, e.g. ``"exit1_fc:3 exit2_fc:5 fc0:2"``
    (in order of first completion); ``exit_final_rate`` [1]: share of completed requests answered
    by the final head (the layer most answers of a run without early exits come from; NaN when
    nothing completed). The final head is the layer that is not an ``exit<k>_fc``."""
    layers = [str(x) for x, d in zip(exit_layer, done) if d]
    counts = {}
    for x in layers:
        counts[x] = counts.get(x, 0) + 1
    early = sum(v for k, v in counts.items() if _EXIT_LAYER.fullmatch(k))
    return {"exits": " ".join(f"{k}:{v}" for k, v in counts.items()),
            "exit_final_rate": (len(layers) - early) / len(layers) if layers else math.nan}


@functools.lru_cache(maxsize=1)
def _empty_timeline() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in TIMELINE_COLUMNS})


def empty_timeline_table() -> pd.DataFrame:
    """A timeline table with no rows (no timeline recorded)."""
    return _empty_timeline().copy()


def timeline_table(run) -> pd.DataFrame:
    tl = run.timeline
    if not tl:
        return empty_timeline_table()
    df = pd.DataFrame(tl)
    df.insert(0, "scheduler", run.scheduler)
    return df[list(TIMELINE_COLUMNS)]


@functools.lru_cache(maxsize=1)
def git_hash() -> str | None:
    """The commit of the intersim checkout, when it is one."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass
class SchedulerFailure:
    """A user's scheduler raised during its run: who, in which hook, and its traceback."""

    scheduler: str
    hook: str
    exception: BaseException
    traceback_text: str
    requests: int = 0
    row_name: str = ""

    @classmethod
    def from_exception(cls, scheduler_cls, exc: BaseException, requests: int = 0) -> "SchedulerFailure":
        """Name the hook (the outermost frame in the scheduler's own source files) and keep the
        traceback from there on: theirs, not the engine's."""
        import inspect
        import traceback
        files = set()
        for klass in scheduler_cls.__mro__:
            if klass is not object and not klass.__module__.startswith("intersim."):
                try:
                    files.add(str(Path(inspect.getfile(klass)).resolve()))
                except (TypeError, OSError):
                    pass
        seen, e, found = set(), exc, None
        while e is not None and id(e) not in seen and found is None:  # simpy re-raises a copy: follow causes
            seen.add(id(e))
            tb = e.__traceback__
            while tb is not None and str(Path(tb.tb_frame.f_code.co_filename).resolve()) not in files:
                tb = tb.tb_next
            found = (e, tb) if tb is not None else None
            e = e.__cause__ or e.__context__
        if found is None:
            hook, text = "", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        else:
            exc, tb = found
            hook = tb.tb_frame.f_code.co_name
            text = "".join(traceback.format_exception(type(exc), exc, tb, chain=False))
        name = f"{scheduler_cls.__module__}:{scheduler_cls.__qualname__}"
        return cls(name, hook, exc, text, requests, getattr(scheduler_cls, "name", scheduler_cls.__name__))

    def line(self) -> str:
        """One line naming the scheduler, the hook and the exception."""
        msg = str(self.exception).splitlines()[0] if str(self.exception) else ""
        if self.hook:
            return f"scheduler {self.scheduler!r} raised {type(self.exception).__name__} in its hook {self.hook}: {msg}"
        return f"scheduler {self.scheduler!r} failed: {type(self.exception).__name__}: {msg}"

    def summary_row(self) -> dict:
        """Its summary row: ``verdict = "error"``, the line as ``verdict_detail``, no figures."""
        row = {c: math.nan for c in SUMMARY_COLUMNS}
        row.update(scheduler=self.row_name or self.scheduler, requests=self.requests, verdict="error",
                   verdict_detail=self.line())
        return row


@dataclass
class Results:
    """Outcome of :func:`intersim.simulate`: three DataFrames and provenance."""

    summary: pd.DataFrame
    requests: pd.DataFrame
    timeline: pd.DataFrame
    provenance: dict = field(default_factory=dict)
    runs: list = field(default_factory=list, repr=False)
    #: what the figure draws besides the tables: ``trace``, ``storage``, ``t0_s`` and ``horizon_s`` [s]
    setting: dict = field(default_factory=dict, repr=False)
    failures: list = field(default_factory=list, repr=False)

    def write(self, out_dir, plot=True, timeline=True) -> list[Path]:
        """Write every output file into ``out_dir`` (created if needed; other files untouched).

        All or nothing: every file is first written under a temporary name, and only when all
        succeeded are they moved into place. A failed write (disk full, file-size limit,
        permissions) removes the temporaries (and ``out_dir`` if this call created it), leaves
        earlier files as they were and raises :class:`~intersim.errors.OutputError` naming the
        file. Files get the usual ``0666 & ~umask`` mode. ``timeline=False`` skips
        ``timeline.parquet``.
        """
        from ..errors import OutputError
        out = Path(out_dir)
        created = _make_dir(out)
        jobs = [("summary.csv", lambda p: _write_csv(self.summary, p)),
                ("requests.csv", lambda p: _write_csv(self.requests, p))]
        if timeline:
            jobs.append(("timeline.parquet", lambda p: _write_parquet(self.timeline, p, self.provenance)))
        jobs.append(("run.json", lambda p: Path(p).write_text(json.dumps(self.provenance, indent=2) + "\n")))
        if plot:
            from .plots import plot_comparison
            jobs.append(("comparison.png", lambda p: plot_comparison(self, p)))
        done = []
        try:
            for name, write in jobs:
                done.append((out / name, _staged(out / name, write)))
        except OSError as exc:
            for _, tmp in done:
                Path(tmp).unlink(missing_ok=True)
            if created:
                _remove_empty_dirs(out, created)
            reason = exc.strerror or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise OutputError(f"{out / name}: cannot be written ({reason}); nothing was written to {out}") from None
        mode = 0o666 & ~_umask()
        for path, tmp in done:
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        return [path for path, _ in done]

    def table(self) -> str:
        """The comparison table printed by ``intersim run``: per scheduler the requests completed,
        dropped and unfinished, accuracy (completed with labels / all arrivals), the latency
        quantiles over all arrivals (``all``: not completed counts as inf) and over completed
        requests (``done``, with their mean), completed requests per hour of the run, and counts; its last line says which scheduler is
        fastest and where each other one loses its time."""
        from .compare import winner_line
        cols = {"scheduler": "scheduler", "requests": "requests", "completed": "completed",
                "dropped": "dropped", "unfinished": "unfinished", "correct": "correct",
                "latency_p50_s": "p50_all_s", "latency_p95_s": "p95_all_s",
                "latency_done_p50_s": "p50_done_s", "latency_done_p95_s": "p95_done_s",
                "latency_mean_s": "mean_done_s", "throughput_per_h": "throughput_per_h",
                "power_failures": "power_failures",
                "checkpoints": "checkpoints", "energy_reexecution_j": "reexecution_j", "verdict": "verdict"}
        df = self.summary[list(cols)].rename(columns=cols)
        df.insert(6, "acc/all", ["/".join("-" if v != v else f"{v:.3f}" for v in ab) for ab in
                                 zip(self.summary["accuracy"], self.summary["accuracy_all"])])
        if "published_s" in self.summary:  # a scenario's [reference]: the published figure beside
            at = list(df.columns).index("mean_done_s") + 1
            df.insert(at, "published_s", self.summary["published_s"])
            df.insert(at + 1, "error_pct", self.summary["published_error_pct"])
        text = df.to_string(index=False, float_format=lambda x: f"{x:.4g}")
        return (text + "\nlatency [s]: *_all over every arrival (not completed = inf), *_done over "
                "completed requests; acc/all: top-1 accuracy over completed requests with labels / "
                "over all arrivals\n" + self._exit_lines() + winner_line(self.summary, self.requests))

    def _exit_lines(self) -> str:
        """Where requests were answered and deadlines met, when a run exited early or had a
        deadline (empty otherwise)."""
        s = self.summary
        early = s["exit_final_rate"].notna() & (s["exit_final_rate"] < 1)
        deadline = s["deadline_met_rate"].notna()
        if not (early.any() or deadline.any()):
            return ""
        parts = [f"{r['scheduler']} {r['exits'] or '-'}" + (f", {r['deadline_met_rate']:.3f} met"
                                                             if r["deadline_met_rate"] == r["deadline_met_rate"] else "")
                 for _, r in s.iterrows() if r["verdict"] != "error"]
        return ("answers by layer (and, with a deadline, the share of arrivals completed by it): ") + "; ".join(parts) + "\n"


def _make_dir(out: Path):
    """Create ``out`` (and parents); return the topmost directory created, or None."""
    from ..errors import OutputError
    top = None
    for p in [out, *out.parents]:
        if p.exists():
            break
        top = p
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot create the directory ({exc.strerror or exc})") from None
    return top


def _remove_empty_dirs(out: Path, top: Path):
    p = out
    while True:
        try:
            p.rmdir()
        except OSError:
            return
        if p == top:
            return
        p = p.parent


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _staged(path: Path, write) -> str:
    """Write to a temporary file next to ``path``; return its name (the caller moves it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return tmp


def _write_csv(df: pd.DataFrame, path):
    """CSV whose floats round-trip exactly (shortest repr)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = [repr(float(x)) for x in out[c]]
    out.to_csv(path, index=False)


def _write_parquet(df: pd.DataFrame, path, provenance: dict):
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"intersim"] = json.dumps(provenance, sort_keys=True).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
