"""The reference and the naive baseline: ``continuous`` (ideal supply) and ``restart``
(no preservation), and the pieces every shipped scheduler shares (the result copy, the ESR-aware
brown-out voltage)."""
from __future__ import annotations

import functools

from .contract import (
    Copy, Done, Idle, RunTasks, Scheduler, tensor_buffer,
)


#: the field-less actions, shared (actions are immutable)
_IDLE, _DONE = Idle(), Done()


@functools.lru_cache(maxsize=64)
def result_copy(output_name: str) -> Copy:
    """The copy of the output tensor into the NVM buffer ``result`` (one shared action per name)."""
    return Copy(tensor_buffer(output_name), "result")


def effective_v_off(storage, load_pin_w):
    """Brown-out voltage of the *internal* capacitor voltage under a pin load [V]: with ESR the
    comparator sees ``V_int - I ESR``, so the terminal reaches V_off while ``V_int = V_off + I ESR``
    (``I`` taken at V_off, the worst case)."""
    esr = getattr(storage, "esr_ohm", 0.0)
    if esr <= 0:
        return storage.v_off_v
    current = load_pin_w / storage.output_efficiency / storage.v_off_v
    return storage.v_off_v + current * esr


class Continuous(Scheduler):
    """Ideal supply, no failures: the reference every other scheduler's output is compared to.

    Activations live in SRAM; the result is copied to NVM and the done flag written, as every
    scheduler does, so latencies are comparable.
    """

    name = "continuous"
    ideal_supply = True
    nvm_determined = True

    def on_boot(self, dev):
        self.seq = None

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.seq != dev.request_seq:  # a new request: start from its first task
            self.seq = dev.request_seq
            self.next = 0
            self.copied = False
        if self.next < len(dev.tasks):
            start, self.next = self.next, len(dev.tasks)
            return RunTasks(start, self.next)
        if not self.copied:
            self.copied = True
            return result_copy(dev.network.output_name)
        return _DONE

    @classmethod
    def unit_energy_j(cls, setup, plan):
        return sum(c.energy_j for c in setup.costs)


class Restart(Continuous):
    """No preservation: every boot restarts the current inference from its first task."""

    name = "restart"
    ideal_supply = False
    nvm_determined = True


