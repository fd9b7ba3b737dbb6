"""iNAS-PMod's predictions against exact simulation of the same designs (issue 13 item 5).

For a published solution: its template network with random int8 weights (latency does not
depend on weight values), its execution design lowered to tile tasks priced by intersim's cost
model on ``msp430fr5994-extfram`` with iNAS's measured boot (77.88 uJ / 70 ms, anchor §2), run by
``inas`` (and ``inas-continue``) in the engine under iNAS's power set-up: a Thevenin source
``V_sup`` 3.0 V behind the solution's ``R_ehm`` charging its capacitor, ``V_on`` 2.99 V,
``V_off`` 2.8 V, no other harvest, the capacitor starting at ``V_on``, one request at t = 0.

Each row carries three latencies of the same design: the published prediction (iNAS-PMod,
``inas-compat``), iNAS-PMod re-priced with the simulator's own costs (``intersim:`` prices, the
same boot, the published supply; no margin quirk), and the simulated one. The first gap is the
cost model; the second the power model (harvest while active, the real recharge, the exact
cycle energies).
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..design.evaluate import predict_network
from ..design.lowering import lower_design
from ..design.networks import template_network
from ..design.prices import Price, get_prices
from ..design.published import (
    contpow_solutions, contpow_supply, inas_supply, intpow_solutions, network_design,
)
from ..energy.capacitor import Storage
from ..energy.generators import constant
from ..hw.platform import get_platform
from ..report.results import request_table
from ..sched.registry import SCHEDULERS
from ..sim.engine import Engine, Setup
from ..sim.workload import Workload

PRESET = "msp430fr5994-extfram"
BOOT_J, BOOT_S = 77.88e-6, 0.07   # anchor §2: E_RB, L_RB (oscilloscope), at the capacitor


def inas_platform():
    """``msp430fr5994-extfram`` with iNAS's measured boot (anchor §2)."""
    return get_platform(PRESET).with_(boot_time_s=BOOT_S, boot_energy_j=BOOT_J, boot_measured_at="capacitor")


def inas_sim_prices():
    """``intersim:msp430fr5994-extfram`` prices with iNAS's boot as the reboot."""
    return dataclasses.replace(get_prices(f"intersim:{PRESET}"), reboot=Price(BOOT_J, BOOT_S))


def inas_storage(supply) -> Storage:
    """iNAS's bench as a power path: Thevenin ``v_sup`` behind ``r_ehm``, thresholds, start at V_on."""
    return Storage(capacitance_f=supply.capacitance_f, v_on_v=supply.v_on_v, v_off_v=supply.v_off_v,
                   v_max_v=supply.v_sup_v, v_initial_v=supply.v_on_v, source_voltage_v=supply.v_sup_v,
                   source_resistance_ohm=supply.r_ehm_ohm)


def simulate_design(design, supply, schedulers=("inas", "inas-continue"), seed: int = 0,
                    horizon_s: float = 1e5) -> dict:
    """Simulated end-to-end latency [s] of one inference of ``design`` (NaN: not completed by
    ``horizon_s``) per scheduler, with its verdict, power failures and boots."""
    net = template_network(design, seed)
    plat = inas_platform()
    tasks = lower_design(net, design, inas_sim_prices(), plat.clock_hz)
    x = np.random.default_rng(seed).integers(-128, 128, (1,) + tuple(net.input_shape)).astype(np.int8)
    out = {}
    for name in schedulers:
        setup = Setup(network=net, tasks=tasks, platform=plat, storage=inas_storage(supply),
                      trace=constant(0.0, horizon_s), workload=Workload(period_s=1.0, duration_s=1.0,
                                                                        drain_s=horizon_s, queue_capacity=1),
                      inputs=x, labels=None, references=[net.run(x[0])], record_timeline=False)
        run = Engine(setup, SCHEDULERS[name]).run()
        req = request_table(run, None)
        done = req["status"].iloc[0] == "done"
        out[name] = {"latency_s": float(req["latency_s"].iloc[0]) if done else math.nan,
                     "correct": bool(req["correct"].iloc[0]) if done else False, "verdict": run.verdict,
                     "power_failures": int(run.counts["power_failures"]), "boots": int(run.counts["boots"]),
                     "tasks": len(tasks)}
    return out


def intpow_rows(limit=None, schedulers=("inas", "inas-continue")) -> list:
    """One row per published INTPOW solution (``limit``: the first n only)."""
    rows = []
    for sol in intpow_solutions()[:limit]:
        design = network_design(sol, "intpow")
        supply = inas_supply(sol["dataset"], sol["capacitance_f"])
        t0 = time.perf_counter()
        sim = simulate_design(design, supply, schedulers)
        pm = predict_network(design, inas_sim_prices(), supply)
        row = {"solution": design.name, "predicted_s": sol["latency_s"], "pmod_intersim_s": pm.latency_s,
               "pmod_intersim_feasible": pm.feasible, "npc": sol["npc_total"], "wall_s": time.perf_counter() - t0}
        for name, r in sim.items():
            row.update({f"{name}_{k}": v for k, v in r.items()})
        rows.append(row)
    return rows


def contpow_rows(capacitors=(0.001, 0.005, 0.01)) -> list:
    """The 9 continuous-power designs (S = 1) at each capacitor with R_ehm 300 Ohm (anchor §4,
    §6.2): iNAS's verdict (layers failing C1, latency of the feasible layers) and the simulation."""
    rows = []
    for sol in contpow_solutions():
        design = network_design(sol, "contpow")
        for c in capacitors:
            supply = contpow_supply(c)
            pub = sol["at_cap"][f"{c:g}"]
            sim = simulate_design(design, supply, ("inas",), horizon_s=3e5)["inas"]
            rows.append({"solution": design.name, "capacitance_f": c, "predicted_s": pub["latency_s"],
                         "c1_failing_layers": pub["infeasible_layers"], **{f"inas_{k}": v for k, v in sim.items()}})
    return rows
