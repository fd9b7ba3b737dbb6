"""The MAX78000 toolchain's execution designs (Fine-grained Hardware Acceleration for Efficient
Batteryless Intermittent Inference on the Edge, ACM TECS 2023): ``accel-oneshot``,
``accel-layer`` and ``accel-urgent``.

The CNN accelerator runs one layer atomically and writes the layer's output into its data memory
in one burst at the layer's end; its weights live in a volatile weight memory reloaded from flash
at every boot (:func:`intersim.hw.cost.boot_cost`). Here a *layer* is the run of consecutive
tasks of one network layer (any granularity: the designs stop only between layers). Activations
live in SRAM (the accelerator's data memory); backups go to flash, each into its own whole pages,
erased before they are programmed (:class:`~intersim.sched.contract.ErasePages`).

* ``accel-oneshot``: the native coarse-grained execution: the whole inference in one power
  cycle, restarted after a failure; then the result is programmed into flash.
* ``accel-layer``: after every layer, the tensors it produced that later layers read are backed
  up (erase, program), then a progress word is committed; a boot restores them and goes on.
* ``accel-urgent``: after each layer, if the stored energy (one ADC read) cannot pay for the
  next layer, the node sits in the ULP mode (:class:`~intersim.sched.contract.UlpSleep`: SRAM
  and the accelerator's memory kept) while it charges, and measures the input power
  (:class:`~intersim.sched.contract.ReadInputPower`) first: only when the harvest is below the
  ULP mode's draw -- the capacitor would drain and the volatile state be lost -- does it back up
  what it has produced since the last backup (an *urgent* checkpoint). The sleep is re-checked
  every ``recheck_s``.
"""
from __future__ import annotations

import math

from ..energy.capacitor import usable_energy_j, voltage_v
from ..hw.cost import erase_pages_for, transfer_cost
from .baseline import _DONE, _IDLE, effective_v_off
from .contract import (
    Copy, ErasePages, ReadInputPower, ReadVoltage, RunTasks, Scheduler, UlpSleep, WriteWords, allocate_pages,
    allocate_psums, allocate_tensors, tensor_buffer,
)

PROGRESS, PROGRESS_SEQ, RESULT = "accel_layer", "accel_seq", "result"


def backup_buffer(tensor: str) -> str:
    """The flash buffer that holds the backup of ``tensor``."""
    return f"bk:{tensor}"


def layer_runs(setup):
    """``[(first task, stop task), ...]``: the runs of consecutive tasks of one layer, in order."""
    runs, start = [], 0
    tasks = setup.tasks
    for i in range(1, len(tasks) + 1):
        if i == len(tasks) or tasks[i].layer != tasks[start].layer:
            runs.append((start, i))
            start = i
    return runs


def live_after(setup, runs):
    """Per layer run ``g``: the tensors produced by runs ``<= g`` that runs ``> g`` read (sorted
    names), and per tensor the run that produces it."""
    tasks = setup.tasks
    produced = {tasks[a].output: g for g, (a, _) in enumerate(runs)}
    last_read = {}
    for g, (a, b) in enumerate(runs):
        for t in tasks[a:b]:
            for name in t.inputs:
                if name in produced:
                    last_read[name] = g
    live = [sorted(x for x, p in produced.items() if p <= g < last_read.get(x, -1)) for g in range(len(runs))]
    return live, produced


