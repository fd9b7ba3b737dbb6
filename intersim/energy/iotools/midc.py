"""NREL MIDC irradiance files through ``pvlib.iotools.read_midc``."""
from __future__ import annotations

import numpy as np

from ...errors import TraceError
from .common import irradiance_to_power, line_label, seconds_since_first, timed_pieces


def load_midc(path, opts):
    from ..generators import _import_pvlib
    pvlib = _import_pvlib()
    import pandas as pd
    try:
        data = pvlib.iotools.read_midc(str(path))
    except Exception as exc:  # pvlib/pandas raise many types on a malformed file
        raise TraceError(_midc_diagnose(path) or f"{path}: not a readable MIDC file "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    cols = [c for c in data.columns if "global" in c.lower() and "w/m" in c.lower()]
    if not cols:
        raise TraceError(f"{path}: no 'Global ... [W/m^2]' irradiance column in {list(data.columns)}")
    if data.empty:
        raise TraceError(f"{path}: empty MIDC file (header only)")
    rows = np.arange(2, 2 + len(data))  # line 1 is the header
    label = line_label(rows)
    raw = data[cols[0]]
    ghi = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(ghi) & raw.notna().to_numpy())
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: {cols[0]} value {raw.iloc[bad[0]]!r} is not a number")
    time_s = seconds_since_first(data.index)
    order = np.flatnonzero(np.diff(time_s) <= 0)
    if order.size:
        i = order[0] + 1
        raise TraceError(f"{path}: {label(i)}: time stamp {data.index[i]} is not after the previous "
                         f"row's {data.index[i - 1]} (times must be strictly increasing)")
    meta = {"format": "midc", "column": cols[0], "start_time": data.index[0].isoformat()}
    power = irradiance_to_power(path, ghi, label, opts, meta, "irradiance")
    return timed_pieces(path, time_s, power, rows, opts, meta)


def _midc_diagnose(path):
    """Name the first MIDC row whose date/time does not parse (pvlib's error does not)."""
    import pandas as pd
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception:
        return None
    if raw.shape[1] < 3 or raw.columns[0].upper() != "DATE (MM/DD/YYYY)":
        return (f"{path}: line 1: MIDC header {','.join(raw.columns)[:60]!r} must start with "
                f"'DATE (MM/DD/YYYY),<timezone>,' and have an irradiance column")
    stamp = pd.to_datetime(raw.iloc[:, 0] + " " + raw.iloc[:, 1], format="%m/%d/%Y %H:%M", errors="coerce")
    bad = np.flatnonzero(stamp.isna().to_numpy())
    if bad.size:
        i = bad[0]
        return (f"{path}: line {i + 2}: date/time {raw.iloc[i, 0]!r} {raw.iloc[i, 1]!r} does not parse "
                f"as MM/DD/YYYY HH:MM")
    return None
