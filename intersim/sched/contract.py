"""The scheduler contract: what a scheduler sees, what it may do, and when it is asked.

A scheduler is a class. The engine works with it in two phases:

Offline (firmware build time), once per run:
    ``cls.layout(memory, setup)`` allocates the scheduler's buffers -- every network tensor
    ``t:<name>`` in "sram" or "nvm", plus any progress words or checkpoint slots in "nvm" -- and
    returns the name of the non-volatile buffer that holds the result when it signals
    :class:`Done`. Then ``plan = cls.prepare(setup, memory)`` computes firmware constants (task
    grouping, thresholds) from the :class:`~intersim.sim.engine.Setup` (tasks, costs, storage,
    platform); the plan is a dict and survives brown-outs (it is firmware).

Online, at every boot:
    the engine constructs a **fresh** object ``cls(plan)`` -- the scheduler's runtime state is
    volatile and is discarded at every brown-out -- and calls ``on_boot(dev)``, which may read
    non-volatile memory only (``dev.memory``). Then it repeatedly calls ``next_action(dev)`` and
    carries out the returned action. Hooks:

    * ``on_boot(dev)``: after the boot sequence, before the first action.
    * ``next_action(dev) -> Action``: at every task boundary / after every action.
    * ``on_threshold(dev, task_index, cycles_done)``: the voltage comparator fired below
      ``threshold_v(plan)`` while a task of a :class:`RunTask`/:class:`RunTasks` ran (only if
      ``threshold_v`` returns a voltage; a :class:`CheckpointedRun` answers it itself). If the
      class sets ``suspends_task = True`` (default) the task is suspended after ``cycles_done``
      cycles; otherwise the task finishes first and the hook gets the next task's index and 0.
      Either way the rest of a :class:`RunTasks` run is abandoned and the next ``next_action``
      decides what to do.
    * ``on_arrival(dev)``: a request arrived (informational; the engine queues it).

Observables on ``dev`` (:class:`~intersim.sim.engine.Device`): ``memory`` (read NVM words and
buffers), ``tasks``, ``costs`` (per-task :class:`~intersim.hw.cost.Cost`), ``request_seq`` and
``request_active`` (a request's input is in NVM buffer ``input`` and not yet done),
``request_deadline_s`` (its absolute deadline [s]: arrival + ``[workload] deadline_s``; inf
without one),
``storage``, ``platform``, ``now_s``, and ``voltage_v``: the terminal voltage [V] of the last
:class:`ReadVoltage` since this boot (None before one; the reading is volatile). Online schedulers
never see the trace. (``next_action`` is the task-boundary hook: the engine asks it at every
boundary the scheduler stops at; a :class:`RunTasks` run of k tasks is the scheduler's decision
for the k-1 boundaries inside it.)

Actions: :class:`RunTask`, :class:`RunTasks`, :class:`CheckpointedRun`, :class:`Copy`,
:class:`WriteWords`, :class:`Sleep`, :class:`ReadVoltage`, :class:`Done`, :class:`Idle`,
:class:`PowerOff`, :class:`UlpSleep`, :class:`ReadInputPower` (``dev.input_power_w``),
:class:`ErasePages`, :class:`LoopTask`. Every action costs time and energy from the cost model; any of them can be cut by
a brown-out, after which the engine boots again and builds a new scheduler object.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..hw.cost import boot_cost

#: Name of the non-volatile buffer the engine writes each request's input into.
INPUT_BUFFER = "input"
#: Non-volatile control words the engine maintains.
REQUEST_SEQ_WORD = "req_seq"
DONE_SEQ_WORD = "done_seq"
#: Non-volatile word naming the answer the result buffer holds when ``Done`` is signalled, for a
#: scheduler that exits early (:mod:`intersim.nn.early_exit` codes: 0 the network's output, k
#: exit point k). A scheduler that allocates it writes it before every ``Done``; the engine then
#: compares the result with that answer's continuous output. Without it the answer is code 0.
EXIT_WORD = "exit_taken"
#: Pseudo-buffer name: the whole volatile arena (for full-image checkpoints).
SRAM_IMAGE = "@sram"


def boot_cost_for(setup):
    """The cost of every boot of this set-up (:func:`intersim.hw.cost.boot_cost`: the platform's
    boot plus the reload of a volatile weight memory): the engine executes it, schedulers plan
    with it."""
    return boot_cost(setup.platform, sum(t.weight_bytes for t in setup.tasks))


def tensor_buffer(tensor_name: str) -> str:
    """Buffer name of a network tensor."""
    return f"t:{tensor_name}"


def allocate_tensors(memory, setup, where: str):
    """Allocate a buffer for every tensor of the network but its input (which the environment
    holds in :data:`INPUT_BUFFER`) in memory ``where`` (``"sram"`` or ``"nvm"``)."""
    net = setup.network
    for name, shape in net.tensors.items():
        if name != net.input_name:
            memory.allocate(tensor_buffer(name), where, shape)


def allocate_psums(memory, setup, where: str, double_buffer: bool):
    """Allocate the tasks' int32 partial-sum buffers in ``where`` ("sram"/"nvm").

    ``double_buffer``: the two (execution designs: up to three) parities of a tile are separate regions, so re-executing an
    accumulate task reads an unchanged source (idempotent); otherwise both names alias one region
    (accumulation in place -- fine in SRAM, a write-after-read hazard in NVM).
    """
    from ..nn.tasks import psum_buffers
    shapes = psum_buffers(setup.tasks, setup.network)
    for name in sorted(shapes):
        if name.endswith(":0") or double_buffer:
            memory.allocate(name, where, shapes[name], "int32")
    if not double_buffer:
        for name in sorted(shapes):
            if not name.endswith(":0"):
                memory.alias(name, name[:-1] + "0", shapes[name], "int32")


@dataclass(frozen=True)
class RunTask:
    """Run task ``index``; ``resume_cycles`` [cycles] already done before a suspension."""

    index: int
    resume_cycles: int = 0


@dataclass(frozen=True)
class RunTasks:
    """Run tasks ``start .. stop-1`` back to back with no decision in between (the first from
    ``resume_cycles`` [cycles]). One kernel call and one event for the whole run; the comparator
    (``on_threshold``) and brown-outs still interrupt it where they happen."""

    start: int
    stop: int
    resume_cycles: int = 0


@dataclass(frozen=True)
class CheckpointedRun:
    """Run tasks ``start .. stop-1`` (the first from ``resume_cycles`` [cycles]) under Hibernus-style
    just-in-time checkpointing carried out by the engine, until the run completes or a brown-out.

    Exactly equivalent to the scheduler answering every comparator interrupt of a
    :class:`RunTasks` itself with :func:`hibernus_checkpoint`'s three actions for the interrupted
    position, then ``Sleep(until_v)``, then ``RunTasks`` from that position -- which is how the
    engine carries out a cycle it cannot take in one compiled call. Normal cycles (the
    comparator fires inside a task, the checkpoint completes, the sleep reaches ``until_v``,
    nothing else happens meanwhile) run many at a time in a numba kernel; the tests check both
    ways give identical results. Needs :func:`allocate_checkpoint_slots`' buffers and a
    comparator (``threshold_v``); with ``suspends_task = False`` the interrupted task finishes
    first and the checkpoint names the next task. ``on_threshold`` is not called."""

    start: int
    stop: int
    resume_cycles: int
    until_v: float


@dataclass(frozen=True)
class Copy:
    """Copy buffer ``src`` to buffer ``dst`` (same size). ``category``: "preserve" or "restore"."""

    src: str
    dst: str
    category: str = "preserve"


@dataclass(frozen=True)
class WriteWords:
    """Write ``uint16`` control words in order, one NVM write each.

    ``commits=True`` marks this write as the point where work done so far becomes durable (a
    progress counter or a checkpoint's valid flag): the engine books the work since the last
    commit as ``compute`` once the last word has persisted.
    """

    words: tuple  # ((buffer_name, value), ...)
    commits: bool = False


@dataclass(frozen=True)
class Sleep:
    """Sleep (SRAM retained) until the terminal voltage reaches ``until_v`` [V] or brown-out."""

    until_v: float


@dataclass(frozen=True)
class ReadVoltage:
    """Read the terminal voltage with the ADC: it takes the platform's ``adc_time_s`` at
    ``adc_power_w`` (booked with the work it decides, as compute); afterwards ``dev.voltage_v``
    holds the voltage [V] at the end of the read (the voltage the comparators see). A brown-out
    during the read ends it like any action."""


@dataclass(frozen=True)
class UlpSleep:
    """Sleep in the platform's ultra-low-power mode (``Platform.ulp_sleep_power_w``; SRAM and
    registers kept, and the accelerator's weight memory where ``ulp_retains_accelerator``, else
    the weights are reloaded at wake-up) until the terminal voltage reaches ``until_v`` [V], for
    at most ``max_s`` [s] (``inf``: no limit), or a brown-out. Booked as sleep (``off_s``)."""

    until_v: float
    max_s: float = float("inf")


@dataclass(frozen=True)
class ReadInputPower:
    """Measure the harvested input power: it takes the platform's ``input_power_read_time_s`` at
    ``input_power_read_power_w`` (booked as compute); afterwards ``dev.input_power_w`` holds the
    power [W] flowing into the capacitor at the end of the read (the harvest after the input
    converter). Volatile, like ``dev.voltage_v``."""


@dataclass(frozen=True)
class ErasePages:
    """Erase the flash pages of NVM buffer ``buffer`` (page-aligned, a whole number of pages; see
    :func:`allocate_pages`): ``nvm_erase_time_s`` and ``nvm_erase_energy_j`` per page; the
    bytes read ``0xFF`` afterwards. Pages finish in ascending order; a cut erase leaves the page
    it was erasing undefined (poisoned). No cost and no effect on a platform without pages
    (FRAM)."""

    buffer: str


@dataclass(frozen=True)
class LoopTask:
    """Run task ``index`` as a loop of ``iterations`` equal iterations whose index lives in the
    NVM word ``index_word`` (SONIC's loop continuation): the task starts at iteration
    ``start_iteration``; every iteration writes its output in loop order, then increments the
    index (one NVM word, ``loop_index_cost``). A brown-out leaves the index at the iterations
    whose index write completed; the work up to it is durable (a commit)."""

    index: int
    iterations: int
    index_word: str
    start_iteration: int = 0


@dataclass(frozen=True)
class Done:
    """The result is in ``result_buffer`` (NVM): write the done flag; the request completes."""


@dataclass(frozen=True)
class Idle:
    """Nothing to do: sleep until an arrival (or a brown-out)."""


@dataclass(frozen=True)
class PowerOff:
    """Switch the MCU off now, as iNAS's runtime does after each power cycle (it raises a pin
    that disconnects the load, ``_SHUTDOWN()``): volatile memory is lost, the scheduler object
    discarded; the device turns on again when the capacitor reaches ``V_on``. Not a power
    failure: work not yet committed is discarded (booked as re-execution) all the same."""


def allocate_pages(memory, name, shape, dtype, page_bytes):
    """Allocate NVM buffer ``name`` on whole flash pages of ``page_bytes`` [B] (padding before and
    after it), so that :class:`ErasePages` on it erases nothing else. ``page_bytes`` 0 (FRAM): a
    plain allocation."""
    if page_bytes > 0:
        start = -(-memory.used_bytes("nvm") // memory.word_bytes) * memory.word_bytes  # where the pad begins
        pad = -start % page_bytes
        if pad:
            memory.allocate(f"{name}~pad", "nvm", (pad,), "uint8")
    buf = memory.allocate(name, "nvm", shape, dtype)
    if page_bytes > 0:
        tail = -(buf.offset + buf.nbytes) % page_bytes
        if tail:
            memory.allocate(f"{name}~tail", "nvm", (tail,), "uint8")
    return buf


def loop_index_cost(platform):
    """Cost of one loop-index update in NVM (:class:`LoopTask`): a 2-byte store -- a plain CPU
    store into memory-mapped FRAM, one transfer with its set-up on SPI FRAM or flash."""
    from ..hw.cost import transfer_cost
    return transfer_cost(platform, 2, "sram_to_nvm", transfers=0 if platform.nvm_kind == "fram-internal" else 1)


def task_nvm_regions(task, memory, input_name: str):
    """The non-volatile byte ranges ``[start, end)`` (offsets in the NVM arena) that ``task``
    reads, and the one it writes (None when its output is volatile): inputs as whole buffers,
    the partial sums an accumulate or finalize task reads, its output (or partial-sum) tile.
    ``input_name``: the network's input tensor (held in :data:`INPUT_BUFFER`)."""
    def buffer(name):
        return memory.buffers[INPUT_BUFFER if name == input_name else tensor_buffer(name)]

    read_bufs = [buffer(x) for x in task.inputs]
    if task.psum_src is not None and task.kind in ("accumulate", "finalize", "final"):
        read_bufs.append(memory.buffers[task.psum_src])
    reads = [(b.offset, b.offset + b.nbytes) for b in read_bufs if b.memory == "nvm"]
    if task.kind == "accumulate":
        dst, a, b = memory.buffers[task.psum_dst], 4 * task.out_byte_start, 4 * task.out_byte_stop
    else:
        dst, a, b = buffer(task.output), task.out_byte_start, task.out_byte_stop
    return reads, ((dst.offset + a, dst.offset + b) if dst.memory == "nvm" else None)


