"""The ``optimal`` (offline, clairvoyant) and ``optimal-online`` schedulers.

``optimal`` plans one request at a time. Knowing the trace, the capacitor's state when the request
enters service (:meth:`~intersim.sim.engine.Device.oracle_state`) and every task's cost, it searches
for the earliest completion over a class of task-boundary policies, then executes the plan in the
engine like any scheduler (the engine computes the real outputs, books and failures). Its planning
model is the engine: every operation is costed as :mod:`intersim.sim.engine` costs it and advanced by
the engine's own kernel :func:`intersim.energy.capacitor._advance` with the same arguments, so the planned
completion time is the executed one, bit for bit.

The class (docs/optimal.md: definition, algorithm, proof): the base tasks run in order on the SRAM
execution design of ``jit`` (activations in SRAM, the whole SRAM image checkpointed into the older
of two NVM slots, valid flag written last); at every task boundary, in every power cycle, a policy
may take a checkpoint (only if it records new progress) and one sleep until a voltage from a finite
set, in either order, then continues; no progress is preserved inside a task; after a brown-out
the next boot restores the last checkpoint (or restarts). ``restart``, ``jit-task`` and a
static-style grouping under the SRAM design are members, so ``optimal`` is never slower than they
are on a single request. The search is exact (A* with an admissible bound, no dominance pruning)
up to a budget of node expansions; beyond it the result is the best of the members improved by a
fortified rollout, flagged ``exact = False``.

``optimal-online`` takes the same kind of decisions from the voltage it reads and the task costs
only, assuming zero harvest: a separate row, no optimality claim.
"""
from __future__ import annotations

import gc
import heapq
import math
import time

import numpy as np

from ..energy import capacitor as cap
from numba import njit

from ..energy.capacitor import STOP_HIGH, STOP_LOW, STOP_TIME, _advance
from ..hw.cost import transfer_cost
from .contract import (
    SRAM_IMAGE, Copy, Done, Idle, ReadVoltage, RunTasks, Sleep, hibernus_checkpoint, tensor_buffer,
)
from .jit import JIT, JITTask
from .static import Static

#: outcome of one operation in the planning model
OK, BROWN, DEAD = 0, 1, 2
#: operations at a task boundary: continue (the next task, or at the end the result copy and the
#: done flag), checkpoint; a sleep is written as its threshold voltage [V] (a float)
CONT, CKPT = "C", "K"


@njit(cache=True)
def _step(time_s, power_w, par, t, e, t_stop, load_w, e_low, e_high):
    """:func:`intersim.energy.capacitor._advance` with the storage and trace constants packed in ``par``
    (t_first, period, loop, eta_in, b, e_max): the same arithmetic, a third of the call overhead
    from Python. Returns ``(t [s], e [J], reason)``."""
    books = np.zeros((6, 2))
    none = np.empty(0)
    t1, e1, reason, _ = _advance(time_s, power_w, par[0], par[1], par[2] != 0.0, par[3], par[4], par[5],
                                 t, e, t_stop, load_w, e_low, e_high, books, none, none, none, none, none, 0)
    return t1, e1, reason


@njit(cache=True)
def _harvest_to_k(t, edges, cum, p, first, period, loop):
    """Harvested energy [J, converter input] from the trace's start to ``t`` [s] (cumulative
    table ``cum`` at the sample ``edges``)."""
    total = cum[cum.size - 1]
    if loop:
        m = math.floor((t - first) / period)
        x = t - m * period
    elif t <= first:
        return 0.0
    elif t >= first + period:
        return total
    else:
        m = 0.0
        x = t
    k = min(max(np.searchsorted(edges, x, side="right") - 1, 0), p.size - 1)
    return m * total + cum[k] + p[k] * (x - edges[k])


@njit(cache=True)
def _harvest_until_k(g, edges, cum, p, period, loop):
    """Earliest time [s] by which the harvest since the trace's start reaches ``g`` [J]."""
    total = cum[cum.size - 1]
    if total <= 0.0 or (not loop and g > total):
        return math.inf
    m = math.floor(g / total) if loop else 0.0
    r = g - m * total
    k = min(max(np.searchsorted(cum, r, side="left") - 1, 0), p.size - 1)
    x = edges[k] + ((r - cum[k]) / p[k] if p[k] > 0 else 0.0)
    return m * period + min(x, edges[k + 1])


@njit(cache=True)
def _lower_bound_k(t, e, rest_t, rest_e, e_off, eta_in, edges, cum, p, first, period, loop):
    """:meth:`Model.lower_bound` for one state (``rest_t``/``rest_e`` of its boundary)."""
    # each part is shaded a hair early, so rounding never makes the bound inadmissible
    t_lb = t + rest_t * (1.0 - 1e-12) - 1e-12 * abs(t)
    need = rest_e - (e - e_off)
    if need <= 0.0:
        return t_lb
    t_e = _harvest_until_k((_harvest_to_k(t, edges, cum, p, first, period, loop) + need / eta_in)
                           * (1.0 - 1e-12), edges, cum, p, period, loop)
    return max(t_lb, t_e - 1e-12 * abs(t_e))


@njit(cache=True)
def _never_reaches_k(t, e, e_target, edges, cum, p, first, period, loop, start_gain, best_gain,
                     use_table, eta_in, b, e_off, horizon, slack):
    """:meth:`Model._never_reaches` (see there for the argument)."""
    need = e_target - e
    if need <= 0.0:
        return False
    need = need * (1.0 - 1e-9) - 1e-18
    if use_table and e >= e_off:
        k = np.searchsorted(edges, t, side="right") - 1
        if k < 0:
            return False  # before the trace's first sample: not tabled
        if k >= best_gain.size - 1:
            return True   # past the last tabled sample: no harvest before the horizon
        rate = eta_in * p[k] - b * e_off
        partial = rate * (min(edges[k + 1], horizon) - t)
        return max(partial + start_gain[k + 1], best_gain[k + 1]) < need - slack
    left = (_harvest_to_k(horizon, edges, cum, p, first, period, loop)
            - _harvest_to_k(t, edges, cum, p, first, period, loop))
    return left * eta_in < need


# ------------------------------------------------------------------------------------------------
# the operations of the class and what they cost


