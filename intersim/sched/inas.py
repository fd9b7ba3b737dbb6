"""``inas`` and ``inas-continue``: iNAS's intermittent runtime executing an execution design.

Tasks lowered from an execution design (:func:`intersim.design.lowering.lower_design`) are
tiles grouped into power cycles of ``S`` tiles (``Task.cycle``); tasks lowered at a granularity
(:func:`intersim.nn.tasks.lower`) are one cycle each (the design derived from the granularity:
each task a tile, ``S = 1``). Every tensor and every partial-sum buffer lives in non-volatile
memory (iNAS keeps feature maps in external FRAM, anchor §8).

Per power cycle, as the published runtime (``cnn_conv_tiled_std.c``, anchor §8): run the cycle's
tiles (each fetches, computes and backs up its outputs), write the 4-word loop-index record
(cycle index, layer, first task of the next cycle, request sequence number -- the last word
commits), then

* ``inas``: switch the MCU off (``_SHUTDOWN()``): the next cycle starts after the capacitor has
  recharged to ``V_on`` and the device has booted again;
* ``inas-continue``: read the supply voltage and go on with the next cycle while the energy above
  ``V_off`` covers it (its tiles and the record, at the pin); otherwise switch off as ``inas``.

A cycle cut by a power failure is re-executed from its start: its tiles never overwrite what an
earlier tile of the same cycle read (the lowering alternates partial-sum buffers per cycle), so
the outputs equal continuous execution whatever the harvest does -- iNAS relies on constraint C1
to avoid such failures; the simulator does not.
"""
from __future__ import annotations

from ..energy.capacitor import usable_energy_j
from ..errors import SchedulerError
from ..hw.cost import transfer_cost
from .baseline import _DONE, _IDLE, effective_v_off
from .contract import (
    PowerOff, ReadVoltage, RunTasks, Scheduler, WriteWords, allocate_tensors, tensor_buffer,
)


def _allocate_shared_psums(memory, setup):
    """Partial-sum buffers in NVM, each parity shared by every layer (a power cycle never spans
    two layers and a layer's sums are dead once its outputs are committed): one region per parity
    the size of the largest layer's, every layer's buffer of that parity an alias of it."""
    import numpy as np

    from ..nn.tasks import psum_buffers
    shapes = psum_buffers(setup.tasks, setup.network)
    by_parity = {}
    for name, shape in shapes.items():
        by_parity.setdefault(name.rsplit(":", 1)[1], []).append((name, shape))
    for parity, named in sorted(by_parity.items()):
        region = f"psum:shared:{parity}"
        memory.allocate(region, "nvm", (max(int(np.prod(sh)) for _, sh in named),), "int32")
        for name, shape in sorted(named):
            memory.alias(name, region, shape, "int32")

#: the loop-index record iNAS keeps in FRAM (anchor §3 rd(4)/wr(4), §8), in write order; the
#: last word (the request it belongs to) commits the cycle
INDEX_WORDS = ("inas_cycle", "inas_layer", "inas_task", "inas_seq")
#: most power cycles one 16-bit index word can count
MAX_CYCLES = 0xFFFF


def design_cycles(tasks) -> list:
    """``[(start, stop)]`` task ranges of the power cycles: consecutive tasks with the same
    ``Task.cycle``; a task without one is a cycle of its own."""
    cycles = []
    for i, t in enumerate(tasks):
        if cycles and t.cycle is not None and tasks[i - 1].cycle == t.cycle:
            cycles[-1][1] = i + 1
        else:
            cycles.append([i, i + 1])
    return [tuple(c) for c in cycles]


class Inas(Scheduler):
    """iNAS's runtime: S tiles per power cycle, then the outputs and the 4-word loop-index
    record are preserved and the MCU is switched off (module docstring)."""

    name = "inas"
    #: switch off after every cycle (True) or continue while the energy allows (False)
    forced_off = True

    @classmethod
    def layout(cls, memory, setup, plan=None):
        net = setup.network
        allocate_tensors(memory, setup, "nvm")
        _allocate_shared_psums(memory, setup)
        for word in INDEX_WORDS:
            memory.allocate(word, "nvm", (1,), "uint16")
        return tensor_buffer(net.output_name)

    @classmethod
    def prepare(cls, setup, memory):
        cycles = design_cycles(setup.tasks)
        if len(cycles) > MAX_CYCLES:
            raise SchedulerError(f"scheduler {cls.name!r}: {len(cycles)} power cycles; the 16-bit loop "
                                 f"index counts at most {MAX_CYCLES}")
        record = transfer_cost(setup.platform, 2 * len(INDEX_WORDS), "sram_to_nvm")
        energy = [sum(setup.costs[i].energy_j for i in range(a, b)) for a, b in cycles]
        return {"cycles": cycles, "energy_j": energy, "record_j": record.energy_j,
                "p_max_w": max(c.power_w for c in setup.costs)}

    @classmethod
    def unit_energy_j(cls, setup, plan):
        return max(plan["energy_j"]) + plan["record_j"]

    def on_boot(self, dev):
        self.seq = None

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        cycles = self.plan["cycles"]
        if self.seq != dev.request_seq:  # a new request, or the first decision since boot
            self.seq = dev.request_seq
            mem = dev.memory
            self.cycle = mem.read_word("inas_cycle") if mem.read_word("inas_seq") == self.seq else 0
            self.state = "run"
        if self.cycle >= len(cycles):
            return _DONE
        if self.state == "run":
            self.state = "record"
            return RunTasks(*cycles[self.cycle])
        if self.state == "record":  # the cycle's tiles are done, outputs backed up: the index
            self.state = "next"
            nxt = self.cycle + 1
            task = cycles[nxt][0] if nxt < len(cycles) else len(dev.tasks)
            return WriteWords((("inas_cycle", nxt), ("inas_layer", dev.tasks[task - 1].layer),
                               ("inas_task", task & 0xFFFF), ("inas_seq", self.seq)), commits=True)
        if self.state == "next":
            self.cycle += 1
            if self.cycle >= len(cycles):
                return _DONE
            self.state = "between"
        return self._between_cycles(dev)

    def _between_cycles(self, dev):
        """After a committed cycle that is not the last: ``inas`` switches off."""
        return PowerOff()


class InasContinue(Inas):
    """``inas`` without the forced power-off: after each committed cycle it reads the supply
    voltage and goes on while the energy above ``V_off`` covers the next cycle (its tiles and
    its record, at the pin, through the output regulator)."""

    name = "inas-continue"
    forced_off = False

    def _between_cycles(self, dev):
        if self.state == "between":
            self.state = "decide"
            return ReadVoltage()
        st = dev.storage
        need = (self.plan["energy_j"][self.cycle] + self.plan["record_j"]) / st.output_efficiency
        have = usable_energy_j(st.capacitance_f, dev.voltage_v, effective_v_off(st, self.plan["p_max_w"]))
        if have >= need:
            self.state = "record"
            return RunTasks(*self.plan["cycles"][self.cycle])
        return PowerOff()
