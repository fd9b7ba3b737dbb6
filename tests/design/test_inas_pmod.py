"""iNAS-PMod with the inas-compat price list reproduces the 63 published predicted latencies
(27 INTPOW, 9 CONTPOW, 27 CONTPOW re-evaluated at 1/5/10 mF) and every per-layer value
(anchor ../shared/anchors/inas.md §6), and a perturbed constant or a dropped quirk breaks it."""
from dataclasses import replace

import pytest

from intersim.design import anchor_checks, inas_compat_prices, network_checks
from intersim.design.prices import Price

REL_TOL = 1e-6        # the brief's bar, against the anchor's printed (rounded) figures


@pytest.fixture(scope="module")
def anchor():
    return anchor_checks()


def _failures(checks, rel_tol=REL_TOL):
    return [c for c in checks if c.rel_err_beyond_rounding > rel_tol]


def test_there_are_63_network_latencies(anchor):
    nets = network_checks(anchor)
    assert len(nets) == 63
    assert sum(c.what.startswith("intpow-") for c in nets) == 27
    assert sum(c.what.startswith("contpow-") and "@" not in c.what for c in nets) == 9
    assert sum("@" in c.what for c in nets) == 27


def test_63_network_latencies_match_the_anchor(anchor):
    # The anchor prints latencies to 4 (or 2) decimals: the prediction must round to them.
    bad = _failures(network_checks(anchor))
    assert not bad, "\n".join(map(str, bad))


def test_every_per_layer_value_matches_the_anchor(anchor):
    # 204 layers: Epc max/min, npc [tot, n0, n>0], VM, Le2e (INTPOW); E, L, VM (CONTPOW);
    # Le2e or the C1 failure and its Epc at 1/5/10 mF (CONTPOW re-evaluated).
    assert len(anchor) > 1500
    bad = _failures(anchor)
    assert not bad, "\n".join(map(str, bad[:20]))


# ---- negative controls: the checks above can fail ----------------------------------------------
def _perturbed():
    p = inas_compat_prices()
    rb = p.reboot
    yield "reboot latency +1e-4", replace(p, reboot=Price(rb.energy_j, rb.latency_s * (1 + 1e-4)))
    fw = p.fd_weight
    # without the L_FD_W quirk: 9 MUL (44 cycles each at 16 MHz) instead of 10
    yield "L_FD_W with 9 MUL", replace(p, fd_weight=Price(fw.energy_j, fw.latency_s - 44 / 16e6))
    yield "no margin quirk", replace(p, recharge_margin_quirk=False)
    yield "no pooling-tile quirk", replace(p, pool_fixed_design_quirk=False)
    yield "Q15 -> 1 B VM", replace(p, input_bytes=1)


@pytest.mark.parametrize("label,prices", list(_perturbed()), ids=[l for l, _ in _perturbed()])
def test_a_perturbed_price_list_fails(label, prices):
    assert _failures(anchor_checks(prices)), f"{label}: the anchor checks did not notice"