class AccelOneshot(Scheduler):
    """``accel-oneshot``: the whole inference in one power cycle (module docstring)."""

    name = "accel-oneshot"
    nvm_determined = True

    @classmethod
    def layout(cls, memory, setup, plan=None):
        net = setup.network
        allocate_tensors(memory, setup, "sram")
        allocate_psums(memory, setup, "sram", double_buffer=False)
        cls.layout_backups(memory, setup)
        allocate_pages(memory, RESULT, net.tensors[net.output_name], "int8", setup.platform.nvm_page_bytes)
        return RESULT

    @classmethod
    def layout_backups(cls, memory, setup):
        """The flash buffers besides the result (none for the one-shot design)."""

    @classmethod
    def prepare(cls, setup, memory):
        return {"runs": layer_runs(setup)}

    @classmethod
    def result_energy_j(cls, setup, memory=None):
        """Pin energy [J] of erasing and programming the result."""
        net = setup.network
        n = int(math.prod(net.tensors[net.output_name]))
        plat = setup.platform
        pages = -(-n // plat.nvm_page_bytes) if plat.nvm_page_bytes else 0
        erase = pages * (plat.nvm_erase_energy_j + plat.active_power_w * plat.nvm_erase_time_s)
        return erase + transfer_cost(plat, n, "sram_to_nvm").energy_j

    @classmethod
    def unit_energy_j(cls, setup, plan):
        return sum(c.energy_j for c in setup.costs) + cls.result_energy_j(setup)

    def on_boot(self, dev):
        self.seq = None

    def _start(self, dev):
        """A new request: where to start (first layer run) and what to restore first."""
        self.run_index, self.restore = 0, []

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.seq != dev.request_seq:
            self.seq = dev.request_seq
            self.steps = []
            self._start(dev)
            self.steps = list(self.restore)
        if self.steps:
            return self.steps.pop(0)
        runs = self.plan["runs"]
        if self.run_index < len(runs):
            return self._layer_step(dev, runs)
        if self.run_index == len(runs):
            self.run_index += 1
            self.steps = [Copy(tensor_buffer(dev.network.output_name), RESULT), _DONE]
            return ErasePages(RESULT)
        return _DONE

    def _layer_step(self, dev, runs):
        """The next action at a layer boundary: run the whole inference at once."""
        a, b = runs[self.run_index][0], runs[-1][1]
        self.run_index = len(runs)
        return RunTasks(a, b)


class AccelLayer(AccelOneshot):
    """``accel-layer``: a backup of every layer's live outputs and a commit (module docstring)."""

    name = "accel-layer"
    nvm_determined = True

    @classmethod
    def layout_backups(cls, memory, setup):
        live, _ = live_after(setup, layer_runs(setup))
        page = setup.platform.nvm_page_bytes
        for name in sorted(set().union(*live)) if live else ():
            allocate_pages(memory, backup_buffer(name), setup.network.tensors[name], "int8", page)
        memory.allocate(PROGRESS, "nvm", (1,), "uint16")
        memory.allocate(PROGRESS_SEQ, "nvm", (1,), "uint16")

    @classmethod
    def prepare(cls, setup, memory):
        runs = layer_runs(setup)
        live, produced = live_after(setup, runs)
        plat = setup.platform
        backup_j = []
        for g in range(len(runs)):
            e = 2 * transfer_cost(plat, 2, "sram_to_nvm").energy_j
            for name in live[g]:
                buf = memory.buffers[backup_buffer(name)]
                pages = erase_pages_for(plat, buf.offset, buf.offset + buf.nbytes)
                e += pages * (plat.nvm_erase_energy_j + plat.active_power_w * plat.nvm_erase_time_s)
                e += transfer_cost(plat, buf.nbytes, "sram_to_nvm").energy_j
            backup_j.append(e)
        run_j = [sum(setup.costs[i].energy_j for i in range(a, b)) for a, b in runs]
        return {"runs": runs, "live": live, "produced": produced, "backup_j": backup_j, "run_j": run_j}

    @classmethod
    def unit_energy_j(cls, setup, plan):
        return max(e + bk for e, bk in zip(plan["run_j"], plan["backup_j"])) + cls.result_energy_j(setup)

    def _start(self, dev):
        mem = dev.memory
        done = mem.read_word(PROGRESS) if mem.read_word(PROGRESS_SEQ) == self.seq else 0
        self.run_index = self.backed = done  # layer runs done; the backups cover runs < done
        self.restore = ([Copy(backup_buffer(x), tensor_buffer(x), category="restore")
                         for x in self.plan["live"][done - 1]] if done else [])
        self.fresh = True  # no layer has run since the last backup (or the start)

    def _backup(self, g):
        """The actions that back up what runs ``backed .. g`` produced and later runs read, then
        commit ``g + 1`` runs done."""
        steps = []
        for x in self.plan["live"][g]:
            if self.plan["produced"][x] >= self.backed:
                steps += [ErasePages(backup_buffer(x)), Copy(tensor_buffer(x), backup_buffer(x))]
        self.backed = g + 1
        # progress first, then the request tag: a cut between them reads as "nothing committed"
        return steps + [WriteWords(((PROGRESS, g + 1), (PROGRESS_SEQ, self.seq)), commits=True)]

    def _layer_step(self, dev, runs):
        g = self.run_index
        if not self.fresh and self.backed < g:  # the previous layer ran: back it up
            self.steps = self._backup(g - 1)
            return self.steps.pop(0)
        self.fresh = False
        self.run_index += 1
        return RunTasks(*runs[g])


class AccelUrgent(AccelLayer):
    """``accel-urgent``: ULP sleep while charging, a backup only when the harvest is below the ULP
    mode's draw (module docstring)."""

    name = "accel-urgent"
    nvm_determined = False  # its decisions depend on voltage and input-power readings
    recheck_s = 1.0         # [s] how long one ULP sleep lasts before the input power is measured again
    safety = 1.1            # energy margin on a layer run's need
    v_max_fraction = 0.995  # the highest charge target, a hair under V_max (which a sleep may never reach)

    @classmethod
    def prepare(cls, setup, memory):
        plan = super().prepare(setup, memory)
        st, plat = setup.storage, setup.platform
        v_off = effective_v_off(st, max(c.power_w for c in setup.costs))
        e_off = usable_energy_j(st.capacitance_f, v_off, 0.0)
        # the voltage from which a layer run (and, at worst, its urgent backup) completes on the
        # stored energy alone; the charge target a little above it (the two reads of the check
        # draw from the capacitor), both capped just under V_max (beyond it the run relies on the
        # harvest)
        c, eta = st.capacitance_f, st.output_efficiency
        e_reads = (plat.adc_power_w * plat.adc_time_s
                   + plat.input_power_read_power_w * plat.input_power_read_time_s) / eta
        v_cap = cls.v_max_fraction * st.v_max_v
        plan["sleep_v"] = [min(float(voltage_v(c, e_off + cls.safety * (e + bk) / eta + 4 * e_reads)), v_cap)
                           for e, bk in zip(plan["run_j"], plan["backup_j"])]
        plan["need_v"] = [float(voltage_v(c, usable_energy_j(c, v, 0.0) - 2 * e_reads)) for v in plan["sleep_v"]]
        # the ULP mode's draw at the capacitor [W], and the capacitor's leakage at V_on
        leak_w = st.v_on_v ** 2 / st.leakage_ohm if math.isfinite(st.leakage_ohm) else 0.0
        plan["ulp_draw_w"] = plat.ulp_sleep_power_w / st.output_efficiency + leak_w
        return plan

    def _start(self, dev):
        super()._start(dev)
        self.stage = "check"  # check: read the voltage; decide: run or charge; power: after the harvest read

    def _layer_step(self, dev, runs):
        g = self.run_index
        if self.stage == "check":
            self.stage = "decide"
            return ReadVoltage()
        if self.stage == "decide" and dev.voltage_v >= self.plan["need_v"][g]:
            self.stage, self.fresh = "check", False
            self.run_index += 1
            return RunTasks(*runs[g])
        if self.stage == "decide":  # not enough stored energy: measure the harvest
            self.stage = "power"
            return ReadInputPower()
        # charge in the ULP mode; back up first only if the harvest cannot keep the ULP mode alive
        self.stage = "check"
        sleep = UlpSleep(self.plan["sleep_v"][g], self.recheck_s)
        if dev.input_power_w < self.plan["ulp_draw_w"] and not self.fresh and self.backed < g:
            self.steps = self._backup(g - 1) + [sleep]
            return self.steps.pop(0)
        return sleep
