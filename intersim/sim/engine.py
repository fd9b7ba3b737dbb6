"""The discrete-event engine: one scheduler, one scenario, one run.

simpy drives the events (turn-on, brown-out, request arrivals, sleeps and wake-ups, comparator
interrupts); between events the numba kernel in :mod:`intersim.energy.capacitor` advances the capacitor
exactly across trace samples (trace samples are never simpy events). Tasks really compute on
the memory contents; volatile memory is poisoned at every brown-out and the scheduler's runtime
object is rebuilt at every boot from non-volatile memory only.
"""
from __future__ import annotations

import bisect
import gc
import math
from collections import deque
from itertools import accumulate
from dataclasses import dataclass, field

import numpy as np
import simpy

from ..energy import capacitor as cap
from ..hw.cost import transfer_cost
from ..errors import SchedulerError
from .task_memo import memo_for
from ..hw.memory import NVM, SRAM, Memory
from ..sched.contract import (
    CHECKPOINT_FLAG, CHECKPOINT_WORDS, DONE_SEQ_WORD, INPUT_BUFFER, REQUEST_SEQ_WORD, SRAM_IMAGE,
    CheckpointedRun, Copy, Done, Idle, ReadVoltage, RunTask, RunTasks, Sleep, WriteWords, hibernus_checkpoint,
    task_nvm_regions, tensor_buffer, writes_into,
)
from . import power_cycles as cycles
from . import task_runs as runner
from ..nn.tasks import price

#: Energy-book categories of loads at the MCU pin (design.md 3.2), in table order.
LOAD_BOOKS = ("boot", "restore", "compute", "checkpoint", "reexecution", "sleep")
#: Timeline states.
STATES = ("off", "boot", "compute", "preserve", "restore", "sleep", "idle")
#: Verdicts a run can end with.
VERDICTS = ("ok", "infeasible", "does_not_fit", "boot_loop", "livelock", "starved")
#: Events with no advance of simulated time before the livelock guard stops a run.
LIVELOCK_EVENTS = 100_000


class _Sum:
    """Neumaier-compensated running sum."""

    __slots__ = ("s", "c")

    def __init__(self):
        self.s = 0.0
        self.c = 0.0

    def add(self, x):
        t = self.s + x
        if abs(self.s) >= abs(x):
            self.c += (self.s - t) + x
        else:
            self.c += (x - t) + self.s
        self.s = t

    @property
    def value(self):
        return self.s + self.c


class _Horizon(Exception):
    """The run reached its horizon."""


class _Stop(Exception):
    """The run stopped early with a verdict."""


@dataclass
class Setup:
    """Everything one run needs, resolved (see :func:`intersim.simulate.simulate`)."""

    network: object
    tasks: list
    platform: object
    storage: cap.Storage
    trace: object
    workload: object
    inputs: np.ndarray              # int8 request inputs, cycled over
    labels: np.ndarray | None       # labels of those inputs, or None
    references: list                # continuous-power output per input
    costs: list = field(default_factory=list)
    record_timeline: bool = True
    #: forced brown-outs, one entry per boot (whatever the voltage): the k-th boot fails after
    #: ``brownout_at[k]`` active cycles since boot (an int, or ``("cycles", n)``), or after
    #: ``("words", n)`` non-volatile words written since boot; ``None``: no injection
    brownout_at: tuple = ()
    #: "regulator" (constant power through the output regulator) or "current" (the MCU draws a
    #: constant current ``P_pin / platform.supply_v`` at the capacitor: direct or LDO supply)
    load_kind: str = "regulator"
    #: carry out runs of identical normal power cycles in compiled kernels (:mod:`intersim.sim.power_cycles`);
    #: False steps every action in Python -- the same results, bit for bit (the tests compare)
    fast_cycles: bool = True
    #: called as ``progress(t_s)`` with the simulated time [s] as the run advances, at most about
    #: once per thousandth of the run (a progress bar; it must not touch the run)
    progress: object = None
    #: ``optimal``'s planning budget in kernel calls per planning (None: its default)
    optimal_budget_calls: int | None = None


@dataclass
class RunResult:
    """Raw outcome of one run; :mod:`intersim.report.results` turns it into tables."""

    scheduler: str
    verdict: str
    verdict_detail: str
    requests: dict                  # column -> array, one row per request
    books: dict                     # energy_*_j -> float
    counts: dict                    # power_failures, checkpoints, restores, ...
    timeline: dict                  # column -> array
    events: int
    horizon_s: float
    e_initial_j: float
    #: power cycles taken by the compiled kernels, by kind ("checkpoint", "boot") -- a diagnostic:
    #: the results are the same without them
    compiled_cycles: dict = field(default_factory=dict)


class Device:
    """What a scheduler may observe (see :mod:`intersim.sched.contract`)."""

    def __init__(self, engine):
        self._engine = engine
        self.memory = engine.memory
        self.tasks = engine.setup.tasks
        self.costs = engine.setup.costs
        self.network = engine.setup.network
        self.storage = engine.setup.storage
        self.platform = engine.setup.platform

    @property
    def now_s(self) -> float:
        return self._engine.t

    @property
    def voltage_v(self):
        """Terminal voltage [V] of the last :class:`ReadVoltage` since this boot (None before)."""
        return self._engine.adc_reading_v

    @property
    def request_seq(self) -> int:
        return self.memory.read_word(REQUEST_SEQ_WORD)

    @property
    def request_active(self) -> bool:
        return self.memory.read_word(REQUEST_SEQ_WORD) != self.memory.read_word(DONE_SEQ_WORD)

    def oracle_state(self):
        """``(t_s, energy_j)``: the exact capacitor state now. For offline, clairvoyant schedulers
        only (``optimal``): a real MCU cannot read its stored energy; online schedulers must not
        call this (the ADC read of the voltage is their observable)."""
        return self._engine.t, self._engine.e


