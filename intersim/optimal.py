"""The ``optimal`` (offline, clairvoyant) and ``optimal-online`` schedulers.

``optimal`` plans one request at a time: knowing the trace, the capacitor's state when the request
enters service (:meth:`~intersim.engine.Device.oracle_state`) and every task's cost, it finds the
earliest completion over a class of task-boundary policies (docs/optimal.md), then executes that
plan in the engine like any scheduler. Its planning model is the engine itself: every operation
is costed exactly as :mod:`intersim.engine` costs it and advanced by the engine's own kernel
:func:`intersim.capacitor._advance`, called with the same arguments, so the planned completion time
is the executed one (bit for bit when nothing injected interferes).

The class (docs/optimal.md has the definition and the proof): base tasks run in order on the
SRAM execution design of ``jit`` (activations in SRAM, the full SRAM image checkpointed into one of
two NVM slots, valid flag last); at every task boundary, in every power cycle, the policy may take
a checkpoint (``Copy`` image, ``WriteWords`` 4 header words, ``WriteWords`` flag) if it records new
progress, and a sleep until a voltage from a finite set, at most one of each in either order, then
continues; no progress is preserved inside a task; a brown-out restores the last checkpoint (or
restarts) at the next boot. ``restart``, ``jit-task`` and a static-style grouping under the SRAM
design are members, so ``optimal`` is never slower than they are on a single request.

``optimal-online`` takes the same kind of decisions from the voltage it reads and the task costs
only (it assumes zero harvest); it makes no optimality claim.
"""
from __future__ import annotations

import bisect
import heapq
import math
import time

import numpy as np

from . import capacitor as cap
from .capacitor import STOP_HIGH, STOP_LOW, STOP_TIME, _advance
from .cost import transfer_cost
from .scheduler import SRAM_IMAGE, Copy, Done, Idle, RunTasks, Sleep, WriteWords, tensor_buffer
from .schedulers import JIT, JITTask, Static

# outcome of one operation in the planning model
OK, BROWN, DEAD = 0, 1, 2
# policy operations at a task boundary: continue (run the next task, or finish the request), checkpoint;
# a sleep is the threshold voltage itself (a float)
CONT, CKPT = "C", "K"

_NO_SEG = np.empty(0)


