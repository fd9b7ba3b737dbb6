"""Hold iNAS-PMod against the published predictions (anchor §6): every network latency (27
INTPOW, 9 CONTPOW, 27 CONTPOW re-evaluated at 1/5/10 mF) and every per-layer value.

The reference is the anchor's printed (rounded) tables: a check passes when the prediction rounds
to the printed figure (its error beyond half a unit of the last printed digit is <= 1e-6
relative). Full-precision figures would need the published repository's data files, which this
project does not ship.
"""
from __future__ import annotations

from dataclasses import dataclass

from .evaluate import predict_continuous, predict_network
from .prices import PriceList, inas_compat_prices
from .published import (CAPACITORS_F, contpow_solutions, contpow_supply, inas_supply,
                        intpow_solutions, network_design, solution_name)


@dataclass(frozen=True)
class Check:
    """One published figure against its prediction.

    what : str  e.g. ``intpow-cifar-0.001F-ts1/CONV_0/le2e_s``
    published, predicted : float (unit in ``what``'s suffix)
    rounding : float  half a unit of the published figure's last printed digit (0: exact)
    """

    what: str
    published: float
    predicted: float
    rounding: float = 0.0

    @property
    def rel_err(self) -> float:
        """|predicted - published| / |published| [-]."""
        d = abs(self.predicted - self.published)
        return d / abs(self.published) if self.published else d

    @property
    def rel_err_beyond_rounding(self) -> float:
        """Relative error left after the printed figure's rounding is allowed for [-]."""
        d = max(0.0, abs(self.predicted - self.published) - self.rounding * (1 + 1e-9))
        return d / abs(self.published) if self.published else d

    @property
    def is_network(self) -> bool:
        return self.what.count("/") == 1


def _half(decimals: int) -> float:
    return 0.5 * 10.0 ** -decimals


def _intpow_anchor(prices, dec):
    for sol in intpow_solutions():
        name = solution_name(sol, "intpow")
        pred = predict_network(network_design(sol, "intpow"), prices,
                               inas_supply(sol["dataset"], sol["capacitance_f"]))
        yield Check(f"{name}/latency_s", sol["latency_s"], pred.latency_s, _half(dec["latency_s"]))
        for pub, got in zip(sol["layers"], pred.layers):
            w = f"{name}/{pub['name']}"
            yield Check(f"{w}/le2e_s", pub["le2e_s"], got.le2e_s, _half(dec["layer_le2e_s"]))
            yield Check(f"{w}/epc_max_uj", pub["epc_max_uj"], got.epc_max_j * 1e6, _half(dec["epc_uj"]))
            yield Check(f"{w}/epc_min_uj", pub["epc_min_uj"], got.epc_min_j * 1e6, _half(dec["epc_uj"]))
            for key, val in zip(("npc", "n0", "n_pos"), pub["npc"]):
                yield Check(f"{w}/{key}", val, getattr(got, key))
            yield Check(f"{w}/vm_bytes", pub["vm_bytes"], got.vm_bytes)


def _contpow_anchor(prices, dec):
    for sol in contpow_solutions():
        name = solution_name(sol, "contpow")
        net = network_design(sol, "contpow")
        cont = predict_continuous(net, prices)
        yield Check(f"{name}/latency_s", sol["latency_s"], cont.latency_s, _half(dec["latency_s"]))
        for pub, (_, e, l, vm) in zip(sol["layers"], cont.layers):
            w = f"{name}/{pub['name']}"
            yield Check(f"{w}/energy_uj", pub["energy_uj"], e * 1e6, _half(dec["cont_energy_uj"]))
            yield Check(f"{w}/latency_s", pub["latency_s"], l, _half(dec["cont_latency_s"]))
            yield Check(f"{w}/vm_bytes", pub["vm_bytes"], vm)
        for cap in CAPACITORS_F:
            key = f"{cap:g}"
            pred = predict_network(net, prices, contpow_supply(cap), fixed_design=True)
            at = f"{name}@{key}F"
            yield Check(f"{at}/latency_s", sol["at_cap"][key]["latency_s"], pred.latency_s,
                        _half(dec["at_cap_latency_s"]))
            yield Check(f"{at}/infeasible_layers", sol["at_cap"][key]["infeasible_layers"],
                        pred.infeasible_layers)
            for pub, got in zip(sol["layers"], pred.layers):
                p = pub["at_cap"][key]
                w = f"{at}/{pub['name']}"
                yield Check(f"{w}/feasible", float(p["feasible"]), float(got.fits_energy))
                if p["feasible"]:
                    yield Check(f"{w}/le2e_s", p["le2e_s"], got.le2e_s, _half(dec["at_cap_latency_s"]))
                else:
                    yield Check(f"{w}/epc_max_uj", p["epc_max_uj"], got.epc_max_j * 1e6,
                                _half(dec["at_cap_epc_uj"]))


def anchor_checks(prices: PriceList | None = None) -> list:
    """Every figure of the anchor's §6 tables against ``prices`` (default: inas-compat)."""
    from .published import load_published
    prices = prices or inas_compat_prices()
    dec = load_published()["decimals"]
    return list(_intpow_anchor(prices, dec)) + list(_contpow_anchor(prices, dec))


def network_checks(checks: list) -> list:
    """The network-latency checks among ``checks`` (63 per reference)."""
    return [c for c in checks if c.is_network and c.what.endswith("/latency_s")]
