"""Lowering: every granularity's tasks, run in order on simulated memory, give the network's output."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intersim.nn import zoo
from intersim.energy.capacitor import Storage
from intersim.errors import ScenarioError
from intersim.sched.registry import SCHEDULERS
from intersim.nn.tasks import lower, parse_granularity
from intersim.testing import budget, random_network, random_trace, run_case

GRANULARITIES = ["layer", "channel", "channels:3", "layer,ic:1", "channels:2,ic:2", "rows:1", "rows:3", "element"]


@settings(max_examples=budget(0.75))
@given(seed=st.integers(0, 2**31 - 1), granularity=st.sampled_from(GRANULARITIES),
       name=st.sampled_from(["continuous", "static"]))
def test_tasks_in_order_give_the_network_output(seed, granularity, name):
    net = random_network(np.random.default_rng(seed))
    storage = Storage(1e-3, 3.0, 2.2, 3.6, 3.6, math.inf, 0.8, 0.9)
    trace = random_trace(np.random.default_rng(seed), mean_power_w=20e-3)
    run, req = run_case(SCHEDULERS[name], net, granularity, trace, storage, (), n_requests=1)
    assert (req["status"] == "done").all() and req["correct"].all()


def test_spatial_tiles_cover_each_output_byte_once():
    net = zoo.load("digits_cnn")
    for granularity in ("rows:3", "element"):
        tasks = lower(net, granularity)
        for layer in net.layers:
            size = int(np.prod(net.tensors[layer.output]))
            spans = sorted((t.out_byte_start, t.out_byte_stop) for t in tasks if t.output == layer.output)
            assert spans[0][0] == 0 and spans[-1][1] == size
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
        total = sum(t.macs for t in tasks if t.op == "conv2d")
        assert total == sum(l.macs(0, l.out_channels) for l in net.layers if l.op == "conv2d")


def test_granularity_errors_name_the_choices():
    with pytest.raises(ScenarioError, match="rows:R"):
        parse_granularity("rows:0")
    assert parse_granularity("element") == (1, 0, 1, 1)