class Model:
    """The engine's time and energy for every operation of the class, one step at a time.

    Each step calls :func:`intersim.capacitor._advance` exactly as :mod:`intersim.engine` does for
    the corresponding action (same loads at the capacitor, durations, thresholds, stop time), so
    the model's trajectory is the engine's.

    Parameters
    ----------
    trace_arrays : tuple  ``capacitor.trace_arrays(trace)``
    storage : Storage; platform : Platform
    costs : list of Cost  per base task, priced for the SRAM layout
    image_bytes : int [B] SRAM image saved by a checkpoint; result_bytes : int [B] result copy
    horizon_s : float [s] end of the run (the engine stops every advance there)
    extra_v : dict  position -> extra sleep thresholds [V] (``None`` key: at every position)
    """

    def __init__(self, trace_arrays, storage, platform, costs, image_bytes, result_bytes, horizon_s,
                 extra_v=None):
        self.tr = tuple(trace_arrays)
        st = storage
        self.storage = st
        self.c_f = st.capacitance_f
        self.eta_in, self.b, self.e_max = st.input_efficiency, st.leak_rate_per_s, st.e_max_j
        self.e_on, self.e_off = st.e_on_j, st.e_off_j
        self.horizon = float(horizon_s)
        eta = st.output_efficiency
        self.n = len(costs)
        # tasks exactly as the engine's runner sees them: cycles / clock [s], pin power / eta [W]
        cycles = np.array([c.cycles for c in costs], np.int64)
        self.dur = (cycles.astype(np.float64) / platform.clock_hz).tolist()
        self.load = (np.array([c.power_w for c in costs], np.float64) / eta).tolist()
        # boot (engine._device), sleep, and the transfers of Copy/WriteWords/Done (engine._execute)
        p_boot = platform.boot_energy_j / platform.boot_time_s if platform.boot_time_s > 0 else 0.0
        self.boot = (p_boot / eta, platform.boot_time_s)
        self.sleep_load = platform.sleep_power_w / eta
        word = transfer_cost(platform, 2, "sram_to_nvm")
        image = transfer_cost(platform, int(image_bytes), "sram_to_nvm")
        restore = transfer_cost(platform, int(image_bytes), "nvm_to_sram")
        result = transfer_cost(platform, int(result_bytes), "sram_to_nvm")
        self.restore = (restore.power_w / eta, restore.time_s)
        # checkpoint: Copy(image -> slot), WriteWords(4 header words), WriteWords(flag)
        self.ckpt_ops = ((image.power_w / eta, image.time_s), (word.power_w / eta, 4 * word.time_s),
                         (word.power_w / eta, 1 * word.time_s))
        # finish: Copy(output -> result), Done (one word)
        self.finish_ops = ((result.power_w / eta, result.time_s), (word.power_w / eta, word.time_s))
        self._books = cap.new_books()  # the kernel accumulates books; the planner ignores them
        self._lower_bound_tables()
        self._thresholds(extra_v or {})
        self.members = {}  # member policies' parameters (set by Optimal.prepare)

    def member_paths(self, start, max_failures=math.inf):
        """The member policies followed from ``start``: name -> ``(t_done [s], path)``."""
        out = {"restart": follow(self, start, restart_policy(self), max_failures)}
        m = self.members
        if "jit_task_v_ckpt" in m:
            out["jit-task"] = follow_jit_task(self, start, m["jit_task_v_ckpt"], self.storage.v_on_v, max_failures)
        if "groups" in m:
            out["static-sram"] = follow(self, start, static_sram_policy(self, m["groups"], m["charge_v"]),
                                        max_failures)
        return out

    # ---------------------------------------------------------------- the steps
    def _adv(self, t, e, t_stop, load, e_low, e_high):
        tt, p, first, period, loop = self.tr
        return _advance(tt, p, first, period, loop, self.eta_in, self.b, self.e_max, t, e, t_stop, load,
                        e_low, e_high, self._books, _NO_SEG, _NO_SEG, _NO_SEG, _NO_SEG, _NO_SEG, 0)

    def run(self, t, e, load, dur):
        """A constant ``load`` [W at the capacitor] for ``dur`` [s] from ``(t, e)``, as
        ``Engine._load`` / the task runner: ``(status, t [s], e [J])``."""
        t_target = t + dur
        t1, e1, r, _ = self._adv(t, e, min(t_target, self.horizon), load, self.e_off, math.inf)
        if r == STOP_TIME:
            return (DEAD if t_target > self.horizon and t1 >= self.horizon else OK), t1, e1
        return BROWN, t1, e1

    def task(self, i, t, e):
        """Run base task ``i``: ``(status, t, e)``."""
        return self.run(t, e, self.load[i], self.dur[i])

    def ops(self, seq, t, e):
        """Run the loads of ``seq`` (checkpoint or finish) back to back: ``(status, t, e)``."""
        for load, dur in seq:
            s, t, e = self.run(t, e, load, dur)
            if s != OK:
                return s, t, e
        return OK, t, e

    def checkpoint(self, t, e):
        return self.ops(self.ckpt_ops, t, e)

    def finish(self, t, e):
        return self.ops(self.finish_ops, t, e)

    def sleep(self, v, t, e):
        """``Sleep(until_v=v)``: ``(status, t, e)`` (OK when the voltage reached ``v``)."""
        t1, e1, r, _ = self._adv(t, e, self.horizon, self.sleep_load, self.e_off,
                                 cap.energy_j(self.c_f, v))
        return (OK if r == STOP_HIGH else DEAD if r == STOP_TIME else BROWN), t1, e1

    def charge(self, t, e):
        """Off (no load) until V_on: ``(status, t, e)``."""
        t1, e1, r, _ = self._adv(t, e, self.horizon, 0.0, -1.0, self.e_on)
        return (OK if r == STOP_HIGH else DEAD), t1, e1

    def reboot(self, t, e, c, failures_left=math.inf):
        """After a brown-out at ``(t, e)``: off until V_on, boot, restore checkpoint ``c`` (none if
        0); again after every brown-out on the way. Returns ``(status, t, e, failures, boots)``:
        ``failures`` further brown-outs (in boots or restores), ``boots`` the ``(t, e)`` right
        after each completed boot (when the engine builds the scheduler). DEAD at the horizon or
        beyond ``failures_left`` further brown-outs."""
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

    # ---------------------------------------------------------------- thresholds
    def _thresholds(self, extra_v):
        """Sleep thresholds per position ``i`` [V]: V_on, V_max, the extra ones (jit-task's V_ckpt,
        the static-style groups' charge voltages), for k = 1..n-i the least voltage from which
        tasks i..i+k-1 and a checkpoint complete with zero harvest, and the least from which the
        remaining tasks and the finish do. Kept only in (V_off, V_max]: a sleep never ends above
        V_max. ``self.thresholds[i]`` is a tuple of ``(v [V], C v^2 / 2 [J])``, ascending."""
        n, b, e_max = self.n, self.b, self.e_max

        def before(load, dur):
            # the zero-harvest backward map e_after -> e_before = alpha e_after + beta of one load
            if b == 0.0:
                return 1.0, load * dur
            g = math.exp(b * dur)
            return g, load / b * (g - 1.0)

        def through(seq, e_after):
            for load, dur in reversed(seq):
                alpha, beta = before(load, dur)
                e_after = alpha * e_after + beta
            return e_after

        maps = [before(self.load[j], self.dur[j]) for j in range(n)]
        e_ck = through(self.ckpt_ops, self.e_off)
        fin = [0.0] * (n + 1)
        fin[n] = through(self.finish_ops, self.e_off)
        for i in range(n - 1, -1, -1):
            fin[i] = maps[i][0] * fin[i + 1] + maps[i][1]
        base = {self.storage.v_on_v, self.storage.v_max_v, *extra_v.get(None, ())}
        self.thresholds = []
        for i in range(n + 1):
            energies = {fin[i]}
            p, q = 1.0, 0.0  # tasks i..j as the affine map e_after -> p e_after + q
            for j in range(i, n):
                p, q = p * maps[j][0], p * maps[j][1] + q
                need = p * e_ck + q
                if need > e_max:  # grows with j
                    break
                energies.add(need)
            vs = base | set(extra_v.get(i, ())) | {math.sqrt(2.0 * x / self.c_f) for x in energies if x <= e_max}
            pairs = ((v, cap.energy_j(self.c_f, v)) for v in sorted(vs))
            self.thresholds.append(tuple((v, ev) for v, ev in pairs if self.e_off < ev <= e_max))

    # ---------------------------------------------------------------- lower bounds
    def _lower_bound_tables(self):
        """Suffix sums for the admissible bound: remaining time [s] and energy at the capacitor
        [J] of tasks i.. plus the finish, and the cumulative harvest of the trace."""
        n = self.n
        fin_t = sum(d for _, d in self.finish_ops)
        fin_e = sum(l * d for l, d in self.finish_ops)
        self.rest_t = [0.0] * (n + 1)
        self.rest_e = [0.0] * (n + 1)
        self.rest_t[n], self.rest_e[n] = fin_t, fin_e
        for i in range(n - 1, -1, -1):
            self.rest_t[i] = self.rest_t[i + 1] + self.dur[i]
            self.rest_e[i] = self.rest_e[i + 1] + self.load[i] * self.dur[i]
        tt, p, first, period, loop = self.tr
        edges = np.append(tt, first + period)
        self._edges = edges.tolist()
        self._cum = np.concatenate(([0.0], np.cumsum(p * np.diff(edges)))).tolist()
        self._p = p.tolist()
        self._first, self._period, self._loop = first, period, loop

    def _g(self, t):
        """Harvested energy [J, before the input converter] from the trace start to ``t``."""
        first, period, cum, edges = self._first, self._period, self._cum, self._edges
        total = cum[-1]
        if self._loop:
            m = math.floor((t - first) / period)
            x = t - m * period
        else:
            if t <= first:
                return 0.0
            if t >= first + period:
                return total
            m, x = 0, t
        k = min(max(bisect.bisect_right(edges, x) - 1, 0), len(self._p) - 1)
        return m * total + cum[k] + self._p[k] * (x - edges[k])

    def _g_inverse(self, g):
        """Earliest time [s] at which the cumulative harvest reaches ``g`` [J] (inf: never)."""
        first, period, cum, edges = self._first, self._period, self._cum, self._edges
        total = cum[-1]
        if total <= 0.0:
            return math.inf
        if self._loop:
            m = math.floor(g / total)
            r = g - m * total
        else:
            if g > total:
                return math.inf
            m, r = 0, g
        k = min(max(bisect.bisect_left(cum, r) - 1, 0), len(self._p) - 1)
        while k < len(self._p) - 1 and cum[k + 1] < r:
            k += 1
        x = edges[k] + ((r - cum[k]) / self._p[k] if self._p[k] > 0 else 0.0)
        return m * period + min(x, edges[k + 1])

    def lower_bound(self, t, e, i, extra_e=0.0, extra_t=0.0):
        """Admissible bound [s] on the completion time from an awake state at boundary ``i``:
        the remaining tasks and the finish take their time, and their energy (plus ``extra_e``
        [J at the capacitor]) must come from the stored energy above V_off and the harvest
        (leakage, clamping and overheads only add to it)."""
        t_lb = t + extra_t + self.rest_t[i]
        need = self.rest_e[i] + extra_e - (e - self.e_off)
        if need <= 0.0:
            return t_lb
        g = self._g(t) + need / self.eta_in
        t_e = self._g_inverse(g * (1.0 - 1e-12))  # a hair early: never above the true bound
        return max(t_lb, t_e - 1e-12 * max(1.0, abs(t_e)))


