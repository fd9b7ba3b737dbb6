"""The explorer: it re-derives the published designs, its choice is the minimum of the legal
feasible space, and it answers None when nothing fits."""
import numpy as np
import pytest

from intersim.design import (Supply, conv, continuous_cost, dense, enumerate_space,
                             explore_layer, explore_layer_continuous, explore_network,
                             inas_compat_prices, intermittent_cost)
from intersim.design.published import (contpow_solutions, inas_supply, intpow_solutions,
                                       network_design)

P = inas_compat_prices()


def test_rederives_every_published_intpow_design():
    same = total = 0
    for sol in intpow_solutions():
        net = network_design(sol, "intpow")
        ch = explore_network(net.name, [(p.name, p.shape) for p in net.layers], P,
                             inas_supply(sol["dataset"], sol["capacitance_f"]))
        for plan, c in zip(net.layers, ch.choices):
            total += 1
            same += c.design == plan.design
        assert ch.latency_s == pytest.approx(sol["latency_s"], abs=5e-5)
    assert (same, total) == (153, 153)


def test_rederives_every_published_contpow_design():
    for sol in contpow_solutions():
        net = network_design(sol, "contpow")
        for plan in net.layers:
            assert explore_layer_continuous(plan.name, plan.shape, P).design == plan.design


def _brute_force_min(shape, supply):
    space = enumerate_space(shape)
    best = None
    for i in range(len(space)):
        c = intermittent_cost(shape, space.take([i]), P, supply)
        if c.feasible[0] and (best is None or (c.le2e_s[0], c.vm_bytes[0]) < best[:2]):
            best = (c.le2e_s[0], c.vm_bytes[0], space.design(i))
    return best


def test_choice_is_the_minimum_of_the_feasible_space():
    shape, supply = conv(4, 10, 10, 6, 3, 3), Supply(0.001, 52.0)
    got = explore_layer("L", shape, P, supply)
    le2e, vm, design = _brute_force_min(shape, supply)
    assert (got.objective_s, got.vm_bytes) == (le2e, vm)
    assert got.n_feasible <= got.n_designs


def test_continuous_choice_is_the_minimum():
    shape = conv(4, 10, 10, 6, 3, 3)
    got = explore_layer_continuous("L", shape, P)
    space = enumerate_space(shape, batch_one=True)
    c = continuous_cost(shape, space, P)
    assert got.objective_s == c.latency_s[c.fits_vm].min()


def test_nothing_fits_a_tiny_capacitor():
    got = explore_layer("FC", dense(128, 128), P, Supply(1e-6, 52.0))
    assert got.design is None and got.n_feasible == 0 and got.objective_s == np.inf


def test_explorer_is_deterministic():
    shape, supply = conv(8, 14, 14, 16, 3, 3), Supply(0.005, 24.0)
    a, b = explore_layer("L", shape, P, supply), explore_layer("L", shape, P, supply)
    assert a == b
