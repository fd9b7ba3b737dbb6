"""The planner compiled: :func:`plan_request_compiled` gives :func:`~intersim.sched.optimal.planner.
plan_request`'s result bit for bit (same plan, same kernel calls counted against the same budgets)
with the members, the rollout and the exact search in numba (:mod:`.kernels` holds the model).
The Python planner stays the reference (``tests/test_optimal.py`` compares both)."""
from __future__ import annotations
import heapq
import math
import numpy as np
from numba import njit
from .bounds import CONT, CKPT
from .kernels import (
    OK, BROWN, DEAD, FINISH, ONLINE, K_CONT, K_CKPT, M_TH_V, P_REST_D, P_REST_L, MEMBER_NAMES, RESTART, P_N, borrow,
    k_apply, k_n_ops, k_op, K_NONE,
    k_follow, k_lower_bound, k_reboot, k_run, k_set_ref, new_boots, new_path, new_states, pack,
)


@njit(cache=True)
def _rollout_k(F, I, tt, tp, cnt, boots, kinds, t, e, i, c, best_t, best_path, best_states, max_failures, budget):
    """``planner._rollout`` (see there)."""
    F, I, tt, tp, cnt = borrow(F), borrow(I), borrow(tt), borrow(tp), borrow(cnt)
    if len(best_path) == 0 or best_t == math.inf:
        return best_t, best_path
    n = int(F[P_N])
    ref_t, ref_e, ref_c = np.full(n + 1, math.nan), np.zeros(n + 1), np.zeros(n + 1, np.int64)
    k_set_ref(ref_t, ref_e, ref_c, best_path, best_states)
    slept, fails, k = False, 0, 0
    tail, states = new_path(), new_states()  # a completion's steps and states (copied where it wins)
    steps_end = cnt[0] + budget
    while k < len(best_path) and cnt[0] < steps_end:
        left = max_failures - fails
        here = (t, e, np.int64(i), np.int64(c))
        for q in range(k_n_ops(I, i)):
            op = k_op(F, I, q, e, i, c, slept)
            if op == K_NONE:
                continue
            s, t1, e1, i1, c1, sl1, df, b0, nb = k_apply(F, I, tt, tp, cnt, boots, op, t, e, i, c, slept, left)
            if s != OK:
                continue
            step = (op, np.int64(c), np.int64(df), np.int64(b0), np.int64(nb))
            if i1 > n:
                if t1 < best_t:
                    best_t, best_path, best_states = t1, best_path[:k], best_states[:k]
                    best_path.append(step)
                    best_states.append(here)
                    k_set_ref(ref_t, ref_e, ref_c, best_path, best_states)
                continue
            if k_lower_bound(F, I, t1, e1, i1) >= best_t:
                continue
            for kind in kinds:
                tail.clear()
                states.clear()
                t_r = k_follow(F, I, tt, tp, cnt, boots, kind, t1, e1, i1, c1, sl1, max_failures - fails - df, best_t,
                               steps_end - cnt[0], tail, states, True, ref_t, ref_e, ref_c)
                if cnt[1]:
                    return math.nan, best_path
                if t_r < best_t:
                    best_t, best_path, best_states = t_r, best_path[:k], best_states[:k]
                    best_path.append(step)
                    best_path.extend(tail)
                    best_states.append(here)
                    best_states.extend(states)
                    k_set_ref(ref_t, ref_e, ref_c, best_path, best_states)
        op = best_path[k][0]
        s, t, e, i, c, slept, df, _, _ = k_apply(F, I, tt, tp, cnt, boots, op, t, e, i, c, slept, max_failures - fails)
        fails += df
        k += 1
    return best_t, best_path


