"""FreeML's early exit at run time: ``freeml-fixed:K`` and ``freeml-adaptive``.

FreeML (``../shared/seeds/003_24661ff1b9520ea2.txt``: "the first early exit mechanism that uses a
single exit branch for all exit points to terminate inference at any time") attaches one shared
branch after several backbone blocks. The network here is an early-exit network of
:mod:`intersim.nn.early_exit` (``[model] name = "digits_ee"``): its tasks are the backbone's, and
after the last task of each exit point's block the branch's tasks (``exit{k}_gap``,
``exit{k}_flatten``, ``exit{k}_fc``). At each exit point the scheduler decides: run the branch
and answer from it, or skip it and continue the backbone to the next exit point (or to the final
head, which always answers).

Preserving progress: both are ``jit`` (Hibernus-style checkpoints of the whole SRAM image at
``V_ckpt``, double-buffered, the flag last, :class:`~intersim.sched.jit.JIT`) over the runs they
choose: a backbone block, or a branch. The abstract does not say how FreeML preserves progress;
``jit`` is the intersim scheduler closest to "terminate inference at any time" (an assumption,
stated in docs/schedulers.md). The position a checkpoint names encodes the decision: a task of a
branch means "answering from that exit", a backbone task means "continuing" -- so after a restore
the scheduler goes on where it was, and a decision interrupted before its branch started is
simply made again. ``suspends_task = True`` (as ``jit``): a checkpoint names the interrupted task
itself, never the next run's first task, so the position is never ambiguous.

The answer: the exit's (or the final head's) logits are copied into the NVM ``result``, the NVM
word :data:`~intersim.sched.contract.EXIT_WORD` set to the exit point (0: the final head), then
``Done``; the engine compares the result with that answer's continuous output (``correct``) and
records its layer (``exit_layer``).

Policies (decided at each exit point):

* ``freeml-fixed:K`` exits at exit point ``K`` (an exit point of the model; the digits_ee
  network has 1 and 2). On a network without exit point ``K`` it is refused before any run.
* ``freeml-adaptive`` reads the supply voltage and the input power (the platform's ADC reads,
  ``ReadVoltage`` and ``ReadInputPower``, booked as compute) and exits when the usable stored
  energy plus the expected harvest until the request's deadline cannot pay for the next block
  (the backbone to the next exit point and that exit's branch, or the rest of the network to the
  final head, and the answer), or when the next block's compute time alone would end after the
  deadline. Usable stored energy: ``eta_out * C (V^2 - V_ckpt^2) / 2`` (what the device may spend
  before the comparator checkpoints). Expected harvest: the measured input power held constant
  until the deadline, times ``eta_out`` -- an assumption (no forecast, no leakage, boot and
  checkpoint energy not counted). Without a deadline (``[workload] deadline_s`` omitted) it never
  exits early. On a network without exit points both run the full network as ``jit`` does.
"""
from __future__ import annotations

import functools

from ..errors import SchedulerError
from ..hw.cost import transfer_cost
from ..nn.early_exit import answer_tensors, exit_points
from .baseline import _DONE, _IDLE
from .contract import (
    EXIT_WORD, CheckpointedRun, Copy, ReadInputPower, ReadVoltage, WriteWords, tensor_buffer,
)
from .jit import JIT

#: the name prefix of the fixed-exit policies
FIXED_PREFIX = "freeml-fixed:"


def exit_route(setup) -> list:
    """``[(code, branch_start, branch_stop, answer tensor)]`` of the network's exit points in
    task order: the tasks of exit ``code``'s branch are ``branch_start .. branch_stop - 1``."""
    net, tasks = setup.network, setup.tasks
    tensors = answer_tensors(net)
    layer_index = {layer.name: i for i, layer in enumerate(net.layers)}
    route = []
    for p in exit_points(net):
        wanted = {layer_index[name] for name in p.layers}
        idx = [t.index for t in tasks if t.layer in wanted]
        if not idx or idx != list(range(idx[0], idx[-1] + 1)):
            raise SchedulerError(f"exit point {p.code}: its branch's tasks are not one contiguous run")
        route.append((p.code, idx[0], idx[-1] + 1, tensors[p.code]))
    return sorted(route, key=lambda r: r[1])


