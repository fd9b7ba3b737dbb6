"""The shipped schedulers and the registry, at their documented path (re-exported from
:mod:`intersim.sched`): users subclass ``intersim.schedulers.JIT``, ``Static``, ..."""
from .sched.registry import *  # noqa: F401,F403
from .sched.registry import __all__  # noqa: F401
