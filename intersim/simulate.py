"""``simulate``: run a scenario under each scheduler and collect the result tables."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ._version import __version__
from .sim.engine import Engine, Setup
from .errors import ModelError, SchedulerError
from .report.results import (
    COUNT_COLUMNS, REQUEST_COLUMNS, SUMMARY_COLUMNS, Results, SchedulerFailure, empty_timeline_table, git_hash,
    request_columns, request_table, summary_row, timeline_table,
)
from .scenario import Scenario, load_scenario, scenario_from_dict
from .sched.registry import get_scheduler, is_builtin
from .sim import budget
from .sim.task_memo import references_for
from .nn.tasks import lower
from .hw.platform import get_platform
from .sim.workload import Workload


def _as_scenario(scenario) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, dict):
        return scenario_from_dict(scenario)
    if isinstance(scenario, (str, Path)):
        return load_scenario(scenario)
    raise TypeError(f"scenario must be a Scenario, a dict or a path, not {type(scenario).__name__}")


def request_inputs(network, model_name: str | None, n_requests: int, seed: int, samples=None):
    """Inputs (int8) and labels for ``n_requests`` requests: ``samples`` (``(x, labels)``) when
    given, else the zoo model's held-out samples when it ships them, else seeded random inputs
    (labels ``None``)."""
    from .nn import zoo
    x, labels = samples if samples is not None else (None, None)
    if x is None and model_name is not None:
        try:
            x, labels = zoo.samples(model_name)
        except (ModelError, KeyError, FileNotFoundError, AttributeError):
            x, labels = None, None
    if x is None or len(x) == 0:
        rng = np.random.default_rng(seed)
        shape = network.tensors[network.input_name]
        x = rng.integers(-128, 128, size=(min(n_requests, 64),) + tuple(shape), dtype=np.int8)
        labels = None
    n_used = min(len(x), max(n_requests, 1))
    x = np.ascontiguousarray(x[:n_used])
    labels = None if labels is None else np.asarray(labels)[:n_used]
    return x, labels


def _as_network(network):
    """A :class:`Network` given to :func:`simulate`, or the path of an ONNX model file."""
    from .nn.network import Network
    if isinstance(network, Network):
        return network
    if isinstance(network, (str, Path)):
        from .nn.onnx_import import load_onnx
        try:
            return load_onnx(network, name=Path(network).stem)
        except ModelError as exc:
            raise ModelError(f"network = {str(network)!r}: {exc}") from None
    raise TypeError(f"network must be a Network or an ONNX file path, not {type(network).__name__}")


def _as_samples(inputs, network):
    """``inputs`` given to :func:`simulate` (an .npz path, an array ``x`` or ``(x, y)``) as ``(x, labels)``."""
    from .nn.samples import load_request_samples, samples_from_arrays
    if isinstance(inputs, (str, Path)):
        return load_request_samples(inputs, network)
    x, y = inputs if isinstance(inputs, tuple) else (inputs, None)
    return samples_from_arrays({"x": x, "y": y}, network, "inputs")


def _model(sc: Scenario, network, inputs, n_req: int):
    """``(network, inputs, labels, model label)``: the scenario's model unless ``network`` is given;
    the requests' samples from ``inputs``, ``model.inputs``, the zoo's held-out split, or seeded
    random int8 inputs, in that order."""
    model = sc.data["model"]
    net = sc.network() if network is None else _as_network(network)
    samples = _as_samples(inputs, net) if inputs is not None else sc.request_samples(net)
    zoo_name = model["name"] if network is None else None
    x, labels = request_inputs(net, zoo_name, n_req, sc.data["seed"], samples)
    return net, x, labels, (model["name"] or model["file"]) if network is None else net.name


def runs_network(engine):
    """The network the runs simulated."""
    return engine.setup.network


def _design_tasks(sc: Scenario, network, platform):
    """The tile tasks of the scenario's ``model.design`` (None without one)."""
    found = sc.design(network)
    if found is None:
        return None
    from .design.lowering import lower_design
    design, prices, _ = found
    return lower_design(network, design, prices, platform.clock_hz)


def predicted_latency_s(sc: Scenario, network):
    """iNAS-PMod's predicted latency [s] of the scenario's design (NaN if a layer fails C1), or
    None without ``model.design``."""
    found = sc.design(network)
    if found is None:
        return None
    from .design import predict_network
    pred = predict_network(*found)
    return pred.latency_s if pred.feasible else float("nan")


