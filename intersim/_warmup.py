"""Compile (or load from the numba cache) every kernel once, by running a tiny simulation."""
from __future__ import annotations

import numpy as np


def warmup():
    from .capacitor import Storage
    from .schedulers import SCHEDULERS
    from .testing import random_network, random_trace, run_case
    try:
        from .cost import warmup as cost_warmup
        cost_warmup()
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    net = random_network(rng)
    trace = random_trace(rng, duration_s=10.0)
    storage = Storage(10e-6, 3.0, 2.2, 3.6, 0.0, 2e6, 0.8, 0.9)
    for cls in SCHEDULERS.values():
        run_case(cls, net, "channels:2,ic:2", trace, storage, (), n_requests=1, drain_s=10.0,
                 record_timeline=True)
