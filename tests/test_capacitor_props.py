"""Properties of the exact kernels under generated traces, capacitors, loads and power paths.

Uses the hypothesis profile loaded by tests/conftest.py (no profile is registered here)."""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from intersim.energy import capacitor as cap
from intersim.energy.capacitor import STOP_COLLAPSE, STOP_FULL, STOP_HIGH, STOP_LOW, STOP_TIME, Storage
from intersim.energy.power_path import boot_loop
from intersim.energy.trace import Trace

EMPTY = np.empty(0)


@st.composite
def traces(draw, max_n=30):
    n = draw(st.integers(1, max_n))
    dts = draw(st.lists(st.floats(1e-3, 0.5), min_size=n, max_size=n))
    zero = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    p = draw(st.lists(st.floats(0.0, 20e-3), min_size=n, max_size=n))
    t0 = draw(st.floats(-2.0, 2.0))
    t = t0 + np.concatenate([[0.0], np.cumsum(dts[:-1])])
    power = np.where(zero, 0.0, p)
    return Trace(t, power, t0 + float(np.sum(dts)), loop=draw(st.booleans()))


@st.composite
def storages(draw, general=False):
    c = draw(st.sampled_from([4.7e-6, 22e-6, 100e-6, 470e-6, 1e-3]))
    v_off = draw(st.floats(1.5, 2.5))
    v_on = draw(st.floats(v_off + 0.1, 3.3))
    v_max = draw(st.floats(v_on, 3.6))
    kw = dict(capacitance_f=c, v_on_v=v_on, v_off_v=v_off, v_max_v=v_max,
              v_initial_v=draw(st.floats(0.0, v_max)),
              leakage_ohm=draw(st.sampled_from([math.inf, 1e4, 1e6, 1e9])),
              input_efficiency=draw(st.floats(0.3, 1.0)), output_efficiency=draw(st.floats(0.5, 1.0)))
    if general:
        kw.update(esr_ohm=draw(st.sampled_from([0.0, 0.05, 1.0, 20.0])),
                  leakage_current_a=draw(st.sampled_from([0.0, 1e-8, 2e-6])),
                  quiescent_current_a=draw(st.sampled_from([0.0, 0.33e-6])),
                  source_current_a=draw(st.sampled_from([0.0, 1e-5, 1e-3])))
        if draw(st.booleans()):
            kw.update(source_voltage_v=draw(st.floats(0.0, 4.0)),
                      source_resistance_ohm=draw(st.sampled_from([50.0, 1e3, 1e5])))
    return Storage(**kw)


def _residual(bt, e0, e1, load_j):
    return (bt["harvested_j"] - bt["input_loss_j"] - bt["clamped_j"] - bt["leakage_j"] - bt["esr_j"]
            - load_j - (e1 - e0))


def _run_linear(stg, trace, t0, e0, t_stop, load, e_low, e_high, books, py=False):
    ts, p, t_first, period, loop = cap.trace_arrays(trace)
    fn = cap._advance_linear.py_func if py else cap._advance_linear
    return fn(ts, p, EMPTY, t_first, period, loop, stg.input_efficiency, stg.leak_rate_per_s, stg.e_max_j,
              t0, e0, t_stop, load, e_low, e_high, books, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, 0)


def _run_general(stg, trace, t0, e0, t_stop, load_w, load_a, v_low, v_high, books, py=False):
    ts, p, t_first, period, loop = cap.trace_arrays(trace)
    fn = cap._advance_general.py_func if py else cap._advance_general
    return fn(ts, p, stg.efficiency_per_sample(p), t_first, period, loop, stg.power_path_par(), t0, e0,
              t_stop, load_w, load_a, v_low, v_high, books, EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, 0)


@given(storages(), traces(), st.floats(0.0, 30e-3), st.floats(0.0, 20.0), st.floats(-3.0, 3.0),
       st.booleans())
def test_linear_books_balance_and_voltage_bounds(stg, trace, load, span, t0, thresholds):
    e0 = stg.e_initial_j
    books = cap.new_books()
    e_low, e_high = (stg.e_off_j, stg.e_on_j) if thresholds else (-1.0, math.inf)
    t, e, reason, _ = _run_linear(stg, trace, t0, e0, t0 + span, load, e_low, e_high, books)
    assert reason in (STOP_TIME, STOP_LOW, STOP_HIGH, STOP_COLLAPSE)
    assert t0 <= t <= t0 + span
    assert 0.0 <= e <= stg.e_max_j * (1 + 1e-12)
    bt = cap.book_totals(books)
    res = _residual(bt, e0, e, load * (t - t0))
    assert abs(res) <= 1e-9 * (bt["harvested_j"] + e0) + 1e-12


