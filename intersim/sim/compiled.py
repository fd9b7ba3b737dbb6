"""The Python side of the compiled power cycles (:mod:`intersim.sim.power_cycles`).

At a small capacitor a scheduler repeats one short cycle many thousand times an hour. The kernels
take such cycles many at a time, each carrying out exactly the capacitor advances and the
floating-point book-keeping of the Python path in the same order, and stop *before* the first
cycle that would end differently (it is then stepped in Python):

- :meth:`CompiledCycles.fast_checkpoints`: the comparator -> checkpoint -> sleep -> resume cycles
  of a :class:`~intersim.sched.contract.CheckpointedRun`, and, with a request queued behind the
  one in service, the request boundaries too (result copy, ``Done``, the next request handed
  over and its run: :meth:`CompiledCycles._handover_copy`, :meth:`CompiledCycles._handed_over`);
- :meth:`CompiledCycles.replay_boots`: after a brown-out inside a run, the identical boots that
  follow (off, boot, the sleeps, the run cut by V_off), for NVM-determined schedulers;
- :meth:`CompiledCycles.request_cycles`: at an ``Idle`` with nothing queued, the whole request
  cycles that follow (the idle sleep to the next arrival, the wake-up, the request's actions as
  the previous request's, ``Done``), for NVM-determined schedulers.

This object is the engine's collaborator for them: it hands the kernels the engine's state (the
capacitor, the books, the request's times, the timeline) and writes back what they advanced.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..energy import capacitor as cap
from ..hw.memory import SRAM, words_done
from ..errors import SchedulerError
from ..sched.contract import (
    CHECKPOINT_FLAG, CHECKPOINT_WORDS, DONE_SEQ_WORD, checkpoint_buffer, REQUEST_SEQ_WORD, SRAM_IMAGE, CheckpointedRun,
    Copy, Done, Idle, RunTask, RunTasks, Sleep, WriteWords, task_nvm_regions, writes_into,
)
from . import power_cycles as cycles
from . import task_runs as runner


class CheckpointCycles(NamedTuple):
    """What :func:`~intersim.sim.power_cycles._checkpoint_cycles` returns, named."""

    t: float            #: time after the cycles taken [s]
    e: float            #: stored energy then [J]
    n: int              #: checkpoint cycles taken
    i_next: int         #: the run's task the next cycle starts at (relative to the run)
    resume_next: int    #: cycles of it already done
    flag_next: int      #: the checkpoint flag word after them
    completed: bool     #: the last cycle ran the rest of the run
    x_done: float       #: that cycle's pending pin energy [J]
    t_done: float       #: and its time [s]
    n_seg: int          #: timeline segments after them
    n_meta: int         #: kernel action records written


#: most request boundaries one checkpoint-kernel call takes (the size of its per-request records).
#: [EST] 1024: bounds the records (40 kB), not the results -- a call that reaches it ends where that
#: request's run completed and the engine goes on as after any completed run; the dense hour's
#: 9,294 requests then take about ten calls, whose fixed cost is negligible beside 1024 requests
HANDOVERS_PER_CALL = 1024
#: most request cycles one request-kernel call takes (the size of its per-request records).
#: [EST] 4096: bounds the records (128 kB), not the results -- a call that reaches it ends after
#: that request's Done and the next Idle calls the kernel again; bench_day's ~4,900 requests then
#: take a few calls, whose fixed cost is negligible beside thousands of requests
REQUESTS_PER_CALL = 4096


class CompiledCycles:
    """Runs of identical power cycles taken in one kernel call, for one engine.

    Parameters
    ----------
    eng : intersim.sim.engine.Engine  the engine whose cycles these are
    replays_boots : bool  boots may be replayed (the class declares ``nvm_determined``)
    """

    def __init__(self, eng, replays_boots: bool):
        self.eng = eng
        self.replays_boots = replays_boots
        #: power cycles taken by the kernels, by kind -- a diagnostic: the results are the same without
        #: ("arrivals": the arrivals they ran across; "handovers": the request boundaries taken)
        self.taken = {"checkpoint": 0, "boot": 0, "arrivals": 0}
        self._hazard_free = {}      # (first, stop) -> the run reads nothing it or a later task writes
        self._e_prefix = {}         # (first, stop, resume) -> pin energies of its first k tasks
        self._cycle_acc = np.zeros((cycles.N_ACC, 2))
        self._acc_flat = self._cycle_acc.reshape(-1)  # a view
        self._copy_spec = None
        self._cycle_words = np.zeros(1, np.int64)
        self._cycle_slots = np.zeros((2, 2), np.int64)  # rows: task, cycles of each slot's last checkpoint
        self._cycle_scratch = np.zeros(len(eng.setup.tasks) + 64)
        self._sleep_targets = {}    # until_v -> its energy [J]
        #: the last fast_checkpoints call counted the syncs itself (it ran across arrivals) ...
        self.synced = False
        #: ... and some of them found an arrival due (simpy has to catch up)
        self.crossed = False
        self._ev = np.zeros(2, np.int64)    # (events counted, index of the pending arrival)
        self._ev_ts = np.zeros(2)           # its event time [s]; simpy's clock [s]
        self._no_arrivals = np.zeros(0)
        # request hand-overs inside the checkpoint kernel (see _handover_copy)
        self.handovers_ok = bool(eng.cls.__dict__.get("nvm_determined", False))
        self._ho = np.zeros(cycles.N_HO, np.int64)
        self._ho_f = np.zeros(3)
        cap = eng.setup.workload.queue_capacity
        self._queue = np.zeros(max(1, min(cap, eng.arrivals.size + 1)), np.int64)
        self._fate = np.zeros(eng.arrivals.size, np.int8)
        self._ho_out = np.zeros((HANDOVERS_PER_CALL, cycles.N_HO_OUT))
        self._ho_req = np.zeros(HANDOVERS_PER_CALL, np.int64)
        self._slot_req = np.zeros(2, np.int64)
        #: request boundaries the checkpoint kernel took (a diagnostic)
        self.taken["handovers"] = 0
        # whole request cycles of an idle device (idle, wake, the request's actions, Done: see
        # request_cycles): the class declares nvm_determined, a quiet scheduler, the linear power
        # path, no failure injection
        self.requests_ok = (self.handovers_ok and eng.fast_cycles and eng.quiet_arrivals and not eng.ideal
                            and not eng.general and not eng.setup.brownout_at)
        self._templates = {}        # shape of a request's actions -> the kernel's step arrays
        self._rq_out = np.zeros((REQUESTS_PER_CALL, cycles.N_RQ_OUT))
        self._rq_req = np.zeros(REQUESTS_PER_CALL, np.int64)
        #: whole request cycles the request kernel took (a diagnostic)
        self.taken["requests"] = 0

    def _arrival_args(self):
        """``(t_event, arrival times)`` for a cycle kernel: arrivals only queue or drop while a
        request is in service, so with a scheduler that does not listen to them (the contract's
        ``on_arrival``) the kernel runs across them up to the next other simpy event ``t_event``
        [s], counting the events the Python path's syncs would schedule
        (:func:`~intersim.sim.power_cycles._sync_arrivals`); otherwise it stops before the next
        event of any kind (no arrival times)."""
        eng = self.eng
        self.synced = self.crossed = False
        other = eng.other_event_s() if eng.quiet_arrivals else None
        ev, ev_ts = self._ev, self._ev_ts
        if other is None:
            ev[:] = 0
            ev_ts[0] = math.inf
            return eng.env.peek(), self._no_arrivals
        ev[0], (ev[1], ev_ts[0]) = 0, eng.pending_arrival()
        ev_ts[1] = eng.env.now
        return other, eng.arrivals

    def _count_arrivals(self, arr_t):
        """After a kernel call that took cycles: the events it counted, the arrivals it ran across."""
        eng = self.eng
        self.synced = arr_t is eng.arrivals
        if self.synced:
            self.crossed = bool(self._ev[0])
            eng.events += int(self._ev[0])
            n = eng.arrivals.size
            self.taken["arrivals"] += min(int(self._ev[1]), n) - min(eng.arrival_k, n)
            #: where simpy's clock and the arrivals process are after the syncs the kernel counted
            self.sim_now, self.sim_arrival = float(self._ev_ts[1]), int(self._ev[1])
        eng._stalled = 0

    def replay_boots(self, actions):
        """After a brown-out inside a run: if the boot that just ended was sleeps then that run,
        the next boots will repeat it as long as each is cut inside the run again (the class
        declared its decisions NVM-determined; the run's own writes never change what it reads).
        Take those cycles in one kernel call (:func:`intersim.sim.power_cycles._boot_cycles`) and apply
        their effects: books, counts, the request's times, and the memory of the cycle that got
        furthest (its writes contain every other's, with the same values)."""
        eng = self.eng
        self.synced = self.crossed = False
        run = actions[-1]
        if (eng.general or eng.e_threshold is not None or eng.requests.head is None or eng._state != "compute"
                or not isinstance(run, (RunTasks, RunTask))
                or not all(isinstance(a, Sleep) for a in actions[:-1])):
            return
        first, stop = (run.index, run.index + 1) if isinstance(run, RunTask) else (run.start, run.stop)
        resume = run.resume_cycles
        t_event, arr_t = self._arrival_args()
        if t_event <= eng.t or not self.hazard_free(first, stop):
            return
        base = eng.runner.base(first, stop)
        cycles_, p_pin, dur, words, loads, seg_end = base.cycles, base.p_pin, base.dur, base.words, base.loads, base.seg_end
        if resume:
            dur, words = runner.resumed(cycles_, dur, words, resume, eng.clock_hz)
        key = (first, stop, resume)
        e_prefix = self._e_prefix.get(key)
        if e_prefix is None:
            e_prefix = self._e_prefix[key] = np.array(
                [0.0] + [math.fsum(p_pin[:k] * dur[:k]) for k in range(1, stop - first + 1)])
        c = eng.st.capacitance_f
        targets = np.array([cap.energy_j(c, a.until_v) for a in actions[:-1]], np.float64)
        acc = self._cycle_acc
        h = eng.requests.head
        for k, total in ((cycles.ACC_OUTPUT_LOSS, eng.books.output_loss), (cycles.ACC_BOOT, eng.books.load["boot"]),
                         (cycles.ACC_SLEEP, eng.books.load["sleep"]),
                         (cycles.ACC_REEXECUTION, eng.books.load["reexecution"])):
            acc[k] = total.s, total.c
        for k, column in ((cycles.ACC_REQ_OFF, "off_s"), (cycles.ACC_REQ_RESTORE, "restore_s"),
                          (cycles.ACC_REQ_REEXEC, "reexecution_s")):
            acc[k, 0] = eng.requests.req[column][h]
        acc[cycles.ACC_ACTIVE, 0] = eng._active_s
        counts = np.array([-1, -1, 0, eng._words], np.int64)
        boot_pin = eng.boot.power_w
        n_seg0 = eng.timeline.n_seg
        t, e, n, n_seg, n_meta = cycles._boot_cycles(
            eng.tr_t, eng.tr_p, eng.tr_first, eng.tr_period, eng.tr_loop,
            eng._eta_in, eng._leak_b, eng._e_max, eng.t, eng.e, eng.books.cap, *eng.timeline.kernel_args(eng.min_sample_s),
            eng.st.e_on_j, eng._e_off, eng._eta_out, boot_pin, eng.boot.time_s,
            eng.setup.platform.sleep_power_w, targets, loads, p_pin, dur, words, e_prefix, int(resume),
            float(eng.clock_hz), eng.horizon, t_event, arr_t, self._ev, self._ev_ts,
            float(eng.requests.req["service_s"][h]), 10_000_000,
            acc, counts, seg_end)
        if n == 0:
            return
        self._count_arrivals(arr_t)
        self.taken["boot"] += n
        eng.t, eng.e, eng.timeline.n_seg = t, e, n_seg
        if n_meta:
            eng.timeline.record_kernel_actions(n_seg0, n_meta, p_pin, {
                cycles.CODE_OFF: ("off", 0.0), cycles.CODE_BOOT: ("boot", boot_pin),
                cycles.CODE_SLEEP: ("sleep", eng.setup.platform.sleep_power_w)})
        values = acc.tolist()  # Python floats, as the books hold
        for k, total in ((cycles.ACC_OUTPUT_LOSS, eng.books.output_loss), (cycles.ACC_BOOT, eng.books.load["boot"]),
                         (cycles.ACC_SLEEP, eng.books.load["sleep"]),
                         (cycles.ACC_REEXECUTION, eng.books.load["reexecution"])):
            total.s, total.c = values[k]
        for k, column in ((cycles.ACC_REQ_OFF, "off_s"), (cycles.ACC_REQ_RESTORE, "restore_s"),
                          (cycles.ACC_REQ_REEXEC, "reexecution_s")):
            eng.requests.req[column][h] = values[k][0]
        eng._active_s = values[cycles.ACC_ACTIVE][0]
        eng._words = int(counts[cycles.CNT_WORDS])
        for name in ("boots", "power_failures", "failures_in_compute", "wasted_boots"):
            eng.counts[name] += n
        eng.counts["reexecuted_cycles"] += int(counts[cycles.CNT_REEXECUTED])
        eng.requests.req["power_failures"][h] += n
        # memory: the furthest cycle's writes, then the brown-out that ended it
        k_max, done_max = int(counts[cycles.CNT_MAX_TASK]), int(counts[cycles.CNT_MAX_CYCLES])
        eng.taskmem.compute_tasks(first, first + k_max)
        eng.taskmem.compute_task(first + k_max, words=words_done(int(eng.task_words[first + k_max]),
                                                                 int(cycles_[k_max]), done_max))
        eng.memory.poison_volatile()

    def fast_checkpoints(self, start, stop, task, resume, until_v):
        """Take the normal checkpoint cycles of the run ``start..stop-1``, now at task ``task`` with
        ``resume`` [cycles] of it done, in one kernel call, up to the first cycle that would end
        otherwise, and apply their effects (books, counts, the request's times, the tasks that
        completed, the two slots and the flag). Returns the position ``(task, cycles)`` the next
        cycle starts from."""
        eng = self.eng
        self.synced = self.crossed = False
        if (eng.ideal or eng.general or eng.books.pending or eng.requests.head is None
                or eng._inject_s is not None or eng._inject_words is not None
                or eng.e_threshold <= eng._e_off):
            return task, resume
        t_event, arr_t = self._arrival_args()
        if t_event <= eng.t:
            return task, resume
        if self._copy_spec is None:  # the checkpoint's image copy (the same cost into either slot)
            self._copy_spec = eng.taskmem.copy_spec(Copy(SRAM_IMAGE, checkpoint_buffer(0)))
        _, copy_cost, _, copy_words = self._copy_spec
        base = eng.runner.base(start, stop)
        cycles_, p_pin, words_, loads = base.cycles, base.p_pin, base.words, base.loads
        flag = eng.memory.read_word(CHECKPOINT_FLAG)
        h = eng.requests.head
        req = eng.requests.req
        books = eng.books.load
        acc = self._cycle_acc
        self._acc_flat[:2 * (cycles.ACC_ACTIVE + 1)] = (  # (one flat list: cheaper than nested tuples)
            eng.books.output_loss.s, eng.books.output_loss.c, books["compute"].s, books["compute"].c,
            books["checkpoint"].s, books["checkpoint"].c, books["sleep"].s, books["sleep"].c,
            req["compute_s"][h], 0.0, req["preserve_s"][h], 0.0, req["off_s"][h], 0.0, eng._active_s, 0.0)
        words = self._cycle_words
        words[0] = eng._words
        slot_task, slot_cycles = self._cycle_slots
        e_target = self._sleep_targets.get(until_v)
        if e_target is None:
            e_target = self._sleep_targets[until_v] = cap.energy_j(eng.st.capacitance_f, until_v)
        n_seg0 = eng.timeline.n_seg
        out = CheckpointCycles(*cycles._checkpoint_cycles(
            eng.tr_t, eng.tr_p, eng.tr_first, eng.tr_period, eng.tr_loop,
            eng._eta_in, eng._leak_b, eng._e_max, eng.t, eng.e, eng.books.cap, *eng.timeline.kernel_args(eng.min_sample_s),
            cycles_, p_pin, loads, words_, task - start, int(resume), float(eng.clock_hz),
            eng._eta_out, eng.e_threshold, eng._e_off, e_target,
            eng.horizon, t_event, arr_t, self._ev, self._ev_ts, eng.suspends_task,
            copy_cost.time_s, copy_cost.power_w, int(copy_words),
            eng._word_t, eng._word_p, eng.setup.platform.sleep_power_w, int(flag), 10_000_000,
            acc, words, slot_task, slot_cycles, self._cycle_scratch,
            self._handover_args(start, stop, until_v, arr_t, base), self._ho_f, self._queue, self._fate,
            self._ho_out, self._ho_req, self._slot_req))
        m = int(self._ho[cycles.HO_N])
        if out.n == 0 and not out.completed and m == 0:
            return task, resume
        self._count_arrivals(arr_t)
        self.taken["checkpoint"] += out.n
        head0 = eng.requests.head
        if m:
            self._settle_arrivals(m)
        self._write_back(out, n_seg0, p_pin, copy_cost)
        if m:
            return self._handed_over(out, m, head0, start, stop, task, until_v)
        return self._apply_memory(out, start, stop, task)

    def _handover_copy(self, start, stop, until_v, arr_t):
        """The result copy the kernel may replay at request boundaries, or None.

        The checkpoint kernel may take a request boundary itself (the result copy, ``Done``, the
        next queued request handed over, its run started: :func:`~intersim.sim.power_cycles._handover`)
        when the scheduler class itself declares ``nvm_determined``, the run is a whole request's
        (tasks ``0..n``), the kernel runs across arrivals (it settles them: queued or dropped), and
        the boundary before this run went exactly so in this boot:
        ``Copy`` (not a restore), ``Done``, then this ``CheckpointedRun(0, n, ...)``. Afterwards
        the scheduler is asked at every boundary the kernel took and must answer the same
        (:meth:`_handed_over`)."""
        eng = self.eng
        if (not self.handovers_ok or arr_t is not eng.arrivals or start != 0
                or stop != len(eng.setup.tasks)):
            return None
        acts = eng.boot_actions
        if len(acts) < 3 or type(acts[-2]) is not Done or type(acts[-3]) is not Copy:
            return None
        run = acts[-1]
        if not (type(run) is CheckpointedRun and run.start == 0 and run.stop == stop and run.until_v == until_v):
            return None
        copy = acts[-3]
        if eng.taskmem.copy_spec(copy)[2]:  # (a restore is not a result copy)
            return None
        return copy

    def _handover_args(self, start, stop, until_v, arr_t, base):
        """The kernel's hand-over state (``ho``; ``_ho_f``, ``_queue`` filled): hand-overs allowed
        only where :meth:`_handover_copy` finds the boundary."""
        eng = self.eng
        ho = self._ho
        ho[:] = 0
        copy = self._handover_copy(start, stop, until_v, arr_t)
        self._copy_action = copy
        if copy is None:
            return ho
        _, cost, _, words = eng.taskmem.copy_spec(copy)
        queue = eng.requests.queue
        if len(queue) > self._queue.size:
            return ho
        self._queue[:len(queue)] = list(queue)
        ho[cycles.HO_MAX] = HANDOVERS_PER_CALL
        ho[cycles.HO_QLEN] = len(queue)
        ho[cycles.HO_QCAP] = eng.setup.workload.queue_capacity
        ho[cycles.HO_SETTLED] = self._ev[1]
        ho[cycles.HO_RES_WORDS] = words
        self._ho_f[:] = (cost.time_s, cost.power_w, base.e_pin_run)
        self._settled0 = int(self._ev[1])
        return ho

    def _settle_arrivals(self, m):
        """After a kernel call that handed ``m`` requests over: the arrivals it settled (dropped
        ones marked, the queue as it left it; simpy processes their events without effect)."""
        eng = self.eng
        ho = self._ho
        settled = int(ho[cycles.HO_SETTLED])
        fate = self._fate[self._settled0:settled]
        dropped = np.flatnonzero(fate == cycles.FATE_DROPPED) + self._settled0
        eng.requests.req["status"][dropped] = "dropped"
        eng.arrivals_settled = settled
        q0, qlen, size = int(ho[cycles.HO_Q0]), int(ho[cycles.HO_QLEN]), self._queue.size
        eng.requests.queue.clear()
        eng.requests.queue.extend(int(self._queue[(q0 + j) % size]) for j in range(qlen))
        eng.requests.head = int(self._ho_req[m - 1])

    def _handed_over(self, out, m, head0, start, stop, task, until_v):
        """The memory and the requests of a kernel call that took ``m`` request boundaries, in the
        order they happened: per request, the tasks (each slot's last checkpoint of the call where
        it was taken), the result copy, ``Done`` (its word, the request's columns, ``correct`` from
        the result it left), the next request handed over; the scheduler asked at each boundary
        (it must answer as at the boundary the kernel replayed). Returns the position ``(task,
        cycles)`` of the request now in service."""
        eng = self.eng
        mem, taskmem, requests = eng.memory, eng.taskmem, eng.requests
        req = requests.req
        sched, dev = eng.sched, eng.dev
        copy = self._copy_action
        src = taskmem.copy_spec(copy)[0]
        result = mem.view(eng.result_buffer)
        run = CheckpointedRun(0, stop, 0, until_v)
        slot_task, slot_cycles = self._cycle_slots
        slot_req = self._slot_req
        last = out.flag_next & 1
        order = () if out.n == 0 else (last,) if out.n == 1 else (1 - last, last)
        final_head = requests.head
        final_queue = list(requests.queue)
        requests.queue.clear()  # (complete() hands over nothing: the kernel did)
        requests.head = head0
        ho_out, ho_req = self._ho_out, self._ho_req
        acts = eng.boot_actions
        done = task
        h = head0
        for q in range(m + 1):
            if q:
                h = int(ho_req[q - 1])
                requests.hand_over(h, float(ho_out[q - 1, cycles.HO_DONE_T]))
                answer = sched.next_action(dev)
                self._check_answer(answer, run, q)
                acts.append(answer)
                done = 0
            seq = mem.read_word(REQUEST_SEQ_WORD)
            for s in order:
                if int(slot_req[s]) != q:
                    continue
                upto = start + int(slot_task[s])
                taskmem.compute_tasks(done, upto)
                done = upto
                mem.raw(checkpoint_buffer(s))[:] = mem.arena[SRAM]
                c = int(slot_cycles[s])
                for w, v in zip(CHECKPOINT_WORDS, (seq, upto, c & 0xFFFF, (c >> 16) & 0xFFFF)):
                    mem.write_word(checkpoint_buffer(s, w), v)
            if q == m:
                break
            if done == 0:  # a whole request's run (stop is the last task): one memo entry per input
                taskmem.compute_run()
            else:
                taskmem.compute_tasks(done, stop)
            for expected in (copy, Done()):
                answer = sched.next_action(dev)
                self._check_answer(answer, expected, q)
                acts.append(answer)
            taskmem.write_raw(copy.dst, src.copy())
            mem.write_word(DONE_SEQ_WORD, seq)
            row = ho_out[q]
            req["compute_s"][h] = row[cycles.HO_COMPUTE]
            req["preserve_s"][h] = row[cycles.HO_PRESERVE]
            req["off_s"][h] = row[cycles.HO_OFF]
            requests.complete(float(row[cycles.HO_DONE_T]), result)
        requests.queue.extend(final_queue)
        assert requests.head == final_head
        if out.n:
            mem.write_word(CHECKPOINT_FLAG, out.flag_next)
        eng.counts["commits"] += m
        self.taken["handovers"] += m
        if out.completed:
            eng.books.pending.append(("compute", out.x_done, out.t_done, requests.head))
            taskmem.compute_tasks(done, stop)
            return stop, 0
        return start + int(out.i_next), int(out.resume_next)

    def _request_template(self, armed):
        """The actions of the request before this ``Idle`` in this boot, as the request kernel's
        steps, or None when they are not ones it replays: exactly one whole run of every task
        (``RunTasks``/``RunTask`` from task 0, or ``CheckpointedRun(0, n, 0, v)``), result copies
        (``Copy``, not a restore), ``WriteWords`` not naming the checkpoint flag, ending with
        ``Done``. Returns ``(actions, steps)``."""
        eng = self.eng
        acts = eng.boot_actions
        p = len(acts) - 2
        while p >= 0 and type(acts[p]) is not Idle:
            p -= 1
        if p < 0:
            return None
        tmpl = acts[p + 1:-1]
        n = len(eng.setup.tasks)
        shape = []
        for a in tmpl:
            kind = type(a)
            if kind is RunTasks or kind is RunTask:
                first, stop = (a.index, a.index + 1) if kind is RunTask else (a.start, a.stop)
                if first != 0 or stop != n or a.resume_cycles:
                    return None
                shape.append(("run", False))
            elif kind is CheckpointedRun:
                if a.start != 0 or a.stop != n or a.resume_cycles:
                    return None
                shape.append(("run", True))
            elif kind is WriteWords:
                if any(name == CHECKPOINT_FLAG for name, _ in a.words):
                    return None
                shape.append(("words", len(a.words), bool(a.commits)))
            elif kind is Copy:
                if eng.taskmem.copy_spec(a)[2]:  # (a restore)
                    return None
                shape.append(("copy", a.src, a.dst))
            elif kind is Done:
                shape.append(("done",))
            else:
                return None
        if not shape or shape[-1] != ("done",) or sum(k[0] == "run" for k in shape) != 1 or \
                len(shape) > cycles.MAX_STEPS or ("done",) in shape[:-1]:
            return None
        key = (tuple(shape), armed)
        steps = self._templates.get(key)
        if steps is None:
            steps = self._templates[key] = self._steps(tmpl, shape, armed)
        return tmpl, steps

    def _steps(self, tmpl, shape, armed):
        """The request kernel's step arrays for the actions ``tmpl`` (of ``shape``)."""
        eng = self.eng
        ns = len(shape)
        kind = np.zeros(ns, np.int64)
        p = np.zeros(ns)
        dur = np.zeros(ns)
        words = np.zeros(ns, np.int64)
        cat = np.full(ns, cycles.ACC_CHECKPOINT, np.int64)
        commit = np.zeros(ns, np.int64)
        guard = np.zeros(ns, np.int64)
        for s, (a, sh) in enumerate(zip(tmpl, shape)):
            if sh[0] == "run":
                kind[s] = cycles.STEP_RUN
                cat[s] = cycles.ACC_COMPUTE
                # (a CheckpointedRun goes to the checkpoint kernel where the comparator may fire)
                guard[s] = sh[1] and armed
            elif sh[0] == "words":
                kind[s], p[s], dur[s], words[s], commit[s] = (cycles.STEP_LOAD, eng._word_p, sh[1] * eng._word_t,
                                                              sh[1], sh[2])
            elif sh[0] == "copy":
                _, cost, _, nw = eng.taskmem.copy_spec(a)
                kind[s], p[s], dur[s], words[s] = cycles.STEP_LOAD, cost.power_w, cost.time_s, nw
            else:
                kind[s], p[s], dur[s], words[s], commit[s] = cycles.STEP_DONE, eng._word_p, eng._word_t, 1, 1
        e_low = eng._e_off
        if armed and eng.e_threshold is not None:
            e_low = max(e_low, eng.e_threshold)
        return kind, p, dur, words, cat, commit, guard, e_low

    def request_cycles(self, armed):
        """At an ``Idle`` with nothing queued: take the whole request cycles that follow -- the idle
        sleep to the next arrival, its wake-up, the request's actions as the previous request's in
        this boot (:meth:`_request_template`), ``Done`` -- in one kernel call
        (:func:`~intersim.sim.power_cycles._request_cycles`), up to the first that would go
        otherwise, and apply them per request in order: the hand-over, the scheduler asked at every
        action (it must answer as before: the same action, or ``WriteWords`` of the same names),
        the memory (the run from one memo entry per input, the answers' words, the result copy,
        ``done_seq``), the request's columns and its completion. Returns the cycles taken; the
        caller brings simpy to ``sim_now`` (:meth:`Engine._catch_up`)."""
        eng = self.eng
        self.synced = self.crossed = False
        requests = eng.requests
        if (requests.head is not None or requests.queue or eng.books.pending
                or eng._inject_s is not None or eng._inject_words is not None):
            return 0
        found = self._request_template(armed)
        if found is None or eng.other_event_s() != math.inf:
            return 0
        tmpl, (kind, p, dur, words_, cat, commit, guard, e_low) = found
        n = len(eng.setup.tasks)
        base = eng.runner.base(0, n)
        ev, ev_ts = self._ev, self._ev_ts
        ev[0], (ev[1], ev_ts[0]) = 0, eng.pending_arrival()
        ev_ts[1] = eng.env.now
        books = eng.books.load
        acc = self._cycle_acc
        self._acc_flat[:2 * (cycles.ACC_ACTIVE + 1)] = (
            eng.books.output_loss.s, eng.books.output_loss.c, books["compute"].s, books["compute"].c,
            books["checkpoint"].s, books["checkpoint"].c, books["sleep"].s, books["sleep"].c,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, eng._active_s, 0.0)
        words = self._cycle_words
        words[0] = eng._words
        e_thr = eng.e_threshold if eng.e_threshold is not None else -math.inf
        timeline = eng.timeline
        n_seg0 = timeline.n_seg
        t, e, m, n_seg, n_meta = cycles._request_cycles(
            eng.tr_t, eng.tr_p, eng.tr_first, eng.tr_period, eng.tr_loop,
            eng._eta_in, eng._leak_b, eng._e_max, eng.t, eng.e, eng.books.cap,
            *timeline.kernel_args(eng.min_sample_s), eng._eta_out, eng._e_off, eng.horizon, eng.arrivals, ev, ev_ts, eng.setup.platform.sleep_power_w,
            kind, p, dur, words_, cat, commit, guard,
            base.loads, base.dur, base.e_pin_run, base.words_run, e_low, e_thr,
            REQUESTS_PER_CALL, acc, words, self._rq_out, self._rq_req)
        if m == 0:
            return 0
        eng.events += int(ev[0])
        eng._stalled = 0
        self.taken["requests"] += m
        eng.t, eng.e, timeline.n_seg = t, e, n_seg
        progress = eng.setup.progress
        if progress is not None and t >= eng._progress_next_s:
            # (informational, as Engine._sync calls it: once, at the time after the cycles taken)
            eng._progress_next_s = t + (eng.horizon - eng.t0) / 1000.0
            progress(t)
        if n_meta:  # the states and pin loads the engine's handlers book
            codes = {cycles.CODE_IDLE: ("idle", eng.setup.platform.sleep_power_w)}
            codes.update({cycles.CODE_STEP - s: ("preserve", float(p[s]))
                          for s in range(kind.size) if kind[s] != cycles.STEP_RUN})
            timeline.record_kernel_actions(n_seg0, n_meta, base.p_pin, codes)
        eng._state = "preserve"  # (Done's)
        (loss, compute, checkpoint, sleep, _, _, _, active) = acc[:cycles.ACC_ACTIVE + 1].tolist()
        eng.books.output_loss.s, eng.books.output_loss.c = loss
        books["compute"].s, books["compute"].c = compute
        books["checkpoint"].s, books["checkpoint"].c = checkpoint
        books["sleep"].s, books["sleep"].c = sleep
        eng._active_s = active[0]
        eng._words = int(words[0])
        #: where simpy's clock and the arrivals process are after the cycles taken
        self.sim_now, self.sim_arrival = float(ev_ts[1]), int(ev[1])
        eng.arrivals_settled = max(eng.arrivals_settled, self.sim_arrival)
        eng.wake_jump = (self.sim_arrival - 1, self.sim_now)
        self._requests_taken(tmpl, m)
        return m

    def _requests_taken(self, tmpl, m):
        """The requests of ``m`` request cycles taken by the kernel, in order: hand-over, the
        scheduler's answers (checked against ``tmpl``), the memory, the columns, completion."""
        eng = self.eng
        mem, taskmem, requests = eng.memory, eng.taskmem, eng.requests
        req = requests.req
        compute_s, preserve_s = req["compute_s"], req["preserve_s"]
        sched, dev = eng.sched, eng.dev
        acts = eng.boot_actions
        result = mem.view(eng.result_buffer)
        seq_word = mem.view(REQUEST_SEQ_WORD)
        sources = {}  # Copy -> its source bytes
        rows = self._rq_out[:m].tolist()
        reqs = self._rq_req[:m].tolist()
        commits = 0
        for q in range(m):
            service_t, done_t, c_s, p_s = rows[q]
            if q:
                answer = sched.next_action(dev)
                if type(answer) is not Idle:
                    self._check_answer(answer, Idle(), q)
                acts.append(answer)
            h = reqs[q]
            requests.hand_over(h, service_t)
            for expected in tmpl:
                answer = sched.next_action(dev)
                kind = type(answer)
                if kind is not type(expected) or (answer != expected and not (
                        kind is WriteWords and answer.commits == expected.commits
                        and [w[0] for w in answer.words] == [w[0] for w in expected.words])):
                    self._check_answer(answer, expected, q)
                acts.append(answer)
                if kind is RunTasks or kind is RunTask or kind is CheckpointedRun:
                    taskmem.compute_run()
                elif kind is WriteWords:
                    for name, value in answer.words:
                        mem.write_word(name, int(value))
                    commits += answer.commits
                elif kind is Copy:
                    src = sources.get(answer)
                    if src is None:
                        src = sources[answer] = taskmem.copy_spec(answer)[0]
                    taskmem.write_raw(answer.dst, src.copy())
                else:  # Done
                    mem.write_word(DONE_SEQ_WORD, seq_word.item(0))
                    commits += 1
                    compute_s[h] = c_s
                    preserve_s[h] = p_s
                    requests.complete(done_t, result)
        eng.counts["commits"] += commits

    def _check_answer(self, answer, expected, q):
        if answer != expected:
            raise SchedulerError(
                f"scheduler {self.eng.cls.name!r} declares nvm_determined but answered {answer!r} at a request "
                f"boundary where it answered {expected!r} before (request boundary {q} of a compiled run)")

    def _write_back(self, out, n_seg0, p_pin, copy_cost):
        """The engine's state after the kernel's cycles: clock, energy, timeline, books, the
        request's times, counts (the kernel accumulated them in ``self._cycle_acc``)."""
        eng = self.eng
        eng.t, eng.e, eng.timeline.n_seg = out.t, out.e, out.n_seg
        if out.n_meta:
            eng.timeline.record_kernel_actions(n_seg0, out.n_meta, p_pin, {
                cycles.CODE_COPY: ("preserve", copy_cost.power_w), cycles.CODE_HEADER: ("preserve", eng._word_p),
                cycles.CODE_FLAG: ("preserve", eng._word_p),
                cycles.CODE_SLEEP: ("sleep", eng.setup.platform.sleep_power_w),
                # (a request boundary taken: the result copy and Done, as _do_copy and _do_done book them)
                cycles.CODE_RESULT: ("preserve", float(self._ho_f[1])), cycles.CODE_DONE: ("preserve", eng._word_p)})
        eng._state = "compute" if out.completed else "sleep"
        (loss, compute, checkpoint, sleep, req_compute, req_preserve, req_off,
         active) = self._cycle_acc[:cycles.ACC_ACTIVE + 1].tolist()
        books, req, h = eng.books.load, eng.requests.req, eng.requests.head
        eng.books.output_loss.s, eng.books.output_loss.c = loss
        books["compute"].s, books["compute"].c = compute
        books["checkpoint"].s, books["checkpoint"].c = checkpoint
        books["sleep"].s, books["sleep"].c = sleep
        req["compute_s"][h] = req_compute[0]
        req["preserve_s"][h] = req_preserve[0]
        req["off_s"][h] = req_off[0]
        eng._active_s = active[0]
        eng._words = int(self._cycle_words[0])
        eng.counts["commits"] += out.n
        eng.counts["checkpoints"] += out.n

    def _apply_memory(self, out, start, stop, task):
        """Memory, in the order it happened: the tasks that completed, each slot's last checkpoint
        (of the image as it was then, with its header), the flag naming the newest slot. Returns
        the position ``(task, cycles)`` the next cycle starts from."""
        eng = self.eng
        mem = eng.memory
        slot_task, slot_cycles = self._cycle_slots
        done = task
        if out.n:
            seq = mem.read_word(REQUEST_SEQ_WORD)
            last = out.flag_next & 1
            image = mem.arena[SRAM]
            for s in ((last,) if out.n == 1 else (1 - last, last)):
                upto = start + int(slot_task[s])
                eng.taskmem.compute_tasks(done, upto)
                done = upto
                mem.raw(checkpoint_buffer(s))[:] = image
                c = int(slot_cycles[s])
                for w, v in zip(CHECKPOINT_WORDS, (seq, upto, c & 0xFFFF, (c >> 16) & 0xFFFF)):
                    mem.write_word(checkpoint_buffer(s, w), v)
            mem.write_word(CHECKPOINT_FLAG, out.flag_next)
        if out.completed:  # the last cycle ran the rest of the run: its work is pending
            eng.books.pending.append(("compute", out.x_done, out.t_done, eng.requests.head))
            eng.taskmem.compute_tasks(done, stop)
            return stop, 0
        return start + int(out.i_next), int(out.resume_next)

    def hazard_free(self, first, stop):
        """No task of the run reads non-volatile bytes that it or a later task of the run writes:
        then every repetition of the run (after a brown-out, SRAM poisoned) computes the same
        values (cached per run)."""
        eng = self.eng
        key = (first, stop)
        free = self._hazard_free.get(key)
        if free is None:
            regions = [task_nvm_regions(t, eng.memory, eng.setup.network.input_name)
                       for t in eng.setup.tasks[first:stop]]
            free = not any(writes_into(write, reads)
                           for j, (reads, _) in enumerate(regions) for _, write in regions[j:])
            self._hazard_free[key] = free
        return free
