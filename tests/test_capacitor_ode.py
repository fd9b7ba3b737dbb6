"""The exact kernels against an independent numerical integration (scipy solve_ivp, DOP853).

The reference integrates the circuit as described (internal voltage V as the state, the terminal
node solved numerically with brentq at every right-hand-side evaluation, thresholds as solve_ivp
events); the kernels use closed forms and quadrature. For every event of a hysteresis run
(charge to V_on, run until V_off, ...) both must agree on the kind of event, the voltage
(1e-9 relative) and the time since the start of the trace sample it falls in (1e-9 relative);
and at the kernel's crossing time the reference voltage must equal the threshold (1e-9 x V_th).
"""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from intersim.energy import capacitor as cap
from intersim.energy.capacitor import STOP_COLLAPSE, STOP_HIGH, STOP_LOW, STOP_TIME, Storage
from intersim.energy.power_path import EfficiencyCurve, efficiency_from_current_lut
from intersim.energy.trace import Trace

RTOL = 1e-9


class Reference:
    """The storage circuit, integrated by solve_ivp. Units: SI throughout."""

    def __init__(self, st: Storage):
        self.st = st
        self.c = st.capacitance_f
        self.r = st.esr_ohm
        self.gl = 0.0 if math.isinf(st.leakage_ohm) else 1.0 / st.leakage_ohm
        self.il = st.leakage_current_a
        self.gs = 0.0 if math.isinf(st.source_resistance_ohm) else 1.0 / st.source_resistance_ohm
        self.vs = st.source_voltage_v if self.gs > 0 else 0.0

    def inj(self, u, h, load_w, load_a):
        """Net current [A] injected into the terminal at terminal voltage u [V]."""
        p = self.st.input_efficiency_at(h) * h - load_w
        return (p / u + self.st.source_current_a + self.gs * (self.vs - u) - load_a
                - self.st.quiescent_current_a)

    def terminal(self, v, h, load_w, load_a):
        """(u, I into the capacitor branch) at internal voltage v (below the collapse voltage,
        continued from the collapse point)."""
        if self.r == 0.0:
            return v, self.inj(v, h, load_w, load_a)
        p = self.st.input_efficiency_at(h) * h - load_w

        def f(u):  # (u - V)/R - inj(u): increasing on the physical (upper) branch
            return (u - v) / self.r - self.inj(u, h, load_w, load_a)

        uc = math.sqrt(max(-p / (1.0 / self.r + self.gs), 0.0))
        lo = uc if uc > 0 else 1e-300
        if f(lo) > 0:
            if uc > 0:  # collapsed; continued by continuity so that solve_ivp's stages stay finite
                return uc, (uc - v) / self.r
            lo = 1e-300
        hi = max(2.0 * lo, v + 1.0)
        while f(hi) < 0:
            hi *= 2.0
        u = brentq(f, lo, hi, xtol=1e-300, rtol=1e-15, maxiter=500)
        return u, (u - v) / self.r

    def v_collapse(self, h, load_w, load_a):
        """Lowest internal voltage with an operating point [V] (0 if none is lower)."""
        if self.r == 0.0:
            return 0.0
        p = self.st.input_efficiency_at(h) * h - load_w
        if p >= 0:
            return 0.0
        uc = math.sqrt(-p / (1.0 / self.r + self.gs))
        return uc - self.r * self.inj(uc, h, load_w, load_a)

    def rate(self, v, h, load_w, load_a):
        """dV/dt [V/s]."""
        u, i = self.terminal(v, h, load_w, load_a)
        return (i - self.gl * v - self.il) / self.c

    def run(self, pieces, t_end, v0, v_on, v_off, load_w, load_a=0.0):
        """Hysteresis run over ``pieces`` [(t_start, t_stop, h)]; returns events
        [(kind, t, v, piece_start)] and the solutions per integrated interval."""
        st = self.st
        v = v0
        on = False
        events = []
        sols = []
        for ta, tb, h in pieces:
            t = ta
            tb = min(tb, t_end)
            while t < tb:
                lw, la = (load_w, load_a) if on else (0.0, 0.0)
                # clamp regime at V_max: hold while the inflow exceeds the leakage there
                if v >= st.v_max_v * (1 - 1e-13):
                    u, i = self.terminal(st.v_max_v, h, lw, la)
                    if i - self.gl * st.v_max_v - self.il >= 0:
                        v = st.v_max_v
                        u_hold = v + self.r * (self.gl * v + self.il)
                        if not on and u_hold >= v_on:
                            events.append(("high", t, v, ta, -1))
                            on = True
                            continue
                        t = tb
                        continue
                funcs = []
                kinds = []
                if on:
                    def low(t_, y, h=h, lw=lw, la=la):
                        u, _ = self.terminal(y[0], h, lw, la)
                        return (u if math.isfinite(u) else 0.0) - v_off
                    low.terminal, low.direction = True, -1
                    funcs.append(low)
                    kinds.append("low")
                    vc = self.v_collapse(h, lw, la)
                    if vc > 0:
                        def coll(t_, y, vc=vc):
                            return y[0] - vc
                        coll.terminal, coll.direction = True, -1
                        funcs.append(coll)
                        kinds.append("collapse")
                else:
                    def high(t_, y, h=h):
                        u, _ = self.terminal(y[0], h, 0.0, 0.0)
                        return u - v_on
                    high.terminal, high.direction = True, 1
                    funcs.append(high)
                    kinds.append("high")
                def vmax(t_, y):
                    return y[0] - st.v_max_v
                vmax.terminal, vmax.direction = True, 1
                funcs.append(vmax)
                kinds.append("vmax")
                sol = solve_ivp(lambda t_, y: [self.rate(y[0], h, lw, la)], (t, tb), [v],
                                method="DOP853", rtol=1e-13, atol=1e-14 * st.v_max_v, events=funcs,
                                dense_output=True)
                assert sol.success, sol.message
                sols.append((sol, h, lw, la))
                hit = [(sol.t_events[j][0], j) for j in range(len(funcs)) if sol.t_events[j].size]
                if not hit:
                    v = float(sol.y[0, -1])
                    t = tb
                    continue
                t_ev, j = min(hit)
                v = float(sol.y_events[j][0][0])
                t = float(t_ev)
                kind = kinds[j]
                if kind == "vmax":
                    v = st.v_max_v
                    continue
                events.append((kind, t, v, ta, len(sols) - 1))
                on = kind == "high"
        return events, sols