class Ops:
    """Loads and durations of the class's operations as the engine executes them, and the sleep
    thresholds; no trace (``optimal-online`` uses this alone).

    Parameters
    ----------
    storage : Storage; platform : Platform
    costs : list of Cost  per base task, priced for the SRAM layout
    image_bytes : int [B] the SRAM image a checkpoint saves; result_bytes : int [B] the result copy
    extra_v : dict  task position -> extra sleep thresholds [V]; key ``None``: at every position
    """

    def __init__(self, storage, platform, costs, image_bytes, result_bytes, extra_v=None):
        st = storage
        self.storage = st
        self.c_f = st.capacitance_f
        self.eta_in, self.b, self.e_max = st.input_efficiency, st.leak_rate_per_s, st.e_max_j
        self.e_on, self.e_off = st.e_on_j, st.e_off_j
        eta = st.output_efficiency
        self.n = len(costs)
        # tasks as the engine's runner has them: cycles / clock [s], pin power / eta_out [W]
        cycles = np.array([c.cycles for c in costs], np.int64)
        self.dur = (cycles.astype(np.float64) / platform.clock_hz).tolist()
        self.load = (np.array([c.power_w for c in costs], np.float64) / eta).tolist()
        # boot (Engine._device), sleep, and the transfers of Copy / WriteWords / Done (Engine._execute)
        p_boot = platform.boot_energy_j / platform.boot_time_s if platform.boot_time_s > 0 else 0.0
        self.boot = (p_boot / eta, platform.boot_time_s)
        self.sleep_load = platform.sleep_power_w / eta
        word = transfer_cost(platform, 2, "sram_to_nvm")
        image = transfer_cost(platform, int(image_bytes), "sram_to_nvm")
        restore = transfer_cost(platform, int(image_bytes), "nvm_to_sram")
        result = transfer_cost(platform, int(result_bytes), "sram_to_nvm")
        self.restore = (restore.power_w / eta, restore.time_s)
        # checkpoint: Copy(image -> slot), WriteWords(4 header words), WriteWords(flag, commits)
        self.ckpt_ops = ((image.power_w / eta, image.time_s), (word.power_w / eta, 4 * word.time_s),
                         (word.power_w / eta, 1 * word.time_s))
        # finish: Copy(output -> result), Done (one word)
        self.finish_ops = ((result.power_w / eta, result.time_s), (word.power_w / eta, word.time_s))
        self._thresholds(extra_v or {})

    def _thresholds(self, extra_v):
        """Zero-harvest energies and the sleep thresholds per position ``i``.

        ``need1[i]`` [J]: least stored energy from which task i and a checkpoint complete with
        zero harvest (leakage included); ``need_fin[i]``: tasks i.. and the finish; ``e_ck``: a
        checkpoint alone. ``thresholds[i]``: ``(v [V], C v^2/2 [J])`` ascending, made of V_on,
        V_max, the extra ones, for k = 1..n-i the least voltage from which tasks i..i+k-1 and a
        checkpoint complete, and the one for the rest and the finish; only those in
        (V_off, V_max] (a sleep never ends above V_max)."""
        n, b, e_max = self.n, self.b, self.e_max

        def before(load, dur):
            # backward map of one load with zero harvest: e_before = alpha e_after + beta
            if b == 0.0:
                return 1.0, load * dur
            g = math.exp(b * dur)
            return g, load / b * (g - 1.0)

        def through(seq, e_after):
            for load, dur in reversed(seq):
                alpha, beta = before(load, dur)
                e_after = alpha * e_after + beta
            return e_after

        maps = self._maps = [before(self.load[j], self.dur[j]) for j in range(n)]
        self.e_ck = through(self.ckpt_ops, self.e_off)
        fin = [0.0] * (n + 1)
        fin[n] = through(self.finish_ops, self.e_off)
        for i in range(n - 1, -1, -1):
            fin[i] = maps[i][0] * fin[i + 1] + maps[i][1]
        self.need_fin = fin
        self.need1 = [maps[i][0] * self.e_ck + maps[i][1] for i in range(n)]
        base = {self.storage.v_on_v, self.storage.v_max_v, *extra_v.get(None, ())}
        self.thresholds = []
        for i in range(n + 1):
            energies = {fin[i]}
            p, q = 1.0, 0.0  # tasks i..j as the affine map e_after -> p e_after + q
            for j in range(i, n):
                p, q = p * maps[j][0], p * maps[j][1] + q
                need = p * self.e_ck + q
                if need > e_max:  # grows with j
                    break
                energies.add(need)
            vs = base | set(extra_v.get(i, ())) | {self.volts(x) for x in energies if x <= e_max}
            pairs = ((v, cap.energy_j(self.c_f, v)) for v in sorted(vs))
            self.thresholds.append(tuple((v, ev) for v, ev in pairs if self.e_off < ev <= e_max))
        self.threshold_energy = [dict(th) for th in self.thresholds]

    def after_task(self, i, e):
        """Stored energy [J] after task ``i`` from ``e`` [J] with zero harvest (leakage included):
        a lower bound on the true energy, since harvest only adds."""
        alpha, beta = self._maps[i]
        return (e - beta) / alpha

    def volts(self, energy_j):
        """Voltage [V] at which the capacitor holds ``energy_j`` [J]."""
        return math.sqrt(2.0 * energy_j / self.c_f)


