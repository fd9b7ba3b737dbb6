"""Load and save harvested-power traces, one module per source family (pvlib.iotools-style).

Formats (``format=`` or guessed from the suffix and the first lines):

``csv``         the project's CSV (:mod:`.project`): optional ``# key=value`` comment lines, then
                the header ``time_s,power_w``, then one ``time,power`` row per sample [s, W].
                ``# end_s=`` stores the end of the last interval (inferred as last time + median
                spacing when absent), ``# loop=true|false``, ``# name=``, ``# meta=<JSON object>``.
``parquet``     columns ``time_s``, ``power_w`` (float64); ``end_s``/``loop``/``name``/``meta``
                as JSON under the schema metadata key ``intersim``.
``npz``         arrays ``time_s``, ``power_w``, scalar ``end_s``; optional ``loop``, ``name``,
                ``meta`` (JSON string).
``tmy``         TMY3 (``.csv``) or TMY2 (``.tm2``) through ``pvlib.iotools`` (:mod:`.tmy`); GHI
                [W/m^2] -> harvested power with a :class:`~intersim.energy.harvester.PVConversion`.
``midc``        NREL MIDC CSV through ``pvlib.iotools.read_midc`` (:mod:`.midc`); the first
                ``Global ... [W/m^2]`` column, converted like ``tmy``.
``lux``         one illuminance value [lx] per line (:mod:`.lux`); ``period_s`` required.
                lx -> W/m^2 through a luminous efficacy, then the PV conversion.
``rf-voltage``  ``<time_ms> <voltage_V>`` per line (:mod:`.rf`), DC voltage across
                ``load_ohm``; P = V^2 / R.

Times of measured formats (tmy, midc, lux, rf-voltage) start at 0 s; the original start and the
conversion used (``meta["conversion"]``, one line with every constant) are in ``trace.meta``.
Errors are :class:`~intersim.errors.TraceError` naming the file and the 1-based ``line`` (text
files) or 1-based data ``row`` (Parquet, NPZ). Nothing is returned half-loaded. See docs/traces.md.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .. import harvester
from ...errors import TraceError
from ..trace import MAX_PLAUSIBLE_POWER_W, Trace
from .common import CSV_HEADER, DEFAULT_GAP_FACTOR, GAP_POLICIES, finite, is_number
from .lux import load_lux
from .midc import load_midc
from .project import SAVE_FORMATS, load_csv, load_npz, load_parquet, save_trace
from .rf import load_rf_voltage
from .tmy import load_tmy

#: Formats understood by :func:`load_trace`.
FORMATS = ("csv", "parquet", "npz", "tmy", "midc", "lux", "rf-voltage")
_LOADERS = {"csv": load_csv, "parquet": load_parquet, "npz": load_npz, "tmy": load_tmy,
            "midc": load_midc, "lux": load_lux, "rf-voltage": load_rf_voltage}


def load_trace(path, format: str | None = None, *, period_s: float | None = None,
               load_ohm: float | None = None, end_s: float | None = None, loop: bool | None = None,
               max_power_w: float = MAX_PLAUSIBLE_POWER_W, gap_factor: float = DEFAULT_GAP_FACTOR,
               gap_policy: str = "zero", area_m2: float = harvester.SMALL_CELL_AREA_M2,
               efficiency: float = harvester.SMALL_CELL_EFFICIENCY,
               efficacy_lm_per_w: float = harvester.DAYLIGHT_EFFICACY_LM_PER_W, pv_cell: str = "area",
               dark_threshold_w_m2: float | None = None) -> Trace:
    """Load a trace file as harvested power.

    Parameters
    ----------
    path : str or Path
    format : str, optional
        One of :data:`FORMATS`; guessed from the suffix and content when ``None``.
    period_s : float [s], optional
        Sample period; required for ``lux`` (the format does not store time).
    load_ohm : float [ohm], optional
        Load resistance across which ``rf-voltage`` was measured; required for that format.
    end_s : float [s], optional
        End of the last interval; overrides the file's. Default: stored, else inferred as the
        last time + the median spacing (a one-row file without it is refused).
    loop : bool, optional
        Repeat the trace; default as stored in the file, else ``False``.
    max_power_w : float [W]
        Plausibility bound: a larger sample is refused ("wrong units?").
    gap_factor : float [-]
        In ``tmy``/``midc``/``rf-voltage``, a step longer than ``gap_factor`` x the median step
        is a logging gap.
    gap_policy : {"zero", "split"}
        ``"zero"``: the sample before a gap holds for one median step, then power is 0 until the
        next sample. ``"split"``: cut the trace at every gap and return the longest piece (ties:
        the earliest); :func:`load_trace_pieces` returns all of them.
    area_m2, efficiency : float [m^2], [-]
        PV cell for irradiance and lux formats (:func:`intersim.energy.harvester.pv_power_w`).
    efficacy_lm_per_w : float [lm/W]
        Luminous efficacy for ``lux`` -> W/m^2 (and W/m^2 -> lux for an I-V cell preset).
    pv_cell : str
        ``"area"`` (area x efficiency) or a :data:`intersim.energy.harvester.CELLS` preset, whose
        I-V model at its maximum power point replaces area and efficiency.
    dark_threshold_w_m2 : float [W/m^2], optional
        Irradiance below it gives 0 W. Default: 5 W/m^2 for ``tmy``/``midc`` (a pyranometer's
        night offset), 0 for ``lux``.

    Returns
    -------
    Trace
    """
    pieces = _load(path, format, 3, period_s=period_s, load_ohm=load_ohm, end_s=end_s,
                   loop=loop, max_power_w=max_power_w, gap_factor=gap_factor,
                   gap_policy=gap_policy, area_m2=area_m2, efficiency=efficiency,
                   efficacy_lm_per_w=efficacy_lm_per_w, pv_cell=pv_cell,
                   dark_threshold_w_m2=dark_threshold_w_m2)
    if len(pieces) == 1:
        return pieces[0]
    longest = max(range(len(pieces)), key=lambda k: (pieces[k].duration_s, -k))
    return pieces[longest]


def load_trace_pieces(path, format: str | None = None, **kwargs) -> list[Trace]:
    """Like :func:`load_trace` but returns every piece (one unless ``gap_policy="split"``)."""
    return _load(path, format, 3, **kwargs)


def _load(path, format, stacklevel, **kwargs) -> list[Trace]:
    path = Path(path)
    opts = _options(path, **kwargs)
    _check_exists(path)
    fmt = guess_format(path) if format is None else _check_format(format, path)
    with warnings.catch_warnings(record=True) as caught:
        # Warnings are replayed only once the whole file has loaded: nothing half-loaded.
        warnings.simplefilter("always")
        pieces = _LOADERS[fmt](path, opts)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=stacklevel)
    return pieces


def guess_format(path) -> str:
    """Format of ``path`` from its suffix and, for text files, its first lines."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix == ".npz":
        return "npz"
    if suffix == ".tm2":
        return "tmy"
    _check_exists(path)
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        head = [ln.strip() for ln in fh.read(8192).splitlines()[:4]]
    first = next((ln for ln in head if ln and not ln.startswith("#")), "")
    if any(ln.startswith("#") for ln in head[:1]) or first == CSV_HEADER:
        return "csv"
    if first.upper().startswith("DATE (MM/DD/YYYY)"):
        return "midc"
    if len(head) > 1 and head[1].startswith("Date (MM/DD/YYYY)"):
        return "tmy"
    fields = first.split()
    if len(fields) == 2 and "," not in first and all(is_number(f) for f in fields):
        return "rf-voltage"
    if len(fields) == 1 and is_number(first):
        return "lux"
    raise TraceError(f"{path}: cannot tell the trace format from the suffix {suffix!r} and the first "
                     f"line {first[:60]!r}; pass format= one of {list(FORMATS)}")