def writes_into(write, reads) -> bool:
    """Whether byte range ``write`` (or None) overlaps any of the ranges ``reads``."""
    return write is not None and any(lo < write[1] and write[0] < hi for lo, hi in reads)


#: the header words of a checkpoint slot, in the order they are written
CHECKPOINT_WORDS = ("seq", "task", "clo", "chi")
#: the checkpoint valid/epoch flag word: ``(epoch << 1) | slot`` of the newest valid slot, 0: none
CHECKPOINT_FLAG = "ckpt_flag"


def checkpoint_buffer(slot: int, part: str = "sram") -> str:
    """The name of checkpoint slot ``slot``'s buffer ``part``: ``"sram"`` (the image) or one of the
    header words :data:`CHECKPOINT_WORDS`. The one place these names are made."""
    return f"ckpt{slot}_{part}"


def allocate_checkpoint_slots(memory):
    """Two NVM checkpoint slots for the whole volatile image (allocate every SRAM buffer first):
    ``ckpt{s}_sram`` and the header words ``ckpt{s}_seq/_task/_clo/_chi`` for ``s`` in 0, 1, and
    the flag word :data:`CHECKPOINT_FLAG`."""
    image = memory.used_bytes("sram")
    for s in (0, 1):
        memory.allocate(checkpoint_buffer(s), "nvm", (image,), "uint8")
        for w in CHECKPOINT_WORDS:
            memory.allocate(checkpoint_buffer(s, w), "nvm", (1,), "uint16")
    memory.allocate(CHECKPOINT_FLAG, "nvm", (1,), "uint16")


