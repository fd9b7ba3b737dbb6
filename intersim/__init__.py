"""intersim: discrete-event simulation of intermittently powered MCUs running int8 inference.

The public surface: :func:`simulate`, :func:`load_scenario`, :func:`load_trace`,
:class:`Trace`, :class:`Storage`, :func:`load_onnx`, the scheduler contract
(:class:`Scheduler` and its actions) and the shipped schedulers.
"""
import os as _os
from pathlib import Path as _Path

from ._version import __version__  # noqa: E402


def _numba_cache_dir():
    """numba caches next to the package; where that is read-only, use a user cache directory.
    Either is emptied when intersim's sources changed since its caches were written (numba would
    otherwise keep kernels that call an edited kernel of another module: :mod:`._numba_cache`). A
    ``NUMBA_CACHE_DIR`` set by the user is left alone (it may hold other projects' caches)."""
    from ._numba_cache import drop_stale_caches
    if "NUMBA_CACHE_DIR" in _os.environ:
        return
    pkg = _Path(__file__).resolve().parent
    cache = None
    if not _os.access(pkg, _os.W_OK):
        cache = _Path(_os.environ.get("XDG_CACHE_HOME", _Path.home() / ".cache")) / "intersim" / "numba"
        cache.mkdir(parents=True, exist_ok=True)
        _os.environ["NUMBA_CACHE_DIR"] = str(cache)
    drop_stale_caches(pkg, cache)


_numba_cache_dir()

from .errors import IntersimError, ModelError, PlatformError, ScenarioError, SchedulerError, TraceError  # noqa: E402
from .energy.trace import Trace  # noqa: E402
from .energy.capacitor import Storage  # noqa: E402
from .hw.platform import Platform, get_platform  # noqa: E402
from .sched.contract import (  # noqa: E402
    CheckpointedRun, Copy, Done, Idle, ReadVoltage, RunTask, RunTasks, Scheduler, Sleep, WriteWords,
)
from .sched.registry import SCHEDULERS, get_scheduler  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .simulate import simulate  # noqa: E402


def load_trace(*args, **kwargs):
    """Load a trace file; see :func:`intersim.energy.trace_io.load_trace`."""
    from .energy.trace_io import load_trace as _load
    return _load(*args, **kwargs)


def load_onnx(path):
    """Import a quantized ONNX model; see :func:`intersim.nn.onnx_import.load_onnx`."""
    from .nn.onnx_import import load_onnx as _load
    return _load(path)


def warmup(schedulers=None):
    """Compile (or load from cache) the numba kernels once: a tiny simulation of every path
    (``schedulers``: only those built-in schedulers' paths)."""
    from .study.warmup import warmup as _w
    _w(schedulers)


__all__ = [
    "__version__", "simulate", "load_scenario", "Scenario", "load_trace", "load_onnx", "Trace",
    "Storage", "Platform", "get_platform", "Scheduler", "RunTask", "RunTasks", "CheckpointedRun", "Copy", "WriteWords", "Sleep",
    "ReadVoltage", "Done", "Idle", "SCHEDULERS", "get_scheduler", "warmup", "IntersimError", "ScenarioError",
    "TraceError", "ModelError", "PlatformError", "SchedulerError",
]