@given(storages(general=True), traces(max_n=12), st.floats(0.0, 20e-3), st.sampled_from([0.0, 2e-3]),
       st.floats(0.0, 5.0), st.booleans())
def test_general_books_balance_and_voltage_bounds(stg, trace, load_w, load_a, span, thresholds):
    e0 = stg.e_initial_j
    books = cap.new_books()
    t0 = trace.start_s
    v_low, v_high = (stg.v_off_v, stg.v_on_v) if thresholds else (-1.0, math.inf)
    t, e, reason, _ = _run_general(stg, trace, t0, e0, t0 + span, load_w, load_a, v_low, v_high, books)
    assert reason in (STOP_TIME, STOP_LOW, STOP_HIGH, STOP_COLLAPSE)
    assert t0 <= t <= t0 + span
    assert 0.0 <= e <= stg.e_max_j * (1 + 1e-12)
    bt = cap.book_totals(books)
    res = _residual(bt, e0, e, bt["load_j"])
    assert abs(res) <= 1e-9 * (bt["harvested_j"] + e0) + 1e-12
    assert bt["esr_j"] >= -1e-15 and bt["leakage_j"] >= -1e-15 and bt["clamped_j"] >= -1e-12


def _hysteresis_events(stg, trace, load_w, t_end, general, load_a=0.0):
    """(time, reason) of every event of an on/off run."""
    t, e = trace.start_s, stg.e_initial_j
    on = False
    out = []
    books = cap.new_books()
    for _ in range(2000):
        lw, la = (load_w, load_a) if on else (0.0, 0.0)
        if general:
            vl, vh = (stg.v_off_v, math.inf) if on else (-1.0, stg.v_on_v)
            t, e, r, _ = _run_general(stg, trace, t, e, t_end, lw, la, vl, vh, books)
        else:
            el, eh = (stg.e_off_j, math.inf) if on else (-1.0, stg.e_on_j)
            t, e, r, _ = _run_linear(stg, trace, t, e, t_end, lw, el, eh, books)
        if r == STOP_TIME:
            break
        out.append((t, r))
        on = r == STOP_HIGH
    return out


@given(storages(), traces(), st.floats(1e-3, 30e-3))
def test_hysteresis_no_event_refires_without_time_passing(stg, trace, load):
    ev = _hysteresis_events(stg, trace, load, trace.start_s + 30.0, general=False)
    for (t_a, _), (t_b, _) in zip(ev[1:], ev[2:]):  # after the first turn-on: V_on > V_off apart
        assert t_b > t_a


@given(storages(general=True), traces(max_n=10), st.floats(1e-3, 20e-3))
def test_hysteresis_general_unless_boot_loop(stg, trace, load):
    looping, _ = boot_loop(stg, load_w=load, harvest_w=0.0)
    assume(not looping)
    ev = _hysteresis_events(stg, trace, load, trace.start_s + 5.0, general=True)
    for (t_a, r_a), (t_b, _) in zip(ev[1:], ev[2:]):
        if r_a == STOP_HIGH:   # a load step can only drop the terminal at once in a boot loop
            assert t_b > t_a


def _on_time(c, leak_ohm, leak_a, load, v_on, v_off, esr=0.0):
    stg = Storage(capacitance_f=c, v_on_v=v_on, v_off_v=v_off, v_max_v=v_on, leakage_ohm=leak_ohm,
                  leakage_current_a=leak_a, esr_ohm=esr)
    trace = Trace(np.array([0.0]), np.array([0.0]), 1e9)
    e_start = cap.energy_j(c, v_on)
    if stg.uses_general_kernel:
        t, _, r = cap.advance_general(stg, trace, 0.0, e_start, 1e9, load_w=load, v_low_v=v_off)
    else:
        t, _, r = cap.advance(stg, trace, 0.0, e_start, 1e9, load_w=load, e_low_j=stg.e_off_j)
    assert r in (STOP_LOW, STOP_COLLAPSE)
    return t


@given(st.floats(1e-6, 1e-3), st.floats(1.01, 10.0), st.sampled_from([math.inf, 1e4, 1e6]),
       st.sampled_from([0.0, 1e-6]), st.floats(1e-4, 30e-3), st.sampled_from([0.0, 0.5]))
