"""Verdicts that need no simulation: ``does_not_fit``, ``boot_loop``, ``infeasible``.

A pure function of the run's set-up, so a user (or a sweep) can ask before simulating.
"""
from __future__ import annotations

import math

from ..hw.memory import NVM, SRAM


def precheck(setup, memory, scheduler_cls, plan, boot, general: bool):
    """The verdict a run ends with before it starts, or None.

    Parameters
    ----------
    setup : intersim.sim.engine.Setup  the run's inputs (costs priced)
    memory : intersim.hw.memory.Memory  the scheduler's layout
    scheduler_cls : type  the scheduler
    plan : dict  the scheduler's offline plan
    boot : intersim.hw.cost.BootCost  the cost of every boot
    general : bool  the run uses the general power path (ESR, currents)

    Returns
    -------
    tuple (verdict, detail) or None
    """
    plat, st = setup.platform, setup.storage
    sram, nvm = memory.used_bytes(SRAM), memory.used_bytes(NVM)
    # each weight slice once: row and element tiles of one channel read the same weights
    weights = sum({(t.layer, t.c_start, t.c_stop, t.ic_start, t.ic_stop): t.weight_bytes
                   for t in setup.tasks}.values())
    if not boot.weights_fit:
        return "does_not_fit", (f"{weights} B of weights exceed {plat.name}'s volatile weight memory of "
                                f"{plat.volatile_weight_bytes} B")
    if sram > plat.sram_bytes or nvm + weights > plat.nvm_bytes:
        return "does_not_fit", (f"needs {sram} B SRAM (has {plat.sram_bytes}) and {nvm + weights} B "
                                f"NVM incl. {weights} B weights (has {plat.nvm_bytes})")
    if getattr(scheduler_cls, "ideal_supply", False):
        return None
    if general:
        found = _esr_boot_loop(st, boot)
        if found:
            return found
    if plan.get("feasible") is False:
        return "infeasible", _infeasible_plan(st, plan)
    window = st.e_max_j - st.e_off_j
    p_max = float(setup.trace.power_w.max()) * st.input_efficiency
    boot_cap = boot.energy_j / st.output_efficiency
    if boot_cap > window + p_max * boot.time_s:
        return "boot_loop", (f"boot needs {boot_cap:.4g} J at the capacitor; V_max..V_off holds "
                             f"{window:.4g} J plus at most {p_max * boot.time_s:.4g} J harvested")
    unit = scheduler_cls.unit_energy_j(setup, plan)
    unit_cap = (unit + boot.energy_j) / st.output_efficiency
    unit_time = unit / plat.active_power_w + boot.time_s
    if unit_cap > window + p_max * unit_time:
        return "infeasible", (f"one atomic unit plus its preservation and the boot needs {unit_cap:.4g} J "
                              f"at the capacitor; V_max..V_off holds {window:.4g} J plus at most "
                              f"{p_max * unit_time:.4g} J harvested in its {unit_time:.4g} s")
    return None


def _esr_boot_loop(st, boot):
    """With ESR: does turning the boot load on at V_on brown the terminal out at once?"""
    from ..energy.power_path import boot_loop
    p_boot_cap = boot.power_w / st.output_efficiency
    looping, v_after = boot_loop(st, load_w=p_boot_cap, harvest_w=0.0)
    if not looping:
        return None
    step = ("collapses the terminal voltage (the load exceeds V^2 / (4 ESR))" if math.isnan(v_after)
            else f"drops the terminal voltage to {v_after:.4g} V")
    return "boot_loop", (f"turning the {p_boot_cap * 1e3:.4g} mW boot load on at V_on = {st.v_on_v} V "
                         f"{step} with ESR {st.esr_ohm:g} Ohm, at or below V_off = {st.v_off_v} V: "
                         f"it browns out at once, every time")


def _infeasible_plan(st, plan):
    if plan["v_ckpt"] >= st.v_on_v:
        return (f"checkpoint threshold V_ckpt = {plan['v_ckpt']:.4g} V is not below "
                f"V_on = {st.v_on_v} V: the checkpoint does not fit the capacitor")
    return (f"V_on = {st.v_on_v} V to V_ckpt = {plan['v_ckpt']:.4g} V delivers "
            f"{plan['window_j']:.4g} J, not more than the {plan['overhead_j']:.4g} J "
            f"of the checkpoint that ends it: no power cycle can make progress")
