"""The planning model compiled: :class:`~intersim.sched.optimal.model.Model`'s operations and the
member rules of :mod:`~intersim.sched.optimal.policies` as numba kernels on a packed model.

Every kernel mirrors its Python counterpart line for line (same arithmetic, same order of kernel
calls, same count of them), so the compiled planner (:mod:`.compiled`) gives the Python planner's
plans bit for bit. The packed model ``M`` is a tuple of arrays (:func:`pack`); the kernel-call
counter ``cnt`` is an int64 array: ``cnt[0]`` the calls (``Model.steps``), ``cnt[1]`` an error code
(1: a member rule left the class), ``cnt[2:4]`` the op and task of that error.

Operations are int64 codes: :data:`K_CONT`, :data:`K_CKPT`, or ``j >= 0``, a sleep to threshold
``j`` of the flat threshold table (``th_v[j]`` [V], ``F[I[M_TH_E] + j]`` [J]; those of boundary ``i`` are
``th_I[I[M_TH_OFF] + i]:th_I[I[M_TH_OFF] + i + 1]``). A path step is ``(op, c, failures, b0, nb)``: the boots it made are
``boots[b0:b0 + nb]``, a list of ``(t, e)`` shared by the whole planning.
"""
from __future__ import annotations
import math
import numpy as np
from numba import njit
from ...energy import capacitor as cap
from ...energy.capacitor import STOP_HIGH, STOP_LOW, STOP_TIME
from .advance import advance_p, borrow
from .bounds import _lower_bound_k, _never_reaches_k

OK, BROWN, DEAD = 0, 1, 2
#: operation codes (a sleep is its threshold's index, >= 0); K_NONE: a sleep outside the table
K_CONT, K_CKPT, K_NONE = -1, -2, -3
#: member rules, in the order of :func:`~intersim.sched.optimal.planner.member_policies`
RESTART, ONLINE, JIT_TASK, STATIC_SRAM = 0, 1, 2, 3
MEMBER_NAMES = ("restart", "online", "jit-task", "static-sram")
#: the rollout's finishing rule (``policies.finish_policy``; not a member)
FINISH = 4

# indices into the packed scalars par (the head of F); 0-5 are bounds._step's
P_HORIZON, P_E_OFF, P_E_ON, P_SLEEP, P_BOOT_L, P_BOOT_D, P_REST_L, P_REST_D = 6, 7, 8, 9, 10, 11, 12, 13
P_E_CK, P_SLACK, P_TABLED, P_E_VON, P_E_JCK, P_N, P_RATE = 14, 15, 16, 17, 18, 19, 20
# the packed model: F (float64) holds the scalars (par, above) then one region per float table,
# I (int64) a header of region starts (I[M_X]; a float region ends at I[M_X + 1]), then the int
# tables; the float regions follow each other in this order, so a region's end is the next start
(M_DUR, M_LOAD, M_CKPT, M_FIN, M_NEED1, M_NEEDF, M_REST_T, M_REST_E, M_EDGES, M_CUM, M_P, M_START, M_BEST,
 M_TH_V, M_TH_E, M_CHARGE_E, M_N_OFF) = range(17)
M_TH_OFF, M_END, M_CHARGE, M_VON = 20, 21, 22, 23