class FreemlAdaptive(JIT):
    """``freeml-adaptive``: exit when the energy until the deadline cannot pay for the next block
    (see the module docstring)."""

    name = "freeml-adaptive"
    early_exit = True      # runs an early-exit network's branches (simulate gives it the whole network)
    nvm_determined = False  # decides on voltage and input-power readings
    suspends_task = True

    @classmethod
    def layout(cls, memory, setup, plan=None):
        result = super().layout(memory, setup, plan)
        memory.allocate(EXIT_WORD, "nvm", (1,), "uint16")
        return result

    @classmethod
    def check_network(cls, network):
        """Refuse (one line) a network this policy cannot run; None when it can."""
        return None

    @classmethod
    def prepare(cls, setup, memory):
        cls.check_network(setup.network)
        plan = super().prepare(setup, memory)
        route = exit_route(setup)
        costs, n = setup.costs, len(setup.tasks)
        plat = setup.platform
        out_bytes = memory.buffers["result"].nbytes
        answer = transfer_cost(plat, out_bytes, "sram_to_nvm")
        word = transfer_cost(plat, 2, "sram_to_nvm")
        answer_e = answer.energy_j + 2 * word.energy_j  # result copy, exit word, done flag
        answer_t = answer.time_s + 2 * word.time_s

        def span(a, b):
            return (sum(c.energy_j for c in costs[a:b]), sum(c.time_s for c in costs[a:b]))

        # the next block after exit i: the backbone to the next exit's branch and that branch, or
        # the rest of the network
        nxt = []
        for i, (code, b0, b1, _) in enumerate(route):
            stop = route[i + 1][2] if i + 1 < len(route) else n
            skip = (route[i + 1][1], route[i + 1][2]) if i + 1 < len(route) else None
            e, t = span(b1, stop)
            nxt.append((e + answer_e, t + answer_t, skip))
        plan.update(route=route, n_tasks=n, next_block=[(e, t) for e, t, _ in nxt])
        return plan

    def on_boot(self, dev):
        super().on_boot(dev)
        self.answer = None   # the code being answered once its branch (or the backbone) is done
        self.stage = 0       # of the answer: 0 copy, 1 exit word, 2 done
        self.reading = 0     # of the adaptive decision: 0 none, 1 voltage read, 2 power read too

    def decide(self, dev, i):
        """At exit point ``i`` (of ``plan["route"]``): an action to take first, or True (exit) or
        False (continue)."""
        if dev.request_deadline_s == float("inf"):
            return False
        if self.reading == 0:
            self.reading = 1
            return ReadVoltage()
        if self.reading == 1:
            self.reading = 2
            return ReadInputPower()
        self.reading = 0
        st, v, p_in = dev.storage, dev.voltage_v, dev.input_power_w
        need_e, need_t = self.plan["next_block"][i]
        left_s = dev.request_deadline_s - dev.now_s
        if need_t > left_s:
            return True
        v_floor = self.plan["v_ckpt"]
        stored = max(0.0, 0.5 * st.capacitance_f * (v * v - v_floor * v_floor)) * st.output_efficiency
        expected = max(p_in, 0.0) * left_s * st.output_efficiency
        return stored + expected < need_e

    def next_action(self, dev):
        if not dev.request_active:
            return _IDLE
        if self.restore_slot is not None:
            return super().next_action(dev)  # the restore copy
        if self.seq != dev.request_seq:
            self.seq, self.next, self.resume = dev.request_seq, 0, 0
            self.answer, self.stage, self.reading = None, 0, 0
        plan = self.plan
        v_on = plan["v_on"]
        if self.answer is None:
            p, r = self.next, self.resume
            for i, (code, b0, b1, _) in enumerate(plan["route"]):
                if b0 < p < b1 or (p == b0 and r > 0):  # inside a branch: answering from it
                    self.next, self.resume, self.answer = b1, 0, code
                    return CheckpointedRun(p, b1, r, v_on)
                if p == b0:  # at exit point i: decide
                    choice = self.decide(dev, i)
                    if not isinstance(choice, bool):
                        return choice
                    if choice:
                        self.next, self.resume, self.answer = b1, 0, code
                        return CheckpointedRun(b0, b1, 0, v_on)
                    p = self.next = b1  # skip the branch
            if p >= plan["n_tasks"]:
                self.answer = 0
            else:
                stop = next((b0 for _, b0, _, _ in plan["route"] if b0 > p), plan["n_tasks"])
                self.next, self.resume = stop, 0
                return CheckpointedRun(p, stop, r, v_on)
        return self._answer(dev)

    def _answer(self, dev):
        if self.stage == 0:
            self.stage = 1
            code = self.answer
            tensor = dev.network.output_name if code == 0 else next(t for c, _, _, t in self.plan["route"] if c == code)
            return Copy(tensor_buffer(tensor), "result")
        if self.stage == 1:
            self.stage = 2
            return WriteWords(((EXIT_WORD, self.answer),))
        return _DONE


class FreemlFixed(FreemlAdaptive):
    """``freeml-fixed:K``: answer from exit point ``K`` (see the module docstring)."""

    name = "freeml-fixed"
    exit_point = None
    nvm_determined = False

    @classmethod
    def check_network(cls, network):
        codes = [p.code for p in exit_points(network)]
        if cls.exit_point not in codes:
            raise SchedulerError(f"scheduler {cls.name!r}: network {network.name!r} has no exit point "
                                 f"{cls.exit_point}; valid: "
                                 + (", ".join(f"{FIXED_PREFIX}{c}" for c in codes) if codes
                                    else "none (it has no exit points: use an early-exit model, e.g. digits_ee)"))

    def decide(self, dev, i):
        return self.plan["route"][i][0] == self.exit_point


@functools.lru_cache(maxsize=None)
def freeml_fixed(name: str):
    """The class of ``freeml-fixed:K`` (one per K, the same object on every call); one-line
    :class:`SchedulerError` naming the valid form for any other text after the prefix."""
    k = name[len(FIXED_PREFIX):]
    if not (name.startswith(FIXED_PREFIX) and k.isdigit() and k == str(int(k)) and int(k) >= 1):
        raise SchedulerError(f"scheduler {name!r} is invalid; valid: '{FIXED_PREFIX}K' with K an exit point "
                             f"of the model, a positive integer (digits_ee: {FIXED_PREFIX}1, {FIXED_PREFIX}2)")
    return type(f"FreemlFixed{k}", (FreemlFixed,), {"name": name, "exit_point": int(k), "nvm_determined": False,
                                                   "__module__": __name__, "__doc__": FreemlFixed.__doc__})


__all__ = ["FIXED_PREFIX", "FreemlAdaptive", "FreemlFixed", "freeml_fixed", "exit_route"]