def checkpoint_slot(flag: int) -> int:
    """The slot the next checkpoint goes to: the older one (slot 0 when none is valid)."""
    return 1 - (flag & 1) if flag else 0


def next_checkpoint_flag(flag: int) -> int:
    """The flag word that validates the next checkpoint: the next epoch (15 bits, never 0) and
    its slot."""
    epoch = ((flag >> 1) + 1) & 0x7FFF or 1
    return (epoch << 1) | checkpoint_slot(flag)


def hibernus_checkpoint(flag: int, seq: int, task: int, cycles: int = 0):
    """The actions of one checkpoint of the whole SRAM image, given the current ``flag`` word:
    copy the image into the older slot, write its header (request ``seq``, position ``task`` and
    ``cycles`` done in it), then the flag last (the commit). Returns ``(actions, new_flag)``."""
    s = checkpoint_slot(flag)
    new_flag = next_checkpoint_flag(flag)
    header = tuple((checkpoint_buffer(s, w), v) for w, v in zip(
        CHECKPOINT_WORDS, (seq, task, cycles & 0xFFFF, (cycles >> 16) & 0xFFFF)))
    return (Copy(SRAM_IMAGE, checkpoint_buffer(s)), WriteWords(header),
            WriteWords(((CHECKPOINT_FLAG, new_flag),), commits=True)), new_flag