def kernel_run(st, trace, t_end, v0, v_on, v_off, load_w, load_a=0.0, general=None):
    """The same hysteresis run with the exact kernels; events [(kind, t, v)]."""
    general = st.uses_general_kernel or load_a > 0 if general is None else general
    c = st.capacitance_f
    t, e = float(trace.start_s), cap.energy_j(c, v0)
    on = False
    events = []
    books = cap.new_books()
    ts, p, t_first, period, loop = cap.trace_arrays(trace)
    empty = np.empty(0)
    eta = st.efficiency_per_sample(p)
    par = st.power_path_par()
    for _ in range(10000):
        if t >= t_end:
            break
        lw, la = (load_w, load_a) if on else (0.0, 0.0)
        if general:
            vl, vh = (v_off, math.inf) if on else (-1.0, v_on)
            t, e, reason, _ = cap._advance_general(ts, p, eta, t_first, period, loop, par, t, e, t_end,
                                                   lw, la, vl, vh, books, empty, empty, empty, empty,
                                                   empty, 0)
        else:
            el, eh = (cap.energy_j(c, v_off), math.inf) if on else (-1.0, cap.energy_j(c, v_on))
            t, e, reason, _ = cap._advance(ts, p, t_first, period, loop, st.input_efficiency,
                                           st.leak_rate_per_s, st.e_max_j, t, e, t_end, lw, el, eh,
                                           books, empty, empty, empty, empty, empty, 0)
        v = math.sqrt(2 * e / c)
        if reason == STOP_TIME:
            break
        kind = {STOP_HIGH: "high", STOP_LOW: "low", STOP_COLLAPSE: "collapse"}[reason]
        events.append((kind, t, v))
        on = reason == STOP_HIGH
    return events, books


def pieces_of(trace, t_end):
    t = np.append(trace.time_s, trace.end_s)
    return [(float(t[i]), float(t[i + 1]), float(trace.power_w[i])) for i in range(trace.power_w.size)
            if t[i] < t_end]