def _options(path, *, period_s=None, load_ohm=None, end_s=None, loop=None,
             max_power_w=MAX_PLAUSIBLE_POWER_W, gap_factor=DEFAULT_GAP_FACTOR, gap_policy="zero",
             area_m2=harvester.SMALL_CELL_AREA_M2, efficiency=harvester.SMALL_CELL_EFFICIENCY,
             efficacy_lm_per_w=harvester.DAYLIGHT_EFFICACY_LM_PER_W, pv_cell="area",
             dark_threshold_w_m2=None) -> dict:
    for key, value, unit in (("period_s", period_s, "s"), ("load_ohm", load_ohm, "ohm"),
                             ("end_s", end_s, "s")):
        if value is not None and not (finite(value) and (key == "end_s" or value > 0)):
            raise TraceError(f"{path}: {key} {value!r} {unit} must be a finite number"
                             f"{'' if key == 'end_s' else ' > 0'}")
    for key, value, unit in (("max_power_w", max_power_w, "W"), ("gap_factor", gap_factor, "-"),
                             ("area_m2", area_m2, "m^2"), ("efficacy_lm_per_w", efficacy_lm_per_w, "lm/W")):
        if not (finite(value) and value > 0):
            raise TraceError(f"{path}: {key} {value!r} {unit} must be a finite number > 0")
    if not (finite(efficiency) and 0 < efficiency <= 1):
        raise TraceError(f"{path}: efficiency {efficiency!r} must be in (0, 1]")
    if pv_cell not in harvester.PV_MODELS:
        raise TraceError(f"{path}: pv_cell {pv_cell!r} is not one of {list(harvester.PV_MODELS)}")
    if dark_threshold_w_m2 is not None and not (finite(dark_threshold_w_m2) and dark_threshold_w_m2 >= 0):
        raise TraceError(f"{path}: dark_threshold_w_m2 {dark_threshold_w_m2!r} W/m^2 must be a finite number >= 0")
    if gap_policy not in GAP_POLICIES:
        raise TraceError(f"{path}: gap_policy {gap_policy!r} is not one of {list(GAP_POLICIES)}")
    if loop is not None and not isinstance(loop, (bool, np.bool_)):
        raise TraceError(f"{path}: loop {loop!r} must be True, False or None")
    return dict(period_s=period_s, load_ohm=load_ohm, end_s=end_s, loop=loop,
                max_power_w=float(max_power_w), gap_factor=float(gap_factor), gap_policy=gap_policy,
                area_m2=float(area_m2), efficiency=float(efficiency),
                efficacy_lm_per_w=float(efficacy_lm_per_w), pv_cell=pv_cell,
                dark_threshold_w_m2=None if dark_threshold_w_m2 is None else float(dark_threshold_w_m2))


def _check_format(fmt, path):
    if fmt not in FORMATS:
        raise TraceError(f"{path}: unknown trace format {fmt!r}; choose one of {list(FORMATS)}")
    return fmt


def _check_exists(path: Path):
    """Refuse a missing path, an empty name and a directory, each with what it is."""
    if str(path) in ("", "."):
        raise TraceError("trace file name is empty")
    if path.is_dir():
        raise TraceError(f"{path}: is a directory, not a trace file")
    if not path.is_file():
        raise TraceError(f"{path}: no such file" if not path.exists() else f"{path}: not a regular file")


__all__ = ["FORMATS", "SAVE_FORMATS", "DEFAULT_GAP_FACTOR", "GAP_POLICIES", "CSV_HEADER",
           "load_trace", "load_trace_pieces", "save_trace", "guess_format"]