# ------------------------------------------------------------------------------------------------
# the planner


def _apply(model, op, t, e, i, c, slept, failures_left):
    """Apply one operation at an awake boundary state ``(t, e, i, c, slept)``. Returns
    ``(op, status, t, e, i, c, slept, failures, boots)``: ``i = n + 1`` means the request
    completed at ``t``; after a brown-out the state is the one after the reboot (``failures``
    brown-outs on the way, ``boots`` as :meth:`Model.reboot`); DEAD: the horizon, or more
    brown-outs than ``failures_left``."""
    if op == CONT:  # the next task, or the finish (result copy, done flag)
        s, t1, e1 = model.task(i, t, e) if i < model.n else model.finish(t, e)
        i1, c1, sl1 = i + 1, c, False
    elif op == CKPT:
        s, t1, e1 = model.checkpoint(t, e)
        i1, c1, sl1 = i, i, slept
    else:
        s, t1, e1 = model.sleep(op, t, e)
        i1, c1, sl1 = i, c, True
    if s != BROWN:
        return op, s, t1, e1, i1, c1, sl1, 0, ()
    # brown-out: volatile progress is lost (a cut checkpoint never validates), the durable
    # checkpoint c is restored at the next boot
    if failures_left < 1:
        return op, DEAD, t1, e1, i1, c1, sl1, 1, ()
    s, t1, e1, f, boots = model.reboot(t1, e1, c, failures_left - 1)
    return op, s, t1, e1, c, c, False, 1 + f, tuple(boots)


