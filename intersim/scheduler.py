"""The scheduler contract, at its documented path (re-exported from :mod:`intersim.sched.contract`)."""
from .sched.contract import *  # noqa: F401,F403
from .sched.contract import __all__  # noqa: F401