@njit(cache=True)
def _astar_k(F, I, tt, tp, cnt, boots, t0, e0, i0, c0, max_failures, budget, best_t):
    """``planner._astar``: returns ``(found, t_done, path, expanded)``, ``found`` 0: over the
    budget, 1: nothing beats ``best_t``, 2: ``path`` does. The heap's ``(bound, node)`` pairs are
    a total order, so it pops the nodes in Python's order."""
    F, I, tt, tp, cnt = borrow(F), borrow(I), borrow(tt), borrow(tp), borrow(cnt)
    n = int(F[P_N])
    nodes = [(t0, e0, np.int64(i0), np.int64(c0), False, np.int64(0))]
    how = [(np.int64(-1), (np.int64(0), np.int64(0), np.int64(0), np.int64(0), np.int64(0)))]
    heap = [(k_lower_bound(F, I, t0, e0, i0), np.int64(0))]
    best_k, best_step = -1, how[0][1]
    expanded, steps0 = 0, cnt[0]
    while len(heap) > 0:
        f, k = heapq.heappop(heap)
        if f >= best_t:
            break
        if cnt[0] - steps0 > budget:
            return 0, best_t, new_path(), expanded
        expanded += 1
        t, e, i, c, slept, fails = nodes[k]
        left = max_failures - fails
        for q in range(k_n_ops(I, i)):
            op = k_op(F, I, q, e, i, c, slept)
            if op == K_NONE:
                continue
            s, t1, e1, i1, c1, sl1, df, b0, nb = k_apply(F, I, tt, tp, cnt, boots, op, t, e, i, c, slept, left)
            if s != OK:
                continue
            step = (op, c, np.int64(df), np.int64(b0), np.int64(nb))
            if i1 > n:
                if t1 < best_t:
                    best_t, best_k, best_step = t1, k, step
                continue
            lb = k_lower_bound(F, I, t1, e1, i1)
            if lb < best_t:
                nodes.append((t1, e1, i1, c1, sl1, fails + df))
                how.append((k, step))
                heapq.heappush(heap, (lb, np.int64(len(nodes) - 1)))
    path = new_path()
    if best_k < 0:
        return 1, math.inf, path, expanded
    path.append(best_step)
    k = best_k
    while k > 0:
        k, step = how[k]
        path.append(step)
    path.reverse()
    return 2, best_t, path, expanded


@njit(cache=True)
def _plan_k(F, I, tt, tp, cnt, kinds, t, e, i, c, restore, max_failures, exact_budget, rollout_budget, blind_budget,
            exact_max_cycles):
    """``planner.plan_request`` from its restore on. Returns ``(t_done, path, exact, expanded,
    lower_bound, members t_done (nan: not run), steps (-1: stage not run), start (t, e, i, c),
    prefix boots (b0, nb), boots)``; one function as the Python one is, so both read alike."""
    F, I, tt, tp, cnt, kinds = borrow(F), borrow(I), borrow(tt), borrow(tp), borrow(cnt), borrow(kinds)
    boots = new_boots()
    members = np.full(kinds.size, math.nan)
    steps = np.full(3, -1, np.int64)
    pb0, pnb = -1, 0  # -1: no reboot in the restore
    failures0 = 0
    s = OK
    if restore:
        i = c
        par = F
        s, t, e = k_run(F, I, tt, tp, cnt, t, e, par[P_REST_L], par[P_REST_D])
        if s == BROWN:
            if max_failures < 1:
                s = DEAD
            else:
                s, t, e, f, pb0, pnb = k_reboot(F, I, tt, tp, cnt, boots, t, e, c, max_failures - 1)
                failures0 = 1 + f
    lb = k_lower_bound(F, I, t, e, i)
    best_path = new_path()
    if restore and s != OK:
        return math.inf, best_path, True, 0, math.inf, members, steps, (t, e, i, c), (pb0, pnb), boots
    left = max_failures - failures0
    s0 = cnt[0]
    # restart (kinds[0]) first, up to its first brown-out; then the others, each cut at the best
    # so far; then restart in full, cut at their best (planner.plan_request)
    ref_none = np.zeros(0)
    ref_nc = np.zeros(0, np.int64)
    path, states = new_path(), new_states()
    t_m = k_follow(F, I, tt, tp, cnt, boots, RESTART, t, e, i, c, False, 0.0, math.inf, math.inf, path, states,
                   False, ref_none, ref_none, ref_nc)
    if t_m < math.inf:
        members[0] = t_m
        steps[0] = cnt[0] - s0
        return t_m, path, True, 0, t_m, members, steps, (t, e, i, c), (pb0, pnb), boots
    best_t = math.inf
    best_states = new_states()
    for m in range(1, kinds.size):
        path, states = new_path(), new_states()
        t_m = k_follow(F, I, tt, tp, cnt, boots, kinds[m], t, e, i, c, False, left, best_t, math.inf, path, states,
                       False, ref_none, ref_none, ref_nc)
        if cnt[1]:
            return math.nan, best_path, False, 0, lb, members, steps, (t, e, i, c), (pb0, pnb), boots
        if t_m < best_t or best_t == math.inf:
            members[m] = t_m
        if t_m < best_t:
            best_t, best_path, best_states = t_m, path, states
    path, states = new_path(), new_states()
    t_m = k_follow(F, I, tt, tp, cnt, boots, RESTART, t, e, i, c, False, left, best_t, math.inf, path, states,
                   False, ref_none, ref_none, ref_nc)
    if t_m <= best_t:
        members[0] = t_m
        if t_m < math.inf:
            best_t, best_path, best_states = t_m, path, states
    steps[0], s0 = cnt[0] - s0, cnt[0]
    rkinds = np.empty(2, np.int64)  # the rollout's rules (planner.rollout_policies)
    rkinds[0] = FINISH
    rkinds[1] = ONLINE
    best_t, best_path = _rollout_k(F, I, tt, tp, cnt, boots, rkinds, t, e, i, c, best_t, best_path, best_states, left,
                                   rollout_budget)
    if cnt[1]:
        return math.nan, best_path, False, 0, lb, members, steps, (t, e, i, c), (pb0, pnb), boots
    steps[1], s0 = cnt[0] - s0, cnt[0]
    if best_t == math.inf and blind_budget < exact_budget:
        exact_budget = blind_budget
    cycles = 1
    for step in best_path:
        cycles += step[2]
    if cycles > exact_max_cycles:
        exact_budget = 0.0
    found, t_f, path, expanded = _astar_k(F, I, tt, tp, cnt, boots, t, e, i, c, left, exact_budget, best_t)
    steps[2] = cnt[0] - s0
    exact = found != 0
    if not exact:
        expanded = 0  # as the Python planner: no count from an abandoned search
    else:
        if t_f < best_t:
            best_t, best_path = t_f, path
        lb = best_t
    return best_t, best_path, exact, expanded, lb, members, steps, (t, e, i, c), (pb0, pnb), boots


