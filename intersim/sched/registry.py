"""The registry of shipped schedulers and the lookup of users' classes by import path.

Docs/architecture.md describes each scheduler's execution design (where activations live, what is
preserved, and when).
"""
from __future__ import annotations

from ..errors import SchedulerError
from .baseline import Continuous, Restart, effective_v_off, result_copy
from .contract import Scheduler
from .inas import Inas, InasContinue
from .jit import JIT, JITTask
from .optimal import Optimal, OptimalOnline
from .static import Static
from .hawaii import Hawaii
from .sonic import Sonic
from .accel import AccelLayer, AccelOneshot, AccelUrgent
from .freeml import FIXED_PREFIX, FreemlAdaptive, freeml_fixed

__all__ = ["SCHEDULERS", "get_scheduler", "Continuous", "Restart", "Static", "JIT", "JITTask", "Optimal",
           "OptimalOnline", "Inas", "InasContinue", "Hawaii", "Sonic", "AccelOneshot", "AccelLayer", "AccelUrgent",
           "FreemlAdaptive", "freeml_fixed", "is_builtin", "result_copy", "effective_v_off"]


#: Built-in schedulers by name, in the order of the comparison table.
SCHEDULERS = {cls.name: cls for cls in (Continuous, Restart, Static, JIT, JITTask, Optimal, OptimalOnline, Hawaii,
                                         Sonic, Inas, InasContinue, AccelOneshot, AccelLayer, AccelUrgent)}
#: Built-in schedulers that run only where asked for (not in the default comparison): FreeML's
#: early exit needs an early-exit model (``freeml-fixed:K`` is a family, one class per exit point K)
EARLY_EXIT = {FreemlAdaptive.name: FreemlAdaptive}


def is_builtin(cls) -> bool:
    """Whether ``cls`` is a shipped scheduler (its exceptions are intersim's bugs, not a user's)."""
    return cls in SCHEDULERS.values() or cls in EARLY_EXIT.values() or getattr(cls, "__module__", "") == "intersim.sched.freeml"


def get_scheduler(name):
    """Scheduler class by name, or a user's class by import path ``"package.module:Class"``;
    unknown names list the valid ones."""
    if isinstance(name, type):
        return name
    if name in SCHEDULERS:
        return SCHEDULERS[name]
    if name in EARLY_EXIT:
        return EARLY_EXIT[name]
    if name.startswith(FIXED_PREFIX):
        return freeml_fixed(name)
    if ":" in name:
        import importlib
        import os
        import sys
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())  # console scripts do not put the current directory there
        module_name, _, class_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, SyntaxError) as exc:
            raise SchedulerError(f"scheduler {name!r} cannot be imported ({type(exc).__name__}: {exc}); give "
                                 f"'package.module:Class' importable from the current directory") from None
        except Exception as exc:  # noqa: BLE001 -- the user's module raised on import: one line
            raise SchedulerError(f"scheduler {name!r} cannot be imported: importing {module_name!r} raised "
                                 f"{type(exc).__name__}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
            raise SchedulerError(f"scheduler {name!r} is not a subclass of intersim.Scheduler")
        return cls
    raise SchedulerError(f"unknown scheduler {name!r}; valid: {', '.join(SCHEDULERS)}, "
                         f"{', '.join(EARLY_EXIT)}, {FIXED_PREFIX}K (K an exit point of the model), or a user "
                         f"class as 'package.module:Class'")