def _successors(model, t, e, i, c, slept, failures_left):
    """Every operation the class allows at an awake boundary state, applied (see :func:`_apply`):
    continue; a checkpoint if it records progress the valid one lacks; one sleep per boundary,
    before or after the checkpoint, to a threshold above the present voltage (lower ones are
    no-ops in the engine)."""
    yield _apply(model, CONT, t, e, i, c, slept, failures_left)
    if c < i:
        yield _apply(model, CKPT, t, e, i, c, slept, failures_left)
    if not slept:
        for v, ev in model.thresholds[i]:
            if ev > e:
                yield _apply(model, v, t, e, i, c, slept, failures_left)


def plan_request(model, t, e, i=0, c=0, restore=False, max_cycles=None, exact_budget=20_000,
                 members=True):
    """Earliest completion of the request from an awake state, over the class (docs/optimal.md).

    Parameters
    ----------
    model : Model
    t : float [s], e : float [J]  the state now (``Device.oracle_state()``)
    i : int  tasks whose results are in SRAM; c : int  tasks the valid checkpoint holds (0: none)
    restore : bool  the SRAM image must first be restored from checkpoint ``c`` (right after boot)
    max_cycles : int or None  at most this many power cycles (brown-outs + 1); None: unbounded
    exact_budget : int  node expansions of the exact search; beyond it the search restarts with
        dominance pruning (not proven safe, see docs/optimal.md) and the result says so
    members : bool  start from the best of the member policies (restart, jit-task, static-style
        grouping) followed in the model, so the result is never worse than any of them

    Returns a dict: ``t_done_s`` [s] (inf: nothing completes before the horizon), ``path`` (list
    of ``(op, c_durable, failures, boots)``), ``exact`` (True: the minimum over the class),
    ``expanded`` nodes, ``lower_bound_s`` [s], ``start`` ``(t, e, i, c)`` after any restore,
    ``origin`` ``(t, e, i, c, restore)`` as called, ``prefix_boots`` (boots after a brown-out in
    that restore), ``incumbent`` (the member policy kept, or None).
    """
    max_failures = math.inf if max_cycles is None else max_cycles - 1
    origin = (t, e, i, c, bool(restore and c > 0))
    prefix_boots, failures0 = (), 0
    if restore and c > 0:
        s, t, e = model.run(t, e, *model.restore)
        if s == BROWN:
            if max_failures < 1:
                s = DEAD
            else:
                s, t, e, f, prefix_boots = model.reboot(t, e, c, max_failures - 1)
                failures0 = 1 + f
        i = c
        if s != OK:
            return {"t_done_s": math.inf, "path": [], "exact": True, "expanded": 0, "lower_bound_s": math.inf,
                    "start": (t, e, i, c), "origin": origin, "prefix_boots": tuple(prefix_boots),
                    "incumbent": None}
    start = (t, e, i, c)
    best_t, best_path, incumbent = math.inf, None, None
    if members:
        left = max_failures - failures0
        for name, (t_m, path) in model.member_paths(start, left).items():
            if t_m < best_t:
                best_t, best_path, incumbent = t_m, path, name
    found = None
    for exact in (True, False):
        found = _search(model, start, failures0, max_failures, exact_budget if exact else None, best_t, exact)
        if found is not None:
            break
    t_done, path, expanded = found
    if t_done < best_t:
        best_t, best_path, incumbent = t_done, path, None
    return {"t_done_s": best_t, "path": best_path or [], "exact": exact, "expanded": expanded,
            "lower_bound_s": best_t if exact else model.lower_bound(t, e, i), "start": start,
            "origin": origin, "prefix_boots": tuple(prefix_boots), "incumbent": incumbent}


