"""What a scheduler may observe of the device (the scheduler contract's ``dev``)."""
from __future__ import annotations

from ..sched.contract import DONE_SEQ_WORD, REQUEST_SEQ_WORD


class Device:
    """What a scheduler may observe (see :mod:`intersim.sched.contract`)."""

    def __init__(self, engine):
        self._engine = engine
        self.memory = engine.memory
        self.tasks = engine.setup.tasks
        self.costs = engine.setup.costs
        self.network = engine.setup.network
        self.storage = engine.setup.storage
        self.platform = engine.setup.platform
        # the two sequence words' views (read on every scheduler decision)
        self._seq_word, self._done_word = self.memory.view(REQUEST_SEQ_WORD), self.memory.view(DONE_SEQ_WORD)

    @property
    def now_s(self) -> float:
        return self._engine.t

    @property
    def voltage_v(self):
        """Terminal voltage [V] of the last :class:`ReadVoltage` since this boot (None before)."""
        return self._engine.adc_reading_v

    @property
    def input_power_w(self):
        """Harvested input power [W] into the capacitor at the last :class:`ReadInputPower` since
        this boot (None before one)."""
        return self._engine.seed_actions.input_power_w()

    @property
    def request_seq(self) -> int:
        return self._seq_word.item(0)

    @property
    def request_deadline_s(self) -> float:
        """Absolute deadline [s] of the request in service: its arrival plus the workload's
        ``deadline_s`` (inf without one, or with no request in service). The environment hands it
        over with the request, as it does the input."""
        eng = self._engine
        k, rel = eng.requests.head, eng.setup.workload.deadline_s
        if k is None or rel is None:
            return float("inf")
        return float(eng.requests.req["arrival_s"][k]) + rel

    @property
    def request_active(self) -> bool:
        return self._seq_word.item(0) != self._done_word.item(0)

    def oracle_state(self):
        """``(t_s, energy_j)``: the exact capacitor state now. For offline, clairvoyant schedulers
        only (``optimal``): a real MCU cannot read its stored energy; online schedulers must not
        call this (the ADC read of the voltage is their observable)."""
        return self._engine.t, self._engine.e
