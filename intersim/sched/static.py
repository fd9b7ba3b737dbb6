"""``static``: the iNAS-style static partition of tasks into power cycles."""
from __future__ import annotations

from ..hw.cost import transfer_cost
from .baseline import _DONE, _IDLE
from .contract import (
    RunTasks, Scheduler, Sleep, WriteWords, allocate_psums, allocate_tensors, boot_cost_for, task_nvm_regions,
    tensor_buffer,
)
from .grouping import inas_groups


class Static(Scheduler):
    """iNAS-style static partition.

    Offline, consecutive base tasks are grouped so that each group plus its commit and the boot
    fits the budget ``eta_out * C (V_on^2 - V_off^2) / 2 * margin`` (zero harvest assumed).
    Every tensor lives in NVM; a task reads its inputs from NVM and writes its output tile there;
    after each group a progress counter is committed. A group cut by a failure is re-executed
    (its tasks are idempotent: they never overwrite their own inputs, partial sums of
    input-channel tiles are double-buffered in NVM, and a group ends before a task that would
    write bytes an earlier task of the group read). A group that does not fit
    the V_on window on its own first sleeps until the voltage that makes it fit.
    """

    name = "static"
    nvm_determined = True
    margin = 0.55  # iNAS's energy-budget margin
    double_buffer_psums = True  # partial sums read and written by one task live in two NVM buffers

    @classmethod
    def layout(cls, memory, setup, plan=None):
        net = setup.network
        allocate_tensors(memory, setup, "nvm")
        allocate_psums(memory, setup, "nvm", double_buffer=cls.double_buffer_psums)
        memory.allocate("progress", "nvm", (1,), "uint16")
        memory.allocate("progress_seq", "nvm", (1,), "uint16")
        return tensor_buffer(net.output_name)

    @classmethod
    def prepare(cls, setup, memory):
        commit = transfer_cost(setup.platform, 4, "sram_to_nvm")
        # a group is re-executed from its start after a failure, so no task in it may write NVM
        # bytes that an earlier task of the group read (a chain of input-channel partial sums
        # alternates between two buffers: its third tile overwrites what its first read)
        regions = [task_nvm_regions(t, memory, setup.network.input_name) for t in setup.tasks]
        grouping = inas_groups(setup, boot_cost_for(setup).energy_j + commit.energy_j, cls.margin, regions)
        return {"groups": grouping.groups, "charge_v": grouping.charge_v, "budget_j": grouping.budget_j}

    @classmethod
    def unit_energy_j(cls, setup, plan):
        commit = transfer_cost(setup.platform, 4, "sram_to_nvm")
        return max(sum(setup.costs[i].energy_j for i in g) for g in plan["groups"]) + commit.energy_j

    def on_boot(self, dev):
        self.seq = None

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        groups = self.plan["groups"]
        if self.seq != dev.request_seq:
            self.seq = dev.request_seq
            mem = dev.memory
            committed = mem.read_word("progress") if mem.read_word("progress_seq") == self.seq else 0
            self.group, self.k, self.charged = committed, 0, False
        if self.group < len(groups):
            tasks = groups[self.group]
            v = self.plan["charge_v"][self.group]
            if self.k == 0 and v is not None and not self.charged:
                self.charged = True
                return Sleep(until_v=v)
            if self.k < len(tasks):  # a group is a run of consecutive tasks
                self.k = len(tasks)
                return RunTasks(tasks[0], tasks[-1] + 1)
            self.group, self.k, self.charged = self.group + 1, 0, False
            # progress first, then the request it belongs to: a cut between the two words
            # leaves a stale request tag, read as "nothing committed" -- safe, only slower
            return WriteWords((("progress", self.group), ("progress_seq", self.seq)), commits=True)
        return _DONE