class Model(Ops):
    """:class:`Ops` plus the trace: the engine's trajectory of every operation, one step at a time.

    Each step calls :func:`intersim.energy.capacitor._advance` exactly as :mod:`intersim.sim.engine` does for
    the corresponding action (same load at the capacitor, duration, thresholds, stop time).

    Parameters (besides those of :class:`Ops`)
    ----------
    trace_arrays : tuple  ``capacitor.trace_arrays(trace)``
    horizon_s : float [s] end of the run (the engine stops every advance there)
    """

    def __init__(self, trace_arrays, storage, platform, costs, image_bytes, result_bytes, horizon_s,
                 extra_v=None):
        super().__init__(storage, platform, costs, image_bytes, result_bytes, extra_v)
        self.tr = tuple(trace_arrays)
        self.horizon = float(horizon_s)
        tt, p, first, period, loop = self.tr
        self._tt, self._tp = np.ascontiguousarray(tt, np.float64), np.ascontiguousarray(p, np.float64)
        self._par = np.array([first, period, 1.0 if loop else 0.0, self.eta_in, self.b, self.e_max])
        self.steps = 0     # kernel calls so far (the exact search's budget counts them)
        self.members = {}  # member policies' parameters (Optimal.prepare sets them)
        self._bound_tables()

    # -- single steps: (status, t [s], e [J])
    def _adv(self, t, e, t_stop, load, e_low, e_high):
        self.steps += 1
        return _step(self._tt, self._tp, self._par, t, e, t_stop, load, e_low, e_high)

    def run(self, t, e, load, dur):
        """A constant ``load`` [W at the capacitor] for ``dur`` [s], as ``Engine._load`` and the
        task runner do (brown-out at V_off, stop at the horizon)."""
        t_target = t + dur
        horizon = self.horizon
        self.steps += 1
        t1, e1, r = _step(self._tt, self._tp, self._par, t, e, t_target if t_target < horizon else horizon,
                          load, self.e_off, math.inf)
        if r == STOP_TIME:
            return (DEAD if t_target > horizon and t1 >= horizon else OK), t1, e1
        return BROWN, t1, e1

    def task(self, i, t, e):
        return self.run(t, e, self.load[i], self.dur[i])

    def seq(self, loads, t, e):
        """Loads run back to back, one engine action each (a checkpoint, the finish)."""
        for load, dur in loads:
            s, t, e = self.run(t, e, load, dur)
            if s != OK:
                return s, t, e
        return OK, t, e

    def sleep(self, v, t, e):
        """``Sleep(until_v=v)``: OK once the voltage reaches ``v`` [V]."""
        e_target = cap.energy_j(self.c_f, v)
        # a sleep that cannot reach its target may still brown out first; then the reboot's
        # charge to V_on cannot succeed either (a rise at least as large, no earlier start) when
        # the target is at most V_on, so the outcome is DEAD all the same -- above V_on, step it
        if e_target <= self.e_on and self._never_reaches(t, e, e_target):
            return DEAD, self.horizon, e
        t1, e1, r = self._adv(t, e, self.horizon, self.sleep_load, self.e_off, e_target)
        return (OK if r == STOP_HIGH else DEAD if r == STOP_TIME else BROWN), t1, e1

    def charge(self, t, e):
        """Off, no load, until V_on."""
        if self._never_reaches(t, e, self.e_on):
            return DEAD, self.horizon, e
        t1, e1, r = self._adv(t, e, self.horizon, 0.0, -1.0, self.e_on)
        return (OK if r == STOP_HIGH else DEAD), t1, e1

    def _never_reaches(self, t, e, e_target):
        """True when a load-free capacitor cannot rise from ``e`` at ``t`` to ``e_target`` [J]
        before the horizon, so the kernel would step through the rest of the trace (a brown-out
        at dusk) only to return DEAD.

        Let T be the first crossing and s the last time before T at which E was ``e``: on
        [s, T] E >= e, so the leakage drains at least ``b e`` and ``e_target - e <=
        int_s^T (eta_in h - b e) dt``. Without leakage that is the whole harvest left; with it,
        for ``e >= V_off``'s energy, the table of the best window of ``eta_in h - b e_off``
        (:meth:`_reach_tables`) bounds it. The margin keeps the test conservative."""
        return _never_reaches_k(t, e, e_target, self._edges_a, self._cum_a, self._p_a, self._first,
                                self._period, self._loop, self._start_gain_a, self._best_gain_a,
                                self._tabled, self.eta_in, self.b, self.e_off, self.horizon,
                                self._gain_slack)

    def _reach_tables(self):
        """For a trace that does not loop: ``_start_gain_a[k]`` [J], the best of ``int (eta_in h -
        b e_off) dt`` over windows starting at sample edge k (empty allowed) and ending by the
        horizon; ``_best_gain_a[k]`` the best over windows starting at edge k or later. From prefix
        sums S: ``start[k] = max(0, max_{m > k} S[m] - S[k])``; ``_gain_slack`` [J] bounds their
        rounding, so the test that uses them stays conservative."""
        self._tabled = False
        self._start_gain_a = self._best_gain_a = np.zeros(0)
        self._gain_slack = 0.0
        _, p, first, period, loop = self.tr
        if loop:
            return
        edges = self._edges_a
        width = np.clip(np.minimum(edges[1:], self.horizon) - edges[:-1], 0.0, None)
        gain = (self.eta_in * np.asarray(p, np.float64) - self.b * self.e_off) * width
        prefix = np.concatenate(([0.0], np.cumsum(gain)))
        later = np.maximum.accumulate(prefix[::-1])[::-1]   # max over m >= k of S[m]
        start = np.maximum(0.0, np.append(later[1:] - prefix[:-1], 0.0))
        best = np.maximum.accumulate(start[::-1])[::-1]
        self._tabled = True
        self._start_gain_a, self._best_gain_a = start, best
        self._gain_slack = 1e-12 * (float(np.abs(gain).sum()) + float(np.abs(prefix).max()))

    def reboot(self, t, e, c, failures_left=math.inf):
        """After a brown-out at ``(t, e)``: off until V_on, boot, restore checkpoint ``c`` (0: none),
        again after each brown-out on the way. Returns ``(status, t, e, failures, boots)``:
        ``failures`` further brown-outs, ``boots`` the ``(t, e)`` right after each completed boot
        (where the engine builds a scheduler object); DEAD at the horizon or past
        ``failures_left`` further brown-outs."""
        failures, boots = 0, []
        while True:
            s, t, e = self.charge(t, e)
            if s != OK:
                return DEAD, t, e, failures, boots
            s, t, e = self.run(t, e, *self.boot)
            if s == OK:
                boots.append((t, e))
                if c > 0:
                    s, t, e = self.run(t, e, *self.restore)
                if s == OK:
                    return OK, t, e, failures, boots
            if s == DEAD:
                return DEAD, t, e, failures, boots
            failures += 1
            if failures > failures_left:
                return DEAD, t, e, failures, boots

    # -- the admissible bound
    def _bound_tables(self):
        n = self.n
        self.rest_t = [0.0] * (n + 1)  # time [s] of tasks i.. and the finish
        self.rest_e = [0.0] * (n + 1)  # their energy [J at the capacitor]
        self.rest_t[n] = sum(d for _, d in self.finish_ops)
        self.rest_e[n] = sum(l * d for l, d in self.finish_ops)
        for i in range(n - 1, -1, -1):
            self.rest_t[i] = self.rest_t[i + 1] + self.dur[i]
            self.rest_e[i] = self.rest_e[i + 1] + self.load[i] * self.dur[i]
        tt, p, first, period, loop = self.tr
        edges = np.append(tt, first + period)
        # the harvest's cumulative table at the sample edges, for the bound and shortcut kernels
        self._edges_a = np.ascontiguousarray(edges, np.float64)
        self._cum_a = np.concatenate(([0.0], np.cumsum(p * np.diff(edges))))
        self._p_a = np.ascontiguousarray(p, np.float64)
        self._first, self._period, self._loop = float(first), float(period), bool(loop)
        self._reach_tables()

    def lower_bound(self, t, e, i):
        """Admissible bound [s] on the completion from an awake state at boundary ``i``: the
        remaining tasks and the finish take their time, and their energy must come from the
        energy stored above V_off and the harvest (every loss and overhead only adds)."""
        return _lower_bound_k(t, e, self.rest_t[i], self.rest_e[i], self.e_off, self.eta_in, self._edges_a,
                              self._cum_a, self._p_a, self._first, self._period, self._loop)


