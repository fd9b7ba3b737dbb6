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
from .bounds import (  # noqa: F401
    OK, BROWN, DEAD, CONT, CKPT, _step, _harvest_to_k, _harvest_until_k, _lower_bound_k, _never_reaches_k,
)
from .model import Ops, Model, _apply, allowed, is_allowed, _successors  # noqa: F401
from .policies import (  # noqa: F401
    follow, restart_policy, online_policy, static_sram_groups, static_sram_policy, JitTaskRule,
)
from .planner import (  # noqa: F401
    member_policies, plan_request, _rollout, _astar, EnumerationTooLarge, enumerate_policies,
)
from .schedulers import (  # noqa: F401
    compile_plan, _checkpoint_actions, _prepare_ops, _unit_energy_j, _Planned, Optimal, OptimalOnline,
)
from .static_sram import StaticSram  # noqa: F401
