"""Benchmark: the iNAS execution-design explorer on the 36 published solutions, and the 63
published predicted latencies checked against iNAS-PMod (inas-compat price list).

* 27 INTPOW solutions: every layer explored under its published supply (capacitor, REHM_TABLE
  resistance, margin; anchor §4) with the intermittent explorer (C0, C1, min L_e2e, ties to the
  smallest VM); 9 CONTPOW solutions: the continuous explorer (min continuous latency, S = 1).
  A layer is "re-derived" when the explorer returns the published design exactly. For each
  layer the benchmark also counts designs tied with the choice (same objective and VM).
* 63 latencies: 27 INTPOW, 9 CONTPOW and 27 CONTPOW re-evaluated at 1/5/10 mF, from the
  published designs. ``max_rel_err_63`` is the relative error left after the anchor's printed
  rounding (the anchor prints 4 or 2 decimals; a prediction that rounds to the printed figure
  scores 0).

Usage: ``python benchmarks/bench_explore.py [--repeats R]``. Prints figures and ends with ONE
JSON line ``{"solutions", "explore_s", "rederived_layers", "layers", "max_rel_err_63"}``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")        # one core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from intersim.design import (anchor_checks, continuous_cost, enumerate_space,  # noqa: E402
                             explore_network, explore_network_continuous,
                             inas_compat_prices, intermittent_cost, network_checks)
from intersim.design.published import (contpow_solutions, inas_supply,  # noqa: E402
                                       intpow_solutions, network_design)


def _jobs():
    for sol in intpow_solutions():
        yield "intpow", sol, network_design(sol, "intpow"), inas_supply(sol["dataset"], sol["capacitance_f"])
    for sol in contpow_solutions():
        yield "contpow", sol, network_design(sol, "contpow"), None


def explore_all(prices):
    out = []
    for kind, sol, net, supply in _jobs():
        layers = [(p.name, p.shape) for p in net.layers]
        if kind == "intpow":
            ch = explore_network(net.name, layers, prices, supply)
        else:
            ch = explore_network_continuous(net.name, layers, prices)
        out.append((kind, sol, net, supply, ch))
    return out


def _ties(kind, plan, choice, prices, supply) -> int:
    """Designs other than the choice with the same objective and VM (ties broken by order)."""
    if kind == "intpow":
        c = intermittent_cost(plan.shape, enumerate_space(plan.shape), prices, supply)
        obj, ok = c.le2e_s, c.feasible
    else:
        c = continuous_cost(plan.shape, enumerate_space(plan.shape, batch_one=True), prices)
        obj, ok = c.latency_s, c.fits_vm
    return int(np.count_nonzero(ok & (obj == choice.objective_s) & (c.vm_bytes == choice.vm_bytes))) - 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    prices = inas_compat_prices()
    explore_all(prices)                                   # warm caches
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        results = explore_all(prices)
        times.append(time.perf_counter() - t0)
    explore_s = float(np.median(times))

    layers = rederived = tied_layers = 0
    diffs = []
    print(f"{'solution':32s} {'published L [s]':>16s} {'explored L [s]':>15s} re-derived")
    for kind, sol, net, supply, ch in results:
        same = 0
        for plan, c in zip(net.layers, ch.choices):
            layers += 1
            if c.design == plan.design:
                same += 1
            else:
                diffs.append((net.name, plan, c))
            tied_layers += _ties(kind, plan, c, prices, supply) > 0
        rederived += same
        print(f"{net.name:32s} {sol['latency_s']:16.4f} {ch.latency_s:15.4f} {same}/{len(net.layers)}")
    for name, plan, c in diffs:
        print(f"DIFFERS {name}/{plan.name}: published {plan.design.label()} vs explored "
              f"{c.design.label() if c.design else None} ({c.objective_s:.6g} s)")
    print(f"explored {len(results)} solutions, {layers} layers in {explore_s:.3f} s (median of "
          f"{args.repeats}); re-derived {rederived}/{layers}; layers whose minimum is tied "
          f"(broken by smallest VM, then enumeration order): {tied_layers}")

    anchor = anchor_checks(prices)
    a63 = network_checks(anchor)
    print(f"anchor: {len(anchor)} figures, worst error beyond printed rounding "
          f"{max(c.rel_err_beyond_rounding for c in anchor):.3g}; 63 latencies raw worst rel err "
          f"{max(c.rel_err for c in a63):.3g} (printed to 4 or 2 decimals)")
    max_rel = max(c.rel_err_beyond_rounding for c in a63)
    print(json.dumps({"solutions": len(results), "explore_s": round(explore_s, 4),
                      "rederived_layers": rederived, "layers": layers,
                      "max_rel_err_63": float(f"{max_rel:.3g}")}))


if __name__ == "__main__":
    main()