# ------------------------------------------------------------------------------------------------
# one operation of the class, and all of them


def _apply(model, op, t, e, i, c, slept, failures_left):
    """Apply ``op`` at an awake boundary state ``(t, e, i, c, slept)``: ``i`` tasks done in SRAM,
    checkpoint ``c`` valid, ``slept``: this boundary's sleep is used. Returns ``(op, status, t, e,
    i, c, slept, failures, boots)``; ``i = n + 1``: the request completed at ``t``; after a
    brown-out the state is the one after the reboot, ``failures`` brown-outs on the way; DEAD: the
    horizon, or more brown-outs than ``failures_left``."""
    if op == CONT:
        s, t1, e1 = model.task(i, t, e) if i < model.n else model.seq(model.finish_ops, t, e)
        i1, c1, sl1 = i + 1, c, False
    elif op == CKPT:
        s, t1, e1 = model.seq(model.ckpt_ops, t, e)
        i1, c1, sl1 = i, i, slept
    else:
        s, t1, e1 = model.sleep(op, t, e)
        i1, c1, sl1 = i, c, True
    if s != BROWN:
        return op, s, t1, e1, i1, c1, sl1, 0, ()
    # brown-out: SRAM is lost, a cut checkpoint never validates; the next boot restores c
    if failures_left < 1:
        return op, DEAD, t1, e1, i1, c1, sl1, 1, ()
    s, t1, e1, f, boots = model.reboot(t1, e1, c, failures_left - 1)
    return op, s, t1, e1, c, c, False, 1 + f, tuple(boots)


def allowed(model, e, i, c, slept):
    """The operations the class allows at a boundary: continue; a checkpoint if it records
    progress the valid one lacks; if this boundary has not slept, a sleep to each threshold above
    the present energy ``e`` [J] (lower ones are no-ops in the engine)."""
    ops = [CONT]
    if c < i:
        ops.append(CKPT)
    if not slept:
        ops.extend(v for v, ev in model.thresholds[i] if ev > e)
    return ops


def is_allowed(model, op, e, i, c, slept):
    """Whether the class allows ``op`` at this boundary (see :func:`allowed`)."""
    if op == CONT:
        return True
    if op == CKPT:
        return c < i
    ev = model.threshold_energy[i].get(op)
    return not slept and ev is not None and ev > e


def _successors(model, t, e, i, c, slept, failures_left):
    for op in allowed(model, e, i, c, slept):
        yield _apply(model, op, t, e, i, c, slept, failures_left)


# ------------------------------------------------------------------------------------------------
# policies of the class as rules, followed in the model


def follow(model, start, decide, max_failures=math.inf, t_cap=math.inf, max_steps=math.inf):
    """Follow the rule ``decide(t, e, i, c, slept) -> op`` from ``start = (t, e, i, c, slept)``
    until the request completes (or the horizon, ``max_failures`` brown-outs, ``t_cap`` [s], or
    ``max_steps`` kernel calls); a stateful rule may have ``after(op, failures)``. Returns
    ``(t_done [s] or inf, path)``; ``path`` is a list of ``(op, c, failures, boots)``."""
    t, e, i, c, slept = start
    fails, path = 0, []
    after = getattr(decide, "after", None)
    steps_end = model.steps + max_steps
    # ends: every boundary visit takes time and the horizon is DEAD
    while t < t_cap and model.steps <= steps_end:
        op = decide(t, e, i, c, slept)
        if not is_allowed(model, op, e, i, c, slept):
            raise ValueError(f"policy op {op!r} at task {i} (checkpoint {c}, slept {slept}) "
                             "is outside the class")
        op, s, t1, e1, i1, c1, sl1, df, boots = _apply(model, op, t, e, i, c, slept, max_failures - fails)
        path.append((op, c, df, boots))
        if s != OK:
            break
        if i1 > model.n:
            return t1, path
        if after is not None:
            after(op, df)
        t, e, i, c, slept, fails = t1, e1, i1, c1, sl1, fails + df
    return math.inf, path


def restart_policy(model):
    """``restart``: always continue."""
    return lambda t, e, i, c, slept: CONT


def online_policy(ops, v_floor=None):
    """The zero-harvest rule of ``optimal-online``: continue while the next task and a checkpoint
    (or the rest and the finish) fit the stored energy; else checkpoint new progress if that
    fits, then sleep to the least threshold that holds the next task and its checkpoint, at least
    ``v_floor`` [V] (default V_on); continue after the sleep."""
    v_floor = ops.storage.v_on_v if v_floor is None else v_floor
    e_floor = cap.energy_j(ops.c_f, v_floor)

    def decide(t, e, i, c, slept):
        if e >= ops.need_fin[i] or (i < ops.n and e >= ops.need1[i]):
            return CONT
        if c < i and e >= ops.e_ck:
            return CKPT
        if not slept:
            want = max(e_floor, ops.need1[i] if i < ops.n else ops.need_fin[i])
            above = [(v, ev) for v, ev in ops.thresholds[i] if ev > e]
            for v, ev in above:
                if ev >= want:
                    return v
            if above:  # the least that would do is above V_max: charge to V_max
                return above[-1][0]
        return CONT

    return decide


