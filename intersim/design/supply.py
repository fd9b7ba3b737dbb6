"""The energy-harvesting supply iNAS-PMod assumes (anchor §4, ``capacitor.py``): a Thevenin
source ``v_sup`` behind ``r_ehm_ohm`` charging a capacitor; each power cycle runs from ``v_on``
down, with no harvest credited while active, then recharges back to ``v_on``."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError

V_SUP_V = 3.0     # anchor §4: V_sup (iNAS/settings.py PLATFORM_SETTINGS)
V_ON_V = 2.99     # anchor §4: V_on
V_OFF_V = 2.8     # anchor §4: V_off
MARGIN = 0.55     # anchor §4: EAV_SAFE_MARGIN (settings.py, eval configs)


@dataclass(frozen=True)
class Supply:
    """Capacitor and harvester of the power model.

    Attributes
    ----------
    capacitance_f : float [F]
    r_ehm_ohm : float [Ohm] harvester's Thevenin resistance ("EHM unit equivalent resistance")
    v_sup_v, v_on_v, v_off_v : float [V] source voltage, turn-on and turn-off thresholds
    margin : float [-] safety factor on the usable energy (EAV_SAFE_MARGIN)
    """

    capacitance_f: float
    r_ehm_ohm: float
    v_sup_v: float = V_SUP_V
    v_on_v: float = V_ON_V
    v_off_v: float = V_OFF_V
    margin: float = MARGIN

    def __post_init__(self):
        for key in ("capacitance_f", "r_ehm_ohm", "v_sup_v", "v_on_v", "v_off_v", "margin"):
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise ScenarioError(f"supply {key} = {v!r}; it must be a positive finite number")
        if not self.v_off_v < self.v_on_v < self.v_sup_v:
            raise ScenarioError(f"supply voltages v_off_v = {self.v_off_v!r}, v_on_v = "
                                f"{self.v_on_v!r}, v_sup_v = {self.v_sup_v!r}; need v_off < v_on < v_sup")
        if self.margin > 1:
            raise ScenarioError(f"supply margin = {self.margin!r}; it must be in (0, 1]")

    @property
    def energy_available_j(self) -> float:
        """[J] E_av = 1/2 C (V_on^2 - V_off^2) margin: the per-cycle budget (constraint C1)."""
        c = self.capacitance_f
        return 0.5 * c * (self.v_on_v ** 2 - self.v_off_v ** 2) * self.margin

    def end_voltage_v(self, energy_j, margin_quirk: bool):
        """[V] capacitor voltage after a cycle that drew ``energy_j`` [J] (NaN below 0 J left).

        ``margin_quirk``: as iNAS's code, start from the margin-scaled budget above V_off
        (anchor §4 margin quirk); otherwise start from V_on.
        """
        c = self.capacitance_f
        e = np.asarray(energy_j, dtype=np.float64)
        if margin_quirk:
            v2 = 2.0 * (self.energy_available_j - e) / c + self.v_off_v ** 2
        else:
            v2 = self.v_on_v ** 2 - 2.0 * e / c
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.where(v2 >= 0, v2, np.nan))

    def recharge_time_s(self, energy_j, margin_quirk: bool):
        """[s] RC recharge from the end-of-cycle voltage back to V_on (anchor §4 t_rc)."""
        v_end = self.end_voltage_v(energy_j, margin_quirk)
        tau = self.r_ehm_ohm * self.capacitance_f
        with np.errstate(invalid="ignore", divide="ignore"):
            return -tau * np.log((self.v_on_v - self.v_sup_v) / (v_end - self.v_sup_v))


def equivalent_thevenin(mean_power_w: float, capacitance_f: float, v_on_v: float, v_off_v: float,
                        v_sup_v: float, source: str = "supply") -> Supply:
    """An equivalent Thevenin supply for a harvest that is not one (e.g. an RF or solar trace
    through an MPPT converter), so iNAS-PMod's recharge model can be used on it.

    ``v_sup_v`` is the highest voltage the harvest charges the capacitor to (the storage clamp
    ``v_max_v`` in a scenario); the resistance is chosen so that the RC recharge over the whole
    window, ``V_off -> V_on``, takes as long as ``mean_power_w`` needs to deliver the window's
    energy ``C (V_on^2 - V_off^2) / 2``:

        R C ln((V_sup - V_off) / (V_sup - V_on)) = C (V_on^2 - V_off^2) / (2 P_mean)

    i.e. the equivalent source refills the capacitor at the harvest's long-run rate (its mean, not
    its peak: an on/off harvest such as an RFID reader's would make recharges look faster by the
    duty cycle's inverse). Its maximum power ``V_sup^2 / (4 R)`` is then above the mean (by 32 % for
    V_off, V_on, V_sup = 2.2, 3.0, 3.6 V).

    Parameters
    ----------
    mean_power_w : float [W] mean power into the capacitor (after the converter's input efficiency)
    capacitance_f : float [F]
    v_on_v, v_off_v, v_sup_v : float [V] turn-on, turn-off and source voltages (v_off < v_on < v_sup)
    source : str  what to name in errors

    Returns
    -------
    Supply with iNAS's margin (``MARGIN``).
    """
    import math
    if not (isinstance(mean_power_w, (int, float)) and math.isfinite(mean_power_w) and mean_power_w > 0):
        raise ScenarioError(f"{source}: the harvest's mean power = {mean_power_w!r} W; an equivalent Thevenin "
                            "supply needs a positive finite mean power")
    if not v_off_v < v_on_v < v_sup_v:
        raise ScenarioError(f"{source}: an equivalent Thevenin supply needs v_off_v < v_on_v < its source voltage "
                            f"(storage.v_max_v); got v_off_v = {v_off_v!r}, v_on_v = {v_on_v!r}, "
                            f"v_max_v = {v_sup_v!r}")
    r_ohm = (v_on_v ** 2 - v_off_v ** 2) / (2.0 * mean_power_w * math.log((v_sup_v - v_off_v) / (v_sup_v - v_on_v)))
    return Supply(capacitance_f, r_ohm, v_sup_v=v_sup_v, v_on_v=v_on_v, v_off_v=v_off_v)
