"""Harvester physics against measured curves, published constants and closed forms."""
import json
import math

import numpy as np
import pytest

from intersim.energy import harvester
from intersim.errors import IntersimError


def measured_curves(shared_traces, cell):
    out = []
    for path in sorted((shared_traces / "simba-pv-ivcurves").glob(f"{cell}_lux*.json")):
        curve = json.loads(path.read_text())["0"]
        v = np.array([float(k) for k in curve])
        i = -np.array(list(curve.values()), dtype=float)  # negative = sourced by the cell
        out.append((float(path.stem.split("_lux")[1]), v, i))
    assert out, f"no curves for {cell}"
    return out


#: Stated tolerance of each cell model's MPP vs the measured curve's MPP, at every lux level.
MPP_TOLERANCE = {"KXOB25-02-X8F": 0.15, "AM1417": 0.35}


@pytest.mark.parametrize("cell_name", sorted(MPP_TOLERANCE))
def test_single_diode_mpp_matches_measured_curves(shared_traces, cell_name):
    cell = harvester.CELLS[cell_name]
    for lux, v, i in measured_curves(shared_traces, cell_name):
        measured = float(np.max(v * i))
        model = cell.mpp(lux)[0]
        assert model == pytest.approx(measured, rel=MPP_TOLERANCE[cell_name]), (cell_name, lux)
        assert cell.mpp_power_w(lux) == pytest.approx(model, rel=1e-3)


def test_area_efficiency_default_matches_kxob25(shared_traces):
    for lux, v, i in measured_curves(shared_traces, "KXOB25-02-X8F"):
        model = harvester.pv_power_w(harvester.lux_to_irradiance_w_m2(lux))
        assert model == pytest.approx(float(np.max(v * i)), rel=0.10), lux


def test_daylight_efficacy_from_astm_g173():
    spectrum = pytest.importorskip("pvlib.spectrum")
    ref = spectrum.get_reference_spectra(standard="ASTM G173-03")
    lam_nm = ref.index.to_numpy(dtype=float)
    e = ref["global"].to_numpy(dtype=float)
    v = 1.019 * np.exp(-285.4 * (lam_nm / 1000.0 - 0.559) ** 2)  # CIE 1924 photopic, Gaussian fit
    efficacy = 683.0 * np.trapezoid(v * e, lam_nm) / np.trapezoid(e, lam_nm)
    assert efficacy == pytest.approx(harvester.DAYLIGHT_EFFICACY_LM_PER_W, rel=0.01)


def test_single_diode_curve_shape():
    cell = harvester.KXOB25_02_X8F
    voc = float(cell.open_circuit_v(20000.0))
    v = np.linspace(0, voc, 50)
    i = cell.current_a(v, 20000.0)
    assert np.all(np.diff(i) <= 1e-15) and i[0] == pytest.approx(cell.photocurrent_a(20000.0), rel=1e-3)
    assert abs(i[-1]) < 1e-9
    p, vm, im = cell.mpp(20000.0)
    assert 0 < vm < voc and p == pytest.approx(vm * im)
    assert cell.mpp_power_w(0.0) == 0.0
    lux = np.array([0.0, 0.05, 50.0, 5000.0])
    assert np.all(np.diff(cell.mpp_power_w(lux)) > 0)


def test_friis_closed_form():
    # 915 MHz, 1 m, isotropic: free-space path loss 20 log10(4 pi d / lambda) = 31.67 dB
    p = harvester.friis_received_power_w(1.0, 1.0, 915e6)
    assert 10 * math.log10(1.0 / p) == pytest.approx(31.67, abs=0.01)
    d = np.array([1.0, 2.0, 4.0])
    p = harvester.friis_received_power_w(1.0, d, 915e6, 6.0, 2.0)
    assert p[0] / p[1] == pytest.approx(4.0) and p[1] / p[2] == pytest.approx(4.0)
    with pytest.raises(IntersimError, match="distance_m"):
        harvester.friis_received_power_w(1.0, 0.0, 915e6)


def test_fading_has_unit_mean_and_rayleigh_statistics():
    rng = np.random.default_rng(0)
    g = harvester.fading_power_gain(400_000, 0.01, 0.05, rng, rician_k=0.0)
    assert g.mean() == pytest.approx(1.0, rel=0.03)
    assert g.var() == pytest.approx(1.0, rel=0.08)  # exponential power: variance = mean^2
    r = harvester.fading_power_gain(400_000, 0.01, 0.05, np.random.default_rng(1), rician_k=10.0)
    assert r.mean() == pytest.approx(1.0, rel=0.03) and r.var() < 0.3


def test_rectifier_efficiency_curve():
    p = harvester.dbm_to_w(np.array([-40.0, -25.0, -10.0, 0.0, 30.0]))
    eff = harvester.rectifier_efficiency(p)
    assert eff[0] == 0.0 and 0 < eff[1] < eff[2] < eff[3] <= 1
    assert harvester.rectifier_efficiency(0.0) == 0.0
    assert harvester.w_to_dbm(1e-3) == pytest.approx(0.0)
    out = harvester.rf_harvested_power_w(1e-3)
    assert out == pytest.approx(0.5e-3)
    with pytest.raises(IntersimError, match="increasing dBm"):
        harvester.rectifier_efficiency(1e-3, table=((0.0, 0.5), (-1.0, 0.4)))


def test_pv_power_refuses_bad_cells():
    with pytest.raises(IntersimError, match="efficiency 1.5"):
        harvester.pv_power_w(100.0, 1e-4, 1.5)
    with pytest.raises(IntersimError, match="area_m2 -1"):
        harvester.pv_power_w(100.0, -1, 0.1)
    assert harvester.pv_power_w(1000.0, 1e-4, 0.2) == pytest.approx(0.02)