def _search(model, start, failures0, max_failures, budget, best_t, exact):
    t0, e0, i0, c0 = start
    # node arrays: state, how it was reached (parent, op, durable c, failures added, boots)
    nt, ne, ni, nc, ns, nf = [t0], [e0], [i0], [c0], [False], [failures0]
    parent, how = [-1], [None]
    heap = [(model.lower_bound(t0, e0, i0), 0, 0)]
    fronts = {}      # (i, c, slept) -> list of node ids on the Pareto front (t down, e up, failures down)
    dead = set()     # nodes a later one dominates
    best_node, best_how = -1, None
    expanded = 0
    while heap:
        f, _, k = heapq.heappop(heap)
        if f >= best_t:
            break
        if k in dead:
            continue
        expanded += 1
        if budget is not None and expanded > budget:
            return None
        t, e, i, c, slept, fails = nt[k], ne[k], ni[k], nc[k], ns[k], nf[k]
        for op, s, t1, e1, i1, c1, sl1, df, boots in _successors(model, t, e, i, c, slept,
                                                                  max_failures - fails):
            if s != OK:
                continue
            if i1 > model.n:  # completed
                if t1 < best_t:
                    best_t, best_node, best_how = t1, k, (op, c, df, boots)
                continue
            lb = model.lower_bound(t1, e1, i1)
            if lb >= best_t:
                continue
            f1 = fails + df
            key = (i1, c1, sl1)
            if not exact:
                front = fronts.setdefault(key, [])
                if any(nt[j] <= t1 and ne[j] >= e1 and nf[j] <= f1 for j in front):
                    continue
                keep = []
                for j in front:
                    if t1 <= nt[j] and e1 >= ne[j] and f1 <= nf[j]:
                        dead.add(j)
                    else:
                        keep.append(j)
                front = keep
                fronts[key] = front
            node = len(nt)
            nt.append(t1); ne.append(e1); ni.append(i1); nc.append(c1); ns.append(sl1); nf.append(f1)
            parent.append(k)
            how.append((op, c, df, boots))
            if not exact:
                front.append(node)
            heapq.heappush(heap, (lb, node, node))
    if best_node < 0:
        return math.inf, None, expanded
    path = [best_how]
    k = best_node
    while k > 0:
        path.append(how[k])
        k = parent[k]
    path.reverse()
    return best_t, path, expanded