def static_sram_groups(setup, checkpoint_j, restore_j, margin=Static.margin):
    """iNAS-style groups (``static``'s rule) for the SRAM design: consecutive tasks such that a
    group plus boot, restore and its checkpoint fit ``eta_out C (V_on^2 - V_off^2)/2 x margin``
    [J]; a group larger than that gets a charge voltage [V] (capped at V_max), as in ``static``.
    Returns ``(groups as (first, stop), charge_v [V] or None per group)``."""
    st, plat = setup.storage, setup.platform
    budget = st.output_efficiency * st.usable_energy_j() * margin
    fixed = plat.boot_energy_j + restore_j + checkpoint_j
    groups, cur, cur_e = [], [], 0.0
    for i, c in enumerate(setup.costs):
        if cur and cur_e + c.energy_j + fixed > budget:
            groups.append((cur[0], cur[-1] + 1))
            cur, cur_e = [], 0.0
        cur.append(i)
        cur_e += c.energy_j
    if cur:
        groups.append((cur[0], cur[-1] + 1))
    charge_v = []
    for first, stop in groups:
        need = sum(setup.costs[i].energy_j for i in range(first, stop)) + fixed
        if need <= budget:
            charge_v.append(None)
        else:
            e_needed = st.e_off_j + need / (st.output_efficiency * margin)
            charge_v.append(min(math.sqrt(2 * e_needed / st.capacitance_f), st.v_max_v))
    return groups, charge_v


def static_sram_policy(model, groups, charge_v):
    """Static-style grouping under the SRAM design: before each group sleep to its charge voltage
    (if any; again after a reboot), run the group, checkpoint at its end."""
    ends = {stop for _, stop in groups}
    charge = {first: (v, cap.energy_j(model.c_f, v))
              for (first, _), v in zip(groups, charge_v) if v is not None}

    def decide(t, e, i, c, slept):
        if i in ends and c < i:
            return CKPT
        if i in charge and not slept and charge[i][1] > e:
            return charge[i][0]
        return CONT

    return decide


class JitTaskRule:
    """``jit-task`` as a rule: a comparator, armed at boot and whenever a sleep reaches V_on, fires
    when the voltage falls below ``v_ckpt`` [V] during a task (detected as the engine does it, by
    a run stopped at V_ckpt); at the next boundary the rule checkpoints, then sleeps to ``v_on``
    [V]. Stateful: :func:`follow` reports each step through :meth:`after`."""

    def __init__(self, model, v_ckpt, v_on):
        self.model, self.v_on = model, v_on
        self.e_ckpt, self.e_von = cap.energy_j(model.c_f, v_ckpt), cap.energy_j(model.c_f, v_on)
        self.armed, self.pending, self.sleep_due = True, False, False

    def __call__(self, t, e, i, c, slept):
        m = self.model
        if self.pending:
            self.pending, self.sleep_due = False, True
            return CKPT
        if self.sleep_due:
            self.sleep_due = False
            if self.e_von > e and not slept:
                return self.v_on
            self.armed = True  # the engine's sleep returns at once: armed again
        if i < m.n and self.armed:
            _, e_d, r = m._adv(t, e, min(t + m.dur[i], m.horizon), m.load[i], max(m.e_off, self.e_ckpt),
                               math.inf)
            if r == STOP_LOW and e_d > m.e_off:
                self.armed, self.pending = False, True
        return CONT

    def after(self, op, failures):
        if failures:  # rebooted: armed again, nothing pending
            self.armed, self.pending, self.sleep_due = True, False, False
        elif op not in (CONT, CKPT):
            self.armed = True  # the sleep reached V_on


# ------------------------------------------------------------------------------------------------
# the planner


def member_policies(model):
    """Rules of the members of the class the planner starts from, by name (fresh objects)."""
    m = model.members
    out = {"restart": restart_policy(model), "online": online_policy(model)}
    if "jit_task_v_ckpt" in m:
        out["jit-task"] = JitTaskRule(model, m["jit_task_v_ckpt"], model.storage.v_on_v)
    if "groups" in m:
        out["static-sram"] = static_sram_policy(model, m["groups"], m["charge_v"])
    return out


def plan_request(model, t, e, i=0, c=0, restore=False, max_cycles=None, exact_budget=100_000,
                 rollout_budget=300_000):
    """Earliest completion of the request from an awake state, over the class (docs/optimal.md).

    Parameters
    ----------
    model : Model
    t : float [s], e : float [J]  the state now (``Device.oracle_state()``)
    i : int  tasks whose results are in SRAM; c : int  tasks the valid checkpoint holds (0: none)
    restore : bool  restore checkpoint ``c`` first (right after a boot)
    max_cycles : int or None  at most this many power cycles (brown-outs + 1); None: unbounded
    exact_budget : int  kernel calls the exact search may make (a few us each); past it the
        result is the rollout's, ``exact = False``
    rollout_budget : int  kernel calls the rollout may make

    Returns a dict: ``t_done_s`` [s] (inf: nothing completes before the horizon), ``path`` (list
    of ``(op, c, failures, boots)``), ``exact`` (True: proven the minimum over the class),
    ``expanded`` (nodes), ``lower_bound_s`` [s], ``members`` (name -> t_done_s [s] of each member
    policy from the same state), ``steps`` (kernel calls of each stage), ``origin``
    ``(t, e, i, c, restore)``, ``start`` (the decision state after the restore) and
    ``prefix_boots`` (boots after a brown-out in that restore).
    """
    max_failures = math.inf if max_cycles is None else max_cycles - 1
    restore = bool(restore and c > 0)
    out = {"t_done_s": math.inf, "path": [], "exact": True, "expanded": 0, "members": {},
           "origin": (t, e, i, c, restore), "prefix_boots": ()}
    failures0 = 0
    if restore:
        i = c
        s, t, e = model.run(t, e, *model.restore)
        if s == BROWN:
            if max_failures < 1:
                s = DEAD
            else:
                s, t, e, f, out["prefix_boots"] = model.reboot(t, e, c, max_failures - 1)
                failures0 = 1 + f
    out["start"] = (t, e, i, c)
    out["lower_bound_s"] = model.lower_bound(t, e, i)
    if restore and s != OK:
        out["lower_bound_s"] = math.inf
        return out
    left = max_failures - failures0
    steps = out["steps"] = {}
    s0 = model.steps
    # 1. the members, followed in the model: the incumbent
    best_t, best_path = math.inf, []
    for name, rule in member_policies(model).items():
        t_m, path = follow(model, (t, e, i, c, False), rule, left)
        out["members"][name] = t_m
        if t_m < best_t:
            best_t, best_path = t_m, path
        if name == "restart" and t_m < math.inf and all(op == CONT and f == 0 for op, _, f, _ in path):
            # every policy runs each remaining task and the finish at least once: running them
            # straight through with no brown-out is the minimum; nothing to search
            steps["members"] = model.steps - s0
            out.update(t_done_s=t_m, path=path, lower_bound_s=t_m)
            return out
    steps["members"], s0 = model.steps - s0, model.steps
    # 2. fortified rollout of the members: never worse than the incumbent, usually much better
    best_t, best_path = _rollout(model, (t, e, i, c), best_t, best_path, left, rollout_budget)
    steps["rollout"], s0 = model.steps - s0, model.steps
    # 3. exact best-first search, pruned by the admissible bound against the incumbent
    found = _astar(model, (t, e, i, c), left, exact_budget, best_t)
    steps["exact"] = model.steps - s0
    if found is None:
        out["exact"] = False
    else:
        out["expanded"] = found[2]
        if found[0] < best_t:
            best_t, best_path = found[0], found[1]
        out["lower_bound_s"] = best_t
    out["t_done_s"], out["path"] = best_t, best_path
    return out