class Engine:
    """Simulates one scheduler on one :class:`Setup`."""

    def __init__(self, setup: Setup, scheduler_cls):
        self.setup = setup
        self.cls = scheduler_cls
        self.ideal = bool(getattr(scheduler_cls, "ideal_supply", False))
        st = setup.storage
        self.st = st
        # storage constants the hot paths read (Storage's properties recompute on every access)
        self._eta_in, self._eta_out = st.input_efficiency, st.output_efficiency
        self._leak_b, self._e_max, self._e_off = st.leak_rate_per_s, st.e_max_j, st.e_off_j
        self.memory = Memory(setup.platform.nvm_word_bytes)
        net = setup.network
        self.memory.allocate(INPUT_BUFFER, NVM, net.tensors[net.input_name])
        self.memory.allocate(REQUEST_SEQ_WORD, NVM, (1,), "uint16")
        self.memory.allocate(DONE_SEQ_WORD, NVM, (1,), "uint16")
        self.result_buffer = scheduler_cls.layout(self.memory, setup)
        self.memory.finalize()
        tensor_memory = {name: (NVM if name == net.input_name
                                else self.memory.buffers[tensor_buffer(name)].memory)
                         for name in net.tensors}
        self.tensor_memory = tensor_memory
        buffer_memory = {name: b.memory for name, b in self.memory.buffers.items()}
        setup.costs = price(setup.tasks, net, setup.platform, tensor_memory, buffer_memory)
        self.plan = scheduler_cls.prepare(setup, self.memory)
        self.task_cycles = np.array([c.cycles for c in setup.costs], np.int64)
        self.task_power_pin = np.array([c.power_w for c in setup.costs], np.float64)
        self.task_words = np.array([self._task_nvm_words(t) for t in setup.tasks], np.int64)
        self.memo = memo_for(net)
        self._task_plans = [self._task_plan(t) for t in setup.tasks]
        self.dev = Device(self)
        # every boot: the platform's boot, plus reloading a volatile weight memory (MAX78000's CNN
        # weights) where the platform has one
        plat = setup.platform
        self.boot_time_s, self.boot_energy_j = plat.boot_time_s, plat.boot_energy_j
        self.weights_fit = True
        if getattr(plat, "volatile_weight_bytes", 0):
            from ..hw.cost import weight_reload_cost
            wb = sum(t.weight_bytes for t in setup.tasks)
            if wb > plat.volatile_weight_bytes:
                self.weights_fit = False
            else:
                reload = weight_reload_cost(plat, wb)
                self.boot_time_s += reload.time_s
                self.boot_energy_j += reload.energy_j
        self.word_cost = transfer_cost(setup.platform, 2, "sram_to_nvm")
        self._word_t, self._word_p = self.word_cost.time_s, self.word_cost.power_w
        self.clock_hz = setup.platform.clock_hz
        self._transfer_costs = {}   # (bytes, direction) -> Cost, the same copies recur every request
        self._run_arrays = {}       # (first, stop, resume) -> per-task arrays of a run
        self._ref_bytes = {}        # reference index -> its bytes as the result buffer holds them
        self._copies = {}           # (src, dst, category) -> checked Copy spec, see _copy_spec
        self.adc_reading_v = None   # the last ReadVoltage of this boot [V]
        self.fast_cycles = bool(setup.fast_cycles)
        # boots may be replayed only for a class that itself declares its decisions NVM-determined
        self.replays_boots = (self.fast_cycles and bool(scheduler_cls.__dict__.get("nvm_determined", False))
                              and not self.ideal and not setup.brownout_at)
        self.compiled_cycles = {"checkpoint": 0, "boot": 0}
        self._hazard_free = {}      # (first, stop) -> the run reads nothing it or a later task writes
        self._e_prefix = {}         # (first, stop, resume) -> pin energies of its first k tasks
        self._cycle_acc = np.zeros((cycles.N_ACC, 2))
        self._cycle_words = np.zeros(1, np.int64)
        self._cycle_slots = np.zeros((2, 2), np.int64)  # rows: task, cycles of each slot's last checkpoint
        self._cycle_scratch = np.zeros(len(setup.tasks) + 64)
        self._sleep_targets = {}    # until_v -> its energy [J]
        self._no_segments = np.empty(0)
        self._input_rows = None     # the request inputs' bytes, one row each
        self._input_nvm, self._input_offset = self.memory.arena[NVM], self.memory.buffers[INPUT_BUFFER].offset
        self._cycle_meta = np.zeros((0, 2), np.int64)   # the kernels' action records (timeline only)
        self.sched = None           # the scheduler object of this boot (None while off)
        thr = scheduler_cls.threshold_v(self.plan)
        self.e_threshold = cap.energy_j(st.capacitance_f, thr) if thr is not None else None
        self.suspends_task = bool(getattr(scheduler_cls, "suspends_task", True))
        # trace arrays for the kernel
        (self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop) = cap.trace_arrays(setup.trace)
        spacing = np.diff(np.append(self.tr_t, self.tr_first + self.tr_period))
        self.min_sample_s = float(spacing.min())
        # ESR, current sources/leakage, quiescent current or an efficiency curve need the general
        # power path, whose thresholds are terminal voltages
        self.current_load = setup.load_kind == "current"
        self.general = st.uses_general_kernel or self.current_load
        if self.general:
            self.eta_w = np.ascontiguousarray(st.efficiency_per_sample(self.tr_p), dtype=np.float64)
            self.par = st.power_path_par()
        self.arrivals = setup.workload.arrival_times()
        self._arrival_list = self.arrivals.tolist()
        self.horizon = setup.workload.horizon_s()
        n = self.arrivals.size
        self.req = {
            "arrival_s": self.arrivals.copy(), "status": np.array(["unfinished"] * n, dtype=object),
            "done_s": np.full(n, math.nan), "correct": np.zeros(n, bool),
            "power_failures": np.zeros(n, np.int64), "service_s": np.full(n, math.nan),
            "off_s": np.zeros(n), "compute_s": np.zeros(n), "preserve_s": np.zeros(n),
            "restore_s": np.zeros(n), "reexecution_s": np.zeros(n),
            "predicted": np.full(n, -1, np.int64),
        }
        self.queue = deque()
        self.head = None
        # energy books
        self.cap_books = cap.new_books()
        self.load_books = {k: _Sum() for k in LOAD_BOOKS}
        self.output_loss = _Sum()
        self.supply = _Sum()
        self.pending = []  # (category, energy_j, time_s, request) since the last commit
        self.counts = {"power_failures": 0, "boots": 0, "wasted_boots": 0, "checkpoints": 0,
                       "restores": 0, "commits": 0, "reexecuted_cycles": 0, "injected_failures": 0}
        # where brown-outs struck, by timeline state
        self.counts.update({f"failures_in_{state}": 0 for state in STATES if state != "off"})
        self._state = "off"
        self._inject_s = None      # active time since boot at which a forced brown-out happens [s]
        self._inject_words = None  # NVM words written since boot after which one happens
        self._active_s = 0.0       # active (non-sleep) time since the last boot [s]
        self._words = 0            # NVM words written since the last boot
        self._commits_at_boot = 0
        # timeline buffers
        cap0 = 4096 if setup.record_timeline else 0
        self.seg = [np.empty(cap0) for _ in range(5)]
        self.n_seg = 0
        self.seg_meta = []  # (n_from, n_to, state, load_w)
        self.events = 0
        self._idle_wake = None
        self._stalled = 0
        # the run starts with the trace (or the first arrival, if earlier)
        self.t = min(float(self.arrivals[0]), setup.trace.start_s)
        self.t0 = self.t
        self._progress_next_s = self.t
        self.e = st.e_initial_j if not self.ideal else st.e_max_j
        self.e_initial = self.e
        self.verdict = "ok"
        self.verdict_detail = ""

    # ------------------------------------------------------------------ capacitor
    def _advance(self, load_pin_w, t_stop, e_low, e_high, state):
        """Advance the capacitor under a constant pin load; records segments. Returns reason."""
        load_cap = load_pin_w / self._eta_out
        t_stop = min(t_stop, self.horizon)
        self._state = state
        t_start = self.t
        c = self.st.capacitance_f
        while True:
            n0 = self.n_seg
            if self.general:
                # the engine's thresholds are E(V) of a voltage: hand the kernel that voltage back
                v_low = math.sqrt(2 * e_low / c) if e_low >= 0 else -1.0
                v_high = math.sqrt(2 * e_high / c) if math.isfinite(e_high) else math.inf
                if self.current_load:
                    load_w, load_a = 0.0, load_pin_w / self.setup.platform.supply_v
                    before = self.cap_books[cap.BOOK_LOAD].sum()
                else:
                    load_w, load_a = load_cap, 0.0
                t0_call = self.t
                t, e, reason, n1 = cap._advance_general(
                    self.tr_t, self.tr_p, self.eta_w, self.tr_first, self.tr_period, self.tr_loop,
                    self.par, self.t, self.e, t_stop, load_w, load_a, v_low, v_high, self.cap_books,
                    self.seg[0], self.seg[1], self.seg[2], self.seg[3], self.seg[4], self.n_seg)
                if self.current_load:  # the supply's loss is what the terminal gave beyond the pin
                    drawn = self.cap_books[cap.BOOK_LOAD].sum() - before
                    self.output_loss.add(drawn - load_pin_w * (t - t0_call))
                if reason == cap.STOP_COLLAPSE:
                    reason = cap.STOP_LOW  # the terminal collapsed under the load: a brown-out
            else:
                t, e, reason, n1 = cap._advance(
                    self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop,
                    self._eta_in, self._leak_b, self._e_max,
                    self.t, self.e, t_stop, load_cap, e_low, e_high, self.cap_books,
                    self.seg[0], self.seg[1], self.seg[2], self.seg[3], self.seg[4], self.n_seg)
            if n1 > n0:
                self.seg_meta.append((n0, n1, state, load_pin_w))
            self.n_seg = n1
            self.t, self.e = t, e
            if reason != cap.STOP_FULL:
                break
            self.seg = [np.concatenate([a, np.empty(a.size)]) for a in self.seg]
        return reason, self.t - t_start

    def _book_load(self, category, p_pin_w, dt, pending=False):
        e_pin = p_pin_w * dt
        if self.ideal:
            self.supply.add(e_pin)
        elif not self.current_load:  # (a current load's supply loss is booked in _advance)
            self.output_loss.add(e_pin / self._eta_out - e_pin)
        if pending:
            self.pending.append((category, e_pin, dt, self.head))
        else:
            self.load_books[category].add(e_pin)

    def _req_time(self, column, dt):
        if self.head is not None:
            self.req[column][self.head] += dt

    def _req_span(self, column, t_start, t_end):
        """Attribute ``[t_start, t_end]`` to the request in service, from when it entered service
        (a request can be handed over while the device is off or booting)."""
        if self.head is not None:
            self.req[column][self.head] += t_end - max(t_start, self.req["service_s"][self.head])

    # ------------------------------------------------------------------ loads
    def _load(self, p_pin_w, duration_s, category, state, pending, e_threshold=None, nvm_words=0):
        """Run a constant pin load for ``duration_s``, writing ``nvm_words`` NVM words evenly over
        it; returns (outcome, elapsed_s).

        outcome: "done", "brownout" or "threshold". Raises _Horizon at the run's end.
        """
        if self.ideal:
            t_end = self.t + duration_s
            if t_end > self.horizon:
                raise _Horizon
            if self.setup.record_timeline:
                self._ideal_segment(self.t, t_end, state, p_pin_w)
            self._book_load(category, p_pin_w, duration_s, pending)
            self.t = t_end
            return "done", duration_s
        e_low = self._e_off if e_threshold is None else max(self._e_off, e_threshold)
        forced = False
        if self._inject_s is not None:
            left = self._inject_s - self._active_s
            if left < duration_s:
                duration_s, forced = max(left, 0.0), True
        if self._inject_words is not None and nvm_words > 0:
            left = self._inject_words - self._words
            if left < nvm_words:
                # the words persist evenly over the load: stop exactly after ``left`` of them
                duration_s, forced = min(duration_s, duration_s * max(left, 0) / nvm_words), True
        t_target = self.t + duration_s
        reason, dt = self._advance(p_pin_w, t_target, e_low, math.inf, state)
        self._active_s += dt
        if nvm_words:
            self._words += int(nvm_words * dt / duration_s) if dt < duration_s else nvm_words
        self._book_load(category, p_pin_w, dt, pending)
        if reason == cap.STOP_TIME:
            if t_target > self.horizon and self.t >= self.horizon:
                raise _Horizon
            if forced:
                self.counts["injected_failures"] += 1
                return "brownout", dt
            return "done", dt
        if reason == cap.STOP_LOW and e_threshold is not None and e_threshold > self._e_off:
            return "threshold", dt
        return "brownout", dt

    def _ideal_segment(self, t0, t1, state, load_w):
        if self.n_seg >= self.seg[0].size:
            self.seg = [np.concatenate([a, np.empty(max(a.size, 16))]) for a in self.seg]
        i = self.n_seg
        v = self.st.e_max_j
        for arr, x in zip(self.seg, (t0, t1, 0.0, v, v)):
            arr[i] = x
        self.seg_meta.append((i, i + 1, state, load_w))
        self.n_seg = i + 1

    # ------------------------------------------------------------------ bookkeeping at events
    def _commit(self):
        """Work since the last commit becomes durable."""
        for category, e_pin, dt, r in self.pending:
            self.load_books[category].add(e_pin)
            if r is not None:
                self.req["compute_s" if category == "compute" else "preserve_s"][r] += dt
        self.pending.clear()
        self.counts["commits"] += 1

    def _brownout(self):
        for category, e_pin, dt, r in self.pending:
            self.load_books["reexecution"].add(e_pin)
            if r is not None:
                self.req["reexecution_s"][r] += dt
        self.pending.clear()
        self.memory.poison_volatile()
        self.counts["power_failures"] += 1
        self.counts[f"failures_in_{self._state}"] += 1
        if self.head is not None:
            self.req["power_failures"][self.head] += 1
            if self.counts["commits"] == self._commits_at_boot:
                self.counts["wasted_boots"] += 1

    def _deliver(self, now):
        """The environment hands the next queued request to the device (no cost) at ``now`` [s]."""
        if self.head is not None or not self.queue:
            return
        k = self.queue.popleft()
        self.head = k
        self.req["service_s"][k] = now
        rows = self._input_rows
        if rows is None:  # every input's bytes, once
            inputs = self.setup.inputs
            rows = self._input_rows = np.ascontiguousarray(inputs).reshape(len(inputs), -1).view(np.uint8)
        x = rows[k % len(rows)]
        self._input_nvm[self._input_offset:self._input_offset + x.size] = x
        self.memory.write_word(REQUEST_SEQ_WORD, (k % 0xFFFF) + 1)

    # ------------------------------------------------------------------ simpy processes
    def _sync(self):
        """After an action: bring simpy's clock to the engine's, yielding a timeout -- unless no
        other event is scheduled up to the engine's time, when nothing can happen in between
        and the device goes straight on (simpy's clock catches up at the next yield)."""
        if self.t > self.env.now:
            self._stalled = 0
            if self.setup.progress is not None and self.t >= self._progress_next_s:
                self._progress_next_s = self.t + (self.horizon - self.t0) / 1000.0
                self.setup.progress(self.t)
            if self.env.peek() > self.t:
                return
            self.events += 1
            yield self.env.timeout(self.t - self.env.now)
            return
        self._stalled += 1
        if self._stalled > LIVELOCK_EVENTS:
            self.verdict = "livelock"
            self.verdict_detail = (f"{LIVELOCK_EVENTS} actions without simulated time advancing at "
                                   f"t = {self.t!r} s")
            raise _Stop
        if self.env.peek() > self.t:
            return
        self.events += 1
        yield self.env.timeout(0)

    def _arrivals(self):
        cap_q = self.setup.workload.queue_capacity
        for k, ta in enumerate(self.arrivals):
            if ta > self.env.now:
                yield self.env.timeout(ta - self.env.now)
            in_system = len(self.queue) + (self.head is not None)
            if in_system >= cap_q:
                self.req["status"][k] = "dropped"
                continue
            self.queue.append(k)
            # delivery happens only when no request is in service (the device is off or idle),
            # so writing the input into NVM now cannot disturb a running task
            self._deliver(self.env.now)
            if self.sched is not None:  # powered: the scheduler hears of it (informational)
                self.sched.on_arrival(self.dev)
            if self._idle_wake is not None and not self._idle_wake.triggered:
                self._idle_wake.succeed()

    def _device(self):
        st = self.st
        plat = self.setup.platform
        p_boot = self.boot_energy_j / self.boot_time_s if self.boot_time_s > 0 else 0.0
        while True:
            if not self.ideal:
                t_start = self.t
                reason, dt = self._advance(0.0, self.horizon, -1.0, st.e_on_j, "off")
                yield from self._sync()
                self._req_span("off_s", t_start, self.t)
                if reason == cap.STOP_TIME:
                    return
            # boot
            self.counts["boots"] += 1
            self._active_s, self._words = 0.0, 0
            k = self.counts["boots"] - 1
            self._inject_s = self._inject_words = None
            inj = self.setup.brownout_at[k] if k < len(self.setup.brownout_at) else None
            if isinstance(inj, (tuple, list)):
                kind, n = inj
                if kind == "words":
                    self._inject_words = int(n)
                elif kind == "cycles":
                    self._inject_s = int(n) / plat.clock_hz
                else:
                    raise ValueError(f"brownout_at entry {inj!r}: kind must be 'cycles' or 'words'")
            elif inj is not None and inj >= 0:
                self._inject_s = inj / plat.clock_hz
            self._commits_at_boot = self.counts["commits"]
            t_start = self.t
            outcome, dt = self._load(p_boot, self.boot_time_s, "boot", "boot", pending=False)
            yield from self._sync()
            self._req_span("restore_s", t_start, self.t)
            if outcome != "done":
                self._brownout()
                continue
            self.adc_reading_v = None  # the last reading was volatile
            sched = self.cls(self.plan)
            self.sched = sched
            sched.on_boot(self.dev)
            armed = self.e_threshold is not None
            boot_actions = []
            while True:
                action = sched.next_action(self.dev)
                boot_actions.append(action)
                ok, armed = yield from self._execute(sched, action, armed)
                if not ok:
                    self.sched = None
                    self._brownout()
                    if self.replays_boots:
                        self._replay_boots(boot_actions)
                    break

    def _execute(self, sched, action, armed):
        """Carry out one action. Returns (still powered, comparator armed)."""
        if isinstance(action, (RunTasks, RunTask)):
            if isinstance(action, RunTask):
                first, stop = action.index, action.index + 1
            else:
                first, stop = action.start, action.stop
            if not 0 <= first < stop <= len(self.setup.tasks):
                raise SchedulerError(f"scheduler {self.cls.name!r}: {action!r} outside tasks 0..{len(self.setup.tasks)}")
            ok, armed, fired = yield from self._run_tasks(first, stop, action.resume_cycles, armed)
            if fired is not None:
                sched.on_threshold(self.dev, *fired)
            return ok, armed
        if isinstance(action, CheckpointedRun):
            return (yield from self._checkpointed_run(sched, action, armed))
        if isinstance(action, Copy):
            key = (action.src, action.dst, action.category)
            spec = self._copies.get(key)
            if spec is None:
                spec = self._copies[key] = self._copy_spec(action)
            src, cost, restore, nvm_words = spec
            data = src.copy()
            outcome, dt = self._load(cost.power_w, cost.time_s, "restore" if restore else "checkpoint",
                                     "restore" if restore else "preserve", pending=not restore,
                                     nvm_words=nvm_words)
            if restore:
                self._req_time("restore_s", dt)
            frac = 1.0 if outcome == "done" else dt / cost.time_s
            self._write_raw(action.dst, data, frac)
            yield from self._sync()
            if outcome == "done" and restore:
                self.counts["restores"] += 1
            return outcome == "done", armed
        if isinstance(action, WriteWords):
            n = len(action.words)
            t_word = self._word_t
            outcome, dt = self._load(self._word_p, n * t_word, "checkpoint", "preserve",
                                     pending=True, nvm_words=n)
            done_words = n if outcome == "done" else min(int(dt / t_word), n)
            for name, value in action.words[:done_words]:
                self.memory.write_word(name, int(value))
            yield from self._sync()
            if outcome == "done" and action.commits:
                self._commit()
                if any(name == "ckpt_flag" for name, _ in action.words):
                    self.counts["checkpoints"] += 1
            return outcome == "done", armed
        if isinstance(action, Sleep):
            e_target = cap.energy_j(self.st.capacitance_f, action.until_v)
            if self.ideal:
                yield from self._sync()
                return True, armed
            p_sleep = self.setup.platform.sleep_power_w
            reason, dt = self._advance(p_sleep, self.horizon, self._e_off, e_target, "sleep")
            self._book_load("sleep", p_sleep, dt)
            self._req_time("off_s", dt)
            yield from self._sync()
            if reason == cap.STOP_TIME:
                raise _Horizon
            if reason == cap.STOP_HIGH:
                return True, self.e_threshold is not None
            return False, armed
        if isinstance(action, ReadVoltage):
            plat = self.setup.platform
            outcome, dt = self._load(plat.adc_power_w, plat.adc_time_s, "compute", "compute", pending=True)
            yield from self._sync()
            if outcome != "done":
                return False, armed
            self.adc_reading_v = self._terminal_voltage_v(plat.adc_power_w)
            return True, armed
        if isinstance(action, Done):
            outcome, dt = self._load(self._word_p, self._word_t, "checkpoint",
                                     "preserve", pending=True, nvm_words=1)
            yield from self._sync()
            if outcome != "done":
                return False, armed
            self.memory.write_word(DONE_SEQ_WORD, self.memory.read_word(REQUEST_SEQ_WORD))
            self._commit()
            self._complete_head()
            return True, armed
        if isinstance(action, Idle):
            ok = yield from self._idle()
            return ok, armed
        raise SchedulerError(f"scheduler {self.cls.name!r} returned {action!r}, not an action "
                             "(RunTask, RunTasks, Copy, WriteWords, Sleep, ReadVoltage, Done, Idle)")

    def _run_tasks(self, first, stop, resume_cycles, armed):
        """Run tasks ``first..stop-1`` back to back (the first from ``resume_cycles``) in one kernel
        call and at most one simpy event; stop at a brown-out, the comparator, an injected failure
        or the horizon. Returns (still powered, comparator armed, ``(task, cycles done)`` if the
        comparator fired, else None)."""
        clock = self.clock_hz
        n = stop - first
        base = self._run_base(first, stop)
        cycles, p_pin, dur, words, loads, e_pin_run, words_run, dur_list, seg_end, e_list = base
        if resume_cycles:
            dur, words = self._resumed(cycles, dur, words, resume_cycles)
            words_run += int(words[0]) - int(base[3][0])
            dur_list = [float(dur[0])] + dur_list[1:]
            e_pin_run = math.fsum([float(p_pin[0]) * dur_list[0]] + e_list[1:])
        t0 = self.t
        # task end times, summed in order as the kernel (and optimal's model) advance them
        ends = list(accumulate(dur_list, initial=t0))[1:]
        # forced cut: injected failure (by active cycles or NVM words since boot) or the horizon
        t_cut, injected = math.inf, False
        if self.ideal:
            pass  # an ideal supply never fails, injected or not
        elif self._inject_s is not None:
            t_cut, injected = t0 + max(self._inject_s - self._active_s, 0.0), True
        if self._inject_words is not None and not self.ideal:
            budget = self._inject_words - self._words
            cum = np.cumsum(words)
            k = int(np.searchsorted(cum, budget, side="right"))
            if k < n:
                before = cum[k - 1] if k else 0.0
                t_w = (ends[k - 1] if k else t0) + dur[k] * max(budget - before, 0.0) / words[k]
                if t_w < t_cut:
                    t_cut, injected = t_w, True
        if t_cut > self.horizon:
            t_cut, injected = self.horizon, False
        if self.ideal:
            k = n if ends[-1] <= t_cut else bisect.bisect_right(ends, t_cut)
            t, reason = (ends[-1], cap.STOP_TIME) if k == n else (t_cut, runner.STOP_CUT)
            if self.setup.record_timeline:
                t_prev = t0
                for j in range(min(k + 1, n)):
                    t_next = min(ends[j], t)
                    if t_next > t_prev:
                        self._ideal_segment(t_prev, t_next, "compute", p_pin[j])
                    t_prev = t_next
            self.t = t
        else:
            e_low = self._e_off
            if armed and self.e_threshold is not None:
                e_low = max(e_low, self.e_threshold)
            if self.setup.record_timeline:
                self._ensure_segments(n + 2 + int((ends[-1] - t0) / self.min_sample_s))
            n0 = self.n_seg
            self._state = "compute"
            if self.general:
                k, reason = self._advance_tasks_general(p_pin, ends, t_cut, e_low)
                t, e, n1 = self.t, self.e, self.n_seg
                seg_end[:] = n1
            else:
                k, t, e, reason, n1 = runner._advance_tasks(
                    self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop,
                    self._eta_in, self._leak_b, self._e_max, t0, self.e,
                    loads, dur, t_cut, e_low, self.cap_books, *self.seg, self.n_seg, seg_end)
            if reason == cap.STOP_FULL:
                raise RuntimeError("segment buffer sized too small for a run of tasks")
            if self.setup.record_timeline and not self.general:  # (general: _advance recorded them)
                a = n0
                for j in range(min(k + 1, n)):
                    b = seg_end[j] if j < k else n1
                    if b > a:
                        self.seg_meta.append((a, b, "compute", p_pin[j]))
                    a = b
            self.n_seg, self.t, self.e = n1, t, e
        # books: completed tasks, then the cut one
        if k:
            e_pin = e_pin_run if k == n else math.fsum(p_pin[:k] * dur[:k])
            t_done = ends[k - 1] - t0
            self._book_load("compute", e_pin / t_done if t_done > 0 else 0.0, t_done, pending=True)
            self._words += words_run if k == n else int(words[:k].sum())
        t_start_k = ends[k - 1] if k else t0
        dt_cut = self.t - t_start_k if k < n else 0.0
        if k < n and dt_cut > 0:
            self._book_load("compute", p_pin[k], dt_cut, pending=True)
        self._active_s += self.t - t0
        for j in range(k):
            self._compute_task(first + j, 1.0)
        if k == n:
            yield from self._sync()
            return True, armed, None
        i = first + k
        done_cycles = (resume_cycles if k == 0 else 0) + int(dt_cut * clock)
        if reason == runner.STOP_CUT and not injected:
            yield from self._sync()
            raise _Horizon
        threshold = (reason == cap.STOP_LOW and armed and self.e_threshold is not None
                     and self.e_threshold > self._e_off)
        if threshold:
            armed = False
            if self.suspends_task:
                yield from self._sync()
                return True, armed, (i, min(done_cycles, int(cycles[k])))
            # the comparator only raised a flag: finish the task, then tell the scheduler
            rest = dur[k] - dt_cut
            outcome, dt2 = self._load(p_pin[k], rest, "compute", "compute", pending=True,
                                      nvm_words=int(words[k] * rest / dur[k]) if dur[k] else 0)
            if outcome == "done":
                self._compute_task(i, 1.0)
                yield from self._sync()
                return True, armed, (i + 1, 0)
            dt_cut += dt2
            done_cycles += int(dt2 * clock)
        elif reason == runner.STOP_CUT:
            self.counts["injected_failures"] += 1
        # brown-out inside task i: a CPU kernel has written its NVM output in loop order
        self._words += int(words[k] * dt_cut / dur[k]) if dur[k] else 0
        frac = done_cycles / cycles[k] if cycles[k] else 1.0
        self.counts["reexecuted_cycles"] += int(dt_cut * clock)
        self._compute_task(i, min(frac, 1.0 - 1e-15))
        yield from self._sync()
        return False, armed, None

    def _resumed(self, cycles, dur, words, resume_cycles):
        """A run's durations [s] and NVM words when its first task resumes after ``resume_cycles``:
        only its remaining cycles, and the words they write (new arrays)."""
        left0 = max(int(cycles[0]) - resume_cycles, 0)
        dur = dur.copy()
        dur[0] = left0 / self.clock_hz
        words = words.copy()
        if cycles[0]:
            words[0] = math.floor(words[0] * left0 / cycles[0])
        return dur, words

    def _run_base(self, first, stop):
        """Per-task arrays of the run ``first..stop-1`` (cached): cycles, pin powers [W], durations
        [s], NVM words, capacitor loads [W]; and for the common case that it completes, its pin
        energy [J] and NVM words, the durations and pin energies as lists, a scratch array."""
        base = self._run_arrays.get((first, stop))
        if base is None:
            cycles = self.task_cycles[first:stop]
            p_pin = self.task_power_pin[first:stop]
            dur = cycles.astype(np.float64) / self.clock_hz
            words = self.task_words[first:stop].astype(np.float64)
            loads = p_pin / self._eta_out
            base = self._run_arrays[(first, stop)] = (
                cycles, p_pin, dur, words, loads, math.fsum(p_pin * dur), int(words.sum()), dur.tolist(),
                np.empty(stop - first, np.int64), (p_pin * dur).tolist())
        return base

    def _checkpointed_run(self, sched, action, armed):
        """:class:`CheckpointedRun`: the run, each comparator interrupt answered by a checkpoint of
        the SRAM image, a sleep to ``until_v`` and the resume. Normal cycles run in a compiled
        kernel (:func:`_fast_checkpoints`); any other cycle is stepped here action by action.
        Returns (still powered, comparator armed)."""
        first, stop, resume = action.start, action.stop, action.resume_cycles
        if not 0 <= first < stop <= len(self.setup.tasks):
            raise SchedulerError(f"scheduler {self.cls.name!r}: {action!r} outside tasks 0..{len(self.setup.tasks)}")
        if self.e_threshold is None or CHECKPOINT_FLAG not in self.memory.buffers:
            raise SchedulerError(f"scheduler {self.cls.name!r}: CheckpointedRun needs a comparator (threshold_v) "
                                 "and the checkpoint slots of intersim.sched.contract.allocate_checkpoint_slots")
        mem = self.memory
        while True:
            # the kernel only where the comparator may fire: with the stored energy alone the run
            # would reach V_ckpt (a guess that costs time, never exactness: any cycle the kernel
            # does not take is stepped below)
            if (armed and self.fast_cycles
                    and self.e - self._run_base(first, stop)[5] / self._eta_out <= self.e_threshold):
                first, resume = self._fast_checkpoints(action.start, stop, first, resume, action.until_v)
                if first == stop:  # the kernel completed the run
                    yield from self._sync()
                    return True, armed
            ok, armed, fired = yield from self._run_tasks(first, stop, resume, armed)
            if not ok or fired is None:
                return ok, armed
            first, resume = fired
            steps, _ = hibernus_checkpoint(mem.read_word(CHECKPOINT_FLAG), mem.read_word(REQUEST_SEQ_WORD),
                                           first, resume)
            for step in steps + (Sleep(action.until_v),):
                ok, armed = yield from self._execute(sched, step, armed)
                if not ok:
                    return False, armed
            if first >= stop:  # (jit-task: the comparator fired in the last task, which finished)
                return True, armed

    def _replay_boots(self, actions):
        """After a brown-out inside a run: if the boot that just ended was sleeps then that run,
        the next boots will repeat it as long as each is cut inside the run again (the class
        declared its decisions NVM-determined; the run's own writes never change what it reads).
        Take those cycles in one kernel call (:func:`intersim.sim.power_cycles._boot_cycles`) and apply
        their effects: books, counts, the request's times, and the memory of the cycle that got
        furthest (its writes contain every other's, with the same values)."""
        run = actions[-1]
        if (self.general or self.e_threshold is not None or self.head is None or self._state != "compute"
                or not isinstance(run, (RunTasks, RunTask))
                or not all(isinstance(a, Sleep) for a in actions[:-1])):
            return
        first, stop = (run.index, run.index + 1) if isinstance(run, RunTask) else (run.start, run.stop)
        resume = run.resume_cycles
        t_event = self.env.peek()
        if t_event <= self.t or not self._run_is_hazard_free(first, stop):
            return
        cycles_, p_pin, dur, words, loads, _, _, _, seg_end, _ = self._run_base(first, stop)
        if resume:
            dur, words = self._resumed(cycles_, dur, words, resume)
        key = (first, stop, resume)
        e_prefix = self._e_prefix.get(key)
        if e_prefix is None:
            e_prefix = self._e_prefix[key] = np.array(
                [0.0] + [math.fsum(p_pin[:k] * dur[:k]) for k in range(1, stop - first + 1)])
        c = self.st.capacitance_f
        targets = np.array([cap.energy_j(c, a.until_v) for a in actions[:-1]], np.float64)
        acc = self._cycle_acc
        h = self.head
        for k, total in ((cycles.ACC_OUTPUT_LOSS, self.output_loss), (cycles.ACC_BOOT, self.load_books["boot"]),
                         (cycles.ACC_SLEEP, self.load_books["sleep"]),
                         (cycles.ACC_REEXECUTION, self.load_books["reexecution"])):
            acc[k] = total.s, total.c
        for k, column in ((cycles.ACC_REQ_OFF, "off_s"), (cycles.ACC_REQ_RESTORE, "restore_s"),
                          (cycles.ACC_REQ_REEXEC, "reexecution_s")):
            acc[k, 0] = self.req[column][h]
        acc[cycles.ACC_ACTIVE, 0] = self._active_s
        counts = np.array([-1, -1, 0, self._words], np.int64)
        boot_pin = self.boot_energy_j / self.boot_time_s if self.boot_time_s > 0 else 0.0
        n_seg0 = self.n_seg
        t, e, n, n_seg, n_meta = cycles._boot_cycles(
            self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop,
            self._eta_in, self._leak_b, self._e_max, self.t, self.e, self.cap_books, *self._kernel_segments(),
            self.st.e_on_j, self._e_off, self._eta_out, boot_pin, self.boot_time_s,
            self.setup.platform.sleep_power_w, targets, loads, p_pin, dur, words, e_prefix, int(resume),
            float(self.clock_hz), self.horizon, t_event, float(self.req["service_s"][h]), 10_000_000,
            acc, counts, seg_end)
        if n == 0:
            return
        self.compiled_cycles["boot"] += n
        self.t, self.e, self.n_seg = t, e, n_seg
        if n_meta:
            self._record_segments(n_seg0, n_meta, p_pin, {
                cycles.CODE_OFF: ("off", 0.0), cycles.CODE_BOOT: ("boot", boot_pin),
                cycles.CODE_SLEEP: ("sleep", self.setup.platform.sleep_power_w)})
        values = acc.tolist()  # Python floats, as the books hold
        for k, total in ((cycles.ACC_OUTPUT_LOSS, self.output_loss), (cycles.ACC_BOOT, self.load_books["boot"]),
                         (cycles.ACC_SLEEP, self.load_books["sleep"]),
                         (cycles.ACC_REEXECUTION, self.load_books["reexecution"])):
            total.s, total.c = values[k]
        for k, column in ((cycles.ACC_REQ_OFF, "off_s"), (cycles.ACC_REQ_RESTORE, "restore_s"),
                          (cycles.ACC_REQ_REEXEC, "reexecution_s")):
            self.req[column][h] = values[k][0]
        self._active_s = values[cycles.ACC_ACTIVE][0]
        self._words = int(counts[cycles.CNT_WORDS])
        for name in ("boots", "power_failures", "failures_in_compute", "wasted_boots"):
            self.counts[name] += n
        self.counts["reexecuted_cycles"] += int(counts[cycles.CNT_REEXECUTED])
        self.req["power_failures"][h] += n
        # memory: the furthest cycle's writes, then the brown-out that ended it
        k_max, done_max = int(counts[cycles.CNT_MAX_TASK]), int(counts[cycles.CNT_MAX_CYCLES])
        for j in range(k_max):
            self._compute_task(first + j, 1.0)
        frac = done_max / cycles_[k_max] if cycles_[k_max] else 1.0
        self._compute_task(first + k_max, min(frac, 1.0 - 1e-15))
        self.memory.poison_volatile()

    def _kernel_segments(self):
        """The timeline arguments of the cycle kernels: five segment arrays (empty when no timeline
        is recorded), the segment count, the shortest trace sample [s] and the action records."""
        if not self.setup.record_timeline:
            z = self._no_segments
            return z, z, z, z, z, 0, self.min_sample_s, self._cycle_meta
        if self._cycle_meta.shape[0] == 0:
            self._cycle_meta = np.zeros((1 << 16, 2), np.int64)
        return (*self.seg, self.n_seg, self.min_sample_s, self._cycle_meta)

    def _record_segments(self, n_seg0, n_meta, p_pin, codes):
        """The timeline's (segments, state, load) entries of the actions a kernel took, from its
        records ``(segment count after, code)``: a code >= 0 is that task of the run, computing at
        ``p_pin[code]``; the others are in ``codes``. As the Python path, an action that wrote no
        segment leaves no entry."""
        a = n_seg0
        for n_end, code in self._cycle_meta[:n_meta].tolist():
            if n_end > a:
                state, load = ("compute", p_pin[code]) if code >= 0 else codes[code]
                self.seg_meta.append((a, n_end, state, load))
            a = n_end

    def _run_is_hazard_free(self, first, stop):
        """No task of the run reads non-volatile bytes that it or a later task of the run writes:
        then every repetition of the run (after a brown-out, SRAM poisoned) computes the same
        values (cached per run)."""
        key = (first, stop)
        free = self._hazard_free.get(key)
        if free is None:
            regions = [task_nvm_regions(t, self.memory, self.setup.network.input_name)
                       for t in self.setup.tasks[first:stop]]
            free = not any(writes_into(write, reads)
                           for j, (reads, _) in enumerate(regions) for _, write in regions[j:])
            self._hazard_free[key] = free
        return free

    def _fast_checkpoints(self, start, stop, task, resume, until_v):
        """Take the normal checkpoint cycles of the run ``start..stop-1``, now at task ``task`` with
        ``resume`` [cycles] of it done, in one kernel call, up to the first cycle that would end
        otherwise, and apply their effects (books, counts, the request's times, the tasks that
        completed, the two slots and the flag). Returns the position ``(task, cycles)`` the next
        cycle starts from."""
        if (self.ideal or self.general or self.pending or self.head is None
                or self._inject_s is not None or self._inject_words is not None
                or self.e_threshold <= self._e_off):
            return task, resume
        t_event = self.env.peek()
        if t_event <= self.t:
            return task, resume
        copy = Copy(SRAM_IMAGE, "ckpt0_sram")
        key = (copy.src, copy.dst, copy.category)
        spec = self._copies.get(key)
        if spec is None:
            spec = self._copies[key] = self._copy_spec(copy)
        _, copy_cost, _, copy_words = spec
        cycles_, p_pin, _, words_, loads = self._run_base(start, stop)[:5]
        mem = self.memory
        flag = mem.read_word(CHECKPOINT_FLAG)
        h = self.head
        req = self.req
        books = self.load_books
        acc = self._cycle_acc
        acc[:cycles.ACC_ACTIVE + 1] = (
            (self.output_loss.s, self.output_loss.c), (books["compute"].s, books["compute"].c),
            (books["checkpoint"].s, books["checkpoint"].c), (books["sleep"].s, books["sleep"].c),
            (req["compute_s"][h], 0.0), (req["preserve_s"][h], 0.0), (req["off_s"][h], 0.0), (self._active_s, 0.0))
        words = self._cycle_words
        words[0] = self._words
        slot_task, slot_cycles = self._cycle_slots
        e_target = self._sleep_targets.get(until_v)
        if e_target is None:
            e_target = self._sleep_targets[until_v] = cap.energy_j(self.st.capacitance_f, until_v)
        n_seg0 = self.n_seg
        (t, e, n, i_next, resume_next, flag_next, completed, x_done, t_done, n_seg,
         n_meta) = cycles._checkpoint_cycles(
            self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop,
            self._eta_in, self._leak_b, self._e_max, self.t, self.e, self.cap_books, *self._kernel_segments(),
            cycles_, p_pin, loads, words_, task - start, int(resume), float(self.clock_hz),
            self._eta_out, self.e_threshold, self._e_off, e_target,
            self.horizon, t_event, self.suspends_task, copy_cost.time_s, copy_cost.power_w, int(copy_words),
            self._word_t, self._word_p, self.setup.platform.sleep_power_w, int(flag), 10_000_000,
            acc, words, slot_task, slot_cycles, self._cycle_scratch)
        if n == 0 and not completed:
            return task, resume
        self.compiled_cycles["checkpoint"] += n
        self.t, self.e, self.n_seg = t, e, n_seg
        if n_meta:
            self._record_segments(n_seg0, n_meta, p_pin, {
                cycles.CODE_COPY: ("preserve", copy_cost.power_w), cycles.CODE_HEADER: ("preserve", self._word_p),
                cycles.CODE_FLAG: ("preserve", self._word_p),
                cycles.CODE_SLEEP: ("sleep", self.setup.platform.sleep_power_w)})
        self._state = "compute" if completed else "sleep"
        (loss, compute, checkpoint, sleep, req_compute, req_preserve, req_off,
         active) = acc[:cycles.ACC_ACTIVE + 1].tolist()
        self.output_loss.s, self.output_loss.c = loss
        books["compute"].s, books["compute"].c = compute
        books["checkpoint"].s, books["checkpoint"].c = checkpoint
        books["sleep"].s, books["sleep"].c = sleep
        req["compute_s"][h] = req_compute[0]
        req["preserve_s"][h] = req_preserve[0]
        req["off_s"][h] = req_off[0]
        self._active_s = active[0]
        self._words = int(words[0])
        self.counts["commits"] += n
        self.counts["checkpoints"] += n
        # memory, in the order it happened: the tasks that completed, each slot's last checkpoint
        # (of the image as it was then, with its header), the flag naming the newest slot
        done = task
        if n:
            seq = mem.read_word(REQUEST_SEQ_WORD)
            last = flag_next & 1
            image = mem.arena[SRAM]
            for s in ((last,) if n == 1 else (1 - last, last)):
                upto = start + int(slot_task[s])
                for j in range(done, upto):
                    self._compute_task(j, 1.0)
                done = upto
                mem.raw(f"ckpt{s}_sram")[:] = image
                c = int(slot_cycles[s])
                for w, v in zip(CHECKPOINT_WORDS, (seq, upto, c & 0xFFFF, (c >> 16) & 0xFFFF)):
                    mem.write_word(f"ckpt{s}_{w}", v)
            mem.write_word(CHECKPOINT_FLAG, flag_next)
        if completed:  # the last cycle ran the rest of the run: its work is pending
            self.pending.append(("compute", x_done, t_done, h))
            for j in range(done, stop):
                self._compute_task(j, 1.0)
            return stop, 0
        return start + int(i_next), int(resume_next)

    def _terminal_voltage_v(self, load_pin_w):
        """The voltage [V] the comparators see now under a pin load ``load_pin_w`` [W]."""
        if not self.general:
            return math.sqrt(2.0 * self.e / self.st.capacitance_f)
        from ..energy.power_path import terminal_voltage_v
        harvest = float(self.setup.trace.power_at(self.t))
        if self.current_load:
            return float(terminal_voltage_v(self.st, self.e, harvest_w=harvest,
                                            load_a=load_pin_w / self.setup.platform.supply_v))
        return float(terminal_voltage_v(self.st, self.e, harvest_w=harvest, load_w=load_pin_w / self._eta_out))

    def _copy_spec(self, action):
        """What a Copy needs, checked once per (src, dst, category): (source bytes, cost,
        is a restore, NVM words written)."""
        src, dst = self._raw(action.src), self._buffer_memory(action.dst)
        if src.size != self._raw(action.dst).size:
            raise SchedulerError(f"scheduler {self.cls.name!r}: Copy {action.src!r} -> {action.dst!r}: sizes differ "
                                 f"({src.size} vs {self._raw(action.dst).size} bytes)")
        src_mem = self._buffer_memory(action.src)
        direction = ("sram_to_nvm" if dst == NVM and src_mem == SRAM else
                     "nvm_to_sram" if dst == SRAM else "sram_to_nvm")
        cost = self._transfer_cost(int(src.size), direction)
        return src, cost, action.category == "restore", self._words_of(src.size) if dst == NVM else 0

    def _transfer_cost(self, n_bytes, direction):
        key = (n_bytes, direction)
        cost = self._transfer_costs.get(key)
        if cost is None:
            cost = self._transfer_costs[key] = transfer_cost(self.setup.platform, n_bytes, direction)
        return cost

    def _advance_tasks_general(self, p_pin, ends, t_cut, e_low):
        """:func:`runner._advance_tasks` for the general power path, one kernel call per task.
        Returns (tasks completed, stop reason)."""
        for k in range(p_pin.size):
            stop = min(ends[k], t_cut)
            reason, _ = self._advance(p_pin[k], stop, e_low, math.inf, "compute")
            if reason != cap.STOP_TIME:
                return k, reason
            if stop < ends[k]:
                return k, runner.STOP_CUT
        return p_pin.size, cap.STOP_TIME

    def _ensure_segments(self, extra):
        if not self.setup.record_timeline:
            return
        need = self.n_seg + extra
        if need > self.seg[0].size:
            size = max(need, 2 * self.seg[0].size)
            self.seg = [np.concatenate([a, np.empty(size - a.size)]) for a in self.seg]

    def _task_plan(self, task):
        """Per-task constants of :meth:`_compute_task` (memory views stay valid for the run):
        (task, layer, input views, buffers read, destination buffer, its byte range, memo key,
        destination in SRAM)."""
        mem = self.memory
        layer = self.setup.network.layers[task.layer]
        in_names = [self._tensor_buf(name) for name in task.inputs]
        inputs = [mem.view(name) for name in in_names]
        reads = [mem.raw(name) for name in in_names]
        if task.kind == "accumulate":
            if task.psum_src is not None:
                reads.append(mem.raw(task.psum_src))
            dst, a, b = task.psum_dst, 4 * task.out_byte_start, 4 * task.out_byte_stop
        else:
            if task.kind == "finalize":
                reads.append(mem.raw(task.psum_src))
            dst, a, b = self._tensor_buf(task.output), task.out_byte_start, task.out_byte_stop
        key = self.memo.task_id((task.layer, task.kind, task.c_start, task.c_stop, task.ic_start, task.ic_stop,
                                 a, b, mem.buffers[dst].shape))
        return task, layer, inputs, reads, dst, a, b, key, mem.buffers[dst].memory == SRAM

    def _compute_task(self, index, fraction):
        """Run task ``index``'s int8 kernel on memory; its NVM output persists by ``fraction``."""
        task, layer, inputs, reads, dst, a, b, key, in_sram = self._task_plans[index]
        if in_sram and fraction < 1.0:
            return  # a cut write to SRAM does not matter: it is poisoned at the brown-out
        seen = (key, reads[0].tobytes() if len(reads) == 1 else b"".join([r.tobytes() for r in reads]))
        tile = self.memo.get(seen)
        if tile is None:
            tile = self._task_arithmetic(task, layer, inputs, dst, a, b)
            self.memo.put(seen, tile)
        if in_sram or fraction >= 1.0:
            self.memory.raw(dst)[a:b] = tile  # a complete write: every byte lands
        else:
            self.memory.write_buffer(dst, tile, fraction, byte_start=a)

    def _task_arithmetic(self, task, layer, inputs, dst, a, b):
        """The bytes ``[a, b)`` of ``dst`` that the task computes (kernels evaluate whole output
        channels; a tile task keeps only its tile's bytes) [uint8 array]."""
        mem = self.memory
        if task.kind == "accumulate":
            src = mem.view(task.psum_src) if task.psum_src is not None else None
            psum = src.copy() if src is not None else np.zeros(mem.buffers[dst].shape, np.int32)
            layer.accumulate(inputs, psum, task.ic_start, task.ic_stop, task.c_start, task.c_stop)
            return psum.reshape(-1).view(np.uint8)[a:b].copy()
        scratch = mem.view(dst).copy()
        if task.kind == "finalize":
            layer.finalize(mem.view(task.psum_src), scratch, task.c_start, task.c_stop)
        else:
            layer.compute(inputs, scratch, task.c_start, task.c_stop)
        return scratch.reshape(-1).view(np.uint8)[a:b].copy()

    def _words_of(self, n_bytes):
        w = self.memory.word_bytes
        return -(-int(n_bytes) // w)

    def _task_nvm_words(self, task):
        """NVM words a task writes (its output tile and/or partial-sum tile, where in NVM)."""
        n = 0
        if task.kind != "accumulate" and self.memory.buffers[self._tensor_buf(task.output)].memory == NVM:
            n += self._words_of(task.out_byte_stop - task.out_byte_start)
        if task.psum_dst is not None and self.memory.buffers[task.psum_dst].memory == NVM:
            n += self._words_of(4 * (task.out_byte_stop - task.out_byte_start))
        return n

    def _tensor_buf(self, name):
        return INPUT_BUFFER if name == self.setup.network.input_name else tensor_buffer(name)

    def _check_buffer(self, name):
        if name != SRAM_IMAGE and name not in self.memory.buffers:
            raise SchedulerError(f"scheduler {self.cls.name!r} names buffer {name!r}, which its layout did not "
                                 f"allocate; allocated: {', '.join(sorted(self.memory.buffers))}, {SRAM_IMAGE}")

    def _raw(self, name):
        self._check_buffer(name)
        return self.memory.arena[SRAM] if name == SRAM_IMAGE else self.memory.raw(name)

    def _buffer_memory(self, name):
        self._check_buffer(name)
        return SRAM if name == SRAM_IMAGE else self.memory.buffers[name].memory

    def _write_raw(self, name, data, fraction):
        if name == SRAM_IMAGE:
            if fraction >= 1.0:
                self.memory.arena[SRAM][:] = data
            return
        if fraction >= 1.0:  # a complete copy: every byte lands (Copy checked the sizes are equal)
            self.memory.raw(name)[:] = data
            return
        self.memory.write_buffer(name, data, fraction)

    def _idle(self):
        """Sleep until an arrival wakes the device; returns False on a brown-out."""
        if self.queue and self.head is None:
            self._deliver(self.t)
            return True
        p = self.setup.platform.sleep_power_w
        wake = self.env.event()
        self._idle_wake = wake
        try:
            if self.ideal:
                t_from = self.t
                yield wake
                self.t = self.env.now
                if self.setup.record_timeline and self.t > t_from:
                    self._ideal_segment(t_from, self.t, "idle", p)
                self._book_load("sleep", p, self.t - t_from)
                self.events += 1
                return True
            # predict the sleep up to the next scheduled arrival (or the horizon); another process
            # may still wake the device earlier, then the interval is redone up to that moment
            k = bisect.bisect_right(self._arrival_list, self.env.now)
            t_next = min(self._arrival_list[k], self.horizon) if k < len(self._arrival_list) else self.horizon
            saved = (self.t, self.e, self.cap_books.copy(), self.n_seg, len(self.seg_meta))
            reason, dt = self._advance(p, t_next, self._e_off, math.inf, "idle")
            timeout = self.env.timeout(self.t - self.env.now)
            self.events += 1
            yield wake | timeout
            if reason == cap.STOP_TIME and self.t < self.horizon and not wake.triggered:
                yield wake  # the arrival due now has not been processed yet
                self._book_load("sleep", p, dt)
                return True
            if wake.triggered and self.env.now < self.t:
                # woken before the predicted end: redo the interval up to the wake time
                self.t, self.e, books, self.n_seg, n_meta = saved
                self.cap_books[:] = books
                del self.seg_meta[n_meta:]
                reason, dt = self._advance(p, self.env.now, self._e_off, math.inf, "idle")
                self._book_load("sleep", p, dt)
                return True
            self._book_load("sleep", p, dt)
            if reason == cap.STOP_TIME and not wake.triggered:
                raise _Horizon
            return reason != cap.STOP_LOW
        finally:
            self._idle_wake = None

    def _complete_head(self):
        k = self.head
        out = self.memory.view(self.result_buffer)
        ref = self._reference_bytes(k % len(self.setup.references))
        self.req["status"][k] = "done"
        self.req["done_s"][k] = self.t
        self.req["correct"][k] = out.tobytes() == ref  # same dtype and size: equal bytes, equal values
        self.req["predicted"][k] = int(out.argmax())
        self.head = None
        self._deliver(self.t)

    def _reference_bytes(self, j):
        """Reference ``j`` as the bytes the result buffer would hold (None: no result can equal it)."""
        refs = self._ref_bytes
        if not refs:
            out = self.memory.view(self.result_buffer)
            arrays = [np.asarray(r) for r in self.setup.references]
            if all(a.shape == arrays[0].shape and a.dtype == arrays[0].dtype for a in arrays):
                # one conversion for them all (the references of a run share shape and dtype)
                stacked = np.stack(arrays).reshape(len(arrays), -1)
                cast = stacked.astype(out.dtype)
                same = (cast == stacked).all(axis=1) if stacked.shape[1] == out.size else np.zeros(len(arrays), bool)
                refs.update((i, cast[i].tobytes() if same[i] else None) for i in range(len(arrays)))
            else:
                for i, a in enumerate(arrays):
                    # a reference of another shape or dtype can never equal the result
                    refs[i] = (a.astype(out.dtype).tobytes()
                               if a.size == out.size and np.array_equal(a.astype(out.dtype), a) else None)
        return refs[j]

    # ------------------------------------------------------------------ run
    def run(self) -> RunResult:
        verdict = self._precheck()
        if verdict is None:
            self.env = simpy.Environment(initial_time=self.t)
            self.env.process(self._arrivals())
            self.env.process(self._guarded(self._device()))
            # the objects alive before the run (the caller's traces, tables, references) are
            # exempt from the cyclic collector while it runs: the run makes many short-lived
            # objects, and every full collection would otherwise walk that whole heap again
            gc.freeze()
            try:
                # every process ends by the horizon (kernels stop there; an idle ideal supply
                # waits on an arrival that never comes, which leaves no event scheduled)
                self.env.run()
            finally:
                gc.unfreeze()
        else:
            self.env = None
        return self._result()

    def _guarded(self, gen):
        try:
            yield from gen
        except (_Horizon, _Stop):
            return

    def _precheck(self):
        """Verdicts that need no simulation: does_not_fit, boot_loop, infeasible."""
        plat, st = self.setup.platform, self.st
        sram, nvm = self.memory.used_bytes(SRAM), self.memory.used_bytes(NVM)
        weights = sum(t.weight_bytes for t in self.setup.tasks)
        if not self.weights_fit:
            self.verdict = "does_not_fit"
            self.verdict_detail = (f"{weights} B of weights exceed {plat.name}'s volatile weight memory of "
                                   f"{plat.volatile_weight_bytes} B")
            return self.verdict
        if sram > plat.sram_bytes or nvm + weights > plat.nvm_bytes:
            self.verdict = "does_not_fit"
            self.verdict_detail = (f"needs {sram} B SRAM (has {plat.sram_bytes}) and {nvm + weights} B "
                                   f"NVM incl. {weights} B weights (has {plat.nvm_bytes})")
            return self.verdict
        if self.ideal:
            return None
        if self.general:
            from ..energy.power_path import boot_loop
            p_boot_cap = (self.boot_energy_j / self.boot_time_s if self.boot_time_s > 0 else 0.0) / st.output_efficiency
            looping, v_after = boot_loop(st, load_w=p_boot_cap, harvest_w=0.0)
            if looping:
                self.verdict = "boot_loop"
                step = ("collapses the terminal voltage (the load exceeds V^2 / (4 ESR))" if math.isnan(v_after)
                        else f"drops the terminal voltage to {v_after:.4g} V")
                self.verdict_detail = (f"turning the {p_boot_cap * 1e3:.4g} mW boot load on at V_on = {st.v_on_v} V "
                                       f"{step} with ESR {st.esr_ohm:g} Ohm, at or below V_off = {st.v_off_v} V: "
                                       f"it browns out at once, every time")
                return self.verdict
        if self.plan.get("feasible") is False:
            self.verdict = "infeasible"
            if self.plan["v_ckpt"] >= st.v_on_v:
                self.verdict_detail = (f"checkpoint threshold V_ckpt = {self.plan['v_ckpt']:.4g} V is not below "
                                       f"V_on = {st.v_on_v} V: the checkpoint does not fit the capacitor")
            else:
                self.verdict_detail = (f"V_on = {st.v_on_v} V to V_ckpt = {self.plan['v_ckpt']:.4g} V delivers "
                                       f"{self.plan['window_j']:.4g} J, not more than the {self.plan['overhead_j']:.4g} J "
                                       f"of the checkpoint that ends it: no power cycle can make progress")
            return self.verdict
        window = st.e_max_j - st.e_off_j
        p_max = float(self.setup.trace.power_w.max()) * st.input_efficiency
        boot_cap = self.boot_energy_j / st.output_efficiency
        if boot_cap > window + p_max * self.boot_time_s:
            self.verdict = "boot_loop"
            self.verdict_detail = (f"boot needs {boot_cap:.4g} J at the capacitor; V_max..V_off holds "
                                   f"{window:.4g} J plus at most {p_max * self.boot_time_s:.4g} J harvested")
            return self.verdict
        unit = self.cls.unit_energy_j(self.setup, self.plan)
        unit_cap = (unit + self.boot_energy_j) / st.output_efficiency
        unit_time = unit / plat.active_power_w + self.boot_time_s
        if unit_cap > window + p_max * unit_time:
            self.verdict = "infeasible"
            self.verdict_detail = (f"one atomic unit plus its preservation and the boot needs {unit_cap:.4g} J "
                                   f"at the capacitor; V_max..V_off holds {window:.4g} J plus at most "
                                   f"{p_max * unit_time:.4g} J harvested in its {unit_time:.4g} s")
            return self.verdict
        return None

    def _result(self) -> RunResult:
        # leftover pending work at the horizon was neither kept nor discarded by a failure
        for category, e_pin, dt, r in self.pending:
            self.load_books[category].add(e_pin)
            if r is not None:
                self.req["compute_s" if category == "compute" else "preserve_s"][r] += dt
        self.pending.clear()
        cb = cap.book_totals(self.cap_books)
        books = {
            "energy_harvested_j": cb["harvested_j"],
            "energy_supply_j": self.supply.value,
            "energy_input_loss_j": cb["input_loss_j"],
            "energy_clamped_j": cb["clamped_j"],
            "energy_stored_delta_j": 0.0 if self.ideal else self.e - self.e_initial,
            "energy_leakage_j": cb["leakage_j"],
            "energy_esr_j": cb.get("esr_j", 0.0),
            "energy_output_loss_j": self.output_loss.value,
        }
        for k in LOAD_BOOKS:
            books[f"energy_{k}_j"] = self.load_books[k].value
        if self.verdict == "ok" and not np.any(self.req["status"] == "done"):
            self.verdict = "starved"
            self.verdict_detail = (f"no request completed before the horizon t = {self.horizon:.6g} s "
                                   f"({self.counts['power_failures']} power failures)")
        n = self.n_seg
        if self.setup.record_timeline:
            state = np.empty(n, dtype=object)
            load = np.zeros(n)
            for a, b, s, w in self.seg_meta:
                state[a:b] = s
                load[a:b] = w
            c = self.st.capacitance_f
            timeline = {"t_start_s": self.seg[0][:n].copy(), "t_end_s": self.seg[1][:n].copy(),
                        "state": state, "harvest_w": self.seg[2][:n].copy(), "load_w": load,
                        "v_start_v": cap.voltage_v(c, self.seg[3][:n]),
                        "v_end_v": cap.voltage_v(c, self.seg[4][:n])}
        else:
            timeline = {}
        return RunResult(self.cls.name, self.verdict, self.verdict_detail, self.req, books,
                         dict(self.counts), timeline, self.events, self.horizon, self.e_initial,
                         dict(self.compiled_cycles))