def enumerate_policies(model, t, e, max_cycles=6):
    """Minimum completion time [s] over every policy of the class that uses at most ``max_cycles``
    power cycles, by plain depth-first enumeration from an awake state at task 0 with no
    checkpoint. The oracle :func:`plan_request` is tested against; it shares only the model's
    single steps (task, checkpoint, finish, sleep, charge, boot, restore) and the threshold sets.
    The one cut is safe: a branch whose present time already equals the best completion found
    cannot complete earlier."""
    n = model.n
    best = math.inf

    def boundary(t, e, i, c, slept, cycles):
        nonlocal best
        if t >= best:
            return
        # continue
        if i < n:
            s, t1, e1 = model.task(i, t, e)
            if s == OK:
                boundary(t1, e1, i + 1, c, False, cycles)
        else:
            s, t1, e1 = model.finish(t, e)
            if s == OK:
                best = min(best, t1)
        if s == BROWN:
            brownout(t1, e1, c, cycles)
        # checkpoint (only new progress)
        if c < i:
            s, t1, e1 = model.checkpoint(t, e)
            if s == OK:
                boundary(t1, e1, i, i, slept, cycles)
            elif s == BROWN:
                brownout(t1, e1, c, cycles)
        # one sleep per boundary
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
# member policies, followed in the model (incumbents of the search)


def follow(model, start, decide, max_failures=math.inf):
    """Follow a rule-based policy of the class in the model from ``start = (t, e, i, c)``.
    ``decide(t, e, i, c, slept)`` returns the next op. Returns ``(t_done [s] or inf, path)``."""
    t, e, i, c = start
    slept, fails, path = False, 0, []
    while True:  # ends: every reboot takes time, and the horizon is DEAD
        op = decide(t, e, i, c, slept)
        op, s, t1, e1, i1, c1, sl1, df, boots = _apply(model, op, t, e, i, c, slept, max_failures - fails)
        path.append((op, c, df, boots))
        if s != OK:
            return math.inf, path
        if i1 > model.n:
            return t1, path
        t, e, i, c, slept, fails = t1, e1, i1, c1, sl1, fails + df


def restart_policy(model):
    """``restart``: always continue (a rule for :func:`follow`)."""
    return lambda t, e, i, c, slept: CONT


def static_sram_policy(model, groups, charge_v):
    """Static-style grouping under the SRAM design: before each group, sleep to its charge
    voltage (if it has one, and again after a reboot); run the group; checkpoint at its end.
    ``groups`` are ``(first, stop)`` task ranges; ``charge_v`` [V] or None per group."""
    ends = {stop for _, stop in groups}
    charge = {first: v for (first, _), v in zip(groups, charge_v) if v is not None}

    def decide(t, e, i, c, slept):
        if i in ends and c < i:
            return CKPT
        v = charge.get(i)
        if v is not None and not slept and cap.energy_j(model.c_f, v) > e:
            return v
        return CONT
    return decide


def follow_jit_task(model, start, v_ckpt, v_on, max_failures=math.inf):
    """``jit-task`` in the model: a comparator, armed at boot and whenever a sleep reaches V_on,
    fires when the voltage falls below ``v_ckpt`` [V] during a task (looked up as the engine does:
    a run stopped at V_ckpt); at the next boundary the policy checkpoints, then sleeps to ``v_on``
    [V]. Returns ``(t_done [s] or inf, path)`` like :func:`follow`."""
    e_ckpt, e_von = cap.energy_j(model.c_f, v_ckpt), cap.energy_j(model.c_f, v_on)
    t, e, i, c = start
    slept, fails, path = False, 0, []
    armed, pending, sleep_due = True, False, False
    while True:
        if pending:
            op, pending, sleep_due = CKPT, False, True
        elif sleep_due and e_von > e:
            op, sleep_due = v_on, False
        else:
            if sleep_due:  # the sleep would return at once: the comparator is armed again
                sleep_due, armed = False, True
            op = CONT
            if i < model.n and armed:
                _, e_d, r, _ = model._adv(t, e, min(t + model.dur[i], model.horizon), model.load[i],
                                          max(model.e_off, e_ckpt), math.inf)
                if r == STOP_LOW and e_d > model.e_off:
                    armed, pending = False, True
        op, s, t1, e1, i1, c1, sl1, df, boots = _apply(model, op, t, e, i, c, slept, max_failures - fails)
        path.append((op, c, df, boots))
        if s != OK:
            return math.inf, path
        if i1 > model.n:
            return t1, path
        if df:  # rebooted: armed again, nothing pending
            armed, pending, sleep_due = True, False, False
        elif op not in (CONT, CKPT):
            armed = True
        t, e, i, c, slept, fails = t1, e1, i1, c1, sl1, fails + df