def pack(model):
    """The packed model ``M`` of ``model`` (a :class:`~intersim.sched.optimal.model.Model` with
    its ``members`` set), and the member rule codes it has."""
    n = model.n
    par = np.zeros(21)
    par[:6] = model._par
    par[P_RATE] = model.gain_rate
    e_von = cap.energy_j(model.c_f, model.storage.v_on_v)
    par[6:20] = (model.horizon, model.e_off, model.e_on, model.sleep_load, *model.boot, *model.restore,
                 model.e_ck, model._gain_slack, float(model._tabled), e_von, 0.0, n)
    m = model.members
    kinds = [RESTART, ONLINE]
    if "jit_task_v_ckpt" in m:
        kinds.append(JIT_TASK)
        par[P_E_JCK] = cap.energy_j(model.c_f, m["jit_task_v_ckpt"])
    th_off = np.zeros(n + 2, np.int64)
    th_off[1:] = np.cumsum([len(th) for th in model.thresholds])
    th_v = np.array([v for th in model.thresholds for v, _ in th], np.float64)
    th_e = np.array([ev for th in model.thresholds for _, ev in th], np.float64)

    def index(i, v):  # the flat index of sleep voltage v at boundary i, K_NONE if outside the class
        for j, (u, _) in enumerate(model.thresholds[i]):
            if u == v:
                return int(th_off[i]) + j
        return K_NONE

    ends = np.zeros(n + 1, np.int64)
    charge = np.full(n + 1, -4, np.int64)  # -4: no charge before this boundary
    charge_e = np.zeros(n + 1)
    if "groups" in m:
        kinds.append(STATIC_SRAM)
        for (first, stop), v in zip(m["groups"], m["charge_v"]):
            ends[stop] = 1
        charges = {first: v for (first, _), v in zip(m["groups"], m["charge_v"]) if v is not None}
        for first, v in charges.items():
            charge[first], charge_e[first] = index(first, v), cap.energy_j(model.c_f, v)
    von = np.array([index(i, model.storage.v_on_v) for i in range(n + 1)], np.int64)
    floats = (model.dur, model.load, model.ckpt_ops, model.finish_ops, model.need1, model.need_fin, model.rest_t,
              model.rest_e, model._edges_a, model._cum_a, model._p_a, model._start_gain_a, model._best_gain_a,
              th_v, th_e, charge_e)
    ints = (th_off, ends, charge, von)
    regions = [np.ravel(np.asarray(x, np.float64)) for x in floats] + [np.asarray(x, np.int64) for x in ints]
    names = (M_DUR, M_LOAD, M_CKPT, M_FIN, M_NEED1, M_NEEDF, M_REST_T, M_REST_E, M_EDGES, M_CUM, M_P, M_START,
             M_BEST, M_TH_V, M_TH_E, M_CHARGE_E, M_TH_OFF, M_END, M_CHARGE, M_VON)
    header = 24
    I = np.zeros(header, np.int64)
    F_parts, I_parts = [par], []
    f_at, i_at = par.size, header
    for name, x in zip(names, regions):
        if x.dtype == np.float64:
            I[name], f_at = f_at, f_at + x.size
            I[name + 1] = f_at  # its end (the next region's start)
            F_parts.append(x)
        else:
            I[name], i_at = i_at, i_at + x.size
            I_parts.append(x)
    F = np.concatenate(F_parts)
    I = np.concatenate([I] + I_parts)
    M = (F, I, np.ascontiguousarray(model._tt, np.float64), np.ascontiguousarray(model._tp, np.float64))
    return M, np.array(kinds, np.int64)


# ------------------------------------------------------------------------------------------------
# single operations (Model.run / seq / sleep / charge / reboot)


@njit(cache=True, inline='always')
def _adv(F, I, tt, tp, cnt, t, e, t_stop, load, e_low, e_high):
    """``Model._adv``: one kernel call, counted."""
    cnt[0] += 1
    return advance_p(tt, tp, F, t, e, t_stop, load, e_low, e_high)


@njit(cache=True, inline='always')
def k_run(F, I, tt, tp, cnt, t, e, load, dur):
    """``Model.run``: returns ``(status, t, e)``."""
    par = F
    t_target = t + dur
    horizon = par[P_HORIZON]
    t1, e1, r = _adv(F, I, tt, tp, cnt, t, e, t_target if t_target < horizon else horizon, load, par[P_E_OFF], math.inf)
    if r == STOP_TIME:
        return (DEAD if t_target > horizon and t1 >= horizon else OK), t1, e1
    return BROWN, t1, e1


@njit(cache=True, inline='always')
def _seq(F, I, tt, tp, cnt, o, count, t, e):
    for k in range(count):
        s, t, e = k_run(F, I, tt, tp, cnt, t, e, F[o + 2 * k], F[o + 2 * k + 1])
        if s != OK:
            return s, t, e
    return OK, t, e