def compare(st, trace, t_end, v0, v_on, v_off, load_w, load_a=0.0, min_events=2, general=None):
    ref = Reference(st)
    ev_ref, sols = ref.run(pieces_of(trace, t_end), t_end, v0, v_on, v_off, load_w, load_a)
    ev_k, books = kernel_run(st, trace, t_end, v0, v_on, v_off, load_w, load_a, general)
    assert len(ev_k) >= min_events, (ev_k, ev_ref)
    assert [e[0] for e in ev_k] == [e[0] for e in ev_ref], (ev_k, ev_ref)
    for (kind, tk, vk), (_, tr, vr, piece_t0, i_sol) in zip(ev_k, ev_ref):
        assert vk == pytest.approx(vr, rel=RTOL), (kind, tk, vk, vr)
        # times compared within their trace sample, not as absolute seconds
        assert tk - piece_t0 == pytest.approx(tr - piece_t0, rel=RTOL, abs=1e-12), (kind, tk, tr)
        # the reference voltage at the kernel's crossing time is the threshold
        if kind in ("high", "low") and i_sol >= 0:
            th = v_on if kind == "high" else v_off
            sol, h, lw, la = sols[i_sol]   # the solution that ran into the event
            u, _ = ref.terminal(float(sol.sol(tk)[0]), h, lw, la)
            assert abs(u - th) <= RTOL * th, (kind, tk, u, th)
    return ev_k, books


def _trace(rng, n, dt, lo, hi):
    t = np.arange(n) * dt
    return Trace(t, rng.uniform(lo, hi, n), n * dt)


def test_linear_kernel_piecewise_harvest_load_leakage_clamp_hysteresis():
    rng = np.random.default_rng(1)
    # bursts of harvest above the load let the capacitor clamp at V_max while the MCU runs
    p = np.where(np.arange(40) % 7 < 2, 25e-3, rng.uniform(0.2e-3, 3e-3, 40))
    trace = Trace(np.arange(40) * 0.05, p, 2.0)
    st = Storage(capacitance_f=100e-6, v_on_v=3.0, v_off_v=2.0, v_max_v=3.3, leakage_ohm=5e4,
                 input_efficiency=0.8, output_efficiency=0.9)
    events, _ = compare(st, trace, 2.0, 1.0, 3.0, 2.0, load_w=8e-3, min_events=4)
    assert {"high", "low"} <= {e[0] for e in events}


def test_general_kernel_without_extras_equals_linear_kernel():
    rng = np.random.default_rng(2)
    trace = _trace(rng, 30, 0.1, 0.0, 6e-3)
    st = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, leakage_ohm=2e5,
                 input_efficiency=0.75)
    ev_lin, b_lin = kernel_run(st, trace, 3.0, 0.5, 3.0, 2.2, 4e-3, general=False)
    ev_gen, b_gen = kernel_run(st, trace, 3.0, 0.5, 3.0, 2.2, 4e-3, general=True)
    assert len(ev_lin) >= 4
    for a, b in zip(ev_lin, ev_gen):
        assert a[0] == b[0] and a[1] == pytest.approx(b[1], rel=1e-14) and a[2] == pytest.approx(b[2], rel=1e-14)


def test_general_kernel_forced_path_matches_reference_without_esr():
    """A negligible constant leakage current forces the quadrature path on the linear physics."""
    rng = np.random.default_rng(3)
    trace = _trace(rng, 25, 0.1, 0.0, 6e-3)
    st = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, leakage_ohm=2e5,
                 input_efficiency=0.75, leakage_current_a=1e-9)
    compare(st, trace, 2.5, 0.5, 3.0, 2.2, load_w=4e-3, min_events=4)


def test_esr_thevenin_supply_constant_current_load():
    """iNAS-style bench supply (V_sup behind R) charging through ESR; an LDO-fed MCU (constant
    current) runs until the terminal voltage falls to V_off."""
    trace = Trace(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.0, 0.0]), 3.0)
    st = Storage(capacitance_f=100e-6, v_on_v=2.9, v_off_v=2.0, v_max_v=3.3, leakage_ohm=1e5,
                 esr_ohm=5.0, source_voltage_v=3.2, source_resistance_ohm=300.0)
    events, books = compare(st, trace, 3.0, 0.0, 2.9, 2.0, load_w=0.0, load_a=8e-3, min_events=4)
    assert cap.book_totals(books)["esr_j"] > 0


