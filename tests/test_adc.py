"""The ADC observable: ``ReadVoltage`` costs the platform's read time and energy, and
``dev.voltage_v`` then holds the voltage the comparators see; the reading is volatile. And the
``on_arrival`` hook is called for arrivals while the device is powered."""
import math

import numpy as np
import pytest

from intersim.energy.capacitor import Storage
from intersim.sim.engine import Engine, Setup
from intersim.hw.platform import get_platform
from intersim.sched.contract import Done, Idle, ReadVoltage, RunTasks, Scheduler, Copy, tensor_buffer
from intersim.nn.tasks import lower
from intersim.testing import random_network
from intersim.energy.trace import Trace
from intersim.sim.workload import Workload


class Reader(Scheduler):
    """Reads the voltage before and after the inference; records what it saw."""

    name = "reader"
    seen = []

    def on_boot(self, dev):
        self.step, self.seq = 0, None
        self.seen.append(("boot", dev.voltage_v))

    def on_arrival(self, dev):
        self.seen.append(("arrival", dev.now_s))

    def next_action(self, dev):
        if not dev.request_active:
            return Idle()
        if self.seq != dev.request_seq:  # a new request: start over (no checkpoints here)
            self.seq, self.step = dev.request_seq, 0
        self.step += 1
        if self.step == 1:
            return ReadVoltage()
        if self.step == 2:
            self.seen.append(("read", dev.now_s, dev.voltage_v, dev.oracle_state()[1]))
            return RunTasks(0, len(dev.tasks))
        if self.step == 3:
            return Copy(tensor_buffer(dev.network.output_name), "result")
        return Done()


def _setup(esr_ohm=0.0, n_requests=2):
    rng = np.random.default_rng(4)
    net = random_network(rng, size=4, channels=2, classes=3)
    trace = Trace(np.array([0.0]), np.array([5e-3]), 60.0)
    storage = Storage(capacitance_f=470e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, leakage_ohm=math.inf,
                      input_efficiency=0.8, output_efficiency=0.9, esr_ohm=esr_ohm)
    x = rng.integers(-128, 128, size=(n_requests,) + tuple(net.tensors[net.input_name]), dtype=np.int8)
    wl = Workload(period_s=5.0, duration_s=5.0 * n_requests, drain_s=20.0, queue_capacity=2)
    return Setup(network=net, tasks=lower(net, "layer"), platform=get_platform("msp430fr5994"),
                 storage=storage, trace=trace, workload=wl, inputs=x, labels=None,
                 references=[net.run(v) for v in x], record_timeline=False)


@pytest.mark.parametrize("esr_ohm", [0.0, 5.0])
def test_read_voltage_costs_time_and_energy_and_reports_the_comparator_voltage(esr_ohm):
    Reader.seen = []
    setup = _setup(esr_ohm)
    run = Engine(setup, Reader).run()
    assert (run.requests["status"] == "done").all() and run.requests["correct"].all()
    reads = [r for r in Reader.seen if r[0] == "read"]
    assert len(reads) == 2
    plat, st = setup.platform, setup.storage
    for _, t, v, e in reads:
        v_int = math.sqrt(2 * e / st.capacitance_f)
        if esr_ohm == 0.0:
            assert v == pytest.approx(v_int, rel=1e-12)
        else:  # the terminal: harvest current raises it, the read's own current lowers it
            i_in = 5e-3 * st.input_efficiency / v_int
            i_out = plat.adc_power_w / st.output_efficiency / v_int
            assert v == pytest.approx(v_int + (i_in - i_out) * esr_ohm, rel=1e-3)
    # the read's time is part of the request's compute time
    arrival = run.requests["arrival_s"]
    assert np.all(run.requests["done_s"] - arrival > plat.adc_time_s)
    # volatile: a fresh boot sees no reading
    assert [r[1] for r in Reader.seen if r[0] == "boot"] == [None] * run.counts["boots"]


def test_on_arrival_is_called_while_powered():
    Reader.seen = []
    run = Engine(_setup(n_requests=3), Reader).run()
    arrivals = [r[1] for r in Reader.seen if r[0] == "arrival"]
    # the first arrival may find the device off (charging); later ones find it powered
    assert len(arrivals) >= 2 and (run.requests["status"] == "done").all()


def test_read_voltage_energy_is_in_the_books():
    """The reads' energy is booked (as compute) and the books balance."""
    from intersim.report.results import books_residual_j
    Reader.seen = []
    with_reads = Engine(_setup(), Reader).run()
    residual = books_residual_j(with_reads.books)
    scale = max(abs(v) for v in with_reads.books.values())
    assert abs(residual) <= 1e-9 * scale, (residual, with_reads.books)
