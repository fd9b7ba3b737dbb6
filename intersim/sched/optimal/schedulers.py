"""The schedulers optimal (executes the plan of each request) and optimal-online (decides
from the voltage it reads, assuming zero harvest)."""
from __future__ import annotations
import bisect
import gc
import time
from operator import itemgetter
from ...energy import capacitor as cap
from ...hw.cost import transfer_cost
from ..contract import (
    SRAM_IMAGE, Copy, Done, Idle, ReadVoltage, RunTasks, Sleep, boot_cost_for, checkpoint_buffer, hibernus_checkpoint,
    tensor_buffer,
)
from ..jit import JIT, JITTask
from .bounds import CONT, CKPT
from .model import Ops, Model
from .policies import online_policy, static_sram_groups
from .planner import plan_request
from .compiled import plan_request_compiled


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
    ops = cycles[-1]["ops"]
    for op, c_durable, _, boots in result["path"]:
        ops.append(op)
        for tb, eb in boots:
            ops = []
            cycles.append({"t": tb, "e": eb, "i": c_durable, "c": c_durable, "restore": c_durable > 0,
                           "ops": ops})
    return cycles


def _predicted_cycle(live, t, e, c, tol_t, tol_e):
    """The first power cycle after the origin of the live plan whose boot matches the state
    ``(t [s], e [J], c)`` within ``tol_t`` [s] and ``tol_e`` [J], or None. The boots are in time
    order, so only those near ``t`` are looked at (a plan may predict thousands); the window is
    twice the tolerance so that its rounding never drops a match the test below takes."""
    boot_t, cycles = live["boot_t"], live["cycles"]
    for k in range(bisect.bisect_left(boot_t, t - 2.0 * tol_t), bisect.bisect_right(boot_t, t + 2.0 * tol_t)):
        cycle = cycles[k + 1]
        if cycle["c"] == c and abs(cycle["t"] - t) <= tol_t and abs(cycle["e"] - e) <= tol_e:
            return cycle
    return None


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
    boot = boot_cost_for(setup)
    groups, charge_v, _ = static_sram_groups(setup, boot.energy_j + restore_j + ck_j)
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


