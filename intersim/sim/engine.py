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

import numpy as np
import simpy

from ..energy import capacitor as cap
from ..errors import SchedulerError
from ..hw.cost import transfer_cost
from ..hw.memory import NVM, Memory, cycles_for_words, words_done
from ..sched.contract import (
    CHECKPOINT_FLAG, DONE_SEQ_WORD, INPUT_BUFFER, REQUEST_SEQ_WORD, CheckpointedRun, Copy, Done, Idle, ReadVoltage,
    PowerOff, RunTask, RunTasks, Scheduler, Sleep, WriteWords, boot_cost_for, hibernus_checkpoint, tensor_buffer,
)
from ..nn.tasks import price
from .task_runs import TaskRunner
from .seed_actions import SeedActions
from .books import LOAD_BOOKS, EnergyBooks  # noqa: F401  (LOAD_BOOKS: public here)
from .compiled import CompiledCycles
from .task_memo import answer_heads
from .memops import TaskMemory
from .prechecks import precheck
from .requests import RequestLog
from .timeline import Timeline
from .device import Device
from .setup import RunResult, Setup, _Horizon, _Stop  # noqa: F401  (Setup, RunResult: public here)

#: Timeline states.
STATES = ("off", "boot", "compute", "preserve", "restore", "sleep", "idle")
#: Verdicts a run can end with.
VERDICTS = ("ok", "infeasible", "does_not_fit", "boot_loop", "livelock", "starved")
#: Events with no advance of simulated time before the livelock guard stops a run.
LIVELOCK_EVENTS = 100_000


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
        self.memory = self._layout()
        self.taskmem = TaskMemory(self.memory, setup.network, setup.platform, scheduler_cls.name)
        self.taskmem.plan_tasks(setup.tasks)
        self.plan = scheduler_cls.prepare(setup, self.memory)
        self.task_cycles = np.array([c.cycles for c in setup.costs], np.int64)
        self.task_power_pin = np.array([c.power_w for c in setup.costs], np.float64)
        self.task_words = np.array([self.taskmem.task_nvm_words(t) for t in setup.tasks], np.int64)
        self.dev = Device(self)
        self.boot = boot_cost_for(setup)
        self.word_cost = transfer_cost(setup.platform, 2, "sram_to_nvm")
        self._word_t, self._word_p = self.word_cost.time_s, self.word_cost.power_w
        self.clock_hz = setup.platform.clock_hz
        self.adc_reading_v = None   # the last ReadVoltage of this boot [V]
        self.fast_cycles = bool(setup.fast_cycles)
        self.sched = None           # the scheduler object of this boot (None while off)
        thr = scheduler_cls.threshold_v(self.plan)
        self.e_threshold = cap.energy_j(st.capacitance_f, thr) if thr is not None else None
        self.suspends_task = bool(getattr(scheduler_cls, "suspends_task", True))
        self._trace_arrays()
        self.arrivals = setup.workload.arrival_times()
        self._arrival_list = self.arrivals.tolist()
        # the arrivals process: the index of its pending arrival and that event's time [s] (inf: none)
        self.arrival_k, self.arrival_ts = 0, math.inf
        # an idle sleep's timeout outlives a wake-up by an arrival: (event, its time [s]) of those
        # that may still be pending
        self._idle_timeouts = deque()
        # arrivals before this index were queued or dropped by a cycle kernel that handed requests
        # over (simpy still processes their events, without effect)
        self.arrivals_settled = 0
        # (index, event time [s]) of the last arrival the request kernel settled: the arrivals
        # process may time out straight to it (see _arrivals)
        self.wake_jump = None
        self.boot_actions = []
        # arrivals while a request is in service only queue or drop; a scheduler that does not
        # listen to them (the contract's on_arrival) lets the cycle kernels run across them
        self.quiet_arrivals = scheduler_cls.on_arrival is Scheduler.on_arrival
        self.horizon = setup.workload.horizon_s()
        self.requests = RequestLog(self.arrivals, setup.inputs, setup.references, self.memory,
                                   answer_heads(setup.network, setup.inputs, setup.references),
                                   setup.workload.deadline_s)
        self.books = EnergyBooks(self._eta_out, self.ideal, self.current_load)
        self.timeline = Timeline(setup.record_timeline, st.e_max_j)
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
        # boots may be replayed only for a class that itself declares its decisions NVM-determined
        replays = (self.fast_cycles and bool(scheduler_cls.__dict__.get("nvm_determined", False))
                   and not self.ideal and not setup.brownout_at)
        self.compiled = CompiledCycles(self, replays_boots=replays)
        self.runner = TaskRunner(self)
        self._handlers = {RunTasks: self._do_run, RunTask: self._do_run, CheckpointedRun: self._checkpointed_run,
                          Copy: self._do_copy, WriteWords: self._do_write_words, Sleep: self._do_sleep,
                          ReadVoltage: self._do_read_voltage, Done: self._do_done, Idle: self._do_idle,
                          PowerOff: self._do_power_off}
        self._switched_off = False  # the last action was PowerOff (not a brown-out)
        self.seed_actions = SeedActions(self)  # UlpSleep, ReadInputPower, ErasePages, LoopTask
        self._handlers.update(self.seed_actions.handlers())

    def _layout(self):
        """The memory: the environment's input buffer and sequence words, then the scheduler's
        layout; prices the tasks for it (``setup.costs``)."""
        setup = self.setup
        memory = Memory(setup.platform.nvm_word_bytes)
        net = setup.network
        memory.allocate(INPUT_BUFFER, NVM, net.tensors[net.input_name])
        memory.allocate(REQUEST_SEQ_WORD, NVM, (1,), "uint16")
        memory.allocate(DONE_SEQ_WORD, NVM, (1,), "uint16")
        self.result_buffer = self.cls.layout(memory, setup)
        memory.finalize()
        self.tensor_memory = {name: (NVM if name == net.input_name else memory.buffers[tensor_buffer(name)].memory)
                              for name in net.tensors}
        buffer_memory = {name: b.memory for name, b in memory.buffers.items()}
        setup.costs = price(setup.tasks, net, setup.platform, self.tensor_memory, buffer_memory)
        return memory

    def _trace_arrays(self):
        """The trace as the kernels take it, and the power path they need."""
        st = self.st
        (self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop) = cap.trace_arrays(self.setup.trace)
        spacing = np.diff(np.append(self.tr_t, self.tr_first + self.tr_period))
        self.min_sample_s = float(spacing.min())
        # ESR, current sources/leakage, quiescent current or an efficiency curve need the general
        # power path, whose thresholds are terminal voltages
        self.current_load = self.setup.load_kind == "current"
        self.general = st.uses_general_kernel or self.current_load
        if self.general:
            self.eta_w = np.ascontiguousarray(st.efficiency_per_sample(self.tr_p), dtype=np.float64)
            self.par = st.power_path_par()

    # ------------------------------------------------------------------ capacitor
    def _advance(self, load_pin_w, t_stop, e_low, e_high, state):
        """Advance the capacitor under a constant pin load; records segments. Returns reason."""
        load_cap = load_pin_w / self._eta_out
        t_stop = min(t_stop, self.horizon)
        self._state = state
        t_start = self.t
        c = self.st.capacitance_f
        while True:
            n0 = self.timeline.n_seg
            if self.general:
                # the engine's thresholds are E(V) of a voltage: hand the kernel that voltage back
                v_low = math.sqrt(2 * e_low / c) if e_low >= 0 else -1.0
                v_high = math.sqrt(2 * e_high / c) if math.isfinite(e_high) else math.inf
                if self.current_load:
                    load_w, load_a = 0.0, load_pin_w / self.setup.platform.supply_v
                    before = self.books.cap[cap.BOOK_LOAD].sum()
                else:
                    load_w, load_a = load_cap, 0.0
                t0_call = self.t
                t, e, reason, n1 = cap._advance_general(
                    self.tr_t, self.tr_p, self.eta_w, self.tr_first, self.tr_period, self.tr_loop,
                    self.par, self.t, self.e, t_stop, load_w, load_a, v_low, v_high, self.books.cap,
                    self.timeline.seg[0], self.timeline.seg[1], self.timeline.seg[2], self.timeline.seg[3], self.timeline.seg[4], self.timeline.n_seg)
                if self.current_load:  # the supply's loss is what the terminal gave beyond the pin
                    drawn = self.books.cap[cap.BOOK_LOAD].sum() - before
                    self.books.output_loss.add(drawn - load_pin_w * (t - t0_call))
                if reason == cap.STOP_COLLAPSE:
                    reason = cap.STOP_LOW  # the terminal collapsed under the load: a brown-out
            else:
                t, e, reason, n1 = cap._advance(
                    self.tr_t, self.tr_p, self.tr_first, self.tr_period, self.tr_loop,
                    self._eta_in, self._leak_b, self._e_max,
                    self.t, self.e, t_stop, load_cap, e_low, e_high, self.books.cap,
                    self.timeline.seg[0], self.timeline.seg[1], self.timeline.seg[2], self.timeline.seg[3], self.timeline.seg[4], self.timeline.n_seg)
            if n1 > n0:
                self.timeline.meta.append((n0, n1, state, load_pin_w))
            self.timeline.n_seg = n1
            self.t, self.e = t, e
            if reason != cap.STOP_FULL:
                break
            self.timeline.grow()
        return reason, self.t - t_start

    # ------------------------------------------------------------------ loads
    def _load(self, p_pin_w, duration_s, category, state, pending, e_threshold=None, nvm_words=0):
        """Run a constant pin load for ``duration_s``, writing ``nvm_words`` NVM words evenly over
        it; returns (outcome, elapsed_s). See :meth:`_load_nvm`."""
        outcome, dt, _ = self._load_nvm(p_pin_w, duration_s, category, state, pending, e_threshold, nvm_words)
        return outcome, dt

    def _load_nvm(self, p_pin_w, duration_s, category, state, pending, e_threshold=None, nvm_words=0):
        """Run a constant pin load for ``duration_s``, writing ``nvm_words`` NVM words evenly over
        its cycles; returns (outcome, elapsed_s, NVM words persisted).

        outcome: "done", "brownout" or "threshold". Raises _Horizon at the run's end. The words
        persisted are integers: an injected ``("words", n)`` cut persists exactly the words left
        to ``n``; any other cut, :func:`~intersim.hw.memory.words_done` of the cycles elapsed.
        """
        if self.ideal:
            t_end = self.t + duration_s
            if t_end > self.horizon:
                raise _Horizon
            if self.timeline.record:
                self.timeline.ideal_segment(self.t, t_end, state, p_pin_w)
            self.books.book_load(category, p_pin_w, duration_s, self.requests.head, pending)
            self.t = t_end
            return "done", duration_s, nvm_words
        e_low = self._e_off if e_threshold is None else max(self._e_off, e_threshold)
        forced = False
        full_s, cycles = duration_s, round(duration_s * self.clock_hz)
        words_cut = None
        if self._inject_s is not None:
            left = self._inject_s - self._active_s
            if left < duration_s:
                duration_s, forced = max(left, 0.0), True
        if self._inject_words is not None and nvm_words > 0:
            left = max(self._inject_words - self._words, 0)
            if left < nvm_words:
                # stop at the cycle the ``left``-th word lands: exactly ``left`` persist
                c = cycles_for_words(nvm_words, cycles, left)
                d = full_s * c / cycles if cycles else 0.0
                if d <= duration_s:
                    duration_s, forced, words_cut = d, True, left
        t_target = self.t + duration_s
        reason, dt = self._advance(p_pin_w, t_target, e_low, math.inf, state)
        self._active_s += dt
        if not nvm_words:
            words = 0
        elif reason == cap.STOP_TIME and words_cut is not None:
            words = words_cut
        elif reason == cap.STOP_TIME and not forced:
            words = nvm_words
        else:
            words = min(words_done(nvm_words, cycles, int(dt * self.clock_hz)), nvm_words)
        self._words += words
        self.books.book_load(category, p_pin_w, dt, self.requests.head, pending)
        if reason == cap.STOP_TIME:
            if t_target > self.horizon and self.t >= self.horizon:
                raise _Horizon
            if forced:
                self.counts["injected_failures"] += 1
                return "brownout", dt, words
            return "done", dt, words
        if reason == cap.STOP_LOW and e_threshold is not None and e_threshold > self._e_off:
            return "threshold", dt, words
        return "brownout", dt, words

    # ------------------------------------------------------------------ bookkeeping at events
    def _commit(self):
        """Work since the last commit becomes durable."""
        self.books.commit(self.requests)
        self.counts["commits"] += 1

    def _brownout(self):
        """Work since the last commit is lost, SRAM poisoned; the failure counted."""
        self.books.discard(self.requests)
        self.memory.poison_volatile()
        self.counts["power_failures"] += 1
        self.counts[f"failures_in_{self._state}"] += 1
        if self.requests.head is not None:
            self.requests.req["power_failures"][self.requests.head] += 1
            if self.counts["commits"] == self._commits_at_boot:
                self.counts["wasted_boots"] += 1

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

    def _catch_up(self):
        """After a kernel that ran across arrivals: bring simpy where the Python path's syncs
        would have left it -- its clock at the last of them (``compiled.sim_now``, exactly), the
        arrivals up to ``compiled.sim_arrival`` queued or dropped. The kernel counted those syncs'
        events; these are not counted."""
        env, target = self.env, self.compiled.sim_now
        delay = target - env.now
        while env.now + delay < target:  # the delay that lands exactly on the target
            delay = math.nextafter(delay, math.inf)
        while delay > 0 and env.now + delay > target:
            delay = math.nextafter(delay, -math.inf)
        yield env.timeout(delay)
        # an arrival due exactly then that the syncs processed but simpy scheduled after this
        # timeout: one more step at the same time
        while self.arrival_k < self.compiled.sim_arrival and env.peek() <= env.now:
            yield env.timeout(0)

    def _catch_up_wakes(self):
        """After request cycles taken by the kernel: bring simpy to the last wake-up -- the event of
        arrival ``compiled.sim_arrival - 1``, whose time only the arrivals process's own chain of
        timeouts reaches exactly -- with every arrival up to it processed (settled: without
        effect). Uncounted (the kernel counted the idle timeouts): one timeout to the latest time
        it can reach at or before that event, then the arrivals' own events."""
        env, target, last = self.env, self.compiled.sim_now, self.compiled.sim_arrival
        delay = target - env.now
        while delay > 0 and env.now + delay > target:
            delay = math.nextafter(delay, -math.inf)
        if delay > 0:
            yield env.timeout(delay)
        while self.arrival_k < last:
            # (the arrivals process waits on it too, and was first: it runs, then the device)
            yield self._arrival_proc.target

    def other_event_s(self):
        """The time [s] of the next simpy event that is not the pending arrival (inf: none), or
        None when the pending events are not known to be that arrival and the idle timeout."""
        pending = self._idle_timeouts
        while pending and pending[0][0].processed:
            pending.popleft()
        other = min((ts for ev, ts in pending if not ev.processed), default=math.inf)
        return other if self.env.peek() == min(other, self.pending_arrival()[1]) else None

    def _arrivals(self):
        cap_q = self.setup.workload.queue_capacity
        env, requests = self.env, self.requests
        status, queue = requests.req["status"], requests.queue
        arrivals = self._arrival_list
        k = -1
        while k + 1 < len(arrivals):
            k += 1
            ta = arrivals[k]
            now = env.now
            if ta > now:
                jump = self.wake_jump
                if jump is not None and k < jump[0]:
                    # settled by the request kernel up to arrival jump[0], whose event time jump[1]
                    # the chain of timeouts below would reach: one timeout there when it lands exactly
                    delay = jump[1] - now
                    if delay > 0 and now + delay == jump[1]:
                        k, self.arrival_k, self.arrival_ts = jump[0], jump[0], jump[1]
                        yield env.timeout(delay)
                        continue
                self.arrival_k, self.arrival_ts = k, now + (ta - now)
                yield env.timeout(ta - now)
            if k < self.arrivals_settled:  # a cycle kernel queued or dropped it already
                continue
            if len(queue) + (requests.head is not None) >= cap_q:
                status[k] = "dropped"
                continue
            queue.append(k)
            # delivery happens only when no request is in service (the device is off or idle),
            # so writing the input into NVM now cannot disturb a running task
            requests.deliver(env.now)
            if self.sched is not None:  # powered: the scheduler hears of it (informational)
                self.sched.on_arrival(self.dev)
            if self._idle_wake is not None and not self._idle_wake.triggered:
                self._idle_wake.succeed()
        # (its own end event is scheduled now: pending until processed, see pending_arrival)
        self.arrival_k, self.arrival_ts = len(self.arrivals), self.env.now

    def pending_arrival(self):
        """``(k, ts)``: the arrivals process's pending event -- arrival ``k`` at ``ts`` [s], or
        with ``k`` = the number of arrivals its own end event -- (``ts`` = inf: none)."""
        if self.arrival_k >= len(self.arrivals) and self._arrival_proc.processed:
            return self.arrival_k, math.inf
        return self.arrival_k, self.arrival_ts

    def _device(self):
        st = self.st
        p_boot = self.boot.power_w
        handlers = self._handlers
        while True:
            if not self.ideal:
                t_start = self.t
                reason, dt = self._advance(0.0, self.horizon, -1.0, st.e_on_j, "off")
                yield from self._sync()
                self.requests.span("off_s", t_start, self.t)
                if reason == cap.STOP_TIME:
                    return
            # boot
            self.counts["boots"] += 1
            self._active_s, self._words = 0.0, 0
            self._arm_injection(self.counts["boots"] - 1)
            self._commits_at_boot = self.counts["commits"]
            t_start = self.t
            outcome, dt = self._load(p_boot, self.boot.time_s, "boot", "boot", pending=False)
            yield from self._sync()
            self.requests.span("restore_s", t_start, self.t)
            if outcome != "done":
                self._brownout()
                continue
            self.adc_reading_v = None  # the last reading was volatile
            sched = self.cls(self.plan)
            self.sched = sched
            sched.on_boot(self.dev)
            armed = self.e_threshold is not None
            # (the boot's actions so far: the boot replay and the kernels' request hand-overs read them)
            self.boot_actions = boot_actions = []
            while True:
                action = sched.next_action(self.dev)
                boot_actions.append(action)
                # the handler directly: one generator level less per action on the hot path
                handler = handlers.get(type(action)) or self._handler(action)
                ok, armed = yield from handler(sched, action, armed)
                if not ok:
                    self.sched = None
                    if self._switched_off:  # PowerOff: off until V_on, not a failure
                        self._switched_off = False
                        self.books.discard(self.requests)
                        self.memory.poison_volatile()
                        break
                    self._brownout()
                    if self.compiled.replays_boots:
                        self.compiled.replay_boots(boot_actions)
                        if self.compiled.crossed:  # it ran across arrivals: simpy queues them now
                            yield from self._catch_up()
                    break

    def _arm_injection(self, k):
        """Boot ``k``'s forced brown-out (``Setup.brownout_at[k]``), if any."""
        self._inject_s = self._inject_words = None
        inj = self.setup.brownout_at[k] if k < len(self.setup.brownout_at) else None
        if isinstance(inj, (tuple, list)):
            kind, n = inj
            if kind == "words":
                self._inject_words = int(n)
            elif kind == "cycles":
                self._inject_s = int(n) / self.clock_hz
            else:
                raise ValueError(f"brownout_at entry {inj!r}: kind must be 'cycles' or 'words'")
        elif inj is not None and inj >= 0:
            self._inject_s = inj / self.clock_hz

    def _execute(self, sched, action, armed):
        """Carry out one action (dispatched on its type). Returns (still powered, comparator armed)."""
        return (yield from self._handler(action)(sched, action, armed))

    def _handler(self, action):
        """The handler of ``action``'s type (a subclass of an action is handled as its base)."""
        handler = self._handlers.get(type(action))
        if handler is None:
            handler = next((h for kind, h in self._handlers.items() if isinstance(action, kind)), None)
            if handler is None:
                raise SchedulerError(f"scheduler {self.cls.name!r} returned {action!r}, not an action "
                                     f"({', '.join(kind.__name__ for kind in self._handlers)})")
        return handler

    def _do_run(self, sched, action, armed):
        if isinstance(action, RunTask):
            first, stop = action.index, action.index + 1
        else:
            first, stop = action.start, action.stop
        if not 0 <= first < stop <= len(self.setup.tasks):
            raise SchedulerError(f"scheduler {self.cls.name!r}: {action!r} outside tasks 0..{len(self.setup.tasks)}")
        ok, armed, fired = yield from self.runner.run(first, stop, action.resume_cycles, armed)
        if fired is not None:
            sched.on_threshold(self.dev, *fired)
        return ok, armed

    def _do_copy(self, sched, action, armed):
        src, cost, restore, nvm_words = self.taskmem.copy_spec(action)
        data = src.copy()
        outcome, dt, words = self._load_nvm(cost.power_w, cost.time_s, "restore" if restore else "checkpoint",
                                            "restore" if restore else "preserve", pending=not restore,
                                            nvm_words=nvm_words)
        if restore:
            self.requests.time("restore_s", dt)
        if outcome == "done":
            self.taskmem.write_raw(action.dst, data)
        else:
            self.taskmem.write_raw(action.dst, data, words=words)
        yield from self._sync()
        if outcome == "done" and restore:
            self.counts["restores"] += 1
        return outcome == "done", armed

    def _do_write_words(self, sched, action, armed):
        n = len(action.words)
        outcome, dt, done_words = self._load_nvm(self._word_p, n * self._word_t, "checkpoint", "preserve",
                                                 pending=True, nvm_words=n)
        for name, value in action.words[:done_words]:
            self.memory.write_word(name, int(value))
        yield from self._sync()
        if outcome == "done" and action.commits:
            self._commit()
            if any(name == CHECKPOINT_FLAG for name, _ in action.words):
                self.counts["checkpoints"] += 1
        return outcome == "done", armed

    def _do_sleep(self, sched, action, armed):
        e_target = cap.energy_j(self.st.capacitance_f, action.until_v)
        if self.ideal:
            yield from self._sync()
            return True, armed
        p_sleep = self.setup.platform.sleep_power_w
        reason, dt = self._advance(p_sleep, self.horizon, self._e_off, e_target, "sleep")
        self.books.book_load("sleep", p_sleep, dt, self.requests.head)
        self.requests.time("off_s", dt)
        yield from self._sync()
        if reason == cap.STOP_TIME:
            raise _Horizon
        if reason == cap.STOP_HIGH:
            return True, self.e_threshold is not None
        return False, armed

    def _do_read_voltage(self, sched, action, armed):
        plat = self.setup.platform
        outcome, dt = self._load(plat.adc_power_w, plat.adc_time_s, "compute", "compute", pending=True)
        yield from self._sync()
        if outcome != "done":
            return False, armed
        self.adc_reading_v = self._terminal_voltage_v(plat.adc_power_w)
        return True, armed

    def _do_done(self, sched, action, armed):
        outcome, dt = self._load(self._word_p, self._word_t, "checkpoint",
                                 "preserve", pending=True, nvm_words=1)
        yield from self._sync()
        if outcome != "done":
            return False, armed
        self.memory.write_word(DONE_SEQ_WORD, self.memory.read_word(REQUEST_SEQ_WORD))
        self._commit()
        self.requests.complete(self.t, self.memory.view(self.result_buffer))
        return True, armed

    def _do_power_off(self, sched, action, armed):
        self._switched_off = not self.ideal  # (the ideal supply never switches off)
        yield from self._sync()
        return self.ideal, armed

    def _do_idle(self, sched, action, armed):
        # whole request cycles (idle, wake, the request's actions, Done) in one kernel call
        if self.compiled.requests_ok and self.compiled.request_cycles(armed):
            yield from self._catch_up_wakes()
            return True, armed
        ok = yield from self._idle()
        return ok, armed

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
                    and self.e - self.runner.base(first, stop).e_pin_run / self._eta_out <= self.e_threshold):
                first, resume = self.compiled.fast_checkpoints(action.start, stop, first, resume, action.until_v)
                if self.compiled.crossed:  # it ran across arrivals: simpy queues them now
                    yield from self._catch_up()
                if first == stop:  # the kernel completed the run
                    if not self.compiled.synced:  # (else the kernel counted the run's sync)
                        yield from self._sync()
                    return True, armed
            ok, armed, fired = yield from self.runner.run(first, stop, resume, armed)
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

    def _idle(self):
        """Sleep until an arrival wakes the device; returns False on a brown-out."""
        if self.requests.queue and self.requests.head is None:
            self.requests.deliver(self.t)
            return True
        p = self.setup.platform.sleep_power_w
        wake = self.env.event()
        self._idle_wake = wake
        try:
            if self.ideal:
                t_from = self.t
                yield wake
                self.t = self.env.now
                if self.timeline.record and self.t > t_from:
                    self.timeline.ideal_segment(t_from, self.t, "idle", p)
                self.books.book_load("sleep", p, self.t - t_from, self.requests.head)
                self.events += 1
                return True
            # predict the sleep up to the next scheduled arrival (or the horizon); another process
            # may still wake the device earlier, then the interval is redone up to that moment
            now = self.env.now
            k = bisect.bisect_right(self._arrival_list, now)
            t_next = min(self._arrival_list[k], self.horizon) if k < len(self._arrival_list) else self.horizon
            saved = (self.t, self.e, self.books.cap.copy(), self.timeline.n_seg, len(self.timeline.meta))
            reason, dt = self._advance(p, t_next, self._e_off, math.inf, "idle")
            timeout = self.env.timeout(self.t - now)
            idle = self._idle_timeouts
            while idle and idle[0][0].processed:  # (kept: only those that may still be pending)
                idle.popleft()
            idle.append((timeout, now + (self.t - now)))
            self.events += 1
            yield wake | timeout
            if reason == cap.STOP_TIME and self.t < self.horizon and not wake.triggered:
                yield wake  # the arrival due now has not been processed yet
                self.books.book_load("sleep", p, dt, self.requests.head)
                return True
            if wake.triggered and self.env.now < self.t:
                # woken before the predicted end: redo the interval up to the wake time
                self.t, self.e, books, self.timeline.n_seg, n_meta = saved
                self.books.cap[:] = books
                del self.timeline.meta[n_meta:]
                reason, dt = self._advance(p, self.env.now, self._e_off, math.inf, "idle")
                self.books.book_load("sleep", p, dt, self.requests.head)
                return True
            self.books.book_load("sleep", p, dt, self.requests.head)
            if reason == cap.STOP_TIME and not wake.triggered:
                raise _Horizon
            return reason != cap.STOP_LOW
        finally:
            self._idle_wake = None

    # ------------------------------------------------------------------ run
    def run(self) -> RunResult:
        found = precheck(self.setup, self.memory, self.cls, self.plan, self.boot, self.general)
        if found is None:
            self.env = simpy.Environment(initial_time=self.t)
            self._arrival_proc = self.env.process(self._arrivals())
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
            self.verdict, self.verdict_detail = found
        return self._result()

    def _guarded(self, gen):
        try:
            yield from gen
        except (_Horizon, _Stop):
            return

    def _result(self) -> RunResult:
        # leftover pending work at the horizon was neither kept nor discarded by a failure
        self.books.commit(self.requests)
        books = self.books.totals(0.0 if self.ideal else self.e - self.e_initial)
        if self.verdict == "ok" and not np.any(self.requests.req["status"] == "done"):
            self.verdict = "starved"
            self.verdict_detail = (f"no request completed before the horizon t = {self.horizon:.6g} s "
                                   f"({self.counts['power_failures']} power failures)")
        return RunResult(self.cls.name, self.verdict, self.verdict_detail, self.requests.req, books,
                         dict(self.counts), self.timeline.columns(self.st.capacitance_f), self.events,
                         self.horizon, self.e_initial, dict(self.compiled.taken))
