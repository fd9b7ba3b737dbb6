"""The harvested-power trace: piecewise-constant power over time.

``power_w[i]`` holds on ``[time_s[i], time_s[i+1])``; the last sample holds until ``end_s``.
A looping trace repeats with period ``end_s - time_s[0]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import TraceError

#: Default plausibility bound on harvested power [W]; above it a trace is refused ("wrong units?").
MAX_PLAUSIBLE_POWER_W = 10.0


@dataclass(frozen=True, eq=False)
class Trace:
    """Piecewise-constant harvested power.

    Parameters
    ----------
    time_s : array of float [s]
        Sample start times, strictly increasing.
    power_w : array of float [W]
        Harvested power at the harvester's electrical output, finite and >= 0.
    end_s : float [s]
        End of the last sample's interval; ``> time_s[-1]``.
    loop : bool
        Repeat the trace forever with period ``end_s - time_s[0]``.
    name : str
        Where the trace came from (file name or generator), used in messages.
    """

    time_s: np.ndarray
    power_w: np.ndarray
    end_s: float
    loop: bool = False
    name: str = "trace"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        t = np.ascontiguousarray(self.time_s, dtype=np.float64)
        p = np.ascontiguousarray(self.power_w, dtype=np.float64)
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "power_w", p)
        object.__setattr__(self, "end_s", float(self.end_s))
        validate_arrays(t, p, self.end_s, self.name, max_power_w=self.meta.get("max_power_w", MAX_PLAUSIBLE_POWER_W))
        t.setflags(write=False)
        p.setflags(write=False)

    # --- basic facts ------------------------------------------------------------------
    @property
    def start_s(self) -> float:
        """Time of the first sample [s]."""
        return float(self.time_s[0])

    @property
    def duration_s(self) -> float:
        """Length of one pass of the trace [s]."""
        return self.end_s - self.start_s

    @property
    def durations_s(self) -> np.ndarray:
        """Length of each piecewise-constant interval [s]."""
        return np.diff(np.append(self.time_s, self.end_s))

    def energy_j(self) -> float:
        """Harvested energy over one pass [J]."""
        return float(np.sum(self.power_w * self.durations_s))

    def mean_power_w(self) -> float:
        """Time-weighted mean power over one pass [W]."""
        return self.energy_j() / self.duration_s

    def max_power_w(self) -> float:
        """Largest sample [W]."""
        return float(self.power_w.max())

    def fraction_above(self, threshold_w: float) -> float:
        """Fraction of time with power strictly above ``threshold_w`` [W] (dimensionless)."""
        d = self.durations_s
        return float(d[self.power_w > threshold_w].sum() / d.sum())

    def stats(self, threshold_w: float = 1e-4) -> dict:
        """Summary statistics, keys carry units."""
        return {
            "name": self.name,
            "samples": int(self.time_s.size),
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "loop": self.loop,
            "mean_power_w": self.mean_power_w(),
            "max_power_w": self.max_power_w(),
            "energy_j": self.energy_j(),
            "threshold_w": threshold_w,
            "fraction_above_threshold": self.fraction_above(threshold_w),
        }

    def power_at(self, t_s):
        """Harvested power at time(s) ``t_s`` [s] -> [W] (0 outside a non-looping trace)."""
        t = np.asarray(t_s, dtype=np.float64)
        if self.loop:
            t = self.start_s + np.mod(t - self.start_s, self.duration_s)
        idx = np.searchsorted(self.time_s, t, side="right") - 1
        inside = (idx >= 0) & (t < self.end_s)
        out = np.where(inside, self.power_w[np.clip(idx, 0, None)], 0.0)
        return out if out.ndim else float(out)


    # --- derived traces (each result is a new, validated Trace) ---------------------------
    def _derived(self, time_s, power_w, end_s, loop=False, **meta) -> "Trace":
        return Trace(time_s, power_w, end_s, loop=loop, name=self.name, meta={**self.meta, **meta})

    def slice(self, t0_s: float, t1_s: float) -> "Trace":
        """The part of one pass on ``[t0_s, t1_s)`` [s], times unchanged, not looping.

        ``start_s <= t0_s < t1_s <= end_s`` is required; the first sample starts at ``t0_s``.
        """
        t0_s, t1_s = float(t0_s), float(t1_s)
        if not (self.start_s <= t0_s < t1_s <= self.end_s):
            raise TraceError(f"{self.name}: slice [{t0_s!r}, {t1_s!r}) s is not inside the trace "
                             f"[{self.start_s!r}, {self.end_s!r}] s with t0_s < t1_s")
        i0 = int(np.searchsorted(self.time_s, t0_s, side="right")) - 1
        i1 = int(np.searchsorted(self.time_s, t1_s, side="left"))
        t = self.time_s[i0:i1].copy()
        t[0] = t0_s
        return self._derived(t, self.power_w[i0:i1], t1_s)

    def cumulative_energy_j(self, t_s) -> np.ndarray:
        """Energy harvested from ``start_s`` to time(s) ``t_s`` within one pass [s] -> [J]."""
        edges = np.append(self.time_s, self.end_s)
        cum = np.concatenate(([0.0], np.cumsum(self.power_w * np.diff(edges))))
        # piecewise-constant power => cumulative energy is piecewise linear: exact interpolation
        return np.interp(np.asarray(t_s, dtype=np.float64), edges, cum)

    def resample(self, period_s: float) -> "Trace":
        """Average power over bins of ``period_s`` [s] from ``start_s``; energy is preserved.

        The last bin ends at ``end_s`` and may be shorter. ``loop`` and ``end_s`` are kept.
        """
        period_s = float(period_s)
        if not (np.isfinite(period_s) and period_s > 0):
            raise TraceError(f"{self.name}: resample period_s {period_s!r} s must be finite and > 0")
        n = int(np.ceil(self.duration_s / period_s))
        t = self.start_s + period_s * np.arange(n, dtype=np.float64)
        t = t[t < self.end_s]
        edges = np.append(t, self.end_s)
        energy = np.diff(self.cumulative_energy_j(edges))
        power = np.maximum(energy / np.diff(edges), 0.0)  # rounding can give -0.0 or -1e-30
        return self._derived(t, power, self.end_s, loop=self.loop, resampled_period_s=period_s)

    def concat(self, other: "Trace") -> "Trace":
        """``other`` appended after this trace: its first sample starts at ``self.end_s`` [s].

        Not looping; ``end_s`` grows by ``other.duration_s``.
        """
        shift = self.end_s - other.start_s
        t_other = other.time_s if shift == 0.0 else other.time_s + shift
        end_s = other.end_s if shift == 0.0 else self.end_s + other.duration_s
        return Trace(np.concatenate((self.time_s, t_other)),
                     np.concatenate((self.power_w, other.power_w)), end_s, loop=False,
                     name=f"{self.name}+{other.name}" if other.name != self.name else self.name,
                     meta={**other.meta, **self.meta})


def validate_arrays(time_s, power_w, end_s, name="trace", max_power_w=MAX_PLAUSIBLE_POWER_W,
                    row_label=None):
    """Refuse a bad trace with one line naming ``name`` and the offending row.

    Parameters
    ----------
    time_s, power_w : 1-D arrays of float [s], [W]
    end_s : float [s]
    name : str
        File or generator name echoed in messages.
    max_power_w : float [W]
        Plausibility bound; larger samples are refused ("wrong units?").
    row_label : callable ``int -> str``, optional
        Label of the sample at array index ``i`` in messages, e.g. ``"line 12"`` for a text
        file (1-based line number). Default ``"row i"`` with ``i`` the 0-based array index.
    """
    def row(i):
        return row_label(int(i)) if row_label is not None else f"row {i}"

    if time_s.ndim != 1 or power_w.ndim != 1 or time_s.size != power_w.size:
        raise TraceError(f"{name}: time_s and power_w must be 1-D arrays of equal length, "
                         f"got shapes {time_s.shape} and {power_w.shape}")
    if time_s.size == 0:
        raise TraceError(f"{name}: empty trace (no samples)")
    bad = np.flatnonzero(~np.isfinite(time_s))
    if bad.size:
        raise TraceError(f"{name}: {row(bad[0])}: time {float(time_s[bad[0]])!r} is not a finite number")
    bad = np.flatnonzero(~np.isfinite(power_w))
    if bad.size:
        raise TraceError(f"{name}: {row(bad[0])}: power {float(power_w[bad[0]])!r} W is not a finite number")
    bad = np.flatnonzero(power_w < 0)
    if bad.size:
        raise TraceError(f"{name}: {row(bad[0])}: negative power {float(power_w[bad[0]])!r} W (must be >= 0)")
    bad = np.flatnonzero(power_w > max_power_w)
    if bad.size:
        raise TraceError(f"{name}: {row(bad[0])}: power {float(power_w[bad[0]])!r} W above the plausibility "
                         f"bound {max_power_w} W (wrong units? milliwatts given as watts?)")
    bad = np.flatnonzero(np.diff(time_s) <= 0)
    if bad.size:
        i = bad[0] + 1
        raise TraceError(f"{name}: {row(i)}: time {float(time_s[i])!r} s is not after the previous row's "
                         f"{float(time_s[i - 1])!r} s (times must be strictly increasing)")
    if not np.isfinite(end_s) or end_s <= time_s[-1]:
        raise TraceError(f"{name}: end_s {end_s!r} s must be finite and after the last sample time "
                         f"{float(time_s[-1])!r} s")


def infer_end_s(time_s: np.ndarray, name: str = "trace") -> float:
    """End of the last interval when a file gives none: last time + the median sample spacing [s]."""
    if time_s.size < 2:
        raise TraceError(f"{name}: a one-row trace needs an explicit end_s (cannot infer the sample period)")
    return float(time_s[-1] + np.median(np.diff(time_s)))
