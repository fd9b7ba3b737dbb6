"""Compiled power cycles: many identical scheduler cycles in one numba call.

At a small capacitor a scheduler spends a simulated hour repeating one short cycle -- ``jit``'s
comparator, checkpoint, sleep to V_on and resume, a hundred thousand times --, each cycle a handful
of actions stepped in Python. The kernels here carry out such cycles exactly as the engine's
Python path would (the same :func:`intersim.energy.capacitor._advance` calls in the same order, the same
floating-point book-keeping, Neumaier sums included) and stop *before* any cycle that would end
differently: that cycle is rolled back and handed to the Python path, which then takes it
step by step. The tests check both ways give identical results, bit for bit. With a request
queued behind the one in service, the checkpoint kernel also takes the request boundary
(:func:`_handover`): the result copy, ``Done``, the hand-over and the next request's run. With
nothing queued, :func:`_request_cycles` takes whole request cycles of an idle device: the idle
sleep to the next arrival, the wake-up, the request's actions and ``Done``.

Accumulator layout (``acc``, float64 ``(N_ACC, 2)``, column 0 the sum, 1 the Neumaier
compensation for the books that have one): see the ``ACC_*`` constants.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..compensated import neumaier_add as _book
from ..energy.capacitor import STOP_HIGH, STOP_LOW, STOP_TIME, _advance
from ..energy.linear_kernel import _advance_inline
from .task_runs import _advance_tasks

ACC_OUTPUT_LOSS = 0   #: the output converter's loss (Neumaier)
ACC_COMPUTE = 1       #: the ``compute`` load book (Neumaier)
ACC_CHECKPOINT = 2    #: the ``checkpoint`` load book (Neumaier)
ACC_SLEEP = 3         #: the ``sleep`` load book (Neumaier)
ACC_REQ_COMPUTE = 4   #: the request's ``compute_s`` [s]
ACC_REQ_PRESERVE = 5  #: the request's ``preserve_s`` [s]
ACC_REQ_OFF = 6       #: the request's ``off_s`` [s]
ACC_ACTIVE = 7        #: active time since boot [s]
ACC_BOOT = 8          #: the ``boot`` load book (Neumaier)
ACC_REEXECUTION = 9   #: the ``reexecution`` load book (Neumaier)
ACC_REQ_RESTORE = 10  #: the request's ``restore_s`` [s]
ACC_REQ_REEXEC = 11   #: the request's ``reexecution_s`` [s]
N_ACC = 12

#: action codes of the ``meta`` records (a code >= 0 is that task of the run: "compute")
CODE_COPY = -1    #: the checkpoint's image copy ("preserve")
CODE_HEADER = -2  #: the checkpoint's header words ("preserve")
CODE_FLAG = -3    #: the checkpoint's flag word ("preserve")
CODE_SLEEP = -4   #: a sleep ("sleep")
CODE_OFF = -5     #: off, charging to V_on ("off")
CODE_BOOT = -6    #: the boot ("boot")
CODE_IDLE = -7    #: an idle sleep up to the next arrival ("idle")
CODE_RESULT = -8  #: a hand-over's result copy ("preserve")
CODE_DONE = -9    #: a hand-over's ``Done`` word ("preserve")
CODE_STEP = -10   #: step ``s`` of a request cycle (a load: ``CODE_STEP - s``, "preserve")

#: hand-over state of :func:`_checkpoint_cycles` (``ho``, int64): the most requests it may hand
#: over (0: none, the call ends where the run completes), the requests handed over, the queue (a
#: ring ``queue`` of the workload's queue capacity: its first slot, length, that capacity), the
#: arrivals settled so far (index of the first not settled; ``fate`` of those settled in the call)
#: and the NVM words of the result copy
HO_MAX = 0
HO_N = 1
HO_Q0 = 2
HO_QLEN = 3
HO_QCAP = 4
HO_SETTLED = 5
HO_RES_WORDS = 6
N_HO = 7
#: ``fate`` of an arrival the kernel settled
FATE_QUEUED = 1
FATE_DROPPED = 2
#: per request handed over (``ho_out`` rows, float64): its Done's time [s], its ``compute_s``,
#: ``preserve_s`` and ``off_s`` [s] then
HO_DONE_T = 0
HO_COMPUTE = 1
HO_PRESERVE = 2
HO_OFF = 3
N_HO_OUT = 4

#: counters of :func:`_boot_cycles` (``counts``, int64): the furthest cut ``(task, cycles)``
#: over the cycles taken, the cycles re-executed, and NVM words written in the last boot
CNT_MAX_TASK = 0
CNT_MAX_CYCLES = 1
CNT_REEXECUTED = 2
CNT_WORDS = 3
N_CNT = 4


@njit(cache=True)
def _regulator_loss(acc, x, eta_out):
    """Book the output regulator's loss of ``x`` [J] delivered at the pin, as
    ``Engine._book_load`` does."""
    _book(acc, ACC_OUTPUT_LOSS, x / eta_out - x)


@njit(cache=True)
def _sync_arrivals(t, arr_t, ev, ev_ts):
    """The engine's ``_sync`` at the end of an action at ``t`` [s], against the arrivals process
    alone. State: ``ev`` = (events counted, index into ``arr_t`` [s] of the pending arrival),
    ``ev_ts`` = (that arrival's event time [s], inf: none; simpy's clock [s]).

    The sync schedules a simpy event (counted) if the pending arrival is due by ``t``: a timeout
    to ``now + (t - now)`` (simpy's own float arithmetic; ``now`` if ``t`` is not later). simpy
    then processes, in time order, the pending arrival if due by then and every later one
    scheduled before that time (each scheduled at ``now' + (arr_t[k] - now')`` from the previous
    one's time ``now'``, or in the same step when already due; one that falls exactly on the
    device's time was scheduled after it and stays pending, as does the process's own end event
    after the last arrival: ``ev[1]`` = number of arrivals, ``ev_ts[0]`` finite), and its clock
    becomes that time.
    Arrivals only queue or drop while a request is in service; simpy does that when the engine
    catches up after the kernel: only the events, the pending arrival and the clock are kept here.
    """
    ts = ev_ts[0]
    if ts > t:
        return
    ev[0] += 1
    now = ev_ts[1]
    t_dev = now + (t - now) if t > now else now
    k = ev[1]
    if ts <= t_dev:
        while True:
            if k >= arr_t.size:  # the process's own end event: nothing follows it
                ts = math.inf
                break
            k += 1
            if k >= arr_t.size:
                # the process ends: its event is scheduled at its last arrival's time, after the
                # device's timeout (pending if that is the same time)
                if ts >= t_dev:
                    break
                ts = math.inf
                break
            ta = arr_t[k]
            if ta > ts:
                ts = ts + (ta - ts)
                if ts >= t_dev:
                    break
    ev[1] = k
    ev_ts[0] = ts
    ev_ts[1] = t_dev


@njit(cache=True)
def _note(meta, n_meta, record, n_seg, code):
    """Record that the action ``code`` ended at segment count ``n_seg`` (if ``record``); returns the
    record count."""
    if record:
        meta[n_meta, 0] = n_seg
        meta[n_meta, 1] = code
        return n_meta + 1
    return n_meta


@njit(cache=True)
def _load_words(nvm_words, dt, duration):
    """NVM words a completed load wrote, as the engine counts them."""
    if dt < duration:
        return int(nvm_words * dt / duration)
    return nvm_words


@njit(cache=True)
def _fsum(x, n, partials):
    """``math.fsum(x[:n])``: the correctly rounded sum, by CPython's algorithm (Shewchuk's
    non-overlapping partials, then a half-even correction across partials). ``partials``:
    scratch of at least 64 floats (a finite double sum needs at most ~40)."""
    m = 0
    for idx in range(n):
        v = x[idx]
        i = 0
        for j in range(m):
            y = partials[j]
            if abs(v) < abs(y):
                v, y = y, v
            hi = v + y
            lo = y - (hi - v)
            if lo != 0.0:
                partials[i] = lo
                i += 1
            v = hi
        m = i
        if v != 0.0:
            partials[m] = v
            m += 1
    hi = 0.0
    lo = 0.0
    if m > 0:
        m -= 1
        hi = partials[m]
        while m > 0:
            v = hi
            m -= 1
            y = partials[m]
            hi = v + y
            lo = y - (hi - v)
            if lo != 0.0:
                break
        if m > 0 and ((lo < 0.0 and partials[m - 1] < 0.0) or (lo > 0.0 and partials[m - 1] > 0.0)):
            y = lo * 2.0
            v = hi + y
            if y == v - hi:
                hi = v
    return hi


@njit(cache=True)
def _handover(time_s, power_w, t_first, period, loop, eta_in, b, e_max, t, e, books,
              seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, eta_out, e_off, e_threshold, horizon_s, t_event,
              arr_t, ev, ev_ts, acc, words, x_done, t_done, word_time_s, word_pin_w,
              ho, ho_f, queue, fate, ho_out, ho_req, meta, n_meta):
    """After a run completed at ``(t, e)`` with its pin energy ``x_done`` [J] over ``t_done`` [s]
    pending: the scheduler's request boundary as the engine steps it -- the result copy
    (``ho_f``: its time [s], pin power [W]; ``ho[HO_RES_WORDS]`` NVM words) and ``Done`` (one
    word), each a load that must complete followed by its sync; the commit (the pending entries in
    order: the run, the copy, the word); the request completes; the arrivals simpy processed by
    then are settled (queued, or dropped when the queue is full: ``fate``); the next queued
    request is handed over (its latency parts start at 0) and its run starts in the kernel if the
    comparator may fire in it (stored energy minus the run's, ``ho_f[2]``, at most
    ``e_threshold``), as the engine's ``_checkpointed_run`` decides. Timeline segments from
    ``n_seg`` on, and ``meta`` rows from ``n_meta`` on (:data:`CODE_RESULT`, :data:`CODE_DONE`), as
    in :func:`_checkpoint_cycles`; a load that fills the segment buffer is not taken. Returns
    ``(handed over, t, e, n_seg, n_meta)``; when not handed over the caller restores its state
    (nothing here is final)."""
    record = seg_t0.size > 0
    xs0 = 0.0
    dt0 = 0.0
    x = 0.0
    dt = 0.0
    for m in range(2):
        if m == 0:
            p, dur, nw = ho_f[1], ho_f[0], ho[HO_RES_WORDS]
        else:
            p, dur, nw = word_pin_w, word_time_s, 1
        t_target = t + dur
        t_stop = t_target if t_target < horizon_s else horizon_s
        t_start = t
        t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                       t, e, t_stop, p / eta_out, e_off, math.inf, books,
                                       seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
        dt = t - t_start
        if reason != STOP_TIME or t_target > horizon_s or t >= t_event:
            return False, t, e, n_seg, n_meta
        n_meta = _note(meta, n_meta, record, n_seg, CODE_RESULT if m == 0 else CODE_DONE)
        acc[ACC_ACTIVE, 0] += dt
        words[0] += nw
        x = p * dt
        _regulator_loss(acc, x, eta_out)
        _sync_arrivals(t, arr_t, ev, ev_ts)
        if m == 0:
            xs0 = x
            dt0 = dt
    # the commit: the run's pending work, the copy, the done word (in their order)
    _book(acc, ACC_COMPUTE, x_done)
    acc[ACC_REQ_COMPUTE, 0] += t_done
    _book(acc, ACC_CHECKPOINT, xs0)
    acc[ACC_REQ_PRESERVE, 0] += dt0
    _book(acc, ACC_CHECKPOINT, x)
    acc[ACC_REQ_PRESERVE, 0] += dt
    # the arrivals simpy processed meanwhile, with this request still in service
    cap = ho[HO_QCAP]  # the workload's queue capacity (requests queued or in service)
    k = ho[HO_SETTLED]
    while k < ev[1] and k < arr_t.size:
        if ho[HO_QLEN] + 1 >= cap:
            fate[k] = FATE_DROPPED
        else:
            queue[(ho[HO_Q0] + ho[HO_QLEN]) % queue.size] = k
            ho[HO_QLEN] += 1
            fate[k] = FATE_QUEUED
        k += 1
    ho[HO_SETTLED] = k
    if ho[HO_QLEN] == 0 or e - ho_f[2] / eta_out > e_threshold:
        return False, t, e, n_seg, n_meta
    q = ho[HO_N]
    ho_out[q, HO_DONE_T] = t
    ho_out[q, HO_COMPUTE] = acc[ACC_REQ_COMPUTE, 0]
    ho_out[q, HO_PRESERVE] = acc[ACC_REQ_PRESERVE, 0]
    ho_out[q, HO_OFF] = acc[ACC_REQ_OFF, 0]
    ho_req[q] = queue[ho[HO_Q0]]
    ho[HO_Q0] = (ho[HO_Q0] + 1) % queue.size
    ho[HO_QLEN] -= 1
    ho[HO_N] = q + 1
    for c in (ACC_REQ_COMPUTE, ACC_REQ_PRESERVE, ACC_REQ_OFF):
        acc[c, 0] = 0.0
        acc[c, 1] = 0.0
    return True, t, e, n_seg, n_meta


# One function on purpose (numba kernel): a cycle is run -> comparator -> checkpoint -> sleep ->
# resume, carried out with exactly the Python path's advances and book-keeping in the same order;
# keeping it in one loop keeps that order visible and the state (books, slots, counters) local.
@njit(cache=True)
def _checkpoint_cycles(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                       t, e, books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, min_sample_s, meta,
                       task_cycles, pin_w, loads_w, task_words, i, resume, clock_hz, eta_out,
                       e_threshold, e_off, e_target, horizon_s, t_event, arr_t, ev, ev_ts, suspend,
                       copy_time_s, copy_pin_w, copy_words, word_time_s, word_pin_w, sleep_pin_w,
                       flag, max_cycles, acc, words, slot_task, slot_cycles, scratch,
                       ho, ho_f, queue, fate, ho_out, ho_req, slot_req):
    """Normal ``jit`` cycles of a run of tasks (``task_cycles``, pin powers ``pin_w``, capacitor
    loads ``loads_w``, NVM words ``task_words``), from task ``i`` with ``resume`` [cycles] of it
    done, at ``(t, e)`` [s, J]: tasks run (and complete) until the comparator (``e_threshold``)
    fires inside one (``suspend``: the task is suspended there, as ``jit``; else it finishes
    first, as ``jit-task``); the checkpoint (image copy, four header words, the flag word: the commit)
    completes; the sleep reaches ``e_target``; everything ends before ``t_event`` [s] (the next
    simpy event other than an arrival; arrivals ``arr_t`` [s] are crossed, their events counted as
    the engine's syncs would count them: :func:`_sync_arrivals`, state ``ev``, ``ev_ts``). A cycle
    in which the run completes ends the call there (the completed tasks' pin energy ``x_done``
    [J] over ``t_done`` [s] is returned: the engine keeps it pending) -- unless the request
    boundary is taken too (:func:`_handover`, at most ``ho[HO_MAX]`` times): then the next request's run goes on from its first task, and per
    request handed over ``ho_out`` and ``ho_req`` (the request that followed it) say what
    happened; ``slot_req[s]``: how many had been handed over at slot ``s``'s last checkpoint. The
    first cycle that would go otherwise (a brown-out, the horizon, the event) is rolled back and
    not taken.

    Updates ``books``, ``acc``, ``words[0]`` (NVM words since boot) and, per slot ``s``, the
    position its last checkpoint saved (``slot_task[s]``, ``slot_cycles[s]``) in place.
    ``scratch``: at least ``len(task_cycles) + 64`` floats. Timeline segments (``seg_*``, empty:
    none) are recorded from ``n_seg`` on, and ``meta`` rows ``(segment count after, action code)``
    say whose they are (:data:`CODE_COPY` ...; a code >= 0 is that task of the run); a cycle that
    would need a bigger segment buffer than the engine would have made is not taken. Returns
    ``(t, e, cycles_taken, task, resume, flag, completed, x_done, t_done, n_seg, n_meta)``.
    """
    books_save = books.copy()
    acc_save = acc.copy()
    ev_save = ev.copy()
    ev_ts_save = ev_ts.copy()
    # (the state where a run completed, restored when its request boundary is not taken)
    books_c = books.copy()
    acc_c = acc.copy()
    ev_c = ev.copy()
    ev_ts_c = ev_ts.copy()
    ho_c = ho.copy()
    n = task_cycles.size
    record = seg_t0.size > 0
    n_meta = 0
    products = scratch[:n]
    partials = scratch[n:]
    xs = np.empty(3)
    dts = np.empty(3)
    r = resume
    done = 0
    while done < max_cycles:
        t_save, e_save, words_save, n_seg_save, n_meta_save = t, e, words[0], n_seg, n_meta
        if record:
            # the engine sizes the segment buffer before each run (Engine._ensure_segments): a
            # cycle that would grow it, or fill the action records, is left to the engine
            t_all = t
            for j in range(i, n):
                t_all = t_all + ((max(task_cycles[j] - r, 0) if j == i and r else task_cycles[j]) / clock_hz)
            if (n_seg + (n - i) + 2 + int((t_all - t) / min_sample_s) > seg_t0.size
                    or n_meta + (n - i) + 4 > meta.shape[0]):
                return t, e, done, i, r, flag, False, 0.0, 0.0, n_seg, n_meta
        books_save[:] = books
        acc_save[:] = acc
        ev_save[:] = ev
        ev_ts_save[:] = ev_ts
        ok = False
        # 1. the run from (i, r), the comparator armed, as RunTasks advances it
        t0 = t
        t_k = t0   # end of the last completed task
        w_done = 0.0
        j = i
        reason = STOP_TIME
        d = 0.0
        while j < n:
            w = task_words[j]
            if j == i and r:
                left = task_cycles[j] - r
                if left < 0:
                    left = 0
                d = left / clock_hz
                if task_cycles[j]:
                    w = math.floor(w * left / task_cycles[j])
            else:
                d = task_cycles[j] / clock_hz
            t_end = t + d
            stop = t_end if t_end < horizon_s else horizon_s
            t, e, reason, n_seg = _advance_inline(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                                  t, e, stop, loads_w[j], e_threshold, math.inf, books,
                                                  seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
            n_meta = _note(meta, n_meta, record, n_seg, j)
            if reason != STOP_TIME or stop < t_end:
                break
            products[j - i] = pin_w[j] * d
            w_done += w
            t_k = t
            j += 1
        if j == n:
            # the run completed: the action ends here, its work pending until the result's commit
            t_done = t_k - t0
            e_pin = _fsum(products, n - i, partials)
            x_done = (e_pin / t_done if t_done > 0 else 0.0) * t_done
            _regulator_loss(acc, x_done, eta_out)
            words[0] += int(w_done)
            acc[ACC_ACTIVE, 0] += t - t0
            _sync_arrivals(t, arr_t, ev, ev_ts)
            if ho[HO_N] < ho[HO_MAX]:
                books_c[:] = books
                acc_c[:] = acc
                ev_c[:] = ev
                ev_ts_c[:] = ev_ts
                ho_c[:] = ho
                words_c = words[0]
                handed, t_h, e_h, n_seg_h, n_meta_h = _handover(
                    time_s, power_w, t_first, period, loop, eta_in, b, e_max, t, e, books,
                    seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, eta_out, e_off, e_threshold, horizon_s,
                    t_event, arr_t, ev, ev_ts, acc, words, x_done, t_done, word_time_s, word_pin_w,
                    ho, ho_f, queue, fate, ho_out, ho_req, meta, n_meta)
                if handed:  # the next request's run, from its first task
                    t, e, n_seg, n_meta = t_h, e_h, n_seg_h, n_meta_h
                    i = 0
                    r = 0
                    continue
                books[:] = books_c
                acc[:] = acc_c
                ev[:] = ev_c
                ev_ts[:] = ev_ts_c
                ho[:] = ho_c
                words[0] = words_c
            return t, e, done, n, 0, flag, True, x_done, t_done, n_seg, n_meta
        if reason == STOP_LOW:
            k = j - i
            x_done = 0.0
            t_done = 0.0
            if k:
                t_done = t_k - t0
                e_pin = _fsum(products, k, partials)
                x_done = (e_pin / t_done if t_done > 0 else 0.0) * t_done
                _regulator_loss(acc, x_done, eta_out)
                words[0] += int(w_done)
            dt_cut = t - t_k
            x_cut = 0.0
            if dt_cut > 0:
                x_cut = pin_w[j] * dt_cut
                _regulator_loss(acc, x_cut, eta_out)
            acc[ACC_ACTIVE, 0] += t - t0
            c = (r if k == 0 else 0) + int(dt_cut * clock_hz)
            if c > task_cycles[j]:
                c = task_cycles[j]
            ok = True
            x_rest = 0.0
            dt_rest = 0.0
            if not suspend:
                # jit-task: the comparator only raised a flag; the task finishes first (a load that
                # must complete), and the checkpoint names the next task -- not the last one: that
                # cycle ends the run after its sleep, and is left to the engine
                rest = d - dt_cut
                nw = int(w * rest / d) if d else 0
                t_target = t + rest
                t_stop = t_target if t_target < horizon_s else horizon_s
                t_start = t
                t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                               t, e, t_stop, loads_w[j], e_off, math.inf, books,
                                               seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
                dt_rest = t - t_start
                if reason != STOP_TIME or t_target > horizon_s or j + 1 == n:
                    ok = False
                else:
                    n_meta = _note(meta, n_meta, record, n_seg, j)
                    acc[ACC_ACTIVE, 0] += dt_rest
                    words[0] += _load_words(nw, dt_rest, rest)
                    x_rest = pin_w[j] * dt_rest
                    _regulator_loss(acc, x_rest, eta_out)
                    j += 1
                    c = 0
            if ok:
                _sync_arrivals(t, arr_t, ev, ev_ts)  # the run's sync (RunTasks stopped by the comparator)
            # 2.-4. the checkpoint: image, header, flag (each a load that must complete)
            for m in range(3 if ok else 0):
                if m == 0:
                    p, dur, nw = copy_pin_w, copy_time_s, copy_words
                elif m == 1:
                    p, dur, nw = word_pin_w, 4 * word_time_s, 4
                else:
                    p, dur, nw = word_pin_w, 1 * word_time_s, 1
                t_target = t + dur
                t_stop = t_target if t_target < horizon_s else horizon_s
                t_start = t
                t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                               t, e, t_stop, p / eta_out, e_off, math.inf, books,
                                               seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
                dt = t - t_start
                if reason != STOP_TIME or t_target > horizon_s:
                    ok = False
                    break
                n_meta = _note(meta, n_meta, record, n_seg, CODE_COPY - m)
                _sync_arrivals(t, arr_t, ev, ev_ts)
                acc[ACC_ACTIVE, 0] += dt
                words[0] += _load_words(nw, dt, dur)
                x = p * dt
                _regulator_loss(acc, x, eta_out)
                xs[m] = x
                dts[m] = dt
            if ok:
                # the commit: the pending entries, in order
                if k:
                    _book(acc, ACC_COMPUTE, x_done)
                    acc[ACC_REQ_COMPUTE, 0] += t_done
                if dt_cut > 0:
                    _book(acc, ACC_COMPUTE, x_cut)
                    acc[ACC_REQ_COMPUTE, 0] += dt_cut
                if not suspend:
                    _book(acc, ACC_COMPUTE, x_rest)
                    acc[ACC_REQ_COMPUTE, 0] += dt_rest
                for m in range(3):
                    _book(acc, ACC_CHECKPOINT, xs[m])
                    acc[ACC_REQ_PRESERVE, 0] += dts[m]
                # 5. sleep to V_on
                t_start = t
                t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                               t, e, horizon_s, sleep_pin_w / eta_out, e_off, e_target, books,
                                               seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
                dt = t - t_start
                if reason != STOP_HIGH or t >= t_event:
                    ok = False
                else:
                    n_meta = _note(meta, n_meta, record, n_seg, CODE_SLEEP)
                    _sync_arrivals(t, arr_t, ev, ev_ts)
                    x = sleep_pin_w * dt
                    _regulator_loss(acc, x, eta_out)
                    _book(acc, ACC_SLEEP, x)
                    acc[ACC_REQ_OFF, 0] += dt
        if not ok:
            books[:] = books_save
            acc[:] = acc_save
            words[0] = words_save
            ev[:] = ev_save
            ev_ts[:] = ev_ts_save
            return t_save, e_save, done, i, r, flag, False, 0.0, 0.0, n_seg_save, n_meta_save
        s = 1 - (flag & 1) if flag != 0 else 0
        epoch = ((flag >> 1) + 1) & 0x7FFF
        if epoch == 0:
            epoch = 1
        flag = (epoch << 1) | s
        slot_task[s] = j
        slot_cycles[s] = c
        slot_req[s] = ho[HO_N]
        i = j
        r = c
        done += 1
    return t, e, done, i, r, flag, False, 0.0, 0.0, n_seg, n_meta


# One function on purpose (numba kernel), as _checkpoint_cycles: off -> boot -> sleeps -> the run
# cut by V_off, each step the Python path's own advance and booking, in its order.
@njit(cache=True)
def _boot_cycles(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                 t, e, books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, min_sample_s, meta,
                 e_on, e_off, eta_out, boot_pin_w, boot_time_s, sleep_pin_w, sleep_targets,
                 loads_w, pin_w, durations_s, task_words, e_prefix, resume, clock_hz,
                 horizon_s, t_event, arr_t, ev, ev_ts, service_s, max_cycles, acc, counts, seg_end):
    """Brown-out cycles that repeat one boot: off until ``e_on``; the boot (``boot_pin_w`` for
    ``boot_time_s``); sleeps to each of ``sleep_targets`` [J]; the run of tasks (pin powers
    ``pin_w``, ``durations_s`` and NVM words ``task_words`` with the first task's ``resume`` [cycles]
    already taken off) cut by
    a brown-out at ``e_off``; everything before ``t_event`` [s] (the next simpy event other than an
    arrival; arrivals ``arr_t`` are crossed and their events counted, ``ev`` and ``ev_ts`` as in
    :func:`_checkpoint_cycles`). The first cycle that would go otherwise (the run completes, a
    brown-out elsewhere, the horizon, the event) is rolled back.

    ``e_prefix[k]`` is the pin energy of the first ``k`` tasks as the engine sums it
    (``math.fsum``). Updates ``books``, ``acc`` and ``counts`` in place (the furthest cut is
    compared as ``(task, cycles)``). Timeline segments and ``meta`` as in :func:`_checkpoint_cycles`.
    Returns ``(t, e, cycles_taken, n_seg, n_meta)``.
    """
    books_save = books.copy()
    acc_save = acc.copy()
    counts_save = counts.copy()
    ev_save = ev.copy()
    ev_ts_save = ev_ts.copy()
    n = loads_w.size
    record = seg_t0.size > 0
    n_meta = 0
    done = 0
    while done < max_cycles:
        t_save, e_save, n_seg_save, n_meta_save = t, e, n_seg, n_meta
        if record and n_meta + n + 3 + sleep_targets.size > meta.shape[0]:
            break
        books_save[:] = books
        acc_save[:] = acc
        counts_save[:] = counts
        ev_save[:] = ev
        ev_ts_save[:] = ev_ts
        ok = False
        # off until V_on
        t_start = t
        t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                       t, e, horizon_s, 0.0, -1.0, e_on, books,
                                       seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
        n_meta = _note(meta, n_meta, record, n_seg, CODE_OFF)
        _sync_arrivals(t, arr_t, ev, ev_ts)
        if reason == STOP_HIGH:
            acc[ACC_REQ_OFF, 0] += t - (t_start if t_start > service_s else service_s)
            # the boot: a load that must complete
            t_start = t
            t_target = t + boot_time_s
            t_stop = t_target if t_target < horizon_s else horizon_s
            t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                           t, e, t_stop, boot_pin_w / eta_out, e_off, math.inf, books,
                                           seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
            dt = t - t_start
            n_meta = _note(meta, n_meta, record, n_seg, CODE_BOOT)
            _sync_arrivals(t, arr_t, ev, ev_ts)
            if reason == STOP_TIME and t_target <= horizon_s:
                ok = True
                acc[ACC_ACTIVE, 0] = 0.0
                acc[ACC_ACTIVE, 0] += dt
                counts[CNT_WORDS] = 0
                x = boot_pin_w * dt
                _regulator_loss(acc, x, eta_out)
                _book(acc, ACC_BOOT, x)
                acc[ACC_REQ_RESTORE, 0] += t - (t_start if t_start > service_s else service_s)
        if ok:
            for j in range(sleep_targets.size):
                t_start = t
                t, e, reason, n_seg = _advance(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                               t, e, horizon_s, sleep_pin_w / eta_out, e_off, sleep_targets[j],
                                               books, seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
                dt = t - t_start
                n_meta = _note(meta, n_meta, record, n_seg, CODE_SLEEP)
                _sync_arrivals(t, arr_t, ev, ev_ts)
                x = sleep_pin_w * dt
                _regulator_loss(acc, x, eta_out)
                _book(acc, ACC_SLEEP, x)
                acc[ACC_REQ_OFF, 0] += dt
                if reason != STOP_HIGH:
                    ok = False
                    break
        if ok and record:
            # the engine sizes the segment buffer before the run (Engine._ensure_segments)
            t_all = t
            for j in range(n):
                t_all = t_all + durations_s[j]
            if n_seg + n + 2 + int((t_all - t) / min_sample_s) > seg_t0.size:
                ok = False
        if ok:
            # the run, cut by a brown-out inside it
            t0 = t
            k, t, e, reason, n_seg = _advance_tasks(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                                    t0, e, loads_w, durations_s, horizon_s, e_off, books,
                                                    seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, seg_end)
            for j in range(k):
                n_meta = _note(meta, n_meta, record, seg_end[j], j)
            if k < n:
                n_meta = _note(meta, n_meta, record, n_seg, k)
            if reason != STOP_LOW or k >= n:
                ok = False
            else:
                t_k = t0  # the end of the last completed task, summed as the engine sums it
                for j in range(k):
                    t_k = t_k + durations_s[j]
                x_done = 0.0
                t_done = 0.0
                if k:
                    t_done = t_k - t0
                    x_done = (e_prefix[k] / t_done if t_done > 0 else 0.0) * t_done
                    _regulator_loss(acc, x_done, eta_out)
                    w = 0.0
                    for j in range(k):
                        w += task_words[j]
                    counts[CNT_WORDS] += int(w)
                dt_cut = t - t_k
                x_cut = 0.0
                if dt_cut > 0:
                    x_cut = pin_w[k] * dt_cut
                    _regulator_loss(acc, x_cut, eta_out)
                acc[ACC_ACTIVE, 0] += t - t0
                if durations_s[k]:
                    counts[CNT_WORDS] += int(task_words[k] * dt_cut / durations_s[k])
                done_cycles = (resume if k == 0 else 0) + int(dt_cut * clock_hz)
                counts[CNT_REEXECUTED] += int(dt_cut * clock_hz)
                if k > counts[CNT_MAX_TASK] or (k == counts[CNT_MAX_TASK] and done_cycles > counts[CNT_MAX_CYCLES]):
                    counts[CNT_MAX_TASK] = k
                    counts[CNT_MAX_CYCLES] = done_cycles
                # the brown-out: the pending work is re-execution
                if k:
                    _book(acc, ACC_REEXECUTION, x_done)
                    acc[ACC_REQ_REEXEC, 0] += t_done
                if dt_cut > 0:
                    _book(acc, ACC_REEXECUTION, x_cut)
                    acc[ACC_REQ_REEXEC, 0] += dt_cut
                _sync_arrivals(t, arr_t, ev, ev_ts)  # the run's sync at the brown-out
                if t >= t_event:
                    ok = False
        if not ok:
            books[:] = books_save
            acc[:] = acc_save
            counts[:] = counts_save
            ev[:] = ev_save
            ev_ts[:] = ev_ts_save
            return t_save, e_save, done, n_seg_save, n_meta_save
        done += 1
    return t, e, done, n_seg, n_meta


#: step kinds of :func:`_request_cycles` (``step_kind``)
STEP_RUN = 0   #: the request's whole run of tasks (``RunTasks`` / ``CheckpointedRun`` the comparator leaves alone)
STEP_LOAD = 1  #: a load that must complete (``WriteWords``, a result ``Copy``): pending, committed if ``step_commit``
STEP_DONE = 2  #: ``Done``: one word, the commit, the request completes
#: per request of :func:`_request_cycles` (``rq_out`` rows, float64): when it entered service
#: (the arrival that woke the device) [s], its ``Done``'s time [s], its ``compute_s``,
#: ``preserve_s`` [s]; ``rq_req``: the request (arrival index)
RQ_SERVICE_T = 0
RQ_DONE_T = 1
RQ_COMPUTE = 2
RQ_PRESERVE = 3
N_RQ_OUT = 4
#: the most pending entries one request cycle may hold between commits (its steps)
MAX_STEPS = 16


# One function on purpose (numba kernel), as _checkpoint_cycles: idle -> wake -> the request's
# actions -> Done, each the Python path's own advance, booking and sync, in its order.
@njit(cache=True)
def _request_cycles(time_s, power_w, t_first, period, loop, eta_in, b, e_max, t, e, books,
                    seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, min_sample_s, meta,
                    eta_out, e_off, horizon_s, arr_t, ev, ev_ts, sleep_pin_w,
                    step_kind, step_p, step_dur, step_words, step_cat, step_commit, step_guard,
                    run_loads, run_dur, run_e_pin, run_words, run_e_low, e_threshold,
                    max_cycles, acc, words, rq_out, rq_req):
    """Whole request cycles of a device idle between requests, as the engine steps them: the idle
    sleep (sleep power ``sleep_pin_w`` [W]) predicted up to the next arrival ``arr_t[j]`` [s]
    (``ev[1]`` = ``j``, the arrivals process's pending event, at ``ev_ts[0]`` [s]; simpy's
    clock ``ev_ts[1]`` [s]) and its timeout (one simpy event, counted in ``ev[0]``); the arrival
    wakes the device at the same instant and enters service; then the steps of the request
    (``step_kind``: :data:`STEP_RUN` the run of tasks ``run_loads`` [W at the capacitor],
    ``run_dur`` [s], pin energy ``run_e_pin`` [J] (``math.fsum``), ``run_words`` NVM words, stopped by
    ``run_e_low`` [J]; :data:`STEP_LOAD` a load of ``step_p`` [W at the pin] for ``step_dur`` [s]
    writing ``step_words`` words, booked pending in ``step_cat`` (an ``ACC_*`` row) and committed
    after if ``step_commit``; :data:`STEP_DONE` ``Done``). ``step_guard``: the run is a
    ``CheckpointedRun`` that the engine gives to the checkpoint kernel when the stored energy
    minus the run's (at the capacitor) is at most ``e_threshold`` [J]: such a cycle is not taken.

    A cycle is taken only when it goes exactly so: the idle reaches the arrival without a
    brown-out, the arrival's event, the idle timeout and the device's time are one instant (the
    arrival, scheduled first, wakes the device; the timeout is processed before the device
    resumes), no arrival falls inside the request's service (every sync finds no event due: none
    is scheduled, none counted), every step completes before the horizon, and the next arrival
    is not the last. The first cycle that would go otherwise is rolled back and not taken.

    Timeline segments (``seg_*``, empty: none) are recorded from ``n_seg`` on, with ``meta`` rows
    ``(segment count after, action code)``: :data:`CODE_IDLE` the idle, ``j >= 0`` task ``j`` of the
    run, ``CODE_STEP - s`` the load of step ``s``. A cycle in which the engine would grow the
    segment buffer (a run that :meth:`~intersim.sim.timeline.Timeline.ensure` would grow it for, or
    an advance that fills it: ``STOP_FULL``) or that would fill ``meta`` is not taken.

    Updates ``books``, ``acc`` (rows ``ACC_OUTPUT_LOSS``, ``ACC_COMPUTE``, ``ACC_CHECKPOINT``,
    ``ACC_SLEEP``, ``ACC_ACTIVE``), ``words[0]``, ``ev``, ``ev_ts`` in place; per request taken a
    row of ``rq_out`` and ``rq_req``. Returns ``(t, e, cycles_taken, n_seg, n_meta)``.
    """
    books_save = books.copy()
    acc_save = acc.copy()
    pend_x = np.empty(MAX_STEPS)
    pend_dt = np.empty(MAX_STEPS)
    pend_cat = np.empty(MAX_STEPS, np.int64)
    n_arr = arr_t.size
    n_steps = step_kind.size
    n_run = run_loads.size
    seg_end = np.empty(n_run, np.int64)
    record = seg_t0.size > 0
    n_meta = 0
    done = 0
    while done < max_cycles:
        t_save, e_save, words_save, n_seg_save, n_meta_save = t, e, words[0], n_seg, n_meta
        if record and n_meta + 1 + n_run + n_steps > meta.shape[0]:
            break
        books_save[:] = books
        acc_save[:] = acc
        now = ev_ts[1]
        j = ev[1]
        ts = ev_ts[0]
        ok = j + 1 < n_arr and arr_t[j] > now and (j == 0 or arr_t[j - 1] <= now) and arr_t[j] <= horizon_s
        if ok:
            # the idle: the sleep predicted up to the arrival, its timeout at now + (t - now)
            t_next = arr_t[j]
            t_start = t
            t, e, reason, n_seg = _advance_inline(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                                  t, e, t_next, sleep_pin_w / eta_out, e_off, math.inf, books,
                                                  seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
            n_meta = _note(meta, n_meta, record, n_seg, CODE_IDLE)
            dt = t - t_start
            t_to = now + (t - now)
            if reason != STOP_TIME or t != t_next or t >= horizon_s or t_to != ts or ts != t:
                ok = False
            else:
                x = sleep_pin_w * dt
                _regulator_loss(acc, x, eta_out)
                _book(acc, ACC_SLEEP, x)
                # the arrival enters service; the arrivals process schedules the next one
                now = t
                ta = arr_t[j + 1]
                if not ta > now:
                    ok = False
                ts = now + (ta - now)
        q = done
        n_pend = 0
        rq_compute = 0.0
        rq_preserve = 0.0
        for s in range(n_steps if ok else 0):
            kind = step_kind[s]
            if kind == STEP_RUN:
                if step_guard[s] and e - run_e_pin / eta_out <= e_threshold:
                    ok = False
                    break
                t0 = t
                t_k = t0  # the run's end as the engine sums it (its task end times, in order)
                for m in range(n_run):
                    t_k = t_k + run_dur[m]
                # the engine sizes the segment buffer before the run (Timeline.ensure): a run it
                # would grow the buffer for is left to it
                if record and n_seg + n_run + 2 + int((t_k - t0) / min_sample_s) > seg_t0.size:
                    ok = False
                    break
                k, t, e, reason, n_seg = _advance_tasks(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                                        t0, e, run_loads, run_dur, horizon_s, run_e_low, books,
                                                        seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg, seg_end)
                if k < n_run or reason != STOP_TIME:
                    ok = False
                    break
                for m in range(n_run):
                    n_meta = _note(meta, n_meta, record, seg_end[m], m)
                t_done = t_k - t0
                x = (run_e_pin / t_done if t_done > 0 else 0.0) * t_done
                _regulator_loss(acc, x, eta_out)
                pend_x[n_pend] = x
                pend_dt[n_pend] = t_done
                pend_cat[n_pend] = ACC_COMPUTE
                n_pend += 1
                words[0] += run_words
                acc[ACC_ACTIVE, 0] += t - t0
            else:
                p = step_p[s]
                dur = step_dur[s]
                t_target = t + dur
                t_stop = t_target if t_target < horizon_s else horizon_s
                t_start = t
                t, e, reason, n_seg = _advance_inline(time_s, power_w, t_first, period, loop, eta_in, b, e_max,
                                                      t, e, t_stop, p / eta_out, e_off, math.inf, books,
                                                      seg_t0, seg_t1, seg_h, seg_e0, seg_e1, n_seg)
                dt = t - t_start
                if reason != STOP_TIME or t_target > horizon_s:
                    ok = False
                    break
                n_meta = _note(meta, n_meta, record, n_seg, CODE_STEP - s)
                acc[ACC_ACTIVE, 0] += dt
                words[0] += step_words[s]
                x = p * dt
                _regulator_loss(acc, x, eta_out)
                pend_x[n_pend] = x
                pend_dt[n_pend] = dt
                pend_cat[n_pend] = step_cat[s]
                n_pend += 1
            # the action's sync: simpy's clock is behind and no event is due by the device's time
            if not (t > now and ts > t):
                ok = False
                break
            if kind == STEP_DONE or step_commit[s]:
                for m in range(n_pend):
                    _book(acc, pend_cat[m], pend_x[m])
                    if pend_cat[m] == ACC_COMPUTE:
                        rq_compute += pend_dt[m]
                    else:
                        rq_preserve += pend_dt[m]
                n_pend = 0
        if ok and n_pend:
            ok = False  # (a template ends with Done: nothing is left pending)
        if not ok:
            books[:] = books_save
            acc[:] = acc_save
            words[0] = words_save
            return t_save, e_save, done, n_seg_save, n_meta_save
        rq_out[q, RQ_SERVICE_T] = now
        rq_out[q, RQ_DONE_T] = t
        rq_out[q, RQ_COMPUTE] = rq_compute
        rq_out[q, RQ_PRESERVE] = rq_preserve
        rq_req[q] = j
        ev[0] += 1
        ev[1] = j + 1
        ev_ts[0] = ts
        ev_ts[1] = now
        done += 1
    return t, e, done, n_seg, n_meta


def warm():
    """Compile the kernels (or load them from numba's cache) with a tiny call."""
    z = np.zeros(0)
    tr_t, tr_p = np.array([0.0]), np.array([1e-3])
    for a in (tr_t, tr_p):
        a.setflags(write=False)  # as a Trace's arrays are
    one = np.array([1e-3])
    meta = np.zeros((16, 2), np.int64)
    _checkpoint_cycles(tr_t, tr_p, 0.0, 10.0, False, 0.8, 0.0, 1e-3,
                       0.0, 5e-5, np.zeros((6, 2)), z, z, z, z, z, 0, 1.0, meta,
                       np.full(1, 1000, np.int64), one, one, one, 0, 0, 1e6, 0.9, 4e-5, 2e-5, 6e-5, 1.0, 1.0,
                       np.zeros(0), np.zeros(2, np.int64), np.array([np.inf, 0.0]),
                       True, 1e-4, 1e-3, 10, 1e-6, 1e-3, 1e-6, 0, 2,
                       np.zeros((N_ACC, 2)), np.zeros(1, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64),
                       np.zeros(65), np.zeros(N_HO, np.int64), np.zeros(3), np.zeros(1, np.int64),
                       np.zeros(0, np.int8), np.zeros((0, N_HO_OUT)), np.zeros(0, np.int64), np.zeros(2, np.int64))
    _boot_cycles(tr_t, tr_p, 0.0, 10.0, False, 0.8, 0.0, 1e-3,
                 0.0, 0.0, np.zeros((6, 2)), z, z, z, z, z, 0, 1.0, meta,
                 4.5e-4, 2.4e-4, 0.9, 1e-3, 1e-3, 1e-6, z, one, one, one,
                 np.ones(1), np.zeros(2), 0, 1e6, 1.0, 1.0, np.zeros(0), np.zeros(2, np.int64), np.array([np.inf, 0.0]),
                 0.0, 2,
                 np.zeros((N_ACC, 2)), np.full(N_CNT, -1, np.int64), np.zeros(1, np.int64))
    i1 = np.ones(1, np.int64)
    _request_cycles(tr_t, tr_p, 0.0, 10.0, False, 0.8, 0.0, 1e-3, 0.0, 5e-5, np.zeros((6, 2)),
                    z, z, z, z, z, 0, 1.0, meta, 0.9, 2e-5, 1.0, np.array([0.5, 0.7]), np.zeros(2, np.int64), np.array([0.5, 0.0]), 1e-6,
                    np.full(1, STEP_DONE, np.int64), one, one, i1, i1, i1, np.zeros(1, np.int64),
                    one, one, 1e-3, 1, 2e-5, -math.inf, 2,
                    np.zeros((N_ACC, 2)), np.zeros(1, np.int64), np.zeros((2, N_RQ_OUT)), np.zeros(2, np.int64))
