"""The intersim price lists: iNAS-PMod's structure priced by intersim.cost on every preset."""
import math
from dataclasses import fields

import numpy as np
import pytest

from intersim.design import (PRICE_LIST_NAMES, DesignArrays, ExecutionDesign, Supply, conv, dense,
                             enumerate_space, explore_network, get_prices, intermittent_cost,
                             intersim_prices, predict_continuous, predict_network)
from intersim.design.prices import Linear, Price, preset_names
from intersim.design.published import intpow_solutions, network_design
from intersim.errors import PlatformError

NETS = [network_design(intpow_solutions()[i], "intpow") for i in (0, 9, 18)]  # CIFAR, HAR, KWS


def _prices_of(p):
    for f in fields(p):
        v = getattr(p, f.name)
        for item in (v if isinstance(v, tuple) else (v,)):
            if isinstance(item, Linear):
                yield f.name, item.per_element
                yield f.name, item.per_call
            elif isinstance(item, Price):
                yield f.name, item


@pytest.mark.parametrize("name", PRICE_LIST_NAMES)
def test_every_price_is_finite_and_non_negative(name):
    p = get_prices(name)
    for key, price in _prices_of(p):
        assert math.isfinite(price.energy_j) and price.energy_j >= 0, key
        assert math.isfinite(price.latency_s) and price.latency_s >= 0, key
    assert p.vm_capacity_bytes > 0 and p.reboot.latency_s > 0


@pytest.mark.parametrize("preset", preset_names())
def test_explored_networks_are_finite_and_positive_on_every_preset(preset):
    p = intersim_prices(preset)
    for net in NETS:
        for cap in (0.001, 0.01):
            ch = explore_network(net.name, [(l.name, l.shape) for l in net.layers], p,
                                 Supply(cap, 50.0))
            assert ch.design is not None, (preset, net.name, cap)
            assert 0 < ch.latency_s < math.inf
            pred = predict_network(ch.design, p, Supply(cap, 50.0))
            assert pred.feasible and pred.latency_s == pytest.approx(ch.latency_s, rel=1e-12)
            for layer in pred.layers:
                assert layer.epc_max_j > 0 and layer.npc >= 1 and layer.le2e_s > 0
        assert 0 < predict_continuous(net, p).latency_s < math.inf


@pytest.mark.parametrize("name", ["inas-compat", "intersim:msp430fr5994-extfram", "intersim:msp432p401r"])
def test_larger_capacitor_means_no_more_power_cycles(name):
    p = get_prices(name)
    shape = conv(8, 16, 16, 16, 3, 3)
    space = enumerate_space(shape)
    prev_feasible, prev_min_npc = -1, np.inf
    for cap in (0.0005, 0.001, 0.005, 0.01, 0.05):
        c = intermittent_cost(shape, space, p, Supply(cap, 50.0))
        n_ok = int(c.feasible.sum())
        min_npc = c.npc[c.feasible].min() if n_ok else np.inf
        assert n_ok >= prev_feasible and min_npc <= prev_min_npc
        prev_feasible, prev_min_npc = n_ok, min_npc
    assert prev_min_npc < np.inf


def test_more_source_resistance_means_longer_latency_same_energy():
    p = intersim_prices("msp430fr5994-extfram")
    d = DesignArrays.of(ExecutionDesign(2, 2, 4, 8, "reuse_I", 2))
    shape = conv(8, 10, 10, 8, 3, 3)
    a = intermittent_cost(shape, d, p, Supply(0.005, 20.0))
    b = intermittent_cost(shape, d, p, Supply(0.005, 200.0))
    assert a.epc_max_j[0] == b.epc_max_j[0]
    assert b.le2e_s[0] > a.le2e_s[0] > 0


def test_without_the_margin_quirk_an_empty_cycle_needs_no_recharge():
    s = Supply(0.001, 50.0)
    assert s.recharge_time_s(0.0, margin_quirk=False) == 0.0
    # with it, every cycle pays >= 2.2403 R C (anchor §4: ends at 2.9060 V)
    assert s.recharge_time_s(0.0, margin_quirk=True) == pytest.approx(2.2403 * 50 * 0.001, rel=1e-4)


def test_spi_fram_preset_prices_nvm_above_internal_fram():
    spi, internal = intersim_prices("msp430fr5994-extfram"), intersim_prices("msp430fr5994")
    assert spi.rd_input.per_element.latency_s > internal.rd_input.per_element.latency_s
    assert spi.wr_psum.per_element.energy_j > internal.wr_psum.per_element.energy_j
    assert spi.input_bytes == 2 and spi.psum_bytes == 4   # LEA widens int8; int32 partial sums


def test_unknown_price_list_lists_the_valid_ones():
    with pytest.raises(PlatformError, match="unknown price list 'intersim:z80'.*inas-compat"):
        get_prices("intersim:z80")
    with pytest.raises(ValueError, match="kernel 'accelerator' is not available"):
        intersim_prices("msp430fr5994", kernel="accelerator")
    assert get_prices("msp432p401r").name == "intersim:msp432p401r"
    assert dense(4, 4).kind == "fc"
