"""``sonic``: SONIC's loop continuation (Gobieski et al., ASPLOS 2019).

The loop indices live in NVM. The outer index is the task; inside a task every iteration (one
output element) writes its output and then increments the inner index in NVM
(:class:`~intersim.sched.contract.LoopTask`), so a failure loses at most one iteration.
*Loop-ordered buffering*: a loop that accumulates into a buffer reads one buffer and writes the
other (the input-channel partial sums are double-buffered in NVM), so a re-executed iteration
reads exactly what its first attempt read (idempotent).
"""
from __future__ import annotations

from ..hw.cost import transfer_cost
from .baseline import _DONE, _IDLE
from .contract import LoopTask, Scheduler, WriteWords, loop_index_cost
from .nvm_layout import nvm_tensors


class Sonic(Scheduler):
    """SONIC: loop continuation with NVM loop indices and loop-ordered buffering (module
    docstring). One iteration = one output element of a task."""

    name = "sonic"
    nvm_determined = True
    TASK, ITER, SEQ = "loop_task", "loop_iter", "loop_seq"

    @classmethod
    def layout(cls, memory, setup, plan=None):
        return nvm_tensors(memory, setup, (cls.TASK, cls.ITER, cls.SEQ))

    @classmethod
    def prepare(cls, setup, memory):
        return {"iterations": [max(t.out_byte_stop - t.out_byte_start, 1) for t in setup.tasks]}

    @classmethod
    def unit_energy_j(cls, setup, plan):
        # the atomic unit is one iteration and its index write, then the three words of a task step
        idx = loop_index_cost(setup.platform)
        word = transfer_cost(setup.platform, 2, "sram_to_nvm")
        return max(c.energy_j / n for c, n in zip(setup.costs, plan["iterations"])) + idx.energy_j + 3 * word.energy_j

    def on_boot(self, dev):
        self.seq = None

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        n_tasks = len(dev.tasks)
        if self.seq != dev.request_seq:
            self.seq = dev.request_seq
            mem = dev.memory
            self.tagged = mem.read_word(self.SEQ) == self.seq
            self.task = mem.read_word(self.TASK) if self.tagged else 0
            it = mem.read_word(self.ITER) if self.tagged else 0
            self.iteration = min(it, self.plan["iterations"][self.task]) if self.task < n_tasks else 0
            self.ran = False
        if self.ran:  # the loop over the task's iterations finished: advance the outer index
            self.ran, self.task, self.iteration = False, self.task + 1, 0
            # the inner index is reset before the outer one advances: a cut between them
            # re-runs the finished task from iteration 0 (idempotent), never skips one
            words = ((self.ITER, 0), (self.TASK, self.task))
            if not self.tagged:
                self.tagged = True
                words += ((self.SEQ, self.seq),)
            return WriteWords(words, commits=True)
        if self.task < n_tasks:
            self.ran = True
            # an untagged request's first task starts from iteration 0 whatever the stale index
            # word holds; its iterations write the index, which counts once the tag is written
            return LoopTask(self.task, self.plan["iterations"][self.task], self.ITER, self.iteration)
        return _DONE