def _priced_tasks(sc: Scenario, tasks, network, platform):
    """``tasks`` with their cost fixed by ``model.task_prices`` (unchanged for 'cost-model': the
    engine prices them from the memory layout)."""
    prices = sc.data["model"]["task_prices"]
    if prices == "cost-model":
        return tasks
    from dataclasses import replace

    from .hw.stateful_cnn import ZOO_NETWORKS, task_prices
    if network.name not in ZOO_NETWORKS:
        raise ModelError(f"{sc.source}: model.task_prices = {prices!r} prices the networks "
                         f"{', '.join(ZOO_NETWORKS)} only, not {network.name!r}")
    batch = int(prices.split(":")[1]) if prices.startswith("stateful-cnn-hawaii:") else None
    costs = task_prices(tasks, network, platform, batch)
    return [replace(t, cost=c) for t, c in zip(tasks, costs)]


def _resolve(sc: Scenario, classes, record_timeline: bool, memory_limit_bytes, network=None, inputs=None):
    """Every input of the runs, checked (including their size) before any run starts: ``(network,
    tasks, trace, storage, platform, workload, request inputs, labels, model label)``."""
    trace = sc.trace()
    storage = sc.storage()
    platform = sc.platform()
    workload = sc.workload()
    n_req = workload.n_arrivals()
    network, x, labels, model_label = _model(sc, network, inputs, n_req)
    tasks = _design_tasks(sc, network, platform) or lower(network, sc.data["model"]["granularity"])
    tasks = _priced_tasks(sc, tasks, network, platform)
    est = budget.estimate_run(trace, workload, len(tasks), len(classes), record_timeline,
                              n_harvesting=sum(1 for c in classes if c.name != "continuous"))
    limit = budget.available_memory_bytes() if memory_limit_bytes is None else memory_limit_bytes
    budget.check_fits(est, sc.source, limit, record_timeline)
    return network, tasks, trace, storage, platform, workload, x, labels, model_label


def _runs(sc: Scenario, classes, record_timeline: bool, memory_limit_bytes=None, network=None, inputs=None,
          progress=None):
    """Resolve ``sc`` once and run each scheduler class; yields ``(run, labels, engine, resolved,
    failure)``: ``failure`` is a :class:`SchedulerFailure` (and ``run`` None) when a user's
    scheduler raised. ``progress``: ``(name, t0_s, horizon_s) -> bar``
    (:func:`intersim.report.progress.progress_bars`)."""
    (network, tasks, trace, storage, platform, workload, inputs, labels,
     model_label) = _resolve(sc, classes, record_timeline, memory_limit_bytes, network, inputs)
    n_req = workload.n_arrivals()
    variants = _network_variants(sc, classes, network, tasks, inputs)
    for cls in classes:
        net_c, tasks_c, references = variants[bool(getattr(cls, "early_exit", False))]
        setup = Setup(network=net_c, tasks=tasks_c, platform=platform, storage=storage, trace=trace,
                      workload=workload, inputs=inputs, labels=labels, references=references,
                      record_timeline=record_timeline, brownout_at=sc.brownout_at(),
                      load_kind=sc.load_kind(),
                      optimal_budget_calls=sc.data["schedulers"].get("optimal_budget_calls"))
        engine = Engine(setup, cls)
        bar = setup.progress = progress(cls.name, engine.t0, engine.horizon) if progress else None
        try:
            run, failure = engine.run(), None
        except Exception as exc:  # noqa: BLE001 -- only a user's scheduler: theirs is the bug
            if is_builtin(cls):
                raise
            run, failure = None, SchedulerFailure.from_exception(cls, exc, n_req)
        finally:
            if bar is not None:
                bar.close()
        yield run, labels, engine, (trace, platform, tasks, model_label), failure


def _network_variants(sc: Scenario, classes, network, tasks, inputs) -> dict:
    """``{early_exit: (network, tasks, references)}``: a scheduler that exits early
    (``cls.early_exit``) runs the whole early-exit network (its exit branches included,
    :mod:`intersim.nn.early_exit`); every other one runs the backbone only -- the full network,
    as it would without exits. Without exit points both are the network itself. Each early-exit
    class's ``check_network`` refuses (one line) a network it cannot run, before any run."""
    from .nn.early_exit import backbone, exit_points
    out = {True: (network, tasks, None)}
    for cls in classes:
        if getattr(cls, "early_exit", False):
            try:
                cls.check_network(network)
            except SchedulerError as exc:
                raise SchedulerError(f"{sc.source}: schedulers.names: {exc}") from None
    if exit_points(network) and any(not getattr(c, "early_exit", False) for c in classes):
        plain = backbone(network)
        out[False] = (plain, lower(plain, sc.data["model"]["granularity"]), None)
    else:
        out[False] = out[True]
    return {k: (net, t, references_for(net, inputs)) for k, (net, t, _) in out.items()}