def _rollout(model, start, best_t, best_path, max_failures, budget=math.inf):
    """Fortified rollout: walk along the incumbent path; at each boundary, apply every allowed
    operation and complete it with each member rule; whenever that completes earlier, it becomes
    the incumbent. Stops improving after ``budget`` kernel calls. Returns ``(t_done, path)``,
    never later than the incumbent given."""
    if not best_path or best_t == math.inf:
        return best_t, best_path
    t, e, i, c = start
    slept, fails, k = False, 0, 0
    steps_end = model.steps + budget
    while k < len(best_path) and model.steps < steps_end:
        left = max_failures - fails
        for op, s, t1, e1, i1, c1, sl1, df, boots in _successors(model, t, e, i, c, slept, left):
            if s != OK:
                continue
            step = (op, c, df, boots)
            if i1 > model.n:
                if t1 < best_t:
                    best_t, best_path = t1, best_path[:k] + [step]
                continue
            if model.lower_bound(t1, e1, i1) >= best_t:
                continue
            for rule in member_policies(model).values():
                t_r, tail = follow(model, (t1, e1, i1, c1, sl1), rule, max_failures - fails - df, best_t,
                                   steps_end - model.steps)
                if t_r < best_t:
                    best_t, best_path = t_r, best_path[:k] + [step] + tail
        op = best_path[k][0]
        op, s, t, e, i, c, slept, df, _ = _apply(model, op, t, e, i, c, slept, max_failures - fails)
        fails += df
        k += 1
    return best_t, best_path


def _astar(model, start, max_failures, budget, best_t):
    """Best-first search in order of the admissible bound, over every policy of the class, with
    no pruning but the bound against the best completion known. Returns ``(t_done, path,
    expanded)`` -- ``(inf, None, expanded)`` if nothing beats ``best_t`` -- or None once it has
    made more than ``budget`` kernel calls (a deterministic measure of its time)."""
    t0, e0, i0, c0 = start
    nodes = [(t0, e0, i0, c0, False, 0)]   # (t, e, i, c, slept, failures)
    how = [(-1, None)]                      # (parent, (op, c, failures, boots))
    heap = [(model.lower_bound(t0, e0, i0), 0)]
    best_node, expanded, steps0 = None, 0, model.steps
    while heap:
        f, k = heapq.heappop(heap)
        if f >= best_t:
            break  # every policy left completes no earlier than best_t
        if model.steps - steps0 > budget:
            return None
        expanded += 1
        t, e, i, c, slept, fails = nodes[k]
        left = max_failures - fails
        for op, s, t1, e1, i1, c1, sl1, df, boots in _successors(model, t, e, i, c, slept, left):
            if s != OK:
                continue
            if i1 > model.n:
                if t1 < best_t:
                    best_t, best_node = t1, (k, (op, c, df, boots))
                continue
            lb = model.lower_bound(t1, e1, i1)
            if lb < best_t:
                nodes.append((t1, e1, i1, c1, sl1, fails + df))
                how.append((k, (op, c, df, boots)))
                heapq.heappush(heap, (lb, len(nodes) - 1))
    if best_node is None:
        return math.inf, None, expanded
    k, step = best_node
    path = [step]
    while k > 0:
        k, step = how[k]
        path.append(step)
    path.reverse()
    return best_t, path, expanded


class EnumerationTooLarge(RuntimeError):
    """:func:`enumerate_policies` visited more boundary states than it was allowed."""


def enumerate_policies(model, t, e, max_cycles=6, max_nodes=None):
    """Minimum completion time [s] over every policy of the class with at most ``max_cycles``
    power cycles, by plain depth-first enumeration from an awake state at task 0 with no
    checkpoint: the oracle :func:`plan_request` is tested against. It shares with the planner
    only the model's single steps and the threshold sets. Its one cut is safe: a branch whose
    present time is already the best completion found cannot complete earlier. Raises
    :class:`EnumerationTooLarge` past ``max_nodes`` boundary states (None: no limit)."""
    n = model.n
    best = math.inf
    nodes = 0

    def boundary(t, e, i, c, slept, cycles):
        nonlocal best, nodes
        if t >= best:
            return
        nodes += 1
        if max_nodes is not None and nodes > max_nodes:
            raise EnumerationTooLarge(f"more than {max_nodes} boundary states")
        # continue: the next task, or the result copy and the done flag
        s, t1, e1 = model.task(i, t, e) if i < n else model.seq(model.finish_ops, t, e)
        if s == OK and i < n:
            boundary(t1, e1, i + 1, c, False, cycles)
        elif s == OK:
            best = min(best, t1)
        elif s == BROWN:
            brownout(t1, e1, c, cycles)
        # a checkpoint of new progress
        if c < i:
            s, t1, e1 = model.seq(model.ckpt_ops, t, e)
            if s == OK:
                boundary(t1, e1, i, i, slept, cycles)
            elif s == BROWN:
                brownout(t1, e1, c, cycles)
        # this boundary's one sleep
        if not slept:
            for v, ev in model.thresholds[i]:
                if e < ev:
                    s, t1, e1 = model.sleep(v, t, e)
                    if s == OK:
                        boundary(t1, e1, i, c, True, cycles)
                    elif s == BROWN:
                        brownout(t1, e1, c, cycles)

    def brownout(t, e, c, cycles):
        # off until V_on, boot, restore checkpoint c; again after a brown-out in boot or restore
        while cycles < max_cycles:
            cycles += 1
            s, t, e = model.charge(t, e)
            if s != OK:
                return
            s, t, e = model.run(t, e, *model.boot)
            if s == OK and c > 0:
                s, t, e = model.run(t, e, *model.restore)
            if s == OK:
                boundary(t, e, c, c, False, cycles)
                return
            if s == DEAD:
                return

    boundary(t, e, 0, 0, False, 1)
    return best


