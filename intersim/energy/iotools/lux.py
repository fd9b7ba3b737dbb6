"""Illuminance logs: one value [lx] per line, the sample period given by the user."""
from __future__ import annotations

import numpy as np

from ...errors import TraceError
from .common import apply_pv, finish, line_label, parse_numbers, read_lines, split_rows


def load_lux(path, opts):
    if opts["period_s"] is None:
        raise TraceError(f"{path}: the lux format needs period_s (sample period [s]; "
                         f"the file does not state it), e.g. --period-s 60")
    lines = read_lines(path)
    (tok,), line_no = split_rows(path, lines, 0, None, 1, "illuminance")
    if not tok:
        raise TraceError(f"{path}: empty lux file (no values)")
    lux = parse_numbers(path, tok, line_no, "illuminance [lx]")
    label = line_label(line_no)
    bad = np.flatnonzero(~np.isfinite(lux))
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: illuminance {float(lux[bad[0]])!r} lx is not a finite number")
    bad = np.flatnonzero(lux < 0)
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: negative illuminance {float(lux[bad[0]])!r} lx (must be >= 0)")
    period = float(opts["period_s"])
    time_s = period * np.arange(lux.size, dtype=np.float64)
    meta = {"format": "lux", "period_s": period}
    power = apply_pv(lux / opts["efficacy_lm_per_w"], opts, meta, pyranometer=False, lux=True)
    opts = {**opts, "end_s": opts["end_s"] if opts["end_s"] is not None else period * lux.size}
    return [finish(path, time_s, power, label, opts, name=path.stem, meta=meta)]