def test_on_time_does_not_decrease_with_capacitance(c, ratio, leak_ohm, leak_a, load, esr):
    t1 = _on_time(c, leak_ohm, leak_a, load, 3.0, 2.0, esr)
    t2 = _on_time(c * ratio, leak_ohm, leak_a, load, 3.0, 2.0, esr)
    assert t2 >= t1 * (1 - 1e-12)


def _recharge_time(c, leak_ohm, harvest, eta, v_on, v_off):
    stg = Storage(capacitance_f=c, v_on_v=v_on, v_off_v=v_off, v_max_v=3.6, leakage_ohm=leak_ohm,
                  input_efficiency=eta)
    trace = Trace(np.array([0.0]), np.array([harvest]), 1e12)
    t, _, r = cap.advance(stg, trace, 0.0, stg.e_off_j, 1e12, e_high_j=stg.e_on_j)
    return t if r == STOP_HIGH else math.inf


@given(st.floats(1e-6, 1e-3), st.floats(1.01, 10.0), st.sampled_from([math.inf, 1e5, 1e7]),
       st.floats(1e-5, 20e-3), st.floats(0.3, 1.0))
def test_recharge_time_does_not_decrease_with_capacitance(c, ratio, leak_ohm, harvest, eta):
    t1 = _recharge_time(c, leak_ohm, harvest, eta, 3.0, 2.0)
    t2 = _recharge_time(c * ratio, leak_ohm, harvest, eta, 3.0, 2.0)
    assert t2 >= t1 * (1 - 1e-12)


@given(storages(), traces(max_n=15), st.floats(0.0, 30e-3), st.floats(0.0, 10.0), st.booleans())
def test_linear_kernel_equals_py_func(stg, trace, load, span, thresholds):
    e_low, e_high = (stg.e_off_j, stg.e_on_j) if thresholds else (-1.0, math.inf)
    t0 = trace.start_s
    b1, b2 = cap.new_books(), cap.new_books()
    r1 = _run_linear(stg, trace, t0, stg.e_initial_j, t0 + span, load, e_low, e_high, b1)
    r2 = _run_linear(stg, trace, t0, stg.e_initial_j, t0 + span, load, e_low, e_high, b2, py=True)
    assert r1[2] == r2[2]
    assert r1[0] == pytest.approx(r2[0], rel=1e-12, abs=1e-12)
    assert r1[1] == pytest.approx(r2[1], rel=1e-12, abs=1e-18)
    np.testing.assert_allclose(b1, b2, rtol=1e-10, atol=1e-18)


@given(storages(general=True), traces(max_n=6), st.floats(0.0, 10e-3), st.floats(0.0, 2.0))
def test_general_kernel_equals_py_func(stg, trace, load, span):
    t0 = trace.start_s
    b1, b2 = cap.new_books(), cap.new_books()
    args = (stg, trace, t0, stg.e_initial_j, t0 + span, load, 0.0, stg.v_off_v, stg.v_on_v)
    r1 = _run_general(*args, b1)
    r2 = _run_general(*args, b2, py=True)
    assert r1[2] == r2[2]
    assert r1[0] == pytest.approx(r2[0], rel=1e-12, abs=1e-12)
    assert r1[1] == pytest.approx(r2[1], rel=1e-12, abs=1e-18)
    np.testing.assert_allclose(b1, b2, rtol=1e-10, atol=1e-18)


@given(storages(), traces(max_n=20), st.floats(0.0, 20e-3), st.floats(0.0, 20.0))
def test_segment_buffer_resume_is_seamless(stg, trace, load, span):
    """STOP_FULL and resuming gives the same end state as one call (the engine relies on it)."""
    t0 = trace.start_s
    ts, p, t_first, period, loop = cap.trace_arrays(trace)
    args = (ts, p, t_first, period, loop, stg.input_efficiency, stg.leak_rate_per_s, stg.e_max_j)
    b1 = cap.new_books()
    t1, e1, r1, _ = cap._advance(*args, t0, stg.e_initial_j, t0 + span, load, stg.e_off_j, math.inf, b1,
                                 EMPTY, EMPTY, EMPTY, EMPTY, EMPTY, 0)
    seg = [np.empty(3) for _ in range(5)]
    b2 = cap.new_books()
    t, e, n = t0, stg.e_initial_j, 0
    for _ in range(10000):
        t, e, r, n = cap._advance(*args, t, e, t0 + span, load, stg.e_off_j, math.inf, b2, *seg, n)
        if r != STOP_FULL:
            break
        n = 0
    assert (t, e, r) == (t1, e1, r1)
