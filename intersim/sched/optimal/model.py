"""The operations of optimal's class (continue, checkpoint, sleep) costed as the engine executes
them, and one operation applied to a boundary state."""
from __future__ import annotations
import math
import numpy as np
from ...energy import capacitor as cap
from ...energy.capacitor import STOP_HIGH, STOP_TIME
from ...hw.cost import boot_cost, transfer_cost
from .bounds import OK, BROWN, DEAD, CONT, CKPT, _step, _lower_bound_k, _never_reaches_k


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
    boot : intersim.hw.cost.BootCost or None  the cost of every boot (default: the platform's bare
        boot; schedulers pass :func:`~intersim.sched.contract.boot_cost_for`, as the engine executes)
    """

    def __init__(self, storage, platform, costs, image_bytes, result_bytes, extra_v=None, boot=None):
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
        boot = boot if boot is not None else boot_cost(platform)
        self.boot = (boot.power_w / eta, boot.time_s)
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
                 extra_v=None, boot=None):
        super().__init__(storage, platform, costs, image_bytes, result_bytes, extra_v, boot)
        self.tr = tuple(trace_arrays)
        self.horizon = float(horizon_s)
        tt, p, first, period, loop = self.tr
        self._tt, self._tp = np.ascontiguousarray(tt, np.float64), np.ascontiguousarray(p, np.float64)
        self._par = np.array([first, period, 1.0 if loop else 0.0, self.eta_in, self.b, self.e_max])
        #: the most the capacitor can gain per second [W]: ``eta_in`` times the largest harvest power
        #: (the rollout's exchange rate of stored energy against time, ``policies.Dominance``)
        self.gain_rate = self.eta_in * float(np.max(p)) if len(p) else 0.0
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