# ------------------------------------------------------------------------------------------------
# the schedulers


def compile_plan(result):
    """A planned path as power cycles: dicts ``t`` [s], ``e`` [J] (the state where the cycle's
    scheduler object starts: the planning origin, then right after each boot), ``i`` (tasks in
    SRAM after any restore), ``c`` (valid checkpoint), ``restore`` (restore ``c`` first) and
    ``ops``; a cycle's last op is the one the next cycle's brown-out cuts."""
    t, e, i, c, restore = result["origin"]
    cycles = [{"t": t, "e": e, "i": c if restore else i, "c": c, "restore": restore, "ops": []}]
    for tb, eb in result["prefix_boots"]:
        cycles.append({"t": tb, "e": eb, "i": c, "c": c, "restore": c > 0, "ops": []})
    for op, c_durable, _, boots in result["path"]:
        cycles[-1]["ops"].append(op)
        for tb, eb in boots:
            cycles.append({"t": tb, "e": eb, "i": c_durable, "c": c_durable, "restore": c_durable > 0,
                           "ops": []})
    return cycles


def _checkpoint_actions(sched, i):
    """jit's checkpoint of the SRAM image at task ``i`` into the older slot, flag last."""
    actions, sched.flag = hibernus_checkpoint(sched.flag, sched.seq, i)
    yield from actions


def _prepare_ops(cls, setup, memory):
    """What both schedulers compute offline: checkpoint and restore energies [J at the pin],
    jit-task's V_ckpt [V], the static-style groups, and the extra sleep thresholds."""
    plat = setup.platform
    image = memory.used_bytes("sram")
    ck_j = cls.checkpoint_energy_j(setup, memory)
    restore_j = transfer_cost(plat, image, "nvm_to_sram").energy_j
    v_jt = JITTask.prepare(setup, memory)["v_ckpt"]
    groups, charge_v = static_sram_groups(setup, ck_j, restore_j)
    extra = {None: [v_jt]}
    for (first, _), v in zip(groups, charge_v):
        if v is not None:
            extra.setdefault(first, []).append(v)
    result_bytes = memory.raw(tensor_buffer(setup.network.output_name)).size
    return {"image_bytes": image, "result_bytes": result_bytes, "checkpoint_energy_j": ck_j,
            "restore_energy_j": restore_j, "jit_task_v_ckpt": v_jt, "groups": groups, "charge_v": charge_v,
            "extra_v": extra}


def _unit_energy_j(setup, plan):
    # the least any policy of the class needs in one power cycle: every task (restart), or the
    # largest task with a restore and a checkpoint
    e = [c.energy_j for c in setup.costs]
    return min(sum(e), max(e) + plan["checkpoint_energy_j"] + plan["restore_energy_j"])


class _Planned(JIT):
    """``jit``'s layout and checkpoints, driven by planned decisions instead of a comparator."""

    @classmethod
    def threshold_v(cls, plan):
        return None

    @classmethod
    def unit_energy_j(cls, setup, plan):
        return _unit_energy_j(setup, plan)


