"""Generators: determinism by an explicit Generator, physical sanity, clear errors."""
import sys

import numpy as np
import pytest

from intersim.energy import harvester
from intersim.energy import generators as trace_gen
from intersim.errors import TraceError


def same(a, b):
    return a.time_s.tobytes() == b.time_s.tobytes() and a.power_w.tobytes() == b.power_w.tobytes()


def solar_1h(seed, cloud="cloudy"):
    return trace_gen.solar(39.742, -105.18, "2023-06-15 11:30", 3600.0, 1.0, cloud=cloud,
                           rng=np.random.default_rng(seed), tz="Etc/GMT+7", altitude_m=1828.8)


def test_solar_same_seed_same_trace_and_seed_matters():
    pytest.importorskip("pvlib")
    a, b, c = solar_1h(5), solar_1h(5), solar_1h(6)
    assert same(a, b) and not same(a, c)
    assert a.time_s.size == 3600 and a.end_s == 3600.0


def test_solar_clear_sky_is_physical():
    pytest.importorskip("pvlib")
    clear = solar_1h(0, cloud="clear")
    # noon in June at 1.8 km: clear-sky GHI ~ 1000-1100 W/m^2
    ghi = clear.power_w / (harvester.SMALL_CELL_AREA_M2 * harvester.SMALL_CELL_EFFICIENCY)
    assert 950 < ghi.mean() < 1150
    cloudy = solar_1h(0)
    assert cloudy.mean_power_w() < clear.mean_power_w()
    night = trace_gen.solar(39.742, -105.18, "2023-06-15 00:00", 600.0, 60.0, cloud="clear",
                            tz="Etc/GMT+7")
    assert night.max_power_w() == 0.0


def test_solar_needs_rng_and_valid_cloud():
    pytest.importorskip("pvlib")
    with pytest.raises(TraceError, match="rng must be a numpy.random.Generator"):
        trace_gen.solar(40, -105, "2023-06-15 12:00", 60, 1, cloud="cloudy", rng=42)
    with pytest.raises(TraceError, match="cloud 'rainy' is not one of"):
        trace_gen.solar(40, -105, "2023-06-15 12:00", 60, 1, cloud="rainy", rng=np.random.default_rng(0))


def test_missing_pvlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pvlib", None)
    with pytest.raises(ImportError, match=r"pip install intersim\[solar\]"):
        trace_gen.solar(40, -105, "2023-06-15 12:00", 60, 1, cloud="clear")


def test_cloud_model_statistics():
    model = trace_gen.CloudModel()
    k = model.clearness(200_000, 1.0, np.random.default_rng(1))
    expected = (model.sun_k * model.mean_sun_s + model.shadow_k * model.mean_shadow_s) / (
        model.mean_sun_s + model.mean_shadow_s)
    assert k.mean() == pytest.approx(expected, rel=0.05)
    assert np.all(k > 0)


def test_indoor_deterministic_and_scheduled():
    sched = [(100.0, 200.0, 500.0)]
    kw = dict(off_lux=0.0, occlusion_rate_per_h=60.0, noise_sigma=0.05)
    a = trace_gen.indoor(sched, 300.0, 1.0, rng=np.random.default_rng(3), **kw)
    b = trace_gen.indoor(sched, 300.0, 1.0, rng=np.random.default_rng(3), **kw)
    assert same(a, b)
    assert a.power_at(50.0) == 0.0 and a.power_at(250.0) == 0.0
    clean = trace_gen.indoor(sched, 300.0, 1.0)
    assert clean.power_at(150.0) == pytest.approx(harvester.AM1417.mpp_power_w(500.0))
    # flicker resolved only when sampled fast enough, and it keeps the mean
    fast = trace_gen.indoor([(0.0, 1.0, 500.0)], 1.0, 1e-4, flicker_depth=0.5)
    assert fast.power_w.max() > 1.2 * fast.power_w.min()
    with pytest.raises(TraceError, match="schedule entry 0"):
        trace_gen.indoor([(5.0, 1.0, 100.0)], 10.0, 1.0)
    with pytest.raises(TraceError, match="rng must be"):
        trace_gen.indoor(sched, 300.0, 1.0, noise_sigma=0.1)


def test_rf_deterministic_duty_cycle_and_level():
    kw = dict(fading="rician", reader_on_s=1.0, reader_off_s=1.0)
    a = trace_gen.rf(3.0, 1.0, 915e6, 20.0, 0.01, rng=np.random.default_rng(9), **kw)
    b = trace_gen.rf(3.0, 1.0, 915e6, 20.0, 0.01, rng=np.random.default_rng(9), **kw)
    c = trace_gen.rf(3.0, 1.0, 915e6, 20.0, 0.01, rng=np.random.default_rng(10), **kw)
    assert same(a, b) and not same(a, c)
    assert a.time_s.size == 2000
    assert a.power_at(1.5) == 0.0 and a.power_at(0.5) > 0  # reader off in the second second
    steady = trace_gen.rf(3.0, 1.0, 915e6, 1.0, 0.01, fading="none")
    p_rx = harvester.friis_received_power_w(1.0, 3.0, 915e6, 6.0, 2.0)
    assert steady.power_w[0] == pytest.approx(p_rx * harvester.rectifier_efficiency(p_rx))


def test_constant_and_square():
    c = trace_gen.constant(2e-3, 10.0)
    assert c.energy_j() == pytest.approx(2e-2) and c.time_s.size == 1
    s = trace_gen.square(4e-3, 1e-3, 2.0, 0.25, 5.0)
    assert s.time_s.tolist() == [0.0, 0.5, 2.0, 2.5, 4.0, 4.5]
    assert s.end_s == 5.0
    assert s.energy_j() == pytest.approx(4e-3 * 1.5 + 1e-3 * 3.5)
    with pytest.raises(TraceError, match="duty 1.0"):
        trace_gen.square(1, 0, 1, 1.0, 10)
    with pytest.raises(TraceError, match="period_s -1"):
        trace_gen.square(1, 0, -1, 0.5, 10)
