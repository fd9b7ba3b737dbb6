"""``static-sram``: the static-style grouping member of ``optimal``'s class as a scheduler the
engine executes, so that ``optimal``'s claim against it compares two simulations (docs/optimal.md,
*The class*).

The rule is ``static``'s iNAS grouping (:func:`~intersim.sched.optimal.policies.static_sram_groups`,
margin 0.55) on ``jit``'s SRAM execution design: before each group, sleep to its charge voltage
(groups larger than the budget only; again after a reboot), run the group, then checkpoint the
SRAM image (``jit``'s sequence, flag last). A brown-out restores the last checkpoint at the next
boot, which is the start of the group that was cut. It reads no voltage and no energy: the sleep is
issued whether or not the capacitor is already above its target (the engine then returns at once).
Not in the scenario registry; the claim's property test and ``benchmarks/check_optimal_claim.py``
run it.
"""
from __future__ import annotations

from ..contract import SRAM_IMAGE, Copy, Done, RunTasks, Sleep, checkpoint_buffer, tensor_buffer
from .schedulers import _ActionSequence, _checkpoint_actions, _prepare_ops


class StaticSram(_ActionSequence):
    """Static-style grouping under the SRAM design (the member ``static-sram`` of ``optimal``'s
    class): per group, a sleep to its charge voltage (if any), the group's tasks as one run, a
    checkpoint of the SRAM image at its end; the result copy and done flag after the last one."""

    name = "static-sram"

    @classmethod
    def prepare(cls, setup, memory):
        plan = _prepare_ops(cls, setup, memory)
        plan["output_name"] = setup.network.output_name
        return plan

    def _actions(self, dev, c, restore):
        if restore:
            yield Copy(checkpoint_buffer(self.restore_slot), SRAM_IMAGE, category="restore")
        for (first, stop), v in zip(self.plan["groups"], self.plan["charge_v"]):
            if stop <= c:  # checkpointed already
                continue
            if v is not None:
                yield Sleep(until_v=v)
            yield RunTasks(first, stop)
            yield from _checkpoint_actions(self, stop)
        yield Copy(tensor_buffer(self.plan["output_name"]), "result")
        yield Done()
