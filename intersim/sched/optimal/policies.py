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
