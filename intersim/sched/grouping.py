"""iNAS-style static grouping of tasks into power cycles: the one rule ``static`` and ``optimal``'s
static-style member both use.

Consecutive tasks are grouped so that each group, plus a fixed cost per power cycle (the boot and
the preservation around the group), fits the budget ``eta_out C (V_on^2 - V_off,eff^2) / 2 x
margin`` [J] with zero harvest, where ``V_off,eff`` includes the ESR drop at the largest task's
current. A group that does not fit on its own gets a charge voltage (capped at ``V_max``) to sleep
to before it runs. Where a group is re-executed from its start after a failure (``static``'s
NVM design), no task in it may write NVM bytes an earlier task of the group read: such a task
starts a new group.
"""
from __future__ import annotations

from typing import NamedTuple

from ..energy.capacitor import usable_energy_j, voltage_v
from .baseline import effective_v_off
from .contract import writes_into


class Grouping(NamedTuple):
    """Groups of consecutive tasks and how each is started."""

    groups: list      #: task indices of each group (consecutive)
    charge_v: list    #: per group: the voltage to charge to before it [V], or None
    budget_j: float   #: the energy budget of one power cycle at the pin [J]


def inas_groups(setup, fixed_j: float, margin: float, regions=None) -> Grouping:
    """Group ``setup.costs`` (see the module docstring).

    Parameters
    ----------
    setup : intersim.sim.engine.Setup  the run's inputs (``costs`` priced)
    fixed_j : float [J]  pin energy each power cycle spends besides its tasks (boot, restore,
        commit or checkpoint)
    margin : float [1]  the fraction of the window a group may use (iNAS: 0.55)
    regions : list or None  per task ``(NVM byte ranges read, NVM byte range written)``
        (:func:`~intersim.sched.contract.task_nvm_regions`); None: no write-after-read split
    """
    st = setup.storage
    v_off_eff = effective_v_off(st, max(c.power_w for c in setup.costs))
    # the energy released from V_on down to V_off,eff, and the energy held at V_off,eff (what is
    # released from there down to 0)
    usable = max(usable_energy_j(st.capacitance_f, st.v_on_v, v_off_eff), 0.0)
    e_off_eff = usable_energy_j(st.capacitance_f, v_off_eff, 0.0)
    budget = st.output_efficiency * usable * margin
    groups, cur, cur_e, cur_reads = [], [], 0.0, []
    for i, c in enumerate(setup.costs):
        reads, write = regions[i] if regions is not None else ((), None)
        if cur and (cur_e + c.energy_j + fixed_j > budget or writes_into(write, cur_reads)):
            groups.append(cur)
            cur, cur_e, cur_reads = [], 0.0, []
        cur.append(i)
        cur_e += c.energy_j
        cur_reads += reads
    if cur:
        groups.append(cur)
    charge_v = []
    for g in groups:
        need = sum(setup.costs[i].energy_j for i in g) + fixed_j
        if need <= budget:
            charge_v.append(None)
        else:  # one atomic task larger than the window: charge above V_on first
            # (at most V_max: beyond it the group relies on harvest while it runs)
            e_needed = e_off_eff + need / (st.output_efficiency * margin)
            charge_v.append(min(float(voltage_v(st.capacitance_f, e_needed)), st.v_max_v))
    return Grouping(groups, charge_v, budget)
