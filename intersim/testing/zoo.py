"""Deliberately wrong schedulers, one per class of intermittent-computing bug: what
:func:`intersim.testing.check_scheduler` must catch (``tests/test_check_scheduler.py`` shows it
catching each within the default budget). Each differs from a shipped scheduler in one place.
"""
from __future__ import annotations

from ..sched.baseline import _DONE, _IDLE, result_copy
from ..sched.contract import (
    CHECKPOINT_FLAG, SRAM_IMAGE, Copy, RunTasks, Sleep, WriteWords, checkpoint_buffer,
)
from ..sched.jit import JIT
from ..sched.static import Static


class InPlaceStatic(Static):
    """WRONG (write-after-read in place): ``static`` that accumulates input-channel partial sums
    in place in NVM (one buffer per tile instead of two). A failure after an accumulate task has
    written its sums but before the group's commit makes the re-executed group add that
    contribution twice. (Identical to ``static`` at granularities without input-channel tiles.)"""

    name = "inplace-static"
    nvm_determined = True
    double_buffer_psums = False


class _StaticSteps(Static):
    """``static``'s decisions, with the commit words and their place overridable."""

    nvm_determined = True

    def commit(self):
        return WriteWords((("progress", self.group), ("progress_seq", self.seq)), commits=True)

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        groups = self.plan["groups"]
        if self.seq != dev.request_seq:
            self.seq = dev.request_seq
            mem = dev.memory
            committed = mem.read_word("progress") if mem.read_word("progress_seq") == self.seq else 0
            self.group, self.k, self.charged = committed, 0, False
        if self.group >= len(groups):
            return _DONE
        return self.step(groups[self.group], self.plan["charge_v"][self.group])

    def step(self, tasks, v):
        if self.k == 0 and v is not None and not self.charged:
            self.charged = True
            return Sleep(until_v=v)
        if self.k < len(tasks):
            self.k = len(tasks)
            return RunTasks(tasks[0], tasks[-1] + 1)
        self.group, self.k, self.charged = self.group + 1, 0, False
        return self.commit()


class MarkerFirstStatic(_StaticSteps):
    """WRONG (marker before data): ``static`` that commits a group's progress before running it,
    so a failure inside the group leaves the marker past work that never persisted."""

    name = "marker-first-static"

    def step(self, tasks, v):
        if self.k == 0 and v is not None and not self.charged:
            self.charged = True
            return Sleep(until_v=v)
        if self.k == 0:
            self.k = 1
            return WriteWords((("progress", self.group + 1), ("progress_seq", self.seq)), commits=True)
        self.group, self.k, self.charged = self.group + 1, 0, False
        return RunTasks(tasks[0], tasks[-1] + 1)


class StaleSeqStatic(_StaticSteps):
    """WRONG (stale request result): ``static`` that writes the commit's request tag before its
    progress count. A cut between the two words at a new request's first commit pairs the new
    tag with the previous request's final count: the request skips every group and returns the
    previous request's result (caught only with two or more requests per case)."""

    name = "stale-seq-static"

    def commit(self):
        return WriteWords((("progress_seq", self.seq), ("progress", self.group)), commits=True)


class _JITSteps(JIT):
    """``jit`` whose checkpoints the scheduler carries out itself (``RunTasks`` plus
    ``on_threshold``), so a variant can change them."""

    nvm_determined = True

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.restore_slot is not None:
            s, self.restore_slot = self.restore_slot, None
            return self.restore(s)
        if self.seq != dev.request_seq:
            self.seq, self.next, self.resume, self.copied, self.pending = dev.request_seq, 0, 0, False, []
        if getattr(self, "pending", None):
            return self.pending.pop(0)
        self.pending = []
        if self.next < len(dev.tasks):
            i, r = self.next, self.resume
            self.next, self.resume = len(dev.tasks), 0
            return RunTasks(i, self.next, r)
        if not self.copied:
            self.copied = True
            return result_copy(dev.network.output_name)
        return _DONE

    def restore(self, slot):
        self.pending = []
        return Copy(checkpoint_buffer(slot), SRAM_IMAGE, category="restore")

    def on_threshold(self, dev, task_index, cycles_done):
        self.next, self.resume = task_index, cycles_done
        self.pending = self.checkpoint(dev, task_index, cycles_done) + [Sleep(self.plan["v_on"])]

    def checkpoint(self, dev, task, cycles):
        """The actions of one checkpoint (``hibernus_checkpoint``'s, in order)."""
        from ..sched.contract import hibernus_checkpoint
        steps, self.flag = hibernus_checkpoint(self.flag, self.seq, task, cycles)
        return list(steps)


class FlagFirstJIT(_JITSteps):
    """WRONG (flag before image): ``jit`` that validates a checkpoint (its header and flag words)
    before copying the SRAM image into the slot; a failure during the copy leaves a valid flag
    on a torn image."""

    name = "flag-first-jit"

    def checkpoint(self, dev, task, cycles):
        copy, header, flag = super().checkpoint(dev, task, cycles)
        return [header, flag, copy]


class OneSlotJIT(_JITSteps):
    """WRONG (single non-atomic slot): ``jit`` that always checkpoints into slot 0, so a failure
    during a checkpoint's copy tears the only valid image."""

    name = "one-slot-jit"

    def checkpoint(self, dev, task, cycles):
        copy, header, flag = super().checkpoint(dev, task, cycles)
        self.flag = 2  # epoch 1, slot 0: always the same slot, validated once
        slot0 = tuple((checkpoint_buffer(0, w.split("_")[-1]), v) for w, v in header.words)
        return [Copy(SRAM_IMAGE, checkpoint_buffer(0)), WriteWords(slot0),
                WriteWords(((CHECKPOINT_FLAG, 2),), commits=True)]


class NoRestoreJIT(_JITSteps):
    """WRONG (missing restore): ``jit`` that resumes from a checkpoint's position after a
    brown-out without copying the image back: the volatile state it resumes on is poison."""

    name = "no-restore-jit"

    def restore(self, slot):
        self.restore_slot = None
        return self.next_action(self.dev)

    def on_boot(self, dev):
        self.dev = dev
        super().on_boot(dev)


#: the wrong schedulers, by the class of bug each has
WRONG_SCHEDULERS = {
    "write-after-read in place": InPlaceStatic,
    "marker before data": MarkerFirstStatic,
    "flag before image": FlagFirstJIT,
    "single non-atomic slot": OneSlotJIT,
    "stale request result": StaleSeqStatic,
    "missing restore": NoRestoreJIT,
}
