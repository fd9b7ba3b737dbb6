"""Compile (or load from the numba cache) every kernel once, by running a tiny simulation."""
from __future__ import annotations

import numpy as np


def warmup(schedulers=None):
    """``schedulers``: the names of the built-in schedulers whose kernels are needed (None, or any
    other name: every one's)."""
    from ..energy.capacitor import Storage
    from ..sched.registry import SCHEDULERS
    from ..energy.generators import random_trace
    from ..nn.random_network import random_network
    from ..simulate import run_case
    try:
        from ..hw.cost import warmup as cost_warmup
        cost_warmup()
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    net = random_network(rng)
    trace = random_trace(rng, duration_s=10.0)
    storage = Storage(10e-6, 3.0, 2.2, 3.6, 0.0, 2e6, 0.8, 0.9)
    names = list(SCHEDULERS) if schedulers is None or not set(schedulers) <= set(SCHEDULERS) else schedulers
    for cls in (SCHEDULERS[name] for name in dict.fromkeys(["continuous", *names])):
        run_case(cls, net, "channels:2,ic:2", trace, storage, (), n_requests=1, drain_s=10.0,
                 record_timeline=True)
    # the compiled power cycles, and the planner's shortcut kernels, which a tiny case may not reach
    from ..sim.power_cycles import warm as warm_cycles
    warm_cycles()
    if not {"optimal", "optimal-online"} & set(names):
        return
    from ..sched.optimal import _lower_bound_k, _never_reaches_k
    edges, cum, p, gain = np.array([0.0, 1.0]), np.array([0.0, 1e-3]), np.array([1e-3]), np.zeros(2)
    _lower_bound_k(0.0, 1e-6, 1.0, 1e-5, 0.0, 0.8, edges, cum, p, 0.0, 1.0, False)
    _never_reaches_k(0.0, 1e-6, 1e-5, edges, cum, p, 0.0, 1.0, False, gain, gain, True, 0.8, 0.0, 0.0, 1.0, 0.0)