class Optimal(_Planned):
    """Offline, clairvoyant, latency-optimal over task-boundary policies (docs/optimal.md).

    Layout: ``jit``'s. When a request enters service, the scheduler plans from
    ``dev.oracle_state()`` with the trace (the firmware ``plan`` holds the planning model) and
    executes the plan's actions. The scheduler object is rebuilt at every boot: it finds the power
    cycle the plan predicted for the true state (checkpoint in NVM, time, energy) and goes on with
    it, or plans again from that state if reality deviated (an injected failure).
    ``plan["plan_s"]`` is the total planning wall time [s]; ``plan["requests"]`` has one record per
    planning (``exact``, predicted ``t_done_s``, ``members``' times, ``plan_s``, ...).
    """

    name = "optimal"
    #: kernel calls the exact search may make per planning (beyond: the rollout's result, flagged)
    exact_budget = 100_000
    #: above this many base tasks the exact search is not attempted (it cannot finish within its
    #: budget there and cost a third of the planning time on the default scenario's 122 tasks)
    exact_max_tasks = 24
    #: kernel calls the rollout may make per planning
    rollout_budget = 100_000
    #: at most this many power cycles per request (None: unbounded)
    max_cycles = None
    #: relative tolerance [-] of time and energy when matching a boot to the planned one
    match_rtol = 1e-9

    @classmethod
    def prepare(cls, setup, memory):
        plan = _prepare_ops(cls, setup, memory)
        model = Model(cap.trace_arrays(setup.trace), setup.storage, setup.platform, setup.costs,
                      plan["image_bytes"], plan["result_bytes"], setup.workload.horizon_s(), plan["extra_v"])
        model.members = {"jit_task_v_ckpt": plan["jit_task_v_ckpt"], "groups": plan["groups"],
                         "charge_v": plan["charge_v"]}
        plan.update(model=model, output_name=setup.network.output_name, plan_s=0.0, requests=[], live=None)
        return plan


    def on_boot(self, dev):
        super().on_boot(dev)  # jit's: this request's valid checkpoint (slot, task) and the flag
        self.actions = None
        self.fresh = True     # just booted: a plan may have predicted this boot

    def next_action(self, dev):
        if not dev.request_active:
            return Idle()
        if self.actions is None or self.seq != dev.request_seq:
            self._begin(dev)
        action = next(self.actions, None)
        if action is None:  # awake where the plan predicted a brown-out: plan again from here
            self._plan(dev, self.i, self.c, False, "deviation")
            action = next(self.actions)
        return action

    def _begin(self, dev):
        seq, live = dev.request_seq, self.plan["live"]
        c = self.next if (self.fresh and self.restore_slot is not None) else 0
        fresh, self.fresh, self.seq = self.fresh, False, seq
        if fresh and live is not None and live["seq"] == seq:
            t, e = dev.oracle_state()
            tol_t = self.match_rtol * max(1.0, abs(t))
            tol_e = self.match_rtol * self.plan["model"].e_max
            for cycle in live["cycles"][1:]:
                if cycle["c"] == c and abs(cycle["t"] - t) <= tol_t and abs(cycle["e"] - e) <= tol_e:
                    self._start(cycle)
                    return
            self._plan(dev, c, c, c > 0, "boot off plan")
        else:
            self._plan(dev, c, c, c > 0, "request" if c == 0 else "boot off plan")

    def _plan(self, dev, i, c, restore, why):
        plan = self.plan
        t, e = dev.oracle_state()
        wall = time.perf_counter()
        exact = self.exact_budget if plan["model"].n <= self.exact_max_tasks else 0
        # the search makes many small acyclic objects (freed by reference counting): the cyclic
        # collector only costs time while it runs
        collecting = gc.isenabled()
        gc.disable()
        try:
            result = plan_request(plan["model"], t, e, i, c, restore, self.max_cycles, exact,
                                  self.rollout_budget)
        finally:
            if collecting:
                gc.enable()
        dt = time.perf_counter() - wall
        plan["plan_s"] += dt
        cycles = compile_plan(result)
        if not result["path"]:  # nothing completes before the horizon: compute on regardless
            cycles = [dict(cycles[0], ops=[CONT] * (plan["model"].n - cycles[0]["i"] + 1))]
        plan["live"] = {"seq": self.seq, "cycles": cycles}
        plan["requests"].append({
            "seq": self.seq, "why": why, "t_s": t, "t_done_s": result["t_done_s"], "exact": result["exact"],
            "expanded": result["expanded"], "lower_bound_s": result["lower_bound_s"],
            "members": result["members"], "power_cycles": 1 + sum(f for _, _, f, _ in result["path"]),
            "steps": result.get("steps", {}), "plan_s": dt})
        self._start(cycles[0])

    def _start(self, cycle):
        self.i, self.c = cycle["i"], cycle["c"]
        self.actions = self._actions(cycle)

    def _actions(self, cycle):
        n = self.plan["model"].n
        if cycle["restore"]:
            yield Copy(f"ckpt{self.restore_slot}_sram", SRAM_IMAGE, category="restore")
        ops, k = cycle["ops"], 0
        while k < len(ops):
            op, i = ops[k], self.i
            k += 1
            if op == CONT and i < n:  # consecutive tasks: one run, one kernel call
                j = i + 1
                while k < len(ops) and ops[k] == CONT and j < n:
                    j, k = j + 1, k + 1
                yield RunTasks(i, j)
                self.i = j
            elif op == CONT:
                yield Copy(tensor_buffer(self.plan["output_name"]), "result")
                yield Done()
                return
            elif op == CKPT:
                yield from _checkpoint_actions(self, i)
                self.c = i
            else:
                yield Sleep(until_v=op)


class OptimalOnline(_Planned):
    """The decisions of the class from the measured voltage and the task costs only (no trace):
    continue while the next task and a checkpoint fit the stored energy with zero harvest; else
    checkpoint new progress, then sleep to the least threshold (at least V_on) that holds the next
    task and its checkpoint. Layout and checkpoints are ``jit``'s. No optimality claim.

    Every decision starts with a :class:`ReadVoltage` (the platform's ADC read, with its time and
    energy); the stored energy is taken as ``C v^2 / 2`` of the reading.
    """

    name = "optimal-online"

    @classmethod
    def prepare(cls, setup, memory):
        plan = _prepare_ops(cls, setup, memory)
        ops = Ops(setup.storage, setup.platform, setup.costs, plan["image_bytes"], plan["result_bytes"],
                  plan["extra_v"])
        plan.update(ops=ops, output_name=setup.network.output_name)
        return plan


    def on_boot(self, dev):
        super().on_boot(dev)
        self.actions = None

    def next_action(self, dev):
        if not dev.request_active:
            return Idle()
        if self.actions is None or self.seq != dev.request_seq:
            restore = self.restore_slot is not None and self.actions is None
            c = self.next if restore else 0
            self.seq = dev.request_seq
            self.actions = self._actions(dev, c, restore)
        return next(self.actions)

    def _actions(self, dev, c, restore):
        ops = self.plan["ops"]
        decide = online_policy(ops)
        if restore:
            yield Copy(f"ckpt{self.restore_slot}_sram", SRAM_IMAGE, category="restore")
        i, slept = c, False
        while True:
            yield ReadVoltage()
            e = cap.energy_j(ops.c_f, dev.voltage_v)
            op = decide(dev.now_s, e, i, c, slept)
            if op == CONT and i < ops.n:
                # the rule continues into every following task it would continue into even with
                # zero harvest (on the linear power path the true energy is at least that, and
                # the rule is monotone in it): those decisions need no new reading, and the
                # tasks run as one kernel call
                j, e = i + 1, ops.after_task(i, e)
                while j < ops.n and decide(None, e * (1.0 - 1e-12), j, c, False) == CONT:
                    j, e = j + 1, ops.after_task(j, e)
                yield RunTasks(i, j)
                i, slept = j, False
                if i < ops.n or decide(None, e * (1.0 - 1e-12), i, c, False) != CONT:
                    continue
                op = CONT  # the finish is decided on the same prediction: no new reading
            if op == CONT:
                yield Copy(tensor_buffer(dev.network.output_name), "result")
                yield Done()
                return
            elif op == CKPT:
                yield from _checkpoint_actions(self, i)
                c = i
            else:
                yield Sleep(until_v=op)
                slept = True