@njit(cache=True, inline='always')
def _never(F, I, t, e, e_target):
    par = F
    return _never_reaches_k(t, e, e_target, F[I[M_EDGES]:I[M_EDGES + 1]], F[I[M_CUM]:I[M_CUM + 1]], F[I[M_P]:I[M_P + 1]], par[0], par[1], par[2] != 0.0,
                            F[I[M_START]:I[M_START + 1]], F[I[M_BEST]:I[M_BEST + 1]], par[P_TABLED] != 0.0, par[3], par[4], par[P_E_OFF],
                            par[P_HORIZON], par[P_SLACK])


@njit(cache=True, inline='always')
def k_lower_bound(F, I, t, e, i):
    """``Model.lower_bound``."""
    par = F
    return _lower_bound_k(t, e, F[I[M_REST_T] + i], F[I[M_REST_E] + i], par[P_E_OFF], par[3], F[I[M_EDGES]:I[M_EDGES + 1]], F[I[M_CUM]:I[M_CUM + 1]],
                          F[I[M_P]:I[M_P + 1]], par[0], par[1], par[2] != 0.0)


@njit(cache=True, inline='always')
def _sleep(F, I, tt, tp, cnt, j, t, e):
    par = F
    e_target = F[I[M_TH_E] + j]
    if e_target <= par[P_E_ON] and _never(F, I, t, e, e_target):
        return DEAD, par[P_HORIZON], e
    t1, e1, r = _adv(F, I, tt, tp, cnt, t, e, par[P_HORIZON], par[P_SLEEP], par[P_E_OFF], e_target)
    return (OK if r == STOP_HIGH else DEAD if r == STOP_TIME else BROWN), t1, e1


@njit(cache=True, inline='always')
def _charge(F, I, tt, tp, cnt, t, e):
    par = F
    if _never(F, I, t, e, par[P_E_ON]):
        return DEAD, par[P_HORIZON], e
    t1, e1, r = _adv(F, I, tt, tp, cnt, t, e, par[P_HORIZON], 0.0, -1.0, par[P_E_ON])
    return (OK if r == STOP_HIGH else DEAD), t1, e1


@njit(cache=True)
def k_reboot(F, I, tt, tp, cnt, boots, t, e, c, failures_left):
    """``Model.reboot``: returns ``(status, t, e, failures, b0, nb)``, the boots appended to
    ``boots`` from ``b0``."""
    F, I, tt, tp, cnt = borrow(F), borrow(I), borrow(tt), borrow(tp), borrow(cnt)
    par = F
    failures, b0 = 0, len(boots)
    while True:
        s, t, e = _charge(F, I, tt, tp, cnt, t, e)
        if s != OK:
            return DEAD, t, e, failures, b0, len(boots) - b0
        s, t, e = k_run(F, I, tt, tp, cnt, t, e, par[P_BOOT_L], par[P_BOOT_D])
        if s == OK:
            boots.append((t, e))
            if c > 0:
                s, t, e = k_run(F, I, tt, tp, cnt, t, e, par[P_REST_L], par[P_REST_D])
            if s == OK:
                return OK, t, e, failures, b0, len(boots) - b0
        if s == DEAD:
            return DEAD, t, e, failures, b0, len(boots) - b0
        failures += 1
        if failures > failures_left:
            return DEAD, t, e, failures, b0, len(boots) - b0


@njit(cache=True)
def k_apply(F, I, tt, tp, cnt, boots, op, t, e, i, c, slept, failures_left):
    """``model._apply``: returns ``(status, t, e, i, c, slept, failures, b0, nb)``."""
    F, I, tt, tp, cnt = borrow(F), borrow(I), borrow(tt), borrow(tp), borrow(cnt)
    n = int(F[P_N])
    if op == K_CONT:
        if i < n:
            s, t1, e1 = k_run(F, I, tt, tp, cnt, t, e, F[I[M_LOAD] + i], F[I[M_DUR] + i])
        else:
            s, t1, e1 = _seq(F, I, tt, tp, cnt, I[M_FIN], 2, t, e)
        i1, c1, sl1 = i + 1, c, False
    elif op == K_CKPT:
        s, t1, e1 = _seq(F, I, tt, tp, cnt, I[M_CKPT], 3, t, e)
        i1, c1, sl1 = i, i, slept
    else:
        s, t1, e1 = _sleep(F, I, tt, tp, cnt, op, t, e)
        i1, c1, sl1 = i, c, True
    if s != BROWN:
        return s, t1, e1, i1, c1, sl1, 0, len(boots), 0
    if failures_left < 1:
        return DEAD, t1, e1, i1, c1, sl1, 1, len(boots), 0
    s, t1, e1, f, b0, nb = k_reboot(F, I, tt, tp, cnt, boots, t1, e1, c, failures_left - 1)
    return s, t1, e1, c, c, False, 1 + f, b0, nb


