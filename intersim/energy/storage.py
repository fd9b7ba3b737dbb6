"""The energy storage: :class: (capacitance, thresholds, leakage, ESR, sources,
converter efficiencies) and the energy <-> voltage conversions every module uses."""
from __future__ import annotations
import math
from dataclasses import dataclass
from typing import Optional
import numpy as np
from ..errors import ScenarioError
from .power_path import (
    N_PAR, PAR_C, PAR_ESR, PAR_G_LEAK, PAR_G_SUP, PAR_I_LEAK, PAR_I_Q, PAR_I_SRC,
    PAR_V_MAX, PAR_V_SUP, EfficiencyCurve,
)


def energy_j(capacitance_f, voltage_v):
    """Stored energy ``C V^2 / 2`` [J] of ``capacitance_f`` [F] at ``voltage_v`` [V]."""
    return 0.5 * capacitance_f * voltage_v * voltage_v


def voltage_v(capacitance_f, energy):
    """Voltage [V] of ``capacitance_f`` [F] holding ``energy`` [J] (``>= 0``)."""
    return np.sqrt(2.0 * np.maximum(energy, 0.0) / capacitance_f)


def usable_energy_j(capacitance_f, v_on_v, v_off_v):
    """Energy released from ``v_on_v`` [V] down to ``v_off_v`` [V], before efficiencies [J]."""
    return 0.5 * capacitance_f * (v_on_v * v_on_v - v_off_v * v_off_v)