def packed(model):
    """``(M, kinds)`` of ``model``, packed once (again when its horizon or members change)."""
    key = (model.horizon, id(model.members), len(model.members))
    cached = getattr(model, "_packed", None)
    if cached is None or cached[0] != key:
        M, kinds = pack(model)
        # the Python planner's operation of each sleep code (index: the code), for the results
        sleeps = [float(v) for v in M[0][M[1][M_TH_V]:M[1][M_TH_V + 1]]]
        cached = model._packed = (key, M, kinds, sleeps)
    return cached[1], cached[2]


def plan_request_compiled(model, t, e, i=0, c=0, restore=False, max_cycles=None, exact_budget=100_000,
                          rollout_budget=300_000, blind_budget=None, exact_max_cycles=None):
    """:func:`~intersim.sched.optimal.planner.plan_request` compiled: the same arguments, the same
    result (dict, path and counts), ``model.steps`` advanced by the same kernel calls."""
    M, kinds = packed(model)
    max_failures = math.inf if max_cycles is None else float(max_cycles - 1)
    restore = bool(restore and c > 0)
    cnt = np.zeros(4, np.int64)
    origin = (t, e, i, c, restore)
    (t_done, path, exact, expanded, lb, members, steps, start, (pb0, pnb), boots) = _plan_k(
        *M, cnt, kinds, float(t), float(e), int(i), int(c), restore, max_failures, float(exact_budget),
        float(rollout_budget), math.inf if blind_budget is None else float(blind_budget),
        math.inf if exact_max_cycles is None else float(exact_max_cycles))
    model.steps += int(cnt[0])
    boots = list(boots)
    if cnt[1]:
        op = _op(M, int(cnt[2]))
        raise ValueError(f"policy op {op!r} at task {int(cnt[3])} is outside the class")
    sleeps = model._packed[3]
    # (numba returns the steps' codes as Python ints already)
    out = {"t_done_s": t_done, "path": [(CONT if op == K_CONT else CKPT if op == K_CKPT else sleeps[op], cc, df,
                                         tuple(boots[b0:b0 + nb]) if nb else ())
                                        for op, cc, df, b0, nb in path],
           "exact": bool(exact), "expanded": int(expanded), "members": {}, "origin": origin,
           "prefix_boots": () if pb0 < 0 else boots[pb0:pb0 + pnb]}  # a list after a reboot, as there
    out["start"] = (start[0], start[1], int(start[2]), int(start[3]))
    out["lower_bound_s"] = lb
    for kind, t_m in zip(kinds, members):
        if not math.isnan(t_m):
            out["members"][MEMBER_NAMES[kind]] = float(t_m)
    if steps[0] >= 0:
        out["steps"] = {name: int(v) for name, v in zip(("members", "rollout", "exact"), steps) if v >= 0}
    return out


def _op(M, code):
    """The Python planner's operation for an operation code."""
    return CONT if code == K_CONT else CKPT if code == K_CKPT else float(M[0][M[1][M_TH_V] + code])
