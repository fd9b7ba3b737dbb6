"""iNAS-PMod: the per-power-cycle performance model of a layer design (anchor §3, §4).

Everything here is vectorised over :class:`~intersim.design.space.DesignArrays` so the same
formulas price one design (a report) or a whole design space (the explorer). Each cost is
computed twice with the same structure: once with the price list's energies [J], once with
its latencies [s].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prices import Linear, Price, PriceList
from .shapes import LayerShape
from .space import I_ORDER, O_ORDER, W_ORDER, DesignArrays, ceil_div, vm_bytes
from .supply import Supply


def _val(p: Price, field: str) -> float:
    return getattr(p, field)


def _lin(lin: Linear, n, field: str):
    return getattr(lin.per_call, field) + n * getattr(lin.per_element, field)


@dataclass(frozen=True)
class TileTraffic:
    """Fetch costs of one tile, [J] or [s] depending on the field they were priced with."""

    inputs: np.ndarray    # I = nI (rd(Tn) + FD_I)
    weights: np.ndarray   # W = nW (rd(Tn) + FD_W)
    psums: np.ndarray     # O = nO (rd(Tm) + FD_O[order])


def input_tile(shape: LayerShape, d: DesignArrays, pool_fixed: bool):
    """(Tri, Tci) [elements]: the input tile a design fetches (anchor §3).

    Pooling uses ``Tr x Tc`` except under ``pool_fixed`` (iNAS's continuous model and
    fixed-design evaluator, anchor §3 ⚠ / §9.7), where it is ``Tr + H - 1``, ``Tc + W - 1``.
    """
    if shape.is_pool and not pool_fixed:
        return d.Tr, d.Tc
    return d.Tr + shape.Kh - 1, d.Tc + shape.Kw - 1


def tile_traffic(shape: LayerShape, d: DesignArrays, prices: PriceList, field: str,
                 pool_fixed: bool = False) -> TileTraffic:
    """I, W, O of each design (``conv_tiled.py::_num_datatrcmds_fetch_tile_data``)."""
    tri, tci = input_tile(shape, d, pool_fixed)
    fd_o = np.choose(d.order, [_val(p, field) for p in prices.fd_psum])
    inputs = tri * tci * (_lin(prices.rd_input, d.Tn, field) + _val(prices.fd_input, field))
    weights = shape.Kh * shape.Kw * d.Tm * (_lin(prices.rd_weight, d.Tn, field)
                                            + _val(prices.fd_weight, field))
    psums = d.Tr * d.Tc * (_lin(prices.rd_psum, d.Tm, field) + fd_o)
    return TileTraffic(inputs, weights, psums)


def compute_per_tile(shape: LayerShape, d: DesignArrays, prices: PriceList, field: str):
    """CP of one tile: Kh Kw Tr Tc Tm (MAC(Tn) + ADD + PSUM + ACUM) (anchor §3)."""
    per_out = (_lin(prices.mac, d.Tn, field) + _val(prices.add, field)
               + _val(prices.op_psum, field) + _val(prices.op_acum, field))
    return shape.Kh * shape.Kw * d.Tr * d.Tc * d.Tm * per_out


def backup_per_cycle(d: DesignArrays, prices: PriceList, field: str, s):
    """BD of a cycle of ``s`` tiles: reuse_I Tr Tc (wr(S Tm) + BD_O_RUI); reuse_W
    S Tr Tc (wr(Tm) + BD_O_RUW); reuse_O Tr Tc (wr(Tm) + BD_O_RUO) (anchor §3)."""
    bd = [_val(p, field) for p in prices.bd_psum]
    pix = d.Tr * d.Tc
    return np.choose(d.order, (pix * (_lin(prices.wr_psum, s * d.Tm, field) + bd[I_ORDER]),
                               s * pix * (_lin(prices.wr_psum, d.Tm, field) + bd[W_ORDER]),
                               pix * (_lin(prices.wr_psum, d.Tm, field) + bd[O_ORDER])))


def cycle_cost(shape: LayerShape, d: DesignArrays, prices: PriceList, field: str,
               pool_fixed: bool = False):
    """(max, min) cost of one power cycle, [J] or [s] (``est_cost_*_powcycle_intpow``).

    ``max`` is a cycle that re-fetches partial sums (n > 0), ``min`` the first input-channel
    cycle (n = 0). Both include the reboot and the loop-index fetch and backup.
    """
    fixed = _val(prices.reboot, field) + _val(prices.rd_index, field) + _val(prices.wr_index, field)
    if shape.is_pool:
        tri, tci = input_tile(shape, d, pool_fixed)
        fetch = (d.S * tri * tci * (_lin(prices.rd_input, d.Tm, field) + _val(prices.fd_input, field))
                 + _lin(prices.rd_psum, d.Tm, field) + _val(prices.fd_psum[O_ORDER], field))
        comp = d.S * d.Tr * d.Tc * d.Tm * (_val(prices.pool_op, field) + _val(prices.op_pool, field))
        back = _lin(prices.wr_psum, d.Tm, field) + _val(prices.bd_psum[O_ORDER], field)
        total = fixed + fetch + comp + back
        return total, total
    t = tile_traffic(shape, d, prices, field)
    s = d.S
    fd_max = np.choose(d.order, (s * (t.weights + t.psums) + t.inputs,
                                 s * (t.inputs + t.psums) + t.weights,
                                 s * (t.inputs + t.weights) + t.psums))
    fd_min = np.choose(d.order, (s * t.weights + t.inputs,
                                 s * t.inputs + t.weights,
                                 s * (t.inputs + t.weights)))
    rest = fixed + s * compute_per_tile(shape, d, prices, field) + backup_per_cycle(d, prices, field, s)
    return rest + fd_max, rest + fd_min


def cycle_counts(shape: LayerShape, d: DesignArrays):
    """(npc, n0, n>0) [cycles] of each design (``common.py::_num_pow_cycles``, anchor §3)."""
    if shape.is_pool:
        npc = ceil_div(shape.H, d.Tr) * ceil_div(shape.W, d.Tc) * ceil_div(shape.M, d.Tm) // d.S
        return npc, npc, np.zeros_like(npc)
    out_tiles = ceil_div(shape.R, d.Tr) * ceil_div(shape.C, d.Tc) * ceil_div(shape.M, d.Tm)
    npc = out_tiles * ceil_div(shape.N, d.Tn) // d.S
    n0 = np.where(d.order == O_ORDER, out_tiles, out_tiles // d.S)
    return npc, n0, npc - n0


@dataclass(frozen=True)
class IntermittentCost:
    """Predicted intermittent-power cost of each design of one layer (arrays).

    epc_max_j, epc_min_j : [J] energy of an n>0 / n=0 power cycle (max := min without n>0)
    lpc_max_s, lpc_min_s : [s] active time of those cycles
    npc, n0, n_pos : [cycles] power cycles: all, n=0, n>0
    recharge_s : [s] total recharge time of the layer
    le2e_s : [s] layer end-to-end latency (active + recharge)
    vm_bytes : [B] tile-buffer footprint (C0)
    fits_vm, fits_energy : bool  constraints C0 and C1 (E_pc,max <= E_av)
    """

    epc_max_j: np.ndarray
    epc_min_j: np.ndarray
    lpc_max_s: np.ndarray
    lpc_min_s: np.ndarray
    npc: np.ndarray
    n0: np.ndarray
    n_pos: np.ndarray
    recharge_s: np.ndarray
    le2e_s: np.ndarray
    vm_bytes: np.ndarray
    fits_vm: np.ndarray
    fits_energy: np.ndarray

    @property
    def feasible(self) -> np.ndarray:
        return self.fits_vm & self.fits_energy


def _vm(shape: LayerShape, d: DesignArrays, prices: PriceList):
    return vm_bytes(shape, d, prices.input_bytes, prices.weight_bytes, prices.psum_bytes)


def intermittent_cost(shape: LayerShape, d: DesignArrays, prices: PriceList, supply: Supply,
                      fixed_design: bool = False) -> IntermittentCost:
    """Intermittent-power prediction of each design (``cnn.py::est_latency_e2e_layer_intpow``).

    ``fixed_design``: price as iNAS's fixed-design evaluator does (``handler.py``), which with a
    quirk-carrying price list sizes pooling input tiles as ``Tr + H - 1`` (anchor §9.7).
    """
    pool_fixed = fixed_design and prices.pool_fixed_design_quirk
    e_max, e_min = cycle_cost(shape, d, prices, "energy_j", pool_fixed)
    l_max, l_min = cycle_cost(shape, d, prices, "latency_s", pool_fixed)
    npc, n0, n_pos = cycle_counts(shape, d)
    e_max, l_max = np.where(n_pos > 0, e_max, e_min), np.where(n_pos > 0, l_max, l_min)
    quirk = prices.recharge_margin_quirk
    t_min = supply.recharge_time_s(e_min, quirk)
    t_max = supply.recharge_time_s(e_max, quirk)
    recharge = n0 * t_min + n_pos * np.where(n_pos > 0, t_max, 0.0)
    le2e = n0 * (l_min + t_min) + n_pos * np.where(n_pos > 0, l_max + t_max, 0.0)
    vm = _vm(shape, d, prices)
    return IntermittentCost(e_max, e_min, l_max, l_min, npc, n0, n_pos, recharge, le2e, vm,
                            vm <= prices.vm_capacity_bytes, e_max <= supply.energy_available_j)


@dataclass(frozen=True)
class ContinuousCost:
    """Continuous-power prediction of each design of one layer (arrays): ``energy_j`` [J],
    ``latency_s`` [s], ``vm_bytes`` [B], ``fits_vm`` (C0)."""

    energy_j: np.ndarray
    latency_s: np.ndarray
    vm_bytes: np.ndarray
    fits_vm: np.ndarray


def _continuous_field(shape: LayerShape, d: DesignArrays, prices: PriceList, field: str,
                      pool_fixed: bool):
    """FD + CP + BD of a whole layer under continuous power (``est_cost_*_contpow``)."""
    if shape.is_pool:
        # Every tile: its input fetch, the pooled ops and one output fetch and backup; S = 1.
        tiles = ceil_div(shape.H, d.Tr) * ceil_div(shape.W, d.Tc) * ceil_div(shape.M, d.Tm)
        one = DesignArrays(d.Tr, d.Tc, d.Tm, d.Tn, d.order, np.ones_like(d.S))
        per_cycle, _ = cycle_cost(shape, one, prices, field, pool_fixed)
        fixed = (_val(prices.reboot, field) + _val(prices.rd_index, field)
                 + _val(prices.wr_index, field))
        return tiles * (per_cycle - fixed)
    rt, ct = ceil_div(shape.R, d.Tr), ceil_div(shape.C, d.Tc)
    mt, nt = ceil_div(shape.M, d.Tm), ceil_div(shape.N, d.Tn)
    n_tiles = rt * ct * mt * nt
    n_pos = n_tiles - rt * ct * mt
    t = tile_traffic(shape, d, prices, field)
    fd = np.choose(d.order, (rt * ct * nt * t.inputs + n_tiles * t.weights + n_pos * t.psums,
                             n_tiles * t.inputs + mt * nt * t.weights + n_pos * t.psums,
                             n_tiles * (t.inputs + t.weights)))
    cp = n_tiles * compute_per_tile(shape, d, prices, field)
    bd = n_tiles * backup_per_cycle(d, prices, field, 1)
    return fd + cp + bd


def continuous_cost(shape: LayerShape, d: DesignArrays, prices: PriceList) -> ContinuousCost:
    """Continuous-power prediction of each design (no reboot, no index record, S = 1)."""
    pool_fixed = prices.pool_fixed_design_quirk
    vm = _vm(shape, d, prices)
    return ContinuousCost(_continuous_field(shape, d, prices, "energy_j", pool_fixed),
                          _continuous_field(shape, d, prices, "latency_s", pool_fixed),
                          vm, vm <= prices.vm_capacity_bytes)
