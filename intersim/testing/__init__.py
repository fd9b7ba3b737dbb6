"""Property-testing machinery for schedulers, public so users can test their own.

>>> from intersim.testing import check_scheduler
>>> check_scheduler(MyScheduler)            # from your own pytest suite          # doctest: +SKIP

``check_scheduler`` first places brown-outs systematically (every NVM-word and task boundary of
small cases, :mod:`intersim.testing.placement`), then searches randomly with hypothesis over
structured networks, traces, capacitors, granularities, several requests and injected
brown-outs (:mod:`intersim.testing.strategies`), and fails with a counterexample unless every
completed request's output is bit-equal to continuous execution and the energy books balance.
:mod:`intersim.testing.zoo` holds deliberately wrong schedulers, one per class of bug, that it
catches.
"""
from ..energy.generators import random_trace  # noqa: F401  (public here)
from ..nn.random_network import random_network, structured_network  # noqa: F401  (public here)
from ..simulate import run_case  # noqa: F401  (public here)
from .check import (  # noqa: F401
    PLACEMENTS_PER_EXAMPLE, SchedulerCheckFailed, active_examples, budget, check_scheduler, failure_places, violations,
)
from .placement import Case, placement_cases, scan  # noqa: F401
from .strategies import (  # noqa: F401
    failure_schedules, granularities, log_uniform, long_trace, long_trace_params, long_traces, network_names, networks,
    scenario_cases, storage_of, storage_params, storages, strategies, trace_params, traces,
)
from .zoo import (  # noqa: F401
    WRONG_SCHEDULERS, FlagFirstJIT, InPlaceStatic, MarkerFirstStatic, NoRestoreJIT, OneSlotJIT, StaleSeqStatic,
)