def _classes(sc: Scenario, schedulers):
    classes = None
    if schedulers is not None:
        if any(isinstance(x, type) for x in schedulers):  # classes given directly (tests, notebooks)
            classes = [get_scheduler(x) for x in schedulers]
        else:
            sc = sc.with_schedulers(schedulers)
    names = [c.name for c in classes] if classes else sc.scheduler_names()
    if not classes:  # refuse unknown names before any work, naming the file and the key
        classes = []
        for n in names:
            try:
                classes.append(get_scheduler(n))
            except SchedulerError as exc:
                raise SchedulerError(f"{sc.source}: schedulers.names: {exc}") from None
    return sc, names, classes


def simulate(scenario, schedulers=None, *, network=None, inputs=None, record_timeline: bool = True,
             progress=None, memory_limit_bytes: int | None = None) -> Results:
    """Simulate ``scenario`` under each scheduler and return the tables.

    Parameters
    ----------
    scenario : Scenario, dict (the TOML schema) or path
    schedulers : list of names or classes, optional
        Default: the scenario's list.
    network : Network or path of an ONNX model file, optional
        Simulate this network instead of the scenario's ``[model]`` (its granularity applies).
    inputs : path of an .npz, array ``x`` or tuple ``(x, y)``, optional
        The requests' samples (see :mod:`intersim.nn.samples`); default: ``model.inputs``, else
        the zoo model's held-out split, else seeded random int8 inputs without labels.
    record_timeline : bool
        Keep the timeline (by far the largest table of a long run).
    progress : callable, optional
        A factory of progress bars, ``(name, t0_s, horizon_s) -> bar``
        (:func:`intersim.report.progress.progress_bars`; default: none).
    memory_limit_bytes : int, optional
        Refuse (:class:`~intersim.errors.ScenarioError`, before any run) a run whose estimated
        result tables exceed this [bytes]; default: the memory the OS says is available.

    A user's scheduler (not a shipped one) that raises does not lose the others: its summary
    row has ``verdict = "error"`` and ``Results.failures`` holds its exception and traceback.
    """
    wall0 = time.perf_counter()
    sc, names, classes = _classes(_as_scenario(scenario), schedulers)
    runs, summaries, reqs, tls, failures, plannings = [], [], [], [], [], {}
    resolved = None
    for run, labels, engine, resolved, failure in _runs(sc, classes, record_timeline, memory_limit_bytes,
                                                        network, inputs, progress):
        if failure is not None:
            failures.append(failure)
            summaries.append(failure.summary_row())
            continue
        runs.append(run)
        plan = engine.plan if isinstance(engine.plan, dict) else {}
        if "budget_calls" in plan and "requests" in plan:  # a planning scheduler (optimal)
            plannings[run.scheduler] = {"plannings": len(plan["requests"]), "budget_calls": plan["budget_calls"],
                                        "rollout_calls": plan["rollout_calls"], "exact_calls": plan["exact_calls"],
                                        "tasks": plan["model"].n,
                                        "exact": sum(bool(r["exact"]) for r in plan["requests"]),
                                        "plan_s": plan["plan_s"]}
        columns = request_columns(run, labels)
        reqs.append(request_table(run, labels, columns))
        summaries.append(summary_row(run, columns, engine.t0))
        if record_timeline:
            tls.append(timeline_table(run))
    trace, platform, tasks, model_label = resolved
    model = sc.data["model"]
    provenance = _provenance(sc, names, resolved, network, record_timeline, time.perf_counter() - wall0)
    summary = pd.DataFrame(summaries, columns=list(SUMMARY_COLUMNS))
    if model.get("design") is not None and network is None:  # iNAS-PMod's prediction beside inas's rows
        pred = predicted_latency_s(sc, runs_network(engine))
        provenance["predicted_latency_s"] = pred
        summary["predicted_latency_s"] = [pred if n == "inas" else float("nan")
                                          for n in summary["scheduler"]]
    ref = sc.data["reference"]
    if ref["latency_s"] is not None:  # the published figure beside the simulated one
        summary["published_s"] = [ref["latency_s"] if n == ref["scheduler"] else float("nan")
                                  for n in summary["scheduler"]]
        mean = summary["latency_mean_s"].where(summary["scheduler"] == ref["scheduler"])
        summary["published_error_pct"] = 100.0 * (mean - summary["published_s"]) / summary["published_s"]
        provenance["reference"] = dict(ref)
    if failures:  # their figures are unknown: nullable integers, not floats, for the counts
        summary = summary.astype({c: "Int64" for c in COUNT_COLUMNS})
    requests = (pd.concat(reqs, ignore_index=True) if reqs
                else pd.DataFrame({c: [] for c in REQUEST_COLUMNS}))
    timeline = pd.concat(tls, ignore_index=True) if tls else empty_timeline_table()
    setting = {"trace": trace, "storage": sc.storage(), "t0_s": engine.t0,
               "horizon_s": runs[-1].horizon_s if runs else engine.horizon, "plannings": plannings}
    return Results(summary, requests, timeline, provenance, runs, setting, failures)