def static_sram_groups(setup, checkpoint_j, restore_j, margin=Static.margin):
    """iNAS-style groups (``static``'s rule) for the SRAM design: consecutive tasks so that a
    group plus boot, restore and its checkpoint fit ``eta_out C (V_on^2 - V_off^2) / 2 x margin``
    [J]; a group larger than that gets a charge voltage [V] (capped at V_max), as ``static`` does.
    Returns ``(groups as (first, stop), charge_v)``."""
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


# ------------------------------------------------------------------------------------------------
# the schedulers


def compile_plan(result):
    """A planned path as power cycles: a list of dicts ``t`` [s], ``e`` [J] (the state when the
    cycle's scheduler object starts: the planning origin, then right after each boot), ``i``
    (tasks in SRAM then), ``c`` (valid checkpoint), ``restore`` (restore ``c`` first) and ``ops``
    (CONT, CKPT or a sleep voltage [V]); a cycle's last op is cut by the brown-out that starts the
    next one."""
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


class Optimal(JIT):
    """Offline, clairvoyant, latency-optimal over task-boundary policies (docs/optimal.md).

    Layout: ``jit``'s (activations in SRAM, two NVM checkpoint slots, valid flag last). At the
    start of each request's service it plans from ``dev.oracle_state()`` with the trace (the
    firmware ``plan`` holds the planning model), then executes the plan's actions. The scheduler
    object is rebuilt at every boot: it finds the power cycle the plan predicted for the true
    state (checkpoint in NVM, time, energy) and continues it, or plans again from that state if
    reality deviated (an injected failure). ``plan["plan_s"]`` is the total planning wall time [s];
    ``plan["requests"]`` one record per planning.
    """

    name = "optimal"
    #: node expansions of the exact search per planning before it settles for dominance pruning
    exact_budget = 20_000
    #: at most this many power cycles per request (None: unbounded)
    max_cycles = None
    #: relative tolerance [-] on time and energy when matching a boot to the planned one
    match_rtol = 1e-9

    @classmethod
    def prepare(cls, setup, memory):
        plat, st = setup.platform, setup.storage
        image = memory.used_bytes("sram")
        ck_j = cls.checkpoint_energy_j(setup, memory)
        restore_j = transfer_cost(plat, image, "nvm_to_sram").energy_j
        v_jt = JITTask.prepare(setup, memory)["v_ckpt"]
        groups, charge_v = static_sram_groups(setup, ck_j, restore_j)
        extra = {None: [v_jt]}
        for (first, _), v in zip(groups, charge_v):
            if v is not None:
                extra.setdefault(first, []).append(v)
        out = tensor_buffer(setup.network.output_name)
        model = Model(cap.trace_arrays(setup.trace), st, plat, setup.costs, image, memory.raw(out).size,
                      setup.workload.horizon_s(), extra)
        model.members = {"jit_task_v_ckpt": v_jt, "groups": groups, "charge_v": charge_v}
        return {"model": model, "checkpoint_energy_j": ck_j, "restore_energy_j": restore_j,
                "jit_task_v_ckpt": v_jt, "plan_s": 0.0, "requests": [], "live": None}

    @classmethod
    def threshold_v(cls, plan):
        return None

    @classmethod
    def unit_energy_j(cls, setup, plan):
        # the least any policy of the class needs in one power cycle: every task (restart), or the
        # largest task with a restore and a checkpoint
        e = [c.energy_j for c in setup.costs]
        return min(sum(e), max(e) + plan["checkpoint_energy_j"] + plan["restore_energy_j"])

    def on_boot(self, dev):
        super().on_boot(dev)  # jit's: the valid checkpoint of this request (slot, task), the flag
        self.actions = None
        self.at_boot = True

    def next_action(self, dev):
        if not dev.request_active:
            return Idle()
        if self.actions is None or self.seq != dev.request_seq:
            self._begin(dev)
        for _ in range(2):
            try:
                return next(self.actions)
            except StopIteration:  # awake where the plan predicted a brown-out: plan from here
                self._plan(dev, self.i, self.c, restore=False, why="deviation")
        raise RuntimeError("optimal: an empty plan")

    # -- planning and lookup
    def _begin(self, dev):
        seq, plan = dev.request_seq, self.plan
        c = self.next if (self.at_boot and self.restore_slot is not None) else 0
        restore = c > 0
        live = plan["live"]
        self.at_boot_now, self.at_boot = self.at_boot, False
        if self.at_boot_now and live is not None and live["seq"] == seq:
            t, e = dev.oracle_state()
            tol_t = self.match_rtol * max(1.0, abs(t))
            tol_e = self.match_rtol * plan["model"].e_max
            for cycle in live["cycles"][1:]:
                if cycle["c"] == c and abs(cycle["t"] - t) <= tol_t and abs(cycle["e"] - e) <= tol_e:
                    self.seq = seq
                    self._run(dev, cycle)
                    return
            self.seq = seq
            self._plan(dev, c, c, restore, why="boot off plan")
            return
        self.seq = seq
        self._plan(dev, c, c, restore, why="request" if c == 0 else "boot off plan")

    def _plan(self, dev, i, c, restore, why):
        plan, model = self.plan, self.plan["model"]
        t, e = dev.oracle_state()
        wall = time.perf_counter()
        result = plan_request(model, t, e, i, c, restore, self.max_cycles, self.exact_budget)
        dt = time.perf_counter() - wall
        plan["plan_s"] += dt
        cycles = compile_plan(result)
        plan["live"] = {"seq": self.seq, "cycles": cycles}
        plan["requests"].append({"seq": self.seq, "why": why, "t_s": t, "t_done_s": result["t_done_s"],
                                 "exact": result["exact"], "expanded": result["expanded"],
                                 "incumbent": result["incumbent"], "lower_bound_s": result["lower_bound_s"],
                                 "plan_s": dt})
        if not result["path"]:  # nothing completes before the horizon: keep computing anyway
            cycles = [dict(cycles[0], ops=[CONT] * (model.n - cycles[0]["i"] + 1))]
        self._run(dev, cycles[0])

    # -- execution
    def _run(self, dev, cycle):
        self.i, self.c = cycle["i"], cycle["c"]
        self.actions = self._actions(dev, cycle)

    def _actions(self, dev, cycle):
        n = len(dev.tasks)
        i = self.i
        if cycle["restore"]:
            yield Copy(f"ckpt{self.restore_slot}_sram", SRAM_IMAGE, category="restore")
        ops = cycle["ops"]
        k = 0
        while k < len(ops):
            op = ops[k]
            k += 1
            if op == CONT and i < n:
                j = i + 1
                while k < len(ops) and ops[k] == CONT and j < n:
                    j, k = j + 1, k + 1
                yield RunTasks(i, j)
                i = self.i = j
            elif op == CONT:
                yield Copy(tensor_buffer(dev.network.output_name), "result")
                yield Done()
                return
            elif op == CKPT:
                s = 1 - (self.flag & 1) if self.flag else 0
                yield Copy(SRAM_IMAGE, f"ckpt{s}_sram")
                yield WriteWords(((f"ckpt{s}_seq", self.seq), (f"ckpt{s}_task", i), (f"ckpt{s}_clo", 0),
                                  (f"ckpt{s}_chi", 0)))
                epoch = ((self.flag >> 1) + 1) & 0x7FFF or 1
                self.flag = (epoch << 1) | s
                yield WriteWords((("ckpt_flag", self.flag),), commits=True)
                self.c = i
            else:
                yield Sleep(until_v=op)
