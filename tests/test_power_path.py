"""Power-path helpers: efficiency curves, terminal voltage, collapse, boot loops, part presets."""
import math

import numpy as np
import pytest

from intersim.energy import capacitor as cap
from intersim.energy.capacitor import STOP_COLLAPSE, STOP_HIGH, STOP_LOW, Storage
from intersim.errors import ScenarioError
from intersim.energy.parts import CAPACITORS, CONVERTERS, capacitor_part, storage_from_parts
from intersim.energy.power_path import (
    EfficiencyCurve, boot_loop, collapse_power_w, efficiency_from_current_lut, ldo_efficiency,
    terminal_voltage_v,
)
from intersim.energy.trace import Trace


@pytest.mark.parametrize("key,value", [
    ("esr_ohm", -1.0), ("leakage_current_a", math.nan), ("quiescent_current_a", -1e-9),
    ("source_current_a", math.inf), ("source_voltage_v", -3.0), ("source_resistance_ohm", 0.0),
    ("input_efficiency_curve", (1, 2)),
])
def test_storage_rejects_bad_power_path_values(key, value):
    with pytest.raises(ScenarioError, match=key) as exc:
        Storage(100e-6, 3.0, 2.0, 3.6, **{key: value})
    assert isinstance(exc.value, ValueError) and repr(value) in str(exc.value)


def test_efficiency_curve_interpolates_in_log_power_and_clamps():
    c = EfficiencyCurve((1e-4, 1e-2), (0.5, 0.9))
    assert c(1e-3) == pytest.approx(0.7)
    assert c(1e-6) == 0.5 and c(1.0) == 0.9 and c(0.0) == 0.5
    np.testing.assert_allclose(c.per_sample([1e-4, 1e-3, 1e-2]), [0.5, 0.7, 0.9])
    with pytest.raises(ScenarioError, match="strictly increasing"):
        EfficiencyCurve((1e-3, 1e-4), (0.5, 0.6))
    with pytest.raises(ScenarioError, match="efficiency"):
        EfficiencyCurve((1e-4,), (1.5,))


def test_lut_curve_from_shepherd_tables(shared_traces):
    import pandas as pd
    d = shared_traces / "converter-efficiency"
    lut = pd.read_csv(d / "shepherd_bq25504_input_efficiency_lut.csv")
    row = lut[lut.v_input_bin_lower_edge == "512mV"].iloc[0, 1:].to_numpy(float)
    edges = [2.0 ** 13 * 1e-9 * 2.0 ** (i - 1) for i in range(row.size)]
    edges[0] = edges[1] / 2
    curve = efficiency_from_current_lut(0.55, edges, row)
    # inside a bin's centre the LUT value comes back; efficiencies rise with power
    assert curve(0.55 * math.sqrt(edges[4] * edges[5])) == pytest.approx(row[4])
    assert np.all(np.diff(curve.per_sample(np.geomspace(1e-6, 1e-2, 50))) >= 0)
    out = pd.read_csv(d / "shepherd_bq25570_output_efficiency_lut.csv")
    assert out.efficiency.between(0.3, 1.0).all()


def test_ldo_efficiency():
    np.testing.assert_allclose(ldo_efficiency(1.8, np.array([1.8, 2.4, 3.6])), [1.0, 0.75, 0.5])


def test_terminal_voltage_and_collapse_power():
    st = Storage(100e-6, 3.0, 2.0, 3.6, esr_ohm=10.0)
    e = cap.energy_j(100e-6, 3.0)
    assert terminal_voltage_v(st, e) == pytest.approx(3.0)
    # constant current: u = V - I R
    assert terminal_voltage_v(st, e, load_a=10e-3) == pytest.approx(2.9)
    # constant power: u (V - u)/R = P -> u = (V + sqrt(V^2 - 4 R P)) / 2
    p = 0.1
    assert terminal_voltage_v(st, e, load_w=p) == pytest.approx((3.0 + math.sqrt(9.0 - 4 * 10 * p)) / 2)
    assert collapse_power_w(st, e) == pytest.approx(9.0 / 40.0)
    assert math.isnan(terminal_voltage_v(st, e, load_w=collapse_power_w(st, e) * 1.001))
    # harvest raises the terminal while charging
    assert terminal_voltage_v(st, e, harvest_w=30e-3) > 3.0
    assert collapse_power_w(Storage(100e-6, 3.0, 2.0, 3.6), e) == math.inf


