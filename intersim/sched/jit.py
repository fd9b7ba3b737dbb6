"""``jit`` and ``jit-task``: Hibernus-style just-in-time checkpointing on a voltage comparator."""
from __future__ import annotations

import math

from ..hw.cost import transfer_cost
from .contract import (
    CHECKPOINT_FLAG, checkpoint_buffer,
    SRAM_IMAGE, CheckpointedRun, Copy, Scheduler, allocate_checkpoint_slots,
)

from .baseline import _DONE, _IDLE, effective_v_off, result_copy


class JIT(Scheduler):
    """Hibernus-style just-in-time checkpointing.

    Activations live in SRAM. A comparator interrupts when the terminal voltage falls below
    ``V_ckpt``; the whole SRAM image plus its position (task, cycles done) is then saved into the
    older of two NVM slots, a one-word valid/epoch flag written last, and the device sleeps until
    the voltage is back at ``V_on`` (resume in place, no restore) or a brown-out (restore at the
    next boot). The scheduler hands each run to the engine as a
    :class:`~intersim.sched.contract.CheckpointedRun`, which carries those cycles out. ``V_ckpt`` leaves the energy of the checkpoint (plus, for ``jit-task``,
    of the largest task) above ``V_off``, with a safety factor. All mutable state is in SRAM, so
    a cut checkpoint leaves the previous slot valid and nothing in NVM is newer than it except
    the result copy, which is redone after a restore.
    """

    name = "jit"
    nvm_determined = True
    safety = 1.2
    suspends_task = True
    register_bytes = 64  # CPU registers + stack saved with the image (a volatile SRAM buffer)

    @classmethod
    def layout(cls, memory, setup, plan=None):
        super().layout(memory, setup, plan)
        # the register file and stack live in the volatile image too
        memory.allocate("registers", "sram", (cls.register_bytes,), "uint8")
        allocate_checkpoint_slots(memory)
        return "result"

    @classmethod
    def checkpoint_energy_j(cls, setup, memory):
        """Energy [J at the MCU pin] of one checkpoint exactly as it executes: the SRAM image copy,
        four header words and the flag word."""
        plat = setup.platform
        image = transfer_cost(plat, memory.used_bytes("sram"), "sram_to_nvm")
        word = transfer_cost(plat, 2, "sram_to_nvm")
        return image.energy_j + 5 * word.energy_j

    @classmethod
    def prepare(cls, setup, memory):
        st = setup.storage
        ckpt = cls.checkpoint_energy_j(setup, memory)
        need_pin = ckpt + (max(c.energy_j for c in setup.costs) if not cls.suspends_task else 0.0)
        # ESR-aware: the checkpoint must fit above the internal voltage at which the terminal
        # browns out under the heaviest load it may run (a task or the checkpoint copy)
        p_max = max(max(c.power_w for c in setup.costs), setup.platform.active_power_w)
        v_off_eff = effective_v_off(st, p_max)
        e_ckpt = 0.5 * st.capacitance_f * v_off_eff ** 2 + cls.safety * need_pin / st.output_efficiency
        v_ckpt = math.sqrt(2 * e_ckpt / st.capacitance_f)
        # progress needs the window V_on -> V_ckpt to pay at least for the checkpoint that ends
        # it (resuming in place after the sleep costs nothing more; a brown-out adds boot+restore)
        window_pin = st.output_efficiency * (st.e_on_j - 0.5 * st.capacitance_f * v_ckpt ** 2)
        overhead = ckpt
        return {"v_ckpt": v_ckpt, "v_on": st.v_on_v, "checkpoint_energy_j": ckpt,
                "window_j": window_pin, "overhead_j": overhead,
                "feasible": v_ckpt < st.v_on_v and window_pin > overhead}

    @classmethod
    def threshold_v(cls, plan):
        return plan["v_ckpt"]

    @classmethod
    def unit_energy_j(cls, setup, plan):
        # between two comparator events the scheduler needs boot + restore and one checkpoint
        worst = plan["checkpoint_energy_j"]
        if not cls.suspends_task:
            worst += max(c.energy_j for c in setup.costs)
        return worst * 2  # checkpoint + restore of the same image

    def on_boot(self, dev):
        self.seq = None
        self.restore_slot = None
        mem = dev.memory
        flag = mem.read_word(CHECKPOINT_FLAG)
        if flag and dev.request_active:
            s = flag & 1
            if mem.read_word(checkpoint_buffer(s, "seq")) == dev.request_seq:
                self.restore_slot = s
                self.seq = dev.request_seq
                self.next = mem.read_word(checkpoint_buffer(s, "task"))
                self.resume = mem.read_word(checkpoint_buffer(s, "clo")) | (mem.read_word(checkpoint_buffer(s, "chi")) << 16)
                self.copied = False
        self.flag = flag

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.restore_slot is not None:
            s, self.restore_slot = self.restore_slot, None
            return Copy(checkpoint_buffer(s), SRAM_IMAGE, category="restore")
        if self.seq != dev.request_seq:
            self.seq, self.next, self.resume, self.copied = dev.request_seq, 0, 0, False
        if self.next < len(dev.tasks):
            # every comparator interrupt from here on is answered by the checkpoint, the sleep
            # to V_on and the resume, carried out by the engine (CheckpointedRun)
            i, r = self.next, self.resume
            self.next, self.resume = len(dev.tasks), 0
            return CheckpointedRun(i, self.next, r, self.plan["v_on"])
        if not self.copied:
            self.copied = True
            return result_copy(dev.network.output_name)
        return _DONE


class JITTask(JIT):
    """``jit`` that checkpoints only at task boundaries: the comparator sets a flag, the running
    task finishes, then the checkpoint is taken (``V_ckpt`` reserves the largest task's energy)."""

    name = "jit-task"
    nvm_determined = True
    suspends_task = False


