"""Refit the single-diode parameters of intersim.energy.harvester's PV cells to the measured curves.

    python traces/fit_pv_cells.py [../shared/traces/simba-pv-ivcurves]

Needs scipy and pvlib (``pip install intersim[solar,test]``). Deterministic (a fixed grid of
starting points, no randomness). Model: ``I = I_ph - I_0 (exp((V + I R_s)/a) - 1) - (V + I R_s)/R_sh``
with ``I_ph = k (lux/1000)^gamma``; objective: current residuals weighted by ``V / P_mpp`` (so the
fit cares most about the power-producing part of the curve), all lux levels of a cell at once.
Prints the parameters (copy them into ``intersim/harvester.py``) and the MPP error per level.
"""
from __future__ import annotations

import json
import sys
import warnings
from itertools import product
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "traces" / "simba-pv-ivcurves"


def load_curves(folder: Path, cell: str):
    """[(lux [lx], voltage [V] array, current [A] array, delivered > 0)] sorted by lux."""
    out = []
    for path in folder.glob(f"{cell}_lux*.json"):
        curve = json.loads(path.read_text())["0"]
        v = np.array([float(k) for k in curve])
        i = -np.array(list(curve.values()), dtype=float)
        out.append((float(path.stem.split("_lux")[1]), v, i))
    return sorted(out, key=lambda c: c[0])


def fit(curves):
    from pvlib.pvsystem import i_from_v
    from scipy.optimize import least_squares

    def current(p, lux, v):
        logk, gamma, logi0, a, logrs, logrsh = p
        iph = np.exp(logk) * (lux / 1000.0) ** gamma
        return i_from_v(v, iph, np.exp(logi0), np.exp(logrs), np.exp(logrsh), a)

    def residuals(p):
        return np.concatenate([(current(p, lux, v) - i) * v / np.max(v * i) for lux, v, i in curves])

    best = None
    bounds = ([-30, 0.5, -60, 0.01, -10, 0], [0, 1.5, 0, 8, 12, 45])
    for a0, logi0, logrsh, logrs in product([0.2, 0.5, 1.0, 2.0], [-25, -15, -8], [8, 11, 14], [1, 5]):
        try:
            sol = least_squares(residuals, [np.log(6e-5), 1.0, logi0, a0, logrs, logrsh], bounds=bounds)
        except ValueError:
            continue
        if best is None or sol.cost < best.cost:
            best = sol
    return best.x, current


def main(argv=None) -> int:
    folder = Path((argv or sys.argv[1:] or [DEFAULT_DIR])[0])
    warnings.simplefilter("ignore", RuntimeWarning)
    for cell in ("KXOB25-02-X8F", "AM1417"):
        curves = load_curves(folder, cell)
        p, current = fit(curves)
        print(f"{cell}: photocurrent_a_1klux={np.exp(p[0]):.5g}, photocurrent_exponent={p[1]:.5g}, "
              f"saturation_current_a={np.exp(p[2]):.5g}, modified_ideality_v={p[3]:.5g}, "
              f"series_ohm={np.exp(p[4]):.5g}, shunt_ohm={np.exp(p[5]):.5g}")
        for lux, v, i in curves:
            vv = np.linspace(0, v[-1] * 1.3, 4001)
            model = np.max(vv * current(p, lux, vv))
            measured = np.max(v * i)
            print(f"  {lux:8.0f} lx: measured MPP {measured * 1e3:.4f} mW, model {model * 1e3:.4f} mW "
                  f"({100 * (model / measured - 1):+.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