class Scheduler:
    """Base class with the default hook implementations; see the module docstring."""

    #: the name used in scenarios and result tables
    name = "base"
    #: True for the ideal-supply reference only
    ideal_supply = False
    #: True if ``on_boot`` and ``next_action`` depend only on non-volatile control state (the words
    #: and buffers the scheduler and the engine write: progress counters, flags, request words) --
    #: not on time, voltage readings, task outputs or anything kept outside the object. Then two
    #: boots that find the same control state issue the same actions, and the engine may replay
    #: brown-out cycles in a compiled kernel (same results, faster). Honoured only where the class
    #: itself declares it: a subclass's decisions may differ, so it must declare it again.
    nvm_determined = False

    def __init__(self, plan):
        self.plan = plan

    @classmethod
    def layout(cls, memory, setup, plan=None):
        """Allocate buffers and return the name of the NVM result buffer.

        Default: every tensor in SRAM, the result in an NVM buffer ``result``.
        """
        net = setup.network
        allocate_tensors(memory, setup, "sram")
        allocate_psums(memory, setup, "sram", double_buffer=False)
        memory.allocate("result", "nvm", net.tensors[net.output_name])
        return "result"

    @classmethod
    def prepare(cls, setup, memory):
        """Offline plan (firmware constants) for ``setup`` once ``memory`` is laid out."""
        return {}

    @classmethod
    def threshold_v(cls, plan):
        """Voltage [V] below which ``on_threshold`` fires during a task; None: no comparator."""
        return None

    @classmethod
    def unit_energy_j(cls, setup, plan):
        """Largest energy [J at the MCU pin] that must fit in one power cycle (for verdicts)."""
        return max(c.energy_j for c in setup.costs)

    def on_boot(self, dev):
        pass

    def on_threshold(self, dev, task_index, cycles_done):
        pass

    def on_arrival(self, dev):
        pass

    def next_action(self, dev):
        raise NotImplementedError("a scheduler must implement next_action(dev)")


__all__ = [
    "INPUT_BUFFER",
    "REQUEST_SEQ_WORD",
    "DONE_SEQ_WORD",
    "SRAM_IMAGE",
    "EXIT_WORD",
    "tensor_buffer",
    "allocate_psums",
    "allocate_tensors",
    "RunTask",
    "RunTasks",
    "CheckpointedRun",
    "Copy",
    "WriteWords",
    "Sleep",
    "ReadVoltage",
    "Done",
    "Idle",
    "PowerOff",
    "UlpSleep",
    "ReadInputPower",
    "ErasePages",
    "LoopTask",
    "allocate_pages",
    "loop_index_cost",
    "task_nvm_regions",
    "writes_into",
    "CHECKPOINT_WORDS",
    "CHECKPOINT_FLAG",
    "allocate_checkpoint_slots",
    "boot_cost_for",
    "checkpoint_buffer",
    "checkpoint_slot",
    "next_checkpoint_flag",
    "hibernus_checkpoint",
    "Scheduler",
]
