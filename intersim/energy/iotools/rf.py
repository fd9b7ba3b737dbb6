"""RF harvester voltage logs: ``<time_ms> <voltage_V>`` across a known load, P = V^2 / R."""
from __future__ import annotations

import warnings

import numpy as np

from ...errors import TraceError
from .common import line_label, parse_numbers, read_lines, split_rows, timed_pieces


def load_rf_voltage(path, opts):
    if opts["load_ohm"] is None:
        raise TraceError(f"{path}: the rf-voltage format needs load_ohm (the resistance [ohm] the "
                         f"voltage was measured across; Mementos WISP traces: 30e3), e.g. --load-ohm 30e3")
    lines = read_lines(path)
    (t_tok, v_tok), line_no = split_rows(path, lines, 0, None, 2, "whitespace-separated <time_ms> <voltage_V>")
    if not t_tok:
        raise TraceError(f"{path}: empty rf-voltage file (no '<time_ms> <voltage_V>' rows)")
    t_ms = parse_numbers(path, t_tok, line_no, "time_ms")
    volt = parse_numbers(path, v_tok, line_no, "voltage_V")
    label = line_label(line_no)
    for what, arr, unit in (("time", t_ms, "ms"), ("voltage", volt, "V")):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise TraceError(f"{path}: {label(bad[0])}: {what} {float(arr[bad[0]])!r} {unit} is not a finite number")
    bad = np.flatnonzero(volt < 0)
    if bad.size:
        raise TraceError(f"{path}: {label(bad[0])}: negative voltage {float(volt[bad[0]])!r} V (the trace is "
                         f"DC after the rectifier: must be >= 0)")
    keep = longest_increasing(t_ms)
    meta = {"format": "rf-voltage", "load_ohm": float(opts["load_ohm"]), "dropped_out_of_order": 0,
            "conversion": f"P = V^2 / {float(opts['load_ohm']):g} Ohm (DC voltage across the load)"}
    if keep.size != t_ms.size:
        dropped = np.setdiff1d(np.arange(t_ms.size), keep)
        meta["dropped_out_of_order"] = int(dropped.size)
        first = dropped[0]
        warnings.warn(f"{path}: dropped {dropped.size} out-of-order sample(s) (time not after its "
                      f"neighbours), first at {label(first)} (time {float(t_ms[first])!r} ms)", stacklevel=3)
        t_ms, volt, line_no = t_ms[keep], volt[keep], line_no[keep]
    meta["start_time_ms"] = float(t_ms[0])
    time_s = (t_ms - t_ms[0]) * 1e-3
    power = volt * volt / float(opts["load_ohm"])
    return timed_pieces(path, time_s, power, line_no, opts, meta)


def longest_increasing(t: np.ndarray) -> np.ndarray:
    """Indices of a longest strictly increasing subsequence: dropping the fewest samples fixes
    the order (one misstamped sample costs one sample, not the run it jumps over)."""
    if t.size < 2 or np.all(np.diff(t) > 0):
        return np.arange(t.size)
    import bisect
    tails, tails_idx, parent = [], [], np.full(t.size, -1)
    for i, x in enumerate(t.tolist()):
        k = bisect.bisect_left(tails, x)
        if k == len(tails):
            tails.append(x)
            tails_idx.append(i)
        else:
            tails[k] = x
            tails_idx[k] = i
        parent[i] = tails_idx[k - 1] if k else -1
    out, i = [], tails_idx[-1]
    while i >= 0:
        out.append(i)
        i = parent[i]
    return np.array(out[::-1])
