"""Typical-meteorological-year files (TMY3 ``.csv``, TMY2 ``.tm2``) through ``pvlib.iotools``."""
from __future__ import annotations

import numpy as np

from ...errors import TraceError
from .common import irradiance_to_power, line_label, seconds_since_first, timed_pieces


def load_tmy(path, opts):
    from ..generators import _import_pvlib  # one place names the optional dependency
    pvlib = _import_pvlib()
    import pandas as pd
    tm2 = path.suffix.lower() == ".tm2"
    try:
        if tm2:
            data, info = pvlib.iotools.read_tmy2(str(path))
            first_line = 2  # one header line
        else:
            # coerce_year makes the index increase monotonically (TMY months come from different
            # years); 1990 is not a leap year, like every TMY.
            data, info = pvlib.iotools.read_tmy3(str(path), coerce_year=1990, map_variables=True)
            first_line = 3  # site line + column header
    except Exception as exc:  # pvlib raises whatever pandas raises on a malformed file
        raise TraceError(f"{path}: not a readable TMY{'2' if tm2 else '3'} file "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    col = "ghi" if "ghi" in data.columns else ("GHI" if "GHI" in data.columns else None)
    if col is None:
        raise TraceError(f"{path}: TMY file has no GHI column (columns: {list(data.columns)[:8]} ...)")
    ghi = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=np.float64)
    if data.empty:
        raise TraceError(f"{path}: TMY file has no data rows")
    # TMY values are for the hour ENDING at the file's time stamp. read_tmy3 keeps that stamp
    # (01:00 for the first hour): shift it to the interval's start. read_tmy2 already stamps
    # hour h as h-1, the start.
    start = data.index if tm2 else data.index - pd.Timedelta(hours=1)
    if tm2:
        # TMY2 months come from different years: put every row in one (non-leap) year, as
        # read_tmy3's coerce_year does, so time increases monotonically.
        try:
            start = pd.DatetimeIndex([ts.replace(year=1990) for ts in start])
        except ValueError as exc:
            raise TraceError(f"{path}: TMY2 time stamps cannot be put in one year ({exc})") from None
    rows = np.arange(first_line + 1, first_line + 1 + len(data))
    label = line_label(rows)
    time_s = seconds_since_first(start)
    meta = {"format": "tmy3" if not tm2 else "tmy2", "start_time": start[0].isoformat(),
            "latitude": info.get("latitude"), "longitude": info.get("longitude"),
            "site": str(info.get("Name", info.get("City", ""))).strip('"')}
    power = irradiance_to_power(path, ghi, label, opts, meta, "GHI")
    return timed_pieces(path, time_s, power, rows, opts, meta)
