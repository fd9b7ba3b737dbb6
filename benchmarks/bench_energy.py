"""Benchmark: a day at 1 ms (86.4 M samples) through the exact power path, against np.cumsum.

The harvest is a seeded, mean-reverting random walk of log-power (an AR(1) process around 2 mW).
A numba driver alternates charge-to-V_on (no load) and run-until-V_off (a constant MCU load
through the output regulator) by calling the engine's kernel :func:`intersim.energy.capacitor._advance`
(input efficiency, output efficiency, resistive leakage, clamp at V_max, hysteresis on
V_on/V_off), all inside numba. The baseline is ``np.cumsum(p * dt)`` on the same array.

A second, shorter measurement runs the general kernel :func:`intersim.energy.capacitor._advance_general`
with ESR, constant-current leakage and the converter's quiescent current, and reports its cost
per sample (it is printed, not part of the JSON line).

Usage: ``python benchmarks/bench_energy.py [--samples N] [--repeats R]``. Prints medians and ends
with ONE JSON line ``{"samples", "crossings", "kernel_s", "baseline_s", "ratio"}``.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from numba import njit
from scipy.signal import lfilter

from intersim.energy import capacitor as cap
from intersim.energy.capacitor import STOP_HIGH, STOP_LOW, Storage, _advance, _advance_general

DT_S = 1e-3  # [s] sample period


def make_harvest(n, seed=2024, mean_w=2e-3, sigma=0.01, phi=0.9995):
    """``n`` samples [W] of exp(AR(1)) around ``mean_w``: correlated over ~2 s, never negative."""
    rng = np.random.default_rng(seed)
    x = lfilter([sigma], [1.0, -phi], rng.standard_normal(n))
    x -= 0.5 * sigma * sigma / (1 - phi * phi)  # mean of exp(x) = 1
    return mean_w * np.exp(x)


@njit(cache=True)
def drive(time_s, power_w, t_first, period, eta_in, b, e_max, e_on, e_off, load_cap_w, t_end, books):
    """Alternate charge-to-V_on and run-until-V_off over the whole trace; returns
    (power failures, turn-ons, energy at the end [J], time on [s])."""
    empty = np.empty(0)
    t = t_first
    e = 0.0
    on = False
    failures = 0
    turn_ons = 0
    time_on = 0.0
    while t < t_end:
        if on:
            t1, e, r, _ = _advance(time_s, power_w, t_first, period, False, eta_in, b, e_max, t, e,
                                   t_end, load_cap_w, e_off, math.inf, books, empty, empty, empty,
                                   empty, empty, 0)
            time_on += t1 - t
            t = t1
            if r == STOP_LOW:
                on = False
                failures += 1
        else:
            t, e, r, _ = _advance(time_s, power_w, t_first, period, False, eta_in, b, e_max, t, e,
                                  t_end, 0.0, -1.0, e_on, books, empty, empty, empty, empty, empty, 0)
            if r == STOP_HIGH:
                on = True
                turn_ons += 1
    return failures, turn_ons, e, time_on


@njit(cache=True)
def drive_general(time_s, power_w, eta_w, t_first, period, par, v_on, v_off, load_cap_w, t_end, books):
    """As :func:`drive`, through the general kernel (terminal-voltage thresholds)."""
    empty = np.empty(0)
    t = t_first
    e = 0.0
    on = False
    failures = 0
    while t < t_end:
        if on:
            t, e, r, _ = _advance_general(time_s, power_w, eta_w, t_first, period, False, par, t, e,
                                          t_end, load_cap_w, 0.0, v_off, math.inf, books, empty,
                                          empty, empty, empty, empty, 0)
            if r != STOP_HIGH and r != 0:
                on = False
                failures += 1
        else:
            t, e, r, _ = _advance_general(time_s, power_w, eta_w, t_first, period, False, par, t, e,
                                          t_end, 0.0, 0.0, -1.0, v_on, books, empty, empty, empty,
                                          empty, empty, 0)
            if r == STOP_HIGH:
                on = True
    return failures, e


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=86_400_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--general-samples", type=int, default=2_000_000)
    args = ap.parse_args(argv)
    n = args.samples

    storage = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.0, v_max_v=3.6, leakage_ohm=1e6,
                      input_efficiency=0.8, output_efficiency=0.9)
    p_pin_w = 10e-3                                   # MCU active power at the pin [W]
    load_cap_w = p_pin_w / storage.output_efficiency  # drawn from the capacitor [W]

    t0 = time.perf_counter()
    power = make_harvest(n)
    time_s = np.arange(n, dtype=np.float64) * DT_S
    t_end = n * DT_S
    print(f"generated {n} samples in {time.perf_counter() - t0:.2f} s; mean harvest "
          f"{power.mean() * 1e3:.3f} mW, usable energy {storage.usable_energy_j() * 1e6:.1f} uJ")

    def run_kernel():
        books = cap.new_books()
        return drive(time_s, power, 0.0, t_end, storage.input_efficiency, storage.leak_rate_per_s,
                     storage.e_max_j, storage.e_on_j, storage.e_off_j, load_cap_w, t_end, books), books

    # warm numba (compile or load from cache) on a small slice
    books_w = cap.new_books()
    drive(time_s[:1000], power[:1000], 0.0, 1.0, 0.8, 1e-3, storage.e_max_j, storage.e_on_j,
          storage.e_off_j, load_cap_w, 1.0, books_w)
    np.cumsum(power[:1000] * DT_S)

    kernel_times, base_times = [], []
    result = books = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result, books = run_kernel()
        kernel_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cum = np.cumsum(power * DT_S)
        base_times.append(time.perf_counter() - t0)
        del cum
    failures, turn_ons, e_end, time_on = result
    kernel_s = float(np.median(kernel_times))
    baseline_s = float(np.median(base_times))

    # energy books of the last run (loads booked here at the pin, regulator loss separately)
    bt = cap.book_totals(books)
    load_cap_j = load_cap_w * time_on
    residual = (bt["harvested_j"] - bt["input_loss_j"] - bt["clamped_j"] - bt["leakage_j"]
                - load_cap_j - e_end)
    scale = bt["harvested_j"]
    print(f"kernel   runs: {', '.join(f'{x:.3f}' for x in kernel_times)} s (median {kernel_s:.3f} s, "
          f"{kernel_s / n * 1e9:.1f} ns/sample)")
    print(f"baseline runs: {', '.join(f'{x:.3f}' for x in base_times)} s (median {baseline_s:.3f} s)")
    print(f"power failures {failures}, turn-ons {turn_ons}, time on {time_on:.1f} s; books: harvested "
          f"{bt['harvested_j']:.6g} J, residual {residual:.3g} J ({abs(residual) / scale:.2g} relative)")

    # the general kernel (ESR, constant-current leakage, quiescent current) on a shorter slice
    ng = min(args.general_samples, n)
    if ng > 0:
        g_storage = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.0, v_max_v=3.6, leakage_ohm=1e6,
                            input_efficiency=0.8, output_efficiency=0.9, esr_ohm=1.0,
                            leakage_current_a=0.5e-6, quiescent_current_a=0.33e-6)
        par = g_storage.power_path_par()
        eta = g_storage.efficiency_per_sample(power[:ng])
        tg = ng * DT_S
        drive_general(time_s[:1000], power[:1000], eta[:1000], 0.0, 1.0, par, 3.0, 2.0, load_cap_w, 1.0,
                      cap.new_books())
        gb = cap.new_books()
        t0 = time.perf_counter()
        g_fail, g_e = drive_general(time_s[:ng], power[:ng], eta, 0.0, tg, par, 3.0, 2.0, load_cap_w,
                                    tg, gb)
        g_s = time.perf_counter() - t0
        gt = cap.book_totals(gb)
        g_res = (gt["harvested_j"] - gt["input_loss_j"] - gt["clamped_j"] - gt["leakage_j"] - gt["esr_j"]
                 - gt["load_j"] - g_e)
        print(f"general kernel (ESR 1 Ohm, I_leak 0.5 uA, I_q 0.33 uA): {ng} samples in {g_s:.3f} s "
              f"({g_s / ng * 1e9:.0f} ns/sample), {g_fail} power failures, book residual "
              f"{abs(g_res) / gt['harvested_j']:.2g} relative")

    print(json.dumps({"samples": n, "crossings": int(failures + turn_ons), "kernel_s": round(kernel_s, 4),
                      "baseline_s": round(baseline_s, 4), "ratio": round(kernel_s / baseline_s, 3)}))


if __name__ == "__main__":
    main()
