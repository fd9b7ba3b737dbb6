"""Trace generators: solar, indoor light, RF, constant, square wave.

Every random generator takes an explicit ``rng`` (:class:`numpy.random.Generator`); none touches
a global seed, so the same generator state gives bit-identical arrays. Times start at 0 s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import harvester
from ..errors import TraceError
from .trace import Trace


def _import_pvlib():
    """pvlib, or a clear error naming the extra that installs it."""
    try:
        import pvlib
        import pvlib.iotools  # noqa: F401  (submodule used by the TMY/MIDC loaders)
    except ImportError as exc:
        raise ImportError("solar models and TMY/MIDC files need pvlib: pip install intersim[solar] "
                          f"({exc})") from exc
    return pvlib


def _grid(duration_s, period_s, what):
    for key, value in (("duration_s", duration_s), ("period_s", period_s)):
        if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value)
                and value > 0):
            raise TraceError(f"{what}: {key} {value!r} s must be a finite number > 0")
    n = int(math.ceil(duration_s / period_s - 1e-9))
    return period_s * np.arange(n, dtype=np.float64), float(duration_s)


def _check_rng(rng, what):
    if not isinstance(rng, np.random.Generator):
        raise TraceError(f"{what}: rng must be a numpy.random.Generator (e.g. "
                         f"numpy.random.default_rng(seed)), got {type(rng).__name__}")


# --------------------------------------------------------------------------------------------
# deterministic shapes
# --------------------------------------------------------------------------------------------
def constant(power_w: float, duration_s: float, *, loop: bool = False) -> Trace:
    """Constant ``power_w`` [W] for ``duration_s`` [s] (one sample)."""
    return Trace([0.0], [power_w], float(duration_s), loop=loop, name=f"constant_{power_w:g}W",
                 meta={"generator": "constant", "power_w": float(power_w)})


def square(high_w: float, low_w: float, period_s: float, duty: float, duration_s: float,
           *, loop: bool = False) -> Trace:
    """Square wave: ``high_w`` [W] for ``duty x period_s`` [s], then ``low_w`` [W].

    ``duty`` in (0, 1); the last period is cut at ``duration_s`` [s].
    """
    if not (0.0 < duty < 1.0):
        raise TraceError(f"square: duty {duty!r} must be in (0, 1) (use constant() for 0 or 1)")
    starts, duration_s = _grid(duration_s, period_s, "square")
    t = np.empty(2 * starts.size)
    t[0::2] = starts
    t[1::2] = starts + duty * period_s
    p = np.empty_like(t)
    p[0::2], p[1::2] = high_w, low_w
    keep = t < duration_s
    return Trace(t[keep], p[keep], duration_s, loop=loop, name="square",
                 meta={"generator": "square", "high_w": high_w, "low_w": low_w,
                       "period_s": period_s, "duty": duty})


# --------------------------------------------------------------------------------------------
# solar
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CloudModel:
    """Reproducible cloud process: a clearness factor ``k`` multiplying clear-sky GHI [-].

    A two-state Markov chain (sun / cloud shadow) with exponential dwell times, times an AR(1)
    fluctuation (log-normal, correlation time ``ar_tau_s``). Broken cumulus gives the on/off
    ramps that matter for a small capacitor; ``k`` > 1 briefly (cloud enhancement) is allowed.

    Attributes
    ----------
    sun_k, shadow_k : float [-]
        Mean clearness in the sun and in a cloud's shadow.
    mean_sun_s, mean_shadow_s : float [s]
        Mean dwell time in each state.
    ar_sigma : float [-]
        Standard deviation of the log-normal fluctuation.
    ar_tau_s : float [s]
        Correlation time of the fluctuation.
    """

    sun_k: float = 1.0
    shadow_k: float = 0.2
    mean_sun_s: float = 60.0
    mean_shadow_s: float = 120.0
    ar_sigma: float = 0.08
    ar_tau_s: float = 20.0

    def clearness(self, n: int, period_s: float, rng: np.random.Generator) -> np.ndarray:
        """``n`` samples of the clearness factor at spacing ``period_s`` [s] -> [-]."""
        p_leave_sun = -math.expm1(-period_s / self.mean_sun_s)
        p_leave_shadow = -math.expm1(-period_s / self.mean_shadow_s)
        u = rng.random(n)
        state = np.empty(n, dtype=bool)  # True = in a cloud's shadow
        frac_shadow = self.mean_shadow_s / (self.mean_sun_s + self.mean_shadow_s)
        s = bool(rng.random() < frac_shadow)
        for i in range(n):  # a short loop; n <= 1e6 for any trace we ship
            state[i] = s
            s = (u[i] >= p_leave_shadow) if s else (u[i] < p_leave_sun)
        phi = math.exp(-period_s / self.ar_tau_s)
        eps = rng.standard_normal(n) * math.sqrt(1.0 - phi * phi)
        x = np.empty(n)
        acc = rng.standard_normal()
        for i in range(n):
            acc = phi * acc + eps[i]
            x[i] = acc
        k = np.where(state, self.shadow_k, self.sun_k)
        return k * np.exp(self.ar_sigma * x - 0.5 * self.ar_sigma ** 2)


#: Named cloud presets for :func:`solar` ``cloud=``.
CLOUD_PRESETS = {
    "clear": None,
    "cloudy": CloudModel(),
    "overcast": CloudModel(sun_k=0.45, shadow_k=0.2, mean_sun_s=300.0, mean_shadow_s=900.0,
                           ar_sigma=0.15, ar_tau_s=60.0),
}


def _location_tz(t0):
    """pvlib's time zone for the zone of ``t0``: its IANA name, or a whole-hour UTC offset
    (``"2023-06-21T07:00:00+02:00"``, as this generator writes ``start_time``), else UTC."""
    import zoneinfo
    name = str(t0.tz)
    try:
        zoneinfo.ZoneInfo(name)
        return name
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    hours = t0.utcoffset().total_seconds() / 3600.0
    return int(hours) if hours == int(hours) else "UTC"


def solar(latitude: float, longitude: float, start, duration_s: float, period_s: float,
          area_m2: float = harvester.SMALL_CELL_AREA_M2,
          efficiency: float = harvester.SMALL_CELL_EFFICIENCY, cloud="cloudy", *,
          rng: np.random.Generator | None = None, tz: str | None = None,
          altitude_m: float | None = None, clearsky_model: str = "ineichen") -> Trace:
    """Harvested power of a horizontal PV cell under clear-sky GHI times a cloud process.

    Parameters
    ----------
    latitude, longitude : float [deg]
    start : str or pandas.Timestamp
        First instant, e.g. ``"2023-06-15 11:30"``; naive times are in ``tz``.
    duration_s, period_s : float [s]
        Length and sample spacing; each sample is the clear-sky GHI at the interval's middle.
    area_m2, efficiency : float [m^2], [-]
        PV cell (:func:`intersim.energy.harvester.pv_power_w`).
    cloud : {"clear", "cloudy", "overcast"} or CloudModel
    rng : numpy.random.Generator
        Required unless ``cloud="clear"``.
    tz : str, optional
        Time zone of a naive ``start`` (default UTC), e.g. ``"Etc/GMT+7"`` (MST).
    altitude_m : float [m], optional
        Site altitude; default looked up by pvlib.
    clearsky_model : {"ineichen", "simplified_solis", "haurwitz"}
        pvlib clear-sky model; Ineichen uses pvlib's Linke turbidity climatology.

    Returns
    -------
    Trace
    """
    pvlib = _import_pvlib()
    import pandas as pd
    what = "solar"
    model = CLOUD_PRESETS.get(cloud, cloud) if isinstance(cloud, str) else cloud
    if isinstance(cloud, str) and cloud not in CLOUD_PRESETS:
        raise TraceError(f"{what}: cloud {cloud!r} is not one of {list(CLOUD_PRESETS)} or a CloudModel")
    if model is not None and not isinstance(model, CloudModel):
        raise TraceError(f"{what}: cloud must be a preset name or a CloudModel, got {type(model).__name__}")
    if model is not None:
        _check_rng(rng, what)
    t, duration_s = _grid(duration_s, period_s, what)
    t0 = pd.Timestamp(start)
    if t0.tzinfo is None:
        t0 = t0.tz_localize(tz or "UTC")
    if altitude_m is None:
        altitude_m = float(pvlib.location.lookup_altitude(latitude, longitude))
    loc = pvlib.location.Location(latitude, longitude, tz=_location_tz(t0), altitude=altitude_m)
    mid = t0 + pd.to_timedelta(t + 0.5 * np.diff(np.append(t, duration_s)), unit="s")
    if loc.tz == "UTC" and str(t0.tz) != "UTC":  # an offset of a fraction of an hour: same instants, in UTC
        mid = mid.tz_convert("UTC")
    ghi = loc.get_clearsky(pd.DatetimeIndex(mid), model=clearsky_model)["ghi"].to_numpy(dtype=np.float64)
    ghi = np.maximum(ghi, 0.0)
    k = np.ones_like(ghi) if model is None else model.clearness(t.size, period_s, rng)
    power = harvester.pv_power_w(ghi * k, area_m2, efficiency)
    meta = {"generator": "solar", "latitude": latitude, "longitude": longitude,
            "start_time": t0.isoformat(), "altitude_m": altitude_m, "clearsky_model": clearsky_model,
            "cloud": cloud if isinstance(cloud, str) else repr(cloud), "area_m2": area_m2,
            "efficiency": efficiency}
    return Trace(t, power, duration_s, name="solar", meta=meta)


# --------------------------------------------------------------------------------------------
# indoor light
# --------------------------------------------------------------------------------------------
def indoor(schedule, duration_s: float, period_s: float, *, off_lux: float = 0.0,
           flicker_hz: float = 100.0, flicker_depth: float = 0.0,
           occlusion_rate_per_h: float = 0.0, occlusion_factor: float = 0.4,
           mean_occlusion_s: float = 20.0, noise_sigma: float = 0.0,
           cell: "harvester.SingleDiodeCell | None" = None,
           rng: np.random.Generator | None = None) -> Trace:
    """Indoor light on a small PV cell: a lighting schedule, flicker, people shading the cell.

    Parameters
    ----------
    schedule : sequence of (start_s, end_s, lux)
        Lights on at ``lux`` [lx] on ``[start_s, end_s)`` [s]; elsewhere ``off_lux`` [lx].
    duration_s, period_s : float [s]
    flicker_hz : float [Hz]
        Light ripple frequency (twice the mains frequency for fluorescent/LED drivers).
    flicker_depth : float [-]
        Peak-to-mean ripple ratio in [0, 1]. The ripple is resolved only when
        ``period_s <= 1 / (4 flicker_hz)``; at coarser sampling it averages out (mean kept).
    occlusion_rate_per_h : float [1/h]
        Poisson rate of someone shading the cell; each shade lasts an exponential time of mean
        ``mean_occlusion_s`` [s] and multiplies the light by ``occlusion_factor`` [-].
    noise_sigma : float [-]
        Relative white noise of the light level (sensor/dimming jitter).
    cell : harvester.SingleDiodeCell
        Lux -> harvested power at the maximum power point; default the fitted AM1417
        (an amorphous indoor cell, fitted on 300-20000 lx).
    rng : numpy.random.Generator
        Required when occlusion or noise is on.
    """
    what = "indoor"
    t, duration_s = _grid(duration_s, period_s, what)
    lux = np.full(t.size, float(off_lux))
    for k, item in enumerate(schedule):
        try:
            a, b, level = (float(x) for x in item)
        except (TypeError, ValueError):
            raise TraceError(f"{what}: schedule entry {k} {item!r} must be (start_s, end_s, lux)") from None
        if not (0 <= a < b) or level < 0:
            raise TraceError(f"{what}: schedule entry {k} {item!r} needs 0 <= start_s < end_s and lux >= 0")
        lux[(t >= a) & (t < b)] = level
    if not (0.0 <= flicker_depth <= 1.0):
        raise TraceError(f"{what}: flicker_depth {flicker_depth!r} must be in [0, 1]")
    if flicker_depth > 0 and period_s <= 1.0 / (4.0 * flicker_hz):
        lux = lux * (1.0 + flicker_depth * np.cos(2 * np.pi * flicker_hz * t))
    if occlusion_rate_per_h > 0 or noise_sigma > 0:
        _check_rng(rng, what)
    if occlusion_rate_per_h > 0:
        n_events = rng.poisson(occlusion_rate_per_h * duration_s / 3600.0)
        starts = rng.uniform(0.0, duration_s, n_events)
        lengths = rng.exponential(mean_occlusion_s, n_events)
        shade = np.zeros(t.size, dtype=bool)
        for a, d in zip(np.sort(starts), lengths):
            shade[(t >= a) & (t < a + d)] = True
        lux = np.where(shade, lux * occlusion_factor, lux)
    if noise_sigma > 0:
        lux = lux * np.maximum(1.0 + noise_sigma * rng.standard_normal(t.size), 0.0)
    cell = cell or harvester.AM1417
    power = cell.mpp_power_w(np.maximum(lux, 0.0))
    meta = {"generator": "indoor", "cell": cell.name, "off_lux": off_lux, "flicker_hz": flicker_hz,
            "flicker_depth": flicker_depth, "occlusion_rate_per_h": occlusion_rate_per_h}
    return Trace(t, power, duration_s, name="indoor", meta=meta)


# --------------------------------------------------------------------------------------------
# RF
# --------------------------------------------------------------------------------------------
def rf(distance_m: float, tx_power_w: float, frequency_hz: float, duration_s: float,
       period_s: float, *, tx_gain_dbi: float = 6.0, rx_gain_dbi: float = 2.0,
       fading: str = "rician", rician_k: float = 6.0, coherence_s: float = 0.05,
       reader_on_s: float = 1.0, reader_off_s: float = 0.0,
       rectifier=None, rng: np.random.Generator | None = None) -> Trace:
    """Harvested DC power near an RF reader: Friis path loss, fading, reader duty cycle, rectifier.

    Parameters
    ----------
    distance_m : float [m]
    tx_power_w : float [W]
        Conducted reader power (1 W = 30 dBm, the usual UHF RFID maximum).
    frequency_hz : float [Hz]
    duration_s, period_s : float [s]
    tx_gain_dbi, rx_gain_dbi : float [dBi]
    fading : {"none", "rayleigh", "rician"}
        Small-scale fading of the received power, a new independent draw blended by an AR(1)
        with correlation time ``coherence_s`` [s] (a person walking at ~1 m/s at 915 MHz).
    rician_k : float [-]
        Rician K factor (line-of-sight to scattered power), linear.
    reader_on_s, reader_off_s : float [s]
        Reader duty cycle: on for ``reader_on_s``, off for ``reader_off_s``, repeating
        (``reader_off_s = 0``: always on).
    rectifier : callable, optional
        RF input power [W] -> efficiency [-]; default :func:`intersim.energy.harvester.rectifier_efficiency`.
    rng : numpy.random.Generator
        Required unless ``fading="none"``.
    """
    what = "rf"
    t, duration_s = _grid(duration_s, period_s, what)
    p_rx = harvester.friis_received_power_w(tx_power_w, distance_m, frequency_hz,
                                            tx_gain_dbi, rx_gain_dbi)
    if fading not in ("none", "rayleigh", "rician"):
        raise TraceError(f"{what}: fading {fading!r} is not one of ['none', 'rayleigh', 'rician']")
    if fading == "none":
        gain = np.ones(t.size)
    else:
        _check_rng(rng, what)
        gain = harvester.fading_power_gain(t.size, period_s, coherence_s, rng,
                                           rician_k=0.0 if fading == "rayleigh" else rician_k)
    if reader_off_s < 0 or reader_on_s <= 0:
        raise TraceError(f"{what}: reader_on_s {reader_on_s!r} must be > 0 and reader_off_s "
                         f"{reader_off_s!r} >= 0 [s]")
    on = np.ones(t.size, dtype=bool) if reader_off_s == 0 else (
        np.mod(t, reader_on_s + reader_off_s) < reader_on_s)
    p_in = p_rx * gain * on
    eff = (rectifier or harvester.rectifier_efficiency)(p_in)
    power = p_in * eff
    meta = {"generator": "rf", "distance_m": distance_m, "tx_power_w": tx_power_w,
            "frequency_hz": frequency_hz, "tx_gain_dbi": tx_gain_dbi, "rx_gain_dbi": rx_gain_dbi,
            "fading": fading, "rician_k": rician_k, "coherence_s": coherence_s,
            "reader_on_s": reader_on_s, "reader_off_s": reader_off_s, "mean_rx_power_w": p_rx}
    return Trace(t, power, duration_s, name="rf", meta=meta)


def random_trace(rng: np.random.Generator, duration_s: float = 60.0, mean_power_w: float = 2e-3,
                 period_s: float = 0.5) -> Trace:
    """A bursty harvest: exponential samples, some zero, every ``period_s`` [s]."""
    n = max(2, int(duration_s / period_s))
    p = rng.exponential(mean_power_w, n) * (rng.random(n) > 0.3)
    return Trace(np.arange(n) * period_s, p, n * period_s, loop=True, name="random")
