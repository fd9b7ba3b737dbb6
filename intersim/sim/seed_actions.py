"""The engine's handlers of the seed systems' actions (issue 15): :class:`UlpSleep`,
:class:`ReadInputPower`, :class:`ErasePages` and :class:`LoopTask`
(:mod:`intersim.sched.contract`).

Each handler is a generator ``(sched, action, armed) -> (still powered, comparator armed)`` like
the engine's own; :func:`seed_handlers` returns them keyed by action type for
``Engine._handlers``. They use the engine's primitives only (``_advance``, ``_load``,
``_sync``, the books, the task memory), so the books balance and failure injection cuts them
as it cuts any load.
"""
from __future__ import annotations

import math

from ..energy import capacitor as cap
from ..errors import SchedulerError
from ..hw.cost import weight_reload_cost
from ..hw.memory import NVM, POISON_BYTE
from ..sched.contract import ErasePages, LoopTask, ReadInputPower, UlpSleep, loop_index_cost
from .setup import _Horizon


class SeedActions:
    """The handlers for one engine (see the module docstring).

    Parameters
    ----------
    eng : intersim.sim.engine.Engine
    """

    def __init__(self, eng):
        self.eng = eng
        self.input_power = (-1, None)   # (boot number, reading [W]): volatile, valid in its boot
        self._index_cost = None
        self.weight_reloads = 0         # ULP wake-ups that reloaded the accelerator's weights

    def handlers(self) -> dict:
        """``{action type: handler}`` for ``Engine._handlers``."""
        return {UlpSleep: self.ulp_sleep, ReadInputPower: self.read_input_power,
                ErasePages: self.erase_pages, LoopTask: self.loop_task}

    def input_power_w(self):
        """The last :class:`ReadInputPower` reading of this boot [W], or None."""
        boot, value = self.input_power
        return value if boot == self.eng.counts["boots"] else None

    # ------------------------------------------------------------------ ULP sleep
    def ulp_sleep(self, sched, action, armed):
        eng = self.eng
        if not action.until_v > 0 or not action.max_s > 0:
            raise SchedulerError(f"scheduler {eng.cls.name!r}: {action!r}: until_v and max_s must be > 0")
        if eng.ideal:
            yield from eng._sync()
            return True, armed
        plat = eng.setup.platform
        p = plat.ulp_sleep_power_w
        e_target = cap.energy_j(eng.st.capacitance_f, action.until_v)
        t_stop = eng.t + action.max_s if math.isfinite(action.max_s) else eng.horizon
        reason, dt = eng._advance(p, t_stop, eng._e_off, e_target, "sleep")
        eng.books.book_load("sleep", p, dt, eng.requests.head)
        eng.requests.time("off_s", dt)
        yield from eng._sync()
        if reason == cap.STOP_TIME and eng.t >= eng.horizon:
            raise _Horizon
        if reason not in (cap.STOP_TIME, cap.STOP_HIGH):
            return False, armed
        if not plat.ulp_retains_accelerator and plat.volatile_weight_bytes:
            # the accelerator's weight memory was switched off: reload it before the next layer
            reload = weight_reload_cost(plat, sum(t.weight_bytes for t in eng.setup.tasks))
            outcome, dt = eng._load(reload.energy_j / reload.time_s if reload.time_s else 0.0, reload.time_s,
                                    "restore", "restore", pending=False)
            eng.requests.time("restore_s", dt)
            self.weight_reloads += 1
            yield from eng._sync()
            if outcome != "done":
                return False, armed
        return True, (eng.e_threshold is not None) if reason == cap.STOP_HIGH else armed

    # ------------------------------------------------------------------ input power
    def read_input_power(self, sched, action, armed):
        eng = self.eng
        plat = eng.setup.platform
        outcome, dt = eng._load(plat.input_power_read_power_w, plat.input_power_read_time_s, "compute", "compute",
                                pending=True)
        yield from eng._sync()
        if outcome != "done":
            return False, armed
        harvest_w = float(eng.setup.trace.power_at(eng.t))
        self.input_power = (eng.counts["boots"], harvest_w * eng._eta_in)
        return True, armed

    # ------------------------------------------------------------------ flash erase
    def erase_pages(self, sched, action, armed):
        eng = self.eng
        plat = eng.setup.platform
        buf = eng.memory.buffers.get(action.buffer)
        if buf is None or buf.memory != NVM:
            raise SchedulerError(f"scheduler {eng.cls.name!r}: {action!r}: no NVM buffer {action.buffer!r}")
        pb = plat.nvm_page_bytes
        if pb <= 0:  # FRAM: no erase
            yield from eng._sync()
            return True, armed
        pages = self._own_pages(action.buffer, buf, pb)
        t_page = plat.nvm_erase_time_s
        p = plat.active_power_w + plat.nvm_erase_energy_j / t_page
        outcome, dt = eng._load(p, pages * t_page, "checkpoint", "preserve", pending=True)
        done = pages if outcome == "done" else min(int(dt / t_page), pages)
        arena = eng.memory.arena[NVM]
        arena[buf.offset:buf.offset + done * pb] = 0xFF
        if done < pages:  # the page being erased is left undefined
            arena[buf.offset + done * pb:buf.offset + (done + 1) * pb] = POISON_BYTE
        yield from eng._sync()
        return outcome == "done", armed

    def _own_pages(self, name, buf, pb):
        """Pages [1] of buffer ``name`` if it starts a page and no other buffer shares its pages
        (its ``~tail`` padding aside); else a :class:`SchedulerError` naming the neighbour."""
        lo, hi = buf.offset, buf.offset + -(-buf.nbytes // pb) * pb
        others = [b.name for b in self.eng.memory.buffers.values()
                  if b.memory == NVM and b.name not in (name, f"{name}~tail") and b.offset < hi
                  and lo < b.offset + b.nbytes and b.nbytes]
        if lo % pb or others:
            raise SchedulerError(f"scheduler {self.eng.cls.name!r}: ErasePages({name!r}): the {pb}-byte pages of "
                                 f"[{lo}, {hi}) B are not the buffer's own (shared with {', '.join(others) or 'a page start'}); "
                                 "allocate it with intersim.sched.contract.allocate_pages")
        return (hi - lo) // pb

    # ------------------------------------------------------------------ SONIC's loop
    def loop_task(self, sched, action, armed):
        eng = self.eng
        i, n_it, k0 = action.index, action.iterations, action.start_iteration
        if not (0 <= i < len(eng.setup.tasks) and n_it >= 1 and 0 <= k0 <= n_it
                and action.index_word in eng.memory.buffers):
            raise SchedulerError(f"scheduler {eng.cls.name!r}: {action!r}: needs a task index, iterations >= 1, "
                                 "0 <= start_iteration <= iterations and an allocated index word")
        if self._index_cost is None:
            self._index_cost = loop_index_cost(eng.setup.platform)
        idx = self._index_cost
        left = n_it - k0
        t_task = float(eng.task_cycles[i]) / eng.clock_hz
        e_task = float(eng.task_power_pin[i]) * t_task
        dur = left * (t_task / n_it + idx.time_s)
        energy = left * (e_task / n_it + idx.energy_j)
        words = int(eng.task_words[i]) * left // n_it + left * eng.taskmem.words_of(2)
        outcome, dt = eng._load(energy / dur if dur > 0 else 0.0, dur, "compute", "compute", pending=True,
                                nvm_words=words)
        mem = eng.memory
        if outcome == "done":
            self._write_iterations(i, n_it, k0, n_it)
            mem.write_word(action.index_word, n_it)
            eng._commit()
            yield from eng._sync()
            return True, armed
        # cut: the iterations whose index write completed are durable (their outputs were written
        # before their index); the cut iteration's output is lost with it
        frac = dt / dur if dur > 0 else 0.0
        done_it = k0 + min(int(frac * left), left)
        if done_it > k0:
            mem.write_word(action.index_word, done_it)
            # the iterations up to the index are durable, the cut one is lost: split the load's
            # pending entry at the last completed index write and commit the first part
            category, e_pin, dt_load, head = eng.books.pending.pop()
            dt_kept = min((done_it - k0) * dur / left, dt_load)
            e_kept = e_pin * dt_kept / dt_load if dt_load > 0 else 0.0
            eng.books.pending.append((category, e_kept, dt_kept, head))
            eng._commit()
            eng.books.pending.append((category, e_pin - e_kept, dt_load - dt_kept, head))
        eng.counts["reexecuted_cycles"] += int((frac * left - (done_it - k0)) * t_task / n_it * eng.clock_hz)
        self._write_iterations(i, n_it, k0, done_it)
        yield from eng._sync()
        return False, armed

    def _write_iterations(self, i, n_it, k0, k1):
        """Write the output bytes of iterations ``k0 .. k1-1`` of task ``i`` (of ``n_it``): each
        iteration writes its own slice of the tile, nothing else -- iterations a scheduler skips
        are never written (the tile is computed through the task memo, as every task's is)."""
        if k1 <= k0:
            return
        tm = self.eng.taskmem
        dst, a, b = tm.plans[i][4:7]
        tile = tm.tile(i)
        lo, hi = (b - a) * k0 // n_it, (b - a) * k1 // n_it
        self.eng.memory.raw(dst)[a + lo:a + hi] = tile[lo:hi]