@njit(cache=True, inline='always')
def k_n_ops(I, i):
    """The number of candidates :func:`k_op` takes at boundary ``i``."""
    return 2 + I[I[M_TH_OFF] + i + 1] - I[I[M_TH_OFF] + i]


@njit(cache=True, inline='always')
def k_op(F, I, q, e, i, c, slept):
    """``model.allowed`` without building it: its candidate ``q`` (``0 <= q < k_n_ops(I, i)``; in
    ``model.allowed``'s order: continue, checkpoint, the sleeps upwards) as an operation code,
    :data:`K_NONE` where that operation is not allowed."""
    if q == 0:
        return K_CONT
    if q == 1:
        return K_CKPT if c < i else K_NONE
    if slept:
        return K_NONE
    j = I[I[M_TH_OFF] + i] + q - 2
    return j if F[I[M_TH_E] + j] > e else K_NONE


@njit(cache=True, inline='always')
def _is_allowed(F, I, op, e, i, c, slept):
    if op == K_CONT:
        return True
    if op == K_CKPT:
        return c < i
    return op >= 0 and not slept and F[I[M_TH_E] + op] > e


# ------------------------------------------------------------------------------------------------
# the member rules and following one


@njit(cache=True, inline='always')
def _decide(F, I, kind, e, i, c, slept):
    """The operation of member rule ``kind`` (not jit-task: :func:`_decide_jit`) at a boundary;
    one function for the rules so that :func:`k_follow` is one loop."""
    par = F
    n = int(par[P_N])
    if kind == FINISH:
        need = F[I[M_NEEDF] + i]
        if need <= par[5]:
            if e >= need:
                return K_CONT
            if not slept:
                for j in range(I[I[M_TH_OFF] + i], I[I[M_TH_OFF] + i + 1]):
                    if F[I[M_TH_E] + j] >= need:
                        return j
    if kind == ONLINE or kind == FINISH:  # FINISH: the lazy online rule (sleep, then checkpoint)
        lazy = kind == FINISH
        if e >= F[I[M_NEEDF] + i] or (i < n and e >= F[I[M_NEED1] + i]):
            return K_CONT
        if c < i and e >= par[P_E_CK] and not (lazy and not slept):
            return K_CKPT
        if not slept:
            need = F[I[M_NEED1] + i] if i < n else F[I[M_NEEDF] + i]
            want = par[P_E_VON] if not need > par[P_E_VON] else need
            last = K_NONE
            for j in range(I[I[M_TH_OFF] + i], I[I[M_TH_OFF] + i + 1]):
                if F[I[M_TH_E] + j] > e:
                    if F[I[M_TH_E] + j] >= want:
                        return j
                    last = j
            if last != K_NONE:  # the least that would do is above V_max: charge to V_max
                return last
        if lazy and c < i and e >= par[P_E_CK]:
            return K_CKPT
        return K_CONT
    if kind == STATIC_SRAM:
        if I[I[M_END] + i] and c < i:
            return K_CKPT
        j = I[I[M_CHARGE] + i]
        if j != -4 and not slept and F[I[M_CHARGE_E] + i] > e:
            return j
    return K_CONT


