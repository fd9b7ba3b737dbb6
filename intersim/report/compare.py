"""What a comparison says: each scheduler's mean latency parts and one line on who wins and why.

The numbers here are the ones the table prints and the figure draws: means over each scheduler's
completed requests, whose six parts add up to its ``latency_mean_s``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The parts of a request's latency (``requests.csv``), in the order they are stacked.
LATENCY_PARTS = ("queue_s", "off_s", "compute_s", "preserve_s", "restore_s", "reexecution_s")
#: How the parts are called in words (the table's last line, the figure's legend).
PART_LABELS = {"queue_s": "queue", "off_s": "off", "compute_s": "compute", "preserve_s": "preserve",
               "restore_s": "restore", "reexecution_s": "re-execution"}


def latency_parts_mean(requests: pd.DataFrame, names=None) -> pd.DataFrame:
    """Mean of each latency part over each scheduler's completed requests [s].

    Parameters
    ----------
    requests : DataFrame
        The requests table (``scheduler``, ``status`` and the columns of :data:`LATENCY_PARTS`).
    names : sequence of str, optional
        Schedulers (rows) in this order; default: their order of appearance.

    Returns
    -------
    DataFrame
        Index ``scheduler``, one column per part; NaN for a scheduler with nothing completed.
    """
    if names is None:
        names = list(dict.fromkeys(requests["scheduler"]))
    done = requests[requests["status"] == "done"]
    means = done.groupby("scheduler", sort=False)[list(LATENCY_PARTS)].mean()
    return means.reindex(list(names))


def is_ideal_supply(row) -> bool:
    """True for the ideal-supply reference (``continuous``): the only run fed by ``supply``."""
    v = row["energy_supply_j"]
    return bool(pd.notna(v) and v > 0.0)


def _compared(summary: pd.DataFrame):
    """Rows that compete: not the ideal supply, something completed, finite mean latency."""
    keep = [(not is_ideal_supply(row)) and pd.notna(row["completed"]) and row["completed"] > 0
            and pd.notna(row["latency_mean_s"]) and math.isfinite(row["latency_mean_s"])
            for _, row in summary.iterrows()]
    return summary[np.asarray(keep, dtype=bool)] if len(summary) else summary


def _losses(parts_row, best_row, total_s) -> str:
    """The parts in which a scheduler spends more than the fastest, largest first (at most three
    that account for at least 5 % of the difference each)."""
    diff = {p: parts_row[p] - best_row[p] for p in LATENCY_PARTS}
    big = sorted((-d, k, p) for k, (p, d) in enumerate(diff.items()) if d > 0.05 * max(total_s, 0.0) and d > 0.0)
    if not big:
        return "no part stands out"
    return ", ".join(f"{PART_LABELS[p]} +{-d:.3g} s" for d, _, p in big[:3])


def winner_line(summary: pd.DataFrame, requests: pd.DataFrame) -> str:
    """One line: which scheduler has the least mean latency, and where each other one loses its
    time (mean latency parts over completed requests, against the fastest's).

    The ideal supply (``continuous``) is the reference, not a competitor; a scheduler with nothing
    completed is named with its verdict. Means are over each scheduler's own completed requests:
    where a scheduler completed fewer, its count is given.
    """
    comp = _compared(summary)
    out = [row for _, row in summary.iterrows()
           if not is_ideal_supply(row) and row["scheduler"] not in set(comp["scheduler"])]
    left = "; ".join(f"{row['scheduler']} completed nothing ({row['verdict']})" for row in out)
    if comp.empty:
        return "who wins: none (no scheduler besides an ideal supply completed a request)" + (f"; {left}" if left else "")
    comp = comp.sort_values("latency_mean_s", kind="stable")
    parts = latency_parts_mean(requests, list(comp["scheduler"]))
    best = comp.iloc[0]
    n_max = int(comp["completed"].max())

    def count(row):
        return "" if int(row["completed"]) == n_max else f", {int(row['completed'])}/{int(row['requests'])} done"

    text = f"fastest: {best['scheduler']} (mean {best['latency_mean_s']:.3g} s{count(best)})"
    others = []
    for _, row in comp.iloc[1:].iterrows():
        d = row["latency_mean_s"] - best["latency_mean_s"]
        pct = 100.0 * d / best["latency_mean_s"] if best["latency_mean_s"] > 0 else math.inf
        where = _losses(parts.loc[row["scheduler"]], parts.loc[best["scheduler"]], d)
        others.append(f"{row['scheduler']} +{d:.3g} s (+{pct:.0f} %{count(row)}: {where})")
    if others:
        text += "; " + "; ".join(others)
    return text + (f"; {left}" if left else "")


__all__ = ["LATENCY_PARTS", "PART_LABELS", "latency_parts_mean", "is_ideal_supply", "winner_line"]