def _provenance(sc: Scenario, names, resolved, network, record_timeline: bool, wall_s: float) -> dict:
    """What ``run.json`` and the Parquet metadata record of a run (``wall_s``: its wall time [s])."""
    trace, platform, tasks, model_label = resolved
    return {
        "intersim_version": __version__,
        "git_hash": git_hash(),
        "scenario": sc.name,
        "scenario_source": sc.source,
        "scenario_sha256": sc.digest(),
        "schedulers": names,
        "seed": sc.data["seed"],
        "trace": trace.name,
        "trace_conversion": trace_conversion(trace),
        "model": model_label,
        "model_accuracy": _model_accuracy(sc, network),
        "granularity": sc.data["model"]["granularity"],
        "platform": platform.name,
        "tasks": len(tasks),
        "timeline": record_timeline,
        "resolved_scenario": json.loads(json.dumps(sc.data, default=str)),
        "wall_time_s": wall_s,
    }


def _model_accuracy(sc: Scenario, network) -> str | None:
    """The stored int8 held-out accuracy of the scenario's zoo model (measured through intersim's
    kernels when it was built), as one line; None for a file, a given network or random weights."""
    name = sc.data["model"]["name"]
    if network is not None or name is None:
        return None
    from .nn import zoo
    return zoo.accuracy_label(name)


def trace_conversion(trace) -> str:
    """How the trace's file became harvested power, in one line with its constants and units."""
    meta = trace.meta or {}
    if meta.get("conversion"):
        return str(meta["conversion"])
    if meta.get("generator") or "source" not in meta:
        return "generated as harvested power [W] (no conversion)"
    return "none: the file holds harvested power [W]"


def simulate_summaries(scenario, schedulers=None) -> list[dict]:
    """The summary rows :func:`simulate` would tabulate (same values), without building the tables
    or a timeline: what a sweep keeps of each run. A user's scheduler that raises raises here
    (the sweep records the point as failed)."""
    sc, _, classes = _classes(_as_scenario(scenario), schedulers)
    rows = []
    for run, labels, engine, _, failure in _runs(sc, classes, False):
        if failure is not None:
            raise failure.exception
        rows.append(summary_row(run, request_columns(run, labels), engine.t0))
    return rows


__all__ = ["simulate", "simulate_summaries", "request_inputs", "trace_conversion"]


def run_case(scheduler_cls, network, granularity, trace, storage, brownout_at=(), platform="msp430fr5994",
             n_requests=2, period_s=5.0, drain_s=120.0, record_timeline=False, fast_cycles=True, tasks=None,
             deadline_s=None, queue_capacity=None):
    """Simulate ``n_requests`` requests of ``network`` under ``scheduler_cls`` (its tasks lowered at
    ``granularity``, or ``tasks`` when given, e.g. an execution design's), arriving every
    ``period_s`` [s]; ``deadline_s`` [s]: the requests' relative deadline, as ``[workload]
    deadline_s``; ``queue_capacity`` [requests] (default ``n_requests``: none dropped).

    Returns ``(run, requests DataFrame)``; ``run.books`` must balance and every completed
    request's ``correct`` must be True for a correct scheduler.
    """
    rng = np.random.default_rng(len(brownout_at))
    shape = network.tensors[network.input_name]
    inputs = rng.integers(-128, 128, size=(n_requests,) + tuple(shape), dtype=np.int64).astype(np.int8)
    refs = [network.run(x) for x in inputs]
    tasks = lower(network, granularity) if tasks is None else tasks
    wl = Workload(period_s=period_s, duration_s=n_requests * period_s, drain_s=drain_s,
                  queue_capacity=n_requests if queue_capacity is None else queue_capacity, deadline_s=deadline_s)
    setup = Setup(network=network, tasks=tasks, platform=get_platform(platform), storage=storage,
                  trace=trace, workload=wl, inputs=inputs, labels=None, references=refs,
                  record_timeline=record_timeline, brownout_at=tuple(brownout_at), fast_cycles=fast_cycles)
    run = Engine(setup, scheduler_cls).run()
    return run, request_table(run, None)