@njit(cache=True, inline='always')
def _decide_jit(F, I, tt, tp, cnt, armed, pending, sleep_due, t, e, i, slept):
    """``policies.JitTaskRule.__call__``: returns ``(op, armed, pending, sleep_due)``."""
    par = F
    n = int(par[P_N])
    if pending:
        return K_CKPT, armed, False, True
    if sleep_due:
        sleep_due = False
        if par[P_E_VON] > e and not slept:
            return I[I[M_VON] + i], armed, pending, sleep_due
        armed = True
    if i < n and armed:
        t_end = t + F[I[M_DUR] + i]
        horizon = par[P_HORIZON]
        e_ck = par[P_E_JCK]
        _, e_d, r = _adv(F, I, tt, tp, cnt, t, e, horizon if horizon < t_end else t_end, F[I[M_LOAD] + i],
                         e_ck if e_ck > par[P_E_OFF] else par[P_E_OFF], math.inf)
        if r == STOP_LOW and e_d > par[P_E_OFF]:
            armed, pending = False, True
    return K_CONT, armed, pending, sleep_due


@njit(cache=True, inline='always')
def k_beats(F, ref_t, ref_e, ref_c, t, e, i, c):
    """``policies.Dominance.beats`` (the reference in ``ref_t``, ``ref_e``, ``ref_c``; nan: none)."""
    t_ref = ref_t[i]
    if t_ref != t_ref or c > ref_c[i]:
        return False
    rate = F[P_RATE]
    if rate > 0.0:
        return (t - t_ref) * rate >= e - ref_e[i]
    return t >= t_ref and e <= ref_e[i]


@njit(cache=True)
def k_set_ref(ref_t, ref_e, ref_c, path, states):
    """``policies.Dominance.set_path``."""
    ref_t[:] = math.nan
    for j in range(len(path)):
        if path[j][0] == K_CONT:
            t, e, i, c = states[j]
            ref_t[i], ref_e[i], ref_c[i] = t, e, c


@njit(cache=True)
def k_follow(F, I, tt, tp, cnt, boots, kind, t, e, i, c, slept, max_failures, t_cap, max_steps, path, states,
             use_ref, ref_t, ref_e, ref_c):
    """``policies.follow`` of member rule ``kind``: appends the steps to ``path`` and the states
    before them to ``states``, returns the completion [s] (inf: none; with ``use_ref``, also where
    the reference beats the state). On a rule leaving the class sets ``cnt[1:4]`` and returns nan."""
    F, I, tt, tp, cnt = borrow(F), borrow(I), borrow(tt), borrow(tp), borrow(cnt)
    ref_t, ref_e, ref_c = borrow(ref_t), borrow(ref_e), borrow(ref_c)
    n = int(F[P_N])
    armed, pending, sleep_due = True, False, False  # jit-task's state
    fails = 0
    steps_end = cnt[0] + max_steps
    while t < t_cap and cnt[0] <= steps_end:
        if use_ref and k_beats(F, ref_t, ref_e, ref_c, t, e, i, c):
            return math.inf
        states.append((t, e, np.int64(i), np.int64(c)))
        if kind == JIT_TASK:
            op, armed, pending, sleep_due = _decide_jit(F, I, tt, tp, cnt, armed, pending, sleep_due, t, e, i, slept)
        else:
            op = _decide(F, I, kind, e, i, c, slept)
        if not _is_allowed(F, I, op, e, i, c, slept):
            cnt[1], cnt[2], cnt[3] = 1, op, i
            return math.nan
        s, t1, e1, i1, c1, sl1, df, b0, nb = k_apply(F, I, tt, tp, cnt, boots, op, t, e, i, c, slept, max_failures - fails)
        path.append((op, c, df, b0, nb))
        if s != OK:
            break
        if i1 > n:
            return t1
        if kind == JIT_TASK:
            if df:
                armed, pending, sleep_due = True, False, False
            elif op >= 0:
                armed = True
        t, e, i, c, slept, fails = t1, e1, i1, c1, sl1, fails + df
    return math.inf


@njit(cache=True)
def new_path():
    """An empty path (typed list of steps)."""
    return [(np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0)) for _ in range(0)]


@njit(cache=True)
def new_states():
    """An empty list of states ``(t, e, i, c)``."""
    return [(0.0, 0.0, np.int64(0), np.int64(0)) for _ in range(0)]


@njit(cache=True)
def new_boots():
    """An empty list of boots ``(t, e)``."""
    return [(0.0, 0.0) for _ in range(0)]
