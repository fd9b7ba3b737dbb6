"""Policies of the class as rules followed in the planning model: the members restart,
jit-task and the static-style SRAM grouping, and the online rule."""
from __future__ import annotations
import math
from ...energy import capacitor as cap
from ...energy.capacitor import STOP_LOW
from ..grouping import inas_groups
from ..static import Static
from .bounds import OK, CONT, CKPT
from .model import _apply, is_allowed


# ------------------------------------------------------------------------------------------------
# policies of the class as rules, followed in the model


def follow(model, start, decide, max_failures=math.inf, t_cap=math.inf, max_steps=math.inf, states=None,
           ref=None):
    """Follow the rule ``decide(t, e, i, c, slept) -> op`` from ``start = (t, e, i, c, slept)``
    until the request completes (or the horizon, ``max_failures`` brown-outs, ``t_cap`` [s], or
    ``max_steps`` kernel calls); a stateful rule may have ``after(op, failures)``. Returns
    ``(t_done [s] or inf, path)``; ``path`` is a list of ``(op, c, failures, boots)``.

    ``states``: a list to which the state ``(t, e, i, c)`` before each step of the path is
    appended. ``ref``: a :class:`Dominance` (the rollout's heuristic cut): the follow gives up
    (inf) at a boundary where the reference path is no worse (:meth:`Dominance.beats`)."""
    t, e, i, c, slept = start
    fails, path = 0, []
    after = getattr(decide, "after", None)
    steps_end = model.steps + max_steps
    # ends: every boundary visit takes time and the horizon is DEAD
    while t < t_cap and model.steps <= steps_end:
        if ref is not None and ref.beats(t, e, i, c):
            return math.inf, path
        if states is not None:
            states.append((t, e, i, c))
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


class Dominance:
    """The rollout's heuristic cut (docs/optimal.md, Algorithm, step 2): the reference path's state
    where it runs task ``i`` (or the finish) for the last time, per boundary ``i``, and the
    exchange rate ``rate`` [W] of stored energy against time: the most the capacitor can gain
    per second (``eta_in`` times the trace's largest harvest power). A state ``(t, e, i, c)``
    is beaten when the reference at ``i`` holds a checkpoint at least as far (``c <= c_ref``)
    and is ahead by more than the energy difference is worth: ``(t - t_ref) rate >= e - e_ref``
    (with ``rate = 0``: no later, no less energy). Not safe (see "Why no dominance pruning"):
    it only decides which deviations the rollout stops following, never the exact search."""

    def __init__(self, n, rate):
        self.rate = rate
        self.t = [math.nan] * (n + 1)
        self.e = [0.0] * (n + 1)
        self.c = [0] * (n + 1)

    def set_path(self, path, states):
        """Take the reference from a path and its states (``follow``'s ``states``)."""
        self.t = [math.nan] * len(self.t)
        for (op, *_), (t, e, i, c) in zip(path, states):
            if op == CONT:
                self.t[i], self.e[i], self.c[i] = t, e, c

    def beats(self, t, e, i, c):
        t_ref = self.t[i]
        if t_ref != t_ref or c > self.c[i]:  # nan: no reference at i
            return False
        if self.rate > 0.0:
            return (t - t_ref) * self.rate >= e - self.e[i]
        return t >= t_ref and e <= self.e[i]


def restart_policy(model):
    """``restart``: always continue."""
    return lambda t, e, i, c, slept: CONT


def online_policy(ops, v_floor=None, lazy=False):
    """The zero-harvest rule of ``optimal-online``: continue while the next task and a checkpoint
    (or the rest and the finish) fit the stored energy; else checkpoint new progress if that
    fits, then sleep to the least threshold that holds the next task and its checkpoint, at least
    ``v_floor`` [V] (default V_on); continue after the sleep. ``lazy``: sleep first, checkpoint
    only where this boundary cannot sleep (the finishing rule's first phase)."""
    v_floor = ops.storage.v_on_v if v_floor is None else v_floor
    e_floor = cap.energy_j(ops.c_f, v_floor)

    def decide(t, e, i, c, slept):
        if e >= ops.need_fin[i] or (i < ops.n and e >= ops.need1[i]):
            return CONT
        if c < i and e >= ops.e_ck and not (lazy and not slept):
            return CKPT
        if not slept:
            want = max(e_floor, ops.need1[i] if i < ops.n else ops.need_fin[i])
            above = [(v, ev) for v, ev in ops.thresholds[i] if ev > e]
            for v, ev in above:
                if ev >= want:
                    return v
            if above:  # the least that would do is above V_max: charge to V_max
                return above[-1][0]
        if lazy and c < i and e >= ops.e_ck:
            return CKPT
        return CONT

    return decide


def finish_policy(ops, v_floor=None):
    """The rollout's finishing rule (not a member, no claim): the lazy online rule (sleep before
    checkpointing) until the first boundary ``i`` from which the remaining tasks and the finish
    fit below ``V_max`` with zero harvest (``need_fin[i] <= E_max``); there, sleep to the least
    threshold holding them (if below it, and this boundary has not slept) and run them straight
    through, with no checkpoint. Where the rest never fits, it is the lazy online rule."""
    online = online_policy(ops, v_floor, lazy=True)

    def decide(t, e, i, c, slept):
        need = ops.need_fin[i]
        if need <= ops.e_max:
            if e >= need:
                return CONT
            if not slept:
                for v, ev in ops.thresholds[i]:
                    if ev >= need:
                        return v
        return online(t, e, i, c, slept)

    return decide


def static_sram_groups(setup, fixed_j, margin=Static.margin):
    """iNAS-style groups (``static``'s rule, :func:`~intersim.sched.grouping.inas_groups`) for the
    SRAM design: a group re-executes from the last checkpoint, so there is no NVM write-after-read
    split; ``fixed_j`` [J] is the boot, restore and checkpoint of each power cycle. Returns
    ``(groups as (first, stop), charge_v [V] or None per group, budget [J])``."""
    grouping = inas_groups(setup, fixed_j, margin)
    return [(g[0], g[-1] + 1) for g in grouping.groups], grouping.charge_v, grouping.budget_j


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