@dataclass(frozen=True)
class Storage:
    """The storage capacitor and its power path.

    Attributes
    ----------
    capacitance_f : float [F]
    v_on_v : float [V] terminal voltage at which the MCU turns on
    v_off_v : float [V] terminal voltage below which the MCU browns out (``< v_on_v``)
    v_max_v : float [V] clamp voltage (``>= v_on_v``): harvest beyond it is refused
    v_initial_v : float [V] voltage at t = start (``0 <= v <= v_max_v``)
    leakage_ohm : float [Ohm] parallel leakage resistance (``inf``: none)
    input_efficiency : float [-] MPPT/boost converter efficiency, applied to harvested power once
    output_efficiency : float [-] output regulator efficiency between capacitor and MCU pin
    esr_ohm : float [Ohm] equivalent series resistance (0: none); comparators then see the
        terminal voltage ``V_int + (I_in - I_out) ESR``
    leakage_current_a : float [A] constant leakage current of the capacitor (0: none)
    quiescent_current_a : float [A] converter quiescent current drawn at the terminal (0: none)
    source_current_a : float [A] constant current source into the terminal (0: none)
    source_voltage_v : float [V] Thevenin source voltage (used when ``source_resistance_ohm`` is finite)
    source_resistance_ohm : float [Ohm] Thevenin source resistance (``inf``: no Thevenin source)
    input_efficiency_curve : EfficiencyCurve or None  input efficiency as a function of harvested
        power; replaces ``input_efficiency`` when given
    """

    capacitance_f: float
    v_on_v: float
    v_off_v: float
    v_max_v: float
    v_initial_v: float = 0.0
    leakage_ohm: float = math.inf
    input_efficiency: float = 1.0
    output_efficiency: float = 1.0
    esr_ohm: float = 0.0
    leakage_current_a: float = 0.0
    quiescent_current_a: float = 0.0
    source_current_a: float = 0.0
    source_voltage_v: float = 0.0
    source_resistance_ohm: float = math.inf
    input_efficiency_curve: Optional[EfficiencyCurve] = None

    def __post_init__(self):
        def bad(key, value, allowed):
            raise ScenarioError(f"storage.{key} = {value!r} is invalid; allowed: {allowed}")

        c = self.capacitance_f
        if not (math.isfinite(c) and c > 0):
            bad("capacitance_f", c, "a finite number > 0 [F]")
        if not (math.isfinite(self.v_off_v) and self.v_off_v > 0):
            bad("v_off_v", self.v_off_v, "a finite number > 0 [V]")
        if not (math.isfinite(self.v_on_v) and self.v_on_v > self.v_off_v):
            bad("v_on_v", self.v_on_v, f"a number > v_off_v = {self.v_off_v} [V] (hysteresis)")
        if not (math.isfinite(self.v_max_v) and self.v_max_v >= self.v_on_v):
            bad("v_max_v", self.v_max_v, f"a number >= v_on_v = {self.v_on_v} [V]")
        if not (math.isfinite(self.v_initial_v) and 0 <= self.v_initial_v <= self.v_max_v):
            bad("v_initial_v", self.v_initial_v, f"0 <= v <= v_max_v = {self.v_max_v} [V]")
        if not (self.leakage_ohm > 0):
            bad("leakage_ohm", self.leakage_ohm, "a number > 0 [Ohm], or omit it for no leakage")
        for key in ("input_efficiency", "output_efficiency"):
            eta = getattr(self, key)
            if not (0 < eta <= 1):
                bad(key, eta, "0 < efficiency <= 1")
        for key, unit in (("esr_ohm", "Ohm"), ("leakage_current_a", "A"), ("quiescent_current_a", "A"),
                          ("source_current_a", "A"), ("source_voltage_v", "V")):
            x = getattr(self, key)
            if not (math.isfinite(x) and x >= 0):
                bad(key, x, f"a finite number >= 0 [{unit}]")
        if not (self.source_resistance_ohm > 0):
            bad("source_resistance_ohm", self.source_resistance_ohm,
                "a number > 0 [Ohm], or omit it for no Thevenin source")
        if self.input_efficiency_curve is not None and not isinstance(self.input_efficiency_curve,
                                                                      EfficiencyCurve):
            bad("input_efficiency_curve", self.input_efficiency_curve, "an EfficiencyCurve or None")

    # energies of the thresholds [J]
    @property
    def e_on_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_on_v)

    @property
    def e_off_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_off_v)

    @property
    def e_max_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_max_v)

    @property
    def e_initial_j(self) -> float:
        return energy_j(self.capacitance_f, self.v_initial_v)

    @property
    def leak_rate_per_s(self) -> float:
        """``b = 2 / (R C)`` [1/s]: the relative rate at which resistive leakage drains energy."""
        return 0.0 if math.isinf(self.leakage_ohm) else 2.0 / (self.leakage_ohm * self.capacitance_f)

    def usable_energy_j(self) -> float:
        """``C (V_on^2 - V_off^2) / 2`` [J], before efficiencies."""
        return usable_energy_j(self.capacitance_f, self.v_on_v, self.v_off_v)

    # --- the general power path ---------------------------------------------------------------
    @property
    def uses_general_kernel(self) -> bool:
        """True if a term only :func:`_advance_general` models is present (ESR, currents, Thevenin
        source, an efficiency curve)."""
        return (self.esr_ohm > 0 or self.leakage_current_a > 0 or self.quiescent_current_a > 0
                or self.source_current_a > 0 or math.isfinite(self.source_resistance_ohm)
                or self.input_efficiency_curve is not None)

    def power_path_par(self) -> np.ndarray:
        """The ``par`` array [SI units] :func:`_advance_general` reads (layout ``PAR_*``)."""
        par = np.zeros(N_PAR)
        par[PAR_C] = self.capacitance_f
        par[PAR_ESR] = self.esr_ohm
        par[PAR_G_LEAK] = 0.0 if math.isinf(self.leakage_ohm) else 1.0 / self.leakage_ohm
        par[PAR_I_LEAK] = self.leakage_current_a
        par[PAR_I_SRC] = self.source_current_a
        if math.isfinite(self.source_resistance_ohm):
            par[PAR_V_SUP] = self.source_voltage_v
            par[PAR_G_SUP] = 1.0 / self.source_resistance_ohm
        par[PAR_I_Q] = self.quiescent_current_a
        par[PAR_V_MAX] = self.v_max_v
        return par

    def input_efficiency_at(self, harvest_w) -> float:
        """Input efficiency [-] at harvested power ``harvest_w`` [W]."""
        if self.input_efficiency_curve is None:
            return self.input_efficiency
        return float(self.input_efficiency_curve(float(harvest_w)))

    def efficiency_per_sample(self, power_w) -> np.ndarray:
        """Input efficiency of every trace sample [-]: the ``eta_w`` array of the general kernel."""
        p = np.asarray(power_w, dtype=float)
        if self.input_efficiency_curve is None:
            return np.full(p.size, float(self.input_efficiency))
        return self.input_efficiency_curve.per_sample(p)
