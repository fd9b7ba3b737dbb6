"""Part presets users pick by name: capacitor families and BQ25504/BQ25570-style converters.

Every constant names its source (datasheet and table or figure). Where a datasheet gives a limit
(a maximum leakage, a minimum insulation resistance) the preset uses that limit, so simulations
err on the pessimistic side; the source says so. See ``docs/energy.md`` for the table.

    >>> from intersim.energy.parts import storage_from_parts
    >>> st = storage_from_parts("tantalum-100uF", "bq25570", v_on_v=3.0, v_off_v=2.2)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .capacitor import Storage
from ..errors import ScenarioError
from .power_path import EfficiencyCurve  # noqa: F401  (ConverterPart field type)


@dataclass(frozen=True)
class CapacitorPart:
    """A storage capacitor.

    Attributes
    ----------
    name : str
    capacitance_f : float [F]
    rated_voltage_v : float [V]
    esr_ohm : float [Ohm]
    leakage_ohm : float [Ohm] parallel leakage resistance (``inf``: none)
    leakage_current_a : float [A] constant leakage current (0: none)
    source : str  where the numbers come from
    """

    name: str
    capacitance_f: float
    rated_voltage_v: float
    esr_ohm: float
    leakage_ohm: float = math.inf
    leakage_current_a: float = 0.0
    source: str = ""


@dataclass(frozen=True)
class ConverterPart:
    """An energy-harvesting converter (boost charger with MPPT, optional output regulator).

    Attributes
    ----------
    name : str
    input_efficiency : float [-] typical charger efficiency (used when no curve is given)
    input_efficiency_curve : EfficiencyCurve or None  efficiency vs harvested power
    output_efficiency : float [-] output regulator efficiency (1: MCU fed from VSTOR directly)
    quiescent_current_a : float [A] drawn from VSTOR in operation
    v_max_v : float [V] highest programmable overvoltage (clamp) threshold VBAT_OV
    v_uv_min_v : float [V] lowest programmable undervoltage threshold VBAT_UV
    source : str
    """

    name: str
    input_efficiency: float
    input_efficiency_curve: EfficiencyCurve | None
    output_efficiency: float
    quiescent_current_a: float
    v_max_v: float
    v_uv_min_v: float
    source: str = ""


def _ir_limit_ohm(capacitance_f, ohm_farad, cap_ohm=10e9):
    """MLCC insulation-resistance limit: ``min(cap_ohm, ohm_farad / C)`` [Ohm]."""
    return min(cap_ohm, ohm_farad / capacitance_f)


CAPACITORS = {
    "mlcc-22uF": CapacitorPart(
        "mlcc-22uF", 22e-6, 6.3, esr_ohm=0.005, leakage_ohm=_ir_limit_ohm(22e-6, 100.0),
        source="X5R MLCC, 6.3 V class: insulation resistance >= 10 GOhm or 100 MOhm.uF, whichever is "
               "smaller (TDK FAQ 'How do I calculate the insulation resistance and CR product', 6.3-16 V "
               "rows) -> 4.5 MOhm; ESR: a few mOhm at the self-resonance of a ceramic chip (order of "
               "magnitude, not a datasheet limit)"),
    "mlcc-100uF": CapacitorPart(
        "mlcc-100uF", 100e-6, 6.3, esr_ohm=0.003, leakage_ohm=_ir_limit_ohm(100e-6, 100.0),
        source="X5R MLCC, 6.3 V class: IR >= min(10 GOhm, 100 MOhm.uF / C) (TDK FAQ, 6.3-16 V) -> "
               "1 MOhm; ESR order of magnitude for a 1210 ceramic chip"),
    "tantalum-100uF": CapacitorPart(
        "tantalum-100uF", 100e-6, 6.3, esr_ohm=0.8, leakage_current_a=0.01e-6 * 100 * 6.3,
        source="KEMET T491 (MnO2) series, D case 100 uF 6.3 V: DC leakage <= 0.01 C V uA (or 0.5 uA, "
               "whichever is greater) at rated voltage -> 6.3 uA, modelled as a constant current (a "
               "pessimistic bound below rated voltage); ESR 0.8 Ohm max at 100 kHz (T491 ratings "
               "table; check your exact part number)"),
    "supercap-0.35F": CapacitorPart(
        "supercap-0.35F", 0.35, 4.5, esr_ohm=0.060, leakage_current_a=2.0e-6,
        source="CAP-XX GB230 (dual cell): 350 mF, ESR 60 mOhm nominal, 4.5 V nominal; leakage "
               "current max 2.0 uA (typ. 1.0 uA) at 23 C after 72 h at 2.25 V per cell (GB130/GB230 "
               "datasheet rev 1.0, tables 1 and 3)"),
    "supercap-0.1F": CapacitorPart(
        "supercap-0.1F", 0.1, 5.5, esr_ohm=75.0, leakage_current_a=2.0e-6,
        source="CAP-XX HF coin cell HF15R51309P104C: 0.1 F, 5.5 V, ESR 75 Ohm (distributor listing of "
               "the GF & HF datasheet rev 2.6); leakage assumed as for GB230 (2 uA), not from its "
               "datasheet"),
}


CONVERTERS = {
    "bq25504": ConverterPart(
        "bq25504", input_efficiency=0.80, input_efficiency_curve=None, output_efficiency=1.0,
        quiescent_current_a=330e-9, v_max_v=5.25, v_uv_min_v=2.2,
        source="TI BQ25504 datasheet SLUSAH0 (7.5 Electrical Characteristics): VSTOR quiescent 330 nA "
               "typ (charger shut down in UV), VBAT_OV programmable 2.5-5.25 V, VBAT_UV >= 2.2 V, "
               "PIN 0.01-300 mW; input efficiency 0.80: a design value within the datasheet's typical "
               "charger-efficiency curves (about 75-90 % at 10 uA-10 mA input); no output regulator "
               "(MCU on VSTOR). For a measured curve build an EfficiencyCurve, e.g. from shepherd's "
               "BQ25504 LUT with efficiency_from_current_lut"),
    "bq25570": ConverterPart(
        "bq25570", input_efficiency=0.80, input_efficiency_curve=None, output_efficiency=0.90,
        quiescent_current_a=488e-9, v_max_v=5.5, v_uv_min_v=1.95,
        source="TI BQ25570 datasheet SLUSBH2 (Electrical Characteristics): full operating quiescent "
               "current 488 nA typ, PIN 0.005-510 mW, cold start 330 mV; buck efficiency up to 93 % "
               "(features), 0.90 taken as a mid-load design value (shepherd's BQ25570 output LUT gives "
               "0.88-0.93 for 32 uA-1 mA); VBAT_OV up to 5.5 V; VBAT_UV internal 1.95 V"),
}


def capacitor_part(name: str) -> CapacitorPart:
    """The capacitor preset called ``name`` (see ``CAPACITORS``)."""
    try:
        return CAPACITORS[name]
    except KeyError:
        raise ScenarioError(f"capacitor part {name!r} is unknown; known: {sorted(CAPACITORS)}") from None


def converter_part(name: str) -> ConverterPart:
    """The converter preset called ``name`` (see ``CONVERTERS``)."""
    try:
        return CONVERTERS[name]
    except KeyError:
        raise ScenarioError(f"converter part {name!r} is unknown; known: {sorted(CONVERTERS)}") from None


def storage_from_parts(capacitor: str, converter: str, v_on_v: float, v_off_v: float,
                       v_max_v: float | None = None, v_initial_v: float = 0.0,
                       use_efficiency_curve: bool = True, **overrides) -> Storage:
    """A :class:`Storage` from a capacitor and a converter preset.

    Parameters
    ----------
    capacitor, converter : str  preset names
    v_on_v, v_off_v : float [V] turn-on and brown-out thresholds of the terminal voltage
    v_max_v : float [V] or None  clamp (default: the lower of the capacitor's rated voltage and the
        converter's highest VBAT_OV)
    v_initial_v : float [V]
    use_efficiency_curve : bool  use the converter's efficiency curve where it has one (a curve can
        also be passed as ``input_efficiency_curve=...`` in ``overrides``)
    overrides : further Storage fields
    """
    c = capacitor_part(capacitor)
    k = converter_part(converter)
    vmax = min(c.rated_voltage_v, k.v_max_v) if v_max_v is None else float(v_max_v)
    if v_off_v < k.v_uv_min_v and k.output_efficiency < 1.0:
        raise ScenarioError(f"v_off_v = {v_off_v!r} is below {k.name}'s undervoltage threshold "
                            f"{k.v_uv_min_v} V, where its output regulator is off; allowed: >= {k.v_uv_min_v} V")
    fields = dict(capacitance_f=c.capacitance_f, v_on_v=v_on_v, v_off_v=v_off_v, v_max_v=vmax,
                  v_initial_v=v_initial_v, leakage_ohm=c.leakage_ohm, input_efficiency=k.input_efficiency,
                  output_efficiency=k.output_efficiency, esr_ohm=c.esr_ohm,
                  leakage_current_a=c.leakage_current_a, quiescent_current_a=k.quiescent_current_a,
                  input_efficiency_curve=k.input_efficiency_curve if use_efficiency_curve else None)
    fields.update(overrides)
    return Storage(**fields)
