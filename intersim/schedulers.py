"""The shipped schedulers: ``continuous``, ``restart``, ``static``, ``jit`` and ``jit-task``.

Each is a small class against the contract in :mod:`intersim.scheduler`; docs/architecture.md
describes their execution designs (where activations live, what is preserved, and when).
"""
from __future__ import annotations

import functools
import math

from .cost import transfer_cost
from .errors import SchedulerError
from .scheduler import (
    SRAM_IMAGE, CheckpointedRun, Copy, Done, Idle, RunTasks, Scheduler, Sleep, WriteWords, allocate_checkpoint_slots,
    allocate_psums, task_nvm_regions, tensor_buffer, writes_into,
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
        for name, shape in net.tensors.items():
            if name != net.input_name:
                memory.allocate(tensor_buffer(name), "nvm", shape)
        allocate_psums(memory, setup, "nvm", double_buffer=cls.double_buffer_psums)
        memory.allocate("progress", "nvm", (1,), "uint16")
        memory.allocate("progress_seq", "nvm", (1,), "uint16")
        return tensor_buffer(net.output_name)

    @classmethod
    def prepare(cls, setup, memory):
        st, plat = setup.storage, setup.platform
        commit = transfer_cost(plat, 4, "sram_to_nvm")
        # V_off_eff includes the ESR drop at the largest task's current
        v_off_eff = effective_v_off(st, max(c.power_w for c in setup.costs))
        usable = 0.5 * st.capacitance_f * max(st.v_on_v ** 2 - v_off_eff ** 2, 0.0)
        budget = st.output_efficiency * usable * cls.margin
        fixed = plat.boot_energy_j + commit.energy_j
        # a group is re-executed from its start after a failure, so no task in it may write NVM
        # bytes that an earlier task of the group read (a chain of input-channel partial sums
        # alternates between two buffers: its third tile overwrites what its first read)
        regions = [task_nvm_regions(t, memory, setup.network.input_name) for t in setup.tasks]
        groups, charge_v, cur, cur_e, cur_reads = [], [], [], 0.0, []
        for i, c in enumerate(setup.costs):
            reads, write = regions[i]
            if cur and (cur_e + c.energy_j + fixed > budget or writes_into(write, cur_reads)):
                groups.append(cur)
                cur, cur_e, cur_reads = [], 0.0, []
            cur.append(i)
            cur_e += c.energy_j
            cur_reads += reads
        if cur:
            groups.append(cur)
        for g in groups:
            need = sum(setup.costs[i].energy_j for i in g) + fixed
            if need <= budget:
                charge_v.append(None)
            else:  # one atomic task larger than the window: charge above V_on first
                # (at most V_max: beyond it the group relies on harvest while it runs)
                e_needed = 0.5 * st.capacitance_f * v_off_eff ** 2 + need / (st.output_efficiency * cls.margin)
                charge_v.append(min(math.sqrt(2 * e_needed / st.capacitance_f), st.v_max_v))
        return {"groups": groups, "charge_v": charge_v, "budget_j": budget}

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


class JIT(Scheduler):
    """Hibernus-style just-in-time checkpointing.

    Activations live in SRAM. A comparator interrupts when the terminal voltage falls below
    ``V_ckpt``; the whole SRAM image plus its position (task, cycles done) is then saved into the
    older of two NVM slots, a one-word valid/epoch flag written last, and the device sleeps until
    the voltage is back at ``V_on`` (resume in place, no restore) or a brown-out (restore at the
    next boot). The scheduler hands each run to the engine as a
    :class:`~intersim.scheduler.CheckpointedRun`, which carries those cycles out. ``V_ckpt`` leaves the energy of the checkpoint (plus, for ``jit-task``,
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
        flag = mem.read_word("ckpt_flag")
        if flag and dev.request_active:
            s = flag & 1
            if mem.read_word(f"ckpt{s}_seq") == dev.request_seq:
                self.restore_slot = s
                self.seq = dev.request_seq
                self.next = mem.read_word(f"ckpt{s}_task")
                self.resume = mem.read_word(f"ckpt{s}_clo") | (mem.read_word(f"ckpt{s}_chi") << 16)
                self.copied = False
        self.flag = flag

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.restore_slot is not None:
            s, self.restore_slot = self.restore_slot, None
            return Copy(f"ckpt{s}_sram", SRAM_IMAGE, category="restore")
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


from .optimal import Optimal, OptimalOnline  # noqa: E402  (they build on the classes above)

#: Built-in schedulers by name, in the order of the comparison table.
SCHEDULERS = {cls.name: cls for cls in (Continuous, Restart, Static, JIT, JITTask, Optimal, OptimalOnline)}


def get_scheduler(name):
    """Scheduler class by name, or a user's class by import path ``"package.module:Class"``;
    unknown names list the valid ones."""
    if isinstance(name, type):
        return name
    if name in SCHEDULERS:
        return SCHEDULERS[name]
    if ":" in name:
        import importlib
        import os
        import sys
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())  # console scripts do not put the current directory there
        module_name, _, class_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise SchedulerError(f"scheduler {name!r} cannot be imported ({exc}); give "
                                 f"'package.module:Class' importable from the current directory") from None
        if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
            raise SchedulerError(f"scheduler {name!r} is not a subclass of intersim.Scheduler")
        return cls
    raise SchedulerError(f"unknown scheduler {name!r}; valid: {', '.join(SCHEDULERS)}, or a user "
                         f"class as 'package.module:Class'")

