"""``hawaii``: HAWAII's job footprints (Kang et al., IEEE TCAD 39(11), 2020).

A *job* -- one accumulation run of the vector unit, here one task of the lowering (use
``layer,ic:K`` or ``channels:K`` for vector-unit-sized jobs) -- writes its output to NVM and then
its *footprint*, a one-word progress indicator kept with the outputs; nothing else is preserved.
After a power failure the device resumes at the job after the last footprint; the interrupted
job is re-executed whole (its inputs are never overwritten: tensors are out of place, partial
sums double-buffered in NVM).
"""
from __future__ import annotations

from ..hw.cost import transfer_cost
from .baseline import _DONE, _IDLE
from .contract import RunTask, Scheduler, WriteWords
from .nvm_layout import nvm_tensors


class Hawaii(Scheduler):
    """HAWAII: a footprint word after every job (task); nothing else preserved (module docstring)."""

    name = "hawaii"
    nvm_determined = True
    FOOTPRINT, FOOTPRINT_SEQ = "footprint", "footprint_seq"

    @classmethod
    def layout(cls, memory, setup, plan=None):
        return nvm_tensors(memory, setup, (cls.FOOTPRINT, cls.FOOTPRINT_SEQ))

    @classmethod
    def unit_energy_j(cls, setup, plan):
        word = transfer_cost(setup.platform, 2, "sram_to_nvm")
        return max(c.energy_j for c in setup.costs) + 2 * word.energy_j

    def on_boot(self, dev):
        self.seq = None

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.seq != dev.request_seq:
            self.seq = dev.request_seq
            mem = dev.memory
            # the footprint counts for this request only if its tag is this request's
            self.tagged = mem.read_word(self.FOOTPRINT_SEQ) == self.seq
            self.next = mem.read_word(self.FOOTPRINT) if self.tagged else 0
            self.ran = False
        if self.ran:  # the job finished: its footprint
            self.ran, self.next = False, self.next + 1
            if self.tagged:
                return WriteWords(((self.FOOTPRINT, self.next),), commits=True)
            # the first footprint of a request also tags it (footprint first: a cut between the
            # two leaves a stale tag, read as "no job done" -- safe, only slower)
            self.tagged = True
            return WriteWords(((self.FOOTPRINT, self.next), (self.FOOTPRINT_SEQ, self.seq)), commits=True)
        if self.next < len(dev.tasks):
            self.ran = True
            return RunTask(self.next)
        return _DONE