def test_current_source_leak_current_quiescent_and_efficiency_table():
    rng = np.random.default_rng(4)
    trace = _trace(rng, 30, 0.1, 0.1e-3, 8e-3)
    curve = EfficiencyCurve((1e-5, 1e-4, 1e-3, 1e-2), (0.45, 0.7, 0.82, 0.88))
    st = Storage(capacitance_f=68e-6, v_on_v=3.1, v_off_v=2.3, v_max_v=3.6, leakage_current_a=3e-6,
                 quiescent_current_a=0.5e-6, source_current_a=0.2e-3, input_efficiency_curve=curve)
    compare(st, trace, 3.0, 1.5, 3.1, 2.3, load_w=5e-3, min_events=4)


def test_shepherd_bq25504_efficiency_table(shared_traces):
    """The measured BQ25504 input-efficiency table (shepherd) drives the per-sample efficiency."""
    import pandas as pd
    lut = pd.read_csv(shared_traces / "converter-efficiency" / "shepherd_bq25504_input_efficiency_lut.csv")
    row = lut[lut.v_input_bin_lower_edge == "1024mV"].iloc[0, 1:].to_numpy(float)
    edges = [2.0 ** 13 * 1e-9 * 2.0 ** (i - 1) for i in range(row.size)]
    edges[0] = edges[1] / 2
    curve = efficiency_from_current_lut(1.1, edges, row)
    rng = np.random.default_rng(5)
    trace = _trace(rng, 30, 0.1, 0.05e-3, 6e-3)
    st = Storage(capacitance_f=47e-6, v_on_v=3.0, v_off_v=2.2, v_max_v=3.6, leakage_ohm=1e6,
                 quiescent_current_a=0.33e-6, input_efficiency_curve=curve)
    compare(st, trace, 3.0, 1.0, 3.0, 2.2, load_w=3e-3, min_events=4)


def test_esr_constant_power_load_with_harvest_and_clamp():
    rng = np.random.default_rng(6)
    p = np.where(np.arange(30) % 6 < 2, 30e-3, rng.uniform(0.5e-3, 3e-3, 30))
    trace = Trace(np.arange(30) * 0.08, p, 2.4)
    st = Storage(capacitance_f=150e-6, v_on_v=3.0, v_off_v=2.0, v_max_v=3.3, leakage_ohm=3e4,
                 input_efficiency=0.8, esr_ohm=8.0)
    compare(st, trace, 2.4, 1.2, 3.0, 2.0, load_w=10e-3, min_events=4)


def test_esr_collapse_above_v_off():
    """A constant-power load near V^2 / (4 ESR) collapses the terminal before it reaches V_off."""
    trace = Trace(np.array([0.0, 1.0]), np.array([0.0, 0.0]), 5.0)
    st = Storage(capacitance_f=200e-6, v_on_v=3.0, v_off_v=1.0, v_max_v=3.3, esr_ohm=50.0,
                 leakage_ohm=2e4)
    load = 2.5 ** 2 / (4 * 50.0)  # collapses when V_int falls to 2.5 V, terminal 1.25 V > V_off
    ref = Reference(st)
    vc = ref.v_collapse(0.0, load, 0.0)
    assert vc == pytest.approx(2.5, rel=1e-12)

    def coll(t, y):
        return y[0] - vc
    coll.terminal, coll.direction = True, -1
    sol = solve_ivp(lambda t, y: [ref.rate(y[0], 0.0, load, 0.0)], (0.0, 5.0), [3.2], method="DOP853",
                    rtol=1e-13, atol=1e-14, events=coll)
    t_ref = float(sol.t_events[0][0])
    books = cap.new_books()
    e0 = cap.energy_j(st.capacitance_f, 3.2)
    t, e, reason = cap.advance_general(st, trace, 0.0, e0, 5.0, load_w=load, v_low_v=1.0, books=books)
    assert reason == STOP_COLLAPSE
    assert t == pytest.approx(t_ref, rel=RTOL)
    assert math.sqrt(2 * e / st.capacitance_f) == pytest.approx(2.5, rel=RTOL)
    # above the collapse power the terminal has no operating point at all: immediate brown-out
    t2, e2, reason2 = cap.advance_general(st, trace, 0.0, e0, 5.0, load_w=3.2 ** 2 / 200 * 1.01,
                                          v_low_v=1.0)
    assert (t2, e2, reason2) == (0.0, e0, STOP_COLLAPSE)
