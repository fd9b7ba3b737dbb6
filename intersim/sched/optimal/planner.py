"""The planner: A* with an admissible bound from the members' best, a budget of node expansions and
the fortified rollout beyond it; exhaustive enumeration for small instances (tests)."""
from __future__ import annotations
import heapq
import math
from .bounds import OK, BROWN, DEAD
from .model import _apply, _successors
from .policies import Dominance, follow, restart_policy, online_policy, static_sram_policy, finish_policy, JitTaskRule


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


def rollout_policies(model):
    """The rules the rollout completes each deviation with: the finishing rule
    (:func:`~intersim.sched.optimal.policies.finish_policy`) and the online rule, fresh objects.
    Not the other members: in 62 rollouts of ``default`` and ``dense_hour`` (issue 17) restart
    and static-sram made none of its 239 improvements and jit-task 10, at 61-66 % of its kernel
    calls; without them the same budget plans both faster (docs/optimal.md)."""
    return {"finish": finish_policy(model), "online": online_policy(model)}


def plan_request(model, t, e, i=0, c=0, restore=False, max_cycles=None, exact_budget=100_000,
                 rollout_budget=300_000, blind_budget=None, exact_max_cycles=None):
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
    blind_budget : int or None  kernel calls the exact search may make when no member completes
        (no incumbent: the search must exhaust the tree to prove anything); None: ``exact_budget``
    exact_max_cycles : int or None  the exact search is given no budget (as above
        ``Optimal.exact_max_tasks``) where the incumbent takes more than this many power cycles;
        None: no limit

    Returns a dict: ``t_done_s`` [s] (inf: nothing completes before the horizon), ``path`` (list
    of ``(op, c, failures, boots)``), ``exact`` (True: proven the minimum over the class),
    ``expanded`` (nodes), ``lower_bound_s`` [s], ``members`` (name -> t_done_s [s] of each member
    policy from the same state, where it is not cut: a member is cut at the best of those before
    it -- restart counts as the last, winning ties), ``steps`` (kernel calls of each stage), ``origin``
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
    # 1. the members, followed in the model: the incumbent. restart first, up to its first
    # brown-out: if it completes there, every policy runs each remaining task and the finish at
    # least once, so running them straight through is the minimum; nothing to search. Then the
    # others in their order, each cut at the best so far (a later member is the incumbent only
    # if it completes strictly earlier), and restart last, cut at their best (as the first
    # member it wins a tie). A member's time is recorded where it is not cut (docs/optimal.md)
    rules = member_policies(model)
    start = (t, e, i, c, False)
    t_m, path = follow(model, start, rules["restart"], 0)
    if t_m < math.inf:
        steps["members"] = model.steps - s0
        out["members"]["restart"] = t_m
        out.update(t_done_s=t_m, path=path, lower_bound_s=t_m)
        return out
    best_t, best_path, best_states = math.inf, [], []
    for name, rule in rules.items():
        if name == "restart":
            continue
        states = []
        t_m, path = follow(model, start, rule, left, best_t, states=states)
        if t_m < best_t or best_t == math.inf:
            out["members"][name] = t_m
        if t_m < best_t:
            best_t, best_path, best_states = t_m, path, states
    states = []
    t_m, path = follow(model, start, restart_policy(model), left, best_t, states=states)
    if t_m <= best_t:
        out["members"]["restart"] = t_m
        if t_m < math.inf:
            best_t, best_path, best_states = t_m, path, states
    steps["members"], s0 = model.steps - s0, model.steps
    # 2. fortified rollout of the members: never worse than the incumbent, usually much better
    best_t, best_path = _rollout(model, (t, e, i, c), best_t, best_path, left, rollout_budget, best_states)
    steps["rollout"], s0 = model.steps - s0, model.steps
    # 3. exact best-first search, pruned by the admissible bound against the incumbent
    if best_t == math.inf and blind_budget is not None:
        exact_budget = min(exact_budget, blind_budget)
    if exact_max_cycles is not None and 1 + sum(f for _, _, f, _ in best_path) > exact_max_cycles:
        exact_budget = 0
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


def _rollout(model, start, best_t, best_path, max_failures, budget=math.inf, best_states=None):
    """Fortified rollout: walk along the incumbent path; at each boundary, apply every allowed
    operation and complete it with each member rule; whenever that completes earlier, it becomes
    the incumbent. A completion is given up where the incumbent beats it (:class:`Dominance`,
    the heuristic cut; ``best_states``: the incumbent's states, ``follow``'s ``states``; None:
    recomputed by replaying the path, uncounted). Stops improving after ``budget`` kernel calls.
    Returns ``(t_done, path)``, never later than the incumbent given."""
    if not best_path or best_t == math.inf:
        return best_t, best_path
    t, e, i, c = start
    if best_states is None:
        best_states = _states(model, start, best_path, max_failures)
    ref = Dominance(model.n, model.gain_rate)
    ref.set_path(best_path, best_states)
    slept, fails, k = False, 0, 0
    steps_end = model.steps + budget
    while k < len(best_path) and model.steps < steps_end:
        left = max_failures - fails
        here = (t, e, i, c)
        for op, s, t1, e1, i1, c1, sl1, df, boots in _successors(model, t, e, i, c, slept, left):
            if s != OK:
                continue
            step = (op, c, df, boots)
            if i1 > model.n:
                if t1 < best_t:
                    best_t, best_path, best_states = t1, best_path[:k] + [step], best_states[:k] + [here]
                    ref.set_path(best_path, best_states)
                continue
            if model.lower_bound(t1, e1, i1) >= best_t:
                continue
            for rule in rollout_policies(model).values():
                states = []
                t_r, tail = follow(model, (t1, e1, i1, c1, sl1), rule, max_failures - fails - df, best_t,
                                   steps_end - model.steps, states, ref)
                if t_r < best_t:
                    best_t, best_path = t_r, best_path[:k] + [step] + tail
                    best_states = best_states[:k] + [here] + states
                    ref.set_path(best_path, best_states)
        op = best_path[k][0]
        op, s, t, e, i, c, slept, df, _ = _apply(model, op, t, e, i, c, slept, max_failures - fails)
        fails += df
        k += 1
    return best_t, best_path


def _states(model, start, path, max_failures):
    """The state ``(t, e, i, c)`` before each step of ``path`` from ``start``, by replaying it (its
    kernel calls not counted)."""
    steps = model.steps
    t, e, i, c = start
    slept, fails, out = False, 0, []
    for op, *_ in path:
        out.append((t, e, i, c))
        op, s, t, e, i, c, slept, df, _ = _apply(model, op, t, e, i, c, slept, max_failures - fails)
        fails += df
    model.steps = steps
    return out


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