def test_boot_loop_detection_and_kernel_agree():
    st = Storage(47e-6, 3.0, 2.5, 3.6, esr_ohm=20.0)
    looping, v_after = boot_loop(st, load_a=30e-3)     # 3.0 - 0.6 = 2.4 V <= V_off
    assert looping and v_after == pytest.approx(2.4)
    ok, v_after = boot_loop(st, load_a=10e-3)
    assert not ok and v_after == pytest.approx(2.8)
    looping, v_after = boot_loop(st, load_w=1.0)       # beyond 9 / 80 W: collapses
    assert looping and math.isnan(v_after)
    # the kernel agrees: turning the looping load on at V_on browns out with no time passing
    trace = Trace(np.array([0.0]), np.array([0.0]), 10.0)
    e_on = cap.energy_j(47e-6, 3.0)
    t, e, r = cap.advance_general(st, trace, 1.0, e_on, 10.0, load_a=30e-3, v_low_v=2.5)
    assert (t, e, r) == (1.0, e_on, STOP_LOW)
    t, e, r = cap.advance_general(st, trace, 1.0, e_on, 10.0, load_w=1.0, v_low_v=2.5)
    assert (t, r) == (1.0, STOP_COLLAPSE)
    t, e, r = cap.advance_general(st, trace, 1.0, e_on, 10.0, load_a=10e-3, v_low_v=2.5)
    assert r == STOP_LOW and t > 1.0


def test_fast_advance_refuses_general_storage_and_bad_arguments():
    st = Storage(47e-6, 3.0, 2.5, 3.6, esr_ohm=1.0)
    trace = Trace(np.array([0.0]), np.array([1e-3]), 10.0)
    with pytest.raises(ValueError, match="advance_general"):
        cap.advance(st, trace, 0.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="load_a"):
        cap.advance_general(st, trace, 0.0, 0.0, 1.0, load_a=-1.0)
    with pytest.raises(ValueError, match="t_stop_s"):
        cap.advance_general(st, trace, 2.0, 0.0, 1.0)


def test_clamp_books_refused_harvest_with_esr():
    st = Storage(47e-6, 3.0, 2.5, 3.3, esr_ohm=5.0, leakage_ohm=1e5, input_efficiency=0.9)
    trace = Trace(np.array([0.0]), np.array([20e-3]), 10.0)
    books = cap.new_books()
    e0 = st.e_max_j
    t, e, r = cap.advance_general(st, trace, 0.0, e0, 10.0, books=books)
    bt = cap.book_totals(books)
    assert e == e0 and bt["clamped_j"] > 0.9 * 18e-3 * 10.0 - 1e-3
    res = (bt["harvested_j"] - bt["input_loss_j"] - bt["clamped_j"] - bt["leakage_j"] - bt["esr_j"]
           - bt["load_j"])
    assert abs(res) <= 1e-12
    # while clamped the terminal already exceeds V_on: a rising threshold fires at once
    t, e, r = cap.advance_general(st, trace, 0.0, e0, 10.0, v_high_v=3.0)
    assert (t, r) == (0.0, STOP_HIGH)


@pytest.mark.parametrize("cap_name", sorted(CAPACITORS))
@pytest.mark.parametrize("conv_name", sorted(CONVERTERS))
def test_part_presets_build_storages(cap_name, conv_name):
    st = storage_from_parts(cap_name, conv_name, v_on_v=3.0, v_off_v=2.2)
    part = capacitor_part(cap_name)
    assert st.capacitance_f == part.capacitance_f and st.esr_ohm == part.esr_ohm
    assert st.v_max_v <= part.rated_voltage_v
    assert part.source and CONVERTERS[conv_name].source
    trace = Trace(np.array([0.0]), np.array([5e-3]), 100.0)
    t, e, r = cap.advance_general(st, trace, 0.0, 0.0, 1e4, v_high_v=3.0)
    assert r in (STOP_HIGH, 0)


def test_part_errors():
    with pytest.raises(ScenarioError, match="unknown"):
        capacitor_part("flux-capacitor")
    with pytest.raises(ScenarioError, match="undervoltage"):
        storage_from_parts("mlcc-100uF", "bq25570", v_on_v=3.0, v_off_v=1.5)