class _ActionSequence(_Planned):
    """A planned scheduler whose decisions for a request are one generator of actions,
    ``_actions(dev, c, restore)``: from task ``c``, after restoring the checkpoint if ``restore``
    (the first request served after a boot that found a valid checkpoint)."""

    def on_boot(self, dev):
        super().on_boot(dev)  # jit's: the valid checkpoint of this request (slot, task), the flag
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
        raise NotImplementedError("a subclass yields the request's actions")


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
    #: kernel calls the search may make per planning after the members (``[schedulers]
    #: optimal_budget_calls``): half at most for the rollout, the rest for the exact search; a
    #: planning that uses it up keeps the rollout's plan, flagged ``exact = False``
    budget_calls = 200_000
    #: kernel calls the exact search may make per planning (beyond: the rollout's result, flagged)
    exact_budget = 100_000
    #: above this many base tasks the exact search is not attempted (it cannot finish within its
    #: budget there and cost a third of the planning time on the default scenario's 122 tasks)
    exact_max_tasks = 24
    #: kernel calls the exact search may make where no member completes (issue 17: there it found
    #: no completion in any of 467 plannings of bench_optimal's event_dense case, and spent its
    #: whole budget in 461 of them; docs/optimal.md)
    blind_budget = 5_000
    #: kernel calls the rollout may make per planning (issue 17: with the rollout's dominance cut,
    #: finishing rule and its two rules (``planner.rollout_policies``), 2 500 plans bench_optimal's
    #: cases at a mean latency between -0.56 % and +0.17 % of 5 000 with every member's rule, in
    #: about half the planning time; docs/optimal.md)
    rollout_budget = 2_500
    #: the exact search is not attempted where the rollout's plan takes more power cycles than
    #: this (issue 17: of bench_optimal's cases' plannings, all 9 701 proven minimal were of plans
    #: of 1 or 2 power cycles, and none of the 87 searches for a plan of 5 or more finished within
    #: the budget: event_dense spent 8.7 M calls, half its planning, on them; docs/optimal.md)
    exact_max_cycles = 4
    #: at most this many power cycles per request (None: unbounded)
    max_cycles = None
    #: relative tolerance [-] of time and energy when matching a boot to the planned one
    match_rtol = 1e-9
    #: plan with the compiled planner (:mod:`.compiled`); False: the Python reference planner
    #: (the same plans, bit for bit)
    compiled = True

    @classmethod
    def prepare(cls, setup, memory):
        plan = _prepare_ops(cls, setup, memory)
        model = Model(cap.trace_arrays(setup.trace), setup.storage, setup.platform, setup.costs,
                      plan["image_bytes"], plan["result_bytes"], setup.workload.horizon_s(), plan["extra_v"],
                      boot_cost_for(setup))
        model.members = {"jit_task_v_ckpt": plan["jit_task_v_ckpt"], "groups": plan["groups"],
                         "charge_v": plan["charge_v"]}
        budget = getattr(setup, "optimal_budget_calls", None)
        budget = cls.budget_calls if budget is None else int(budget)
        # each planning's split of the budget (the exact search's, where no member completes, is
        # cut further to blind_budget): the same for every planning of the run
        rollout = min(cls.rollout_budget, budget // 2)
        exact = min(cls.exact_budget, budget - rollout) if model.n <= cls.exact_max_tasks else 0
        plan.update(model=model, output_name=setup.network.output_name, plan_s=0.0, requests=[], live=None,
                    budget_calls=budget, rollout_calls=rollout, exact_calls=exact)
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
            cycle = _predicted_cycle(live, t, e, c, self.match_rtol * max(1.0, abs(t)),
                                     self.match_rtol * self.plan["model"].e_max)
            if cycle is not None:
                self._start(cycle)
                return
            self._plan(dev, c, c, c > 0, "boot off plan")
        else:
            self._plan(dev, c, c, c > 0, "request" if c == 0 else "boot off plan")

    def _plan(self, dev, i, c, restore, why):
        plan = self.plan
        t, e = dev.oracle_state()
        wall = time.perf_counter()
        rollout, exact = plan["rollout_calls"], plan["exact_calls"]
        # the search makes many small acyclic objects (freed by reference counting): the cyclic
        # collector only costs time while it runs
        collecting = gc.isenabled()
        gc.disable()
        try:
            planner = plan_request_compiled if self.compiled else plan_request
            result = planner(plan["model"], t, e, i, c, restore, self.max_cycles, exact, rollout, self.blind_budget,
                             self.exact_max_cycles)
        finally:
            if collecting:
                gc.enable()
        dt = time.perf_counter() - wall
        plan["plan_s"] += dt
        cycles = compile_plan(result)
        if not result["path"]:  # nothing completes before the horizon: compute on regardless
            cycles = [dict(cycles[0], ops=[CONT] * (plan["model"].n - cycles[0]["i"] + 1))]
        plan["live"] = {"seq": self.seq, "cycles": cycles, "boot_t": [cycle["t"] for cycle in cycles[1:]]}
        plan["requests"].append({
            "seq": self.seq, "why": why, "t_s": t, "t_done_s": result["t_done_s"], "exact": result["exact"],
            "expanded": result["expanded"], "lower_bound_s": result["lower_bound_s"],
            "members": result["members"], "power_cycles": 1 + sum(map(itemgetter(2), result["path"])),
            "steps": result.get("steps", {}), "plan_s": dt})
        self._start(cycles[0])

    def _start(self, cycle):
        self.i, self.c = cycle["i"], cycle["c"]
        self.actions = self._actions(cycle)

    def _actions(self, cycle):
        n = self.plan["model"].n
        if cycle["restore"]:
            yield Copy(checkpoint_buffer(self.restore_slot), SRAM_IMAGE, category="restore")
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


class OptimalOnline(_ActionSequence):
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
                  plan["extra_v"], boot_cost_for(setup))
        plan.update(ops=ops, output_name=setup.network.output_name)
        return plan



    def _actions(self, dev, c, restore):
        ops = self.plan["ops"]
        decide = online_policy(ops)
        if restore:
            yield Copy(checkpoint_buffer(self.restore_slot), SRAM_IMAGE, category="restore")
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
