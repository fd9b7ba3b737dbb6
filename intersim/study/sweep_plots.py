"""Pictures of a sweep: latency, completion rate, energy breakdown and power failures per
inference against capacitance (or the sweep's first numeric axis), one line per scheduler."""
from __future__ import annotations

from pathlib import Path

import numpy as np

CAPACITANCE = "storage.capacitance_f"
#: Energy-book outputs drawn as stacked bars, per completed inference: what the node spends.
#: Left out: harvest never stored (clamped at V_max, converter input loss), which dwarfs the rest
#: when the capacitor is full and says nothing about the scheduler, and the stored-energy change.
ENERGY_PARTS = ("energy_compute_j", "energy_checkpoint_j", "energy_restore_j", "energy_boot_j",
                "energy_reexecution_j", "energy_sleep_j", "energy_leakage_j", "energy_output_loss_j",
                "energy_esr_j")
MAX_BARS = 12


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _x_axis(df, keys):
    """(column, label, log) of the x axis: capacitance if swept, else the first numeric axis
    with more than one value, else the point index."""
    cands = ([CAPACITANCE] if CAPACITANCE in keys else []) + [k for k in keys if k != CAPACITANCE]
    for k in cands:
        if k in df and df[k].dtype.kind in "fiu" and df[k].nunique() > 1:
            x = df[k].astype(float)
            log = bool((x > 0).all() and x.max() / x.min() > 20)
            label = "capacitance [uF]" if k == CAPACITANCE else k
            return k, label, log
    return "point", "point", False


def _x_values(df, col):
    x = df[col].astype(float).to_numpy()
    return x * 1e6 if col == CAPACITANCE else x


def _groups(df, keys, xcol):
    """One line per scheduler and combination of the other swept keys."""
    others = [k for k in keys if k != xcol and k in df and df[k].nunique() > 1]
    by = ["scheduler"] + others
    for name, sub in df.groupby(by, sort=False, dropna=False):
        name = name if isinstance(name, tuple) else (name,)
        label = name[0] + "".join(f", {k}={v}" for k, v in zip(others, name[1:]))
        yield label, sub.sort_values(xcol)


def _mark_not_ok(ax, sub, xcol, color):
    """Points without a usable value (verdict not ok) as crosses along the bottom."""
    bad = sub[sub["verdict"] != "ok"]
    if len(bad):
        ax.plot(_x_values(bad, xcol), np.zeros(len(bad)), "x", color=color, ms=5, clip_on=False,
                transform=ax.get_xaxis_transform())


def plot_sweep(df, out_dir, keys=(), title="") -> list[Path]:
    """Write the sweep's PNG files into ``out_dir``; returns their paths.

    ``df``: :func:`intersim.study.sweep.load_results`; ``keys``: the swept keys (columns)."""
    plt = _pyplot()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(keys)
    axis = _x_axis(df, keys)
    return [figure(plt, df, keys, axis, title, out)
            for figure in (_latency_png, _completion_png, _failures_png, _energy_png)]


_NOT_OK = "x at the bottom: verdict not ok (infeasible, starved, error, ...)"


def _latency_png(plt, df, keys, axis, title, out):
    """Latency p50 / p95 per scheduler (and other swept keys) against x."""
    xcol, xlabel, xlog = axis
    fig, ax = plt.subplots(figsize=(9, 5.5), constrained_layout=True)
    for i, (label, sub) in enumerate(_groups(df, keys, xcol)):
        color = f"C{i % 10}"
        x = _x_values(sub, xcol)
        for col, style, what in (("latency_p95_s", "-", "p95"), ("latency_p50_s", "--", "p50")):
            y = sub[col].astype(float).to_numpy()
            y = np.where(np.isfinite(y) & (sub["verdict"] == "ok").to_numpy(), y, np.nan)
            ax.plot(x, y, style, marker="o", ms=3, color=color, label=f"{label} {what}")
        _mark_not_ok(ax, sub, xcol, color)
    ax.set_yscale("log")
    ax.set_ylabel("latency [s] (solid p95, dashed p50)")
    _finish(ax, xlabel, xlog, f"{title}: latency vs {xlabel}\n{_NOT_OK}")
    return _save(fig, out / "latency.png", plt)


def _completion_png(plt, df, keys, axis, title, out):
    """Completion rate against x."""
    xcol, xlabel, xlog = axis
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for i, (label, sub) in enumerate(_groups(df, keys, xcol)):
        ax.plot(_x_values(sub, xcol), sub["completion_rate"].astype(float), "-o", ms=3,
                color=f"C{i % 10}", label=label)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("completion rate (completed / requests)")
    _finish(ax, xlabel, xlog, f"{title}: completion rate vs {xlabel}")
    return _save(fig, out / "completion_rate.png", plt)


def _failures_png(plt, df, keys, axis, title, out):
    """Power failures per completed inference against x."""
    xcol, xlabel, xlog = axis
    fig, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    for i, (label, sub) in enumerate(_groups(df, keys, xcol)):
        done = sub["completed"].astype(float).to_numpy()
        pf = sub["power_failures"].astype(float).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(done > 0, pf / done, np.nan)
        ax.plot(_x_values(sub, xcol), y, "-o", ms=3, color=f"C{i % 10}", label=label)
        _mark_not_ok(ax, sub, xcol, f"C{i % 10}")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylabel("power failures per completed inference")
    _finish(ax, xlabel, xlog, f"{title}: power failures per inference vs {xlabel}\n{_NOT_OK}")
    return _save(fig, out / "power_failures.png", plt)


def _energy_png(plt, df, keys, axis, title, out):
    """Energy breakdown: one panel per scheduler, stacked bars at up to MAX_BARS x values."""
    xcol, xlabel, _ = axis
    names = list(dict.fromkeys(df["scheduler"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.4 * len(names) + 1.2), squeeze=False,
                             constrained_layout=True)
    xs = np.sort(df[xcol].astype(float).unique())
    if len(xs) > MAX_BARS:
        xs = xs[np.unique(np.linspace(0, len(xs) - 1, MAX_BARS).round().astype(int))]
    for ax, name in zip(axes[:, 0], names):
        _energy_panel(ax, df[(df["scheduler"] == name) & df[xcol].astype(float).isin(xs)], xcol, xs,
                      plt.get_cmap("tab10").colors)
        ax.set_title(name, loc="left", fontsize=9)
    axes[-1, 0].set_xlabel(xlabel)
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    fig.suptitle(f"{title}: energy the node spends per completed inference, per scheduler\n"
                 "(harvest clamped at V_max and converter input loss not shown)", fontsize=10)
    return _save(fig, out / "energy_breakdown.png", plt)


def _energy_panel(ax, sub, xcol, xs, colors):
    """One scheduler's stacked energy per completed inference [mJ] at ``xs`` (with other swept
    keys, the mean over them at each x); a verdict other than ok is written on its bar."""
    done = sub["completed"].astype(float).to_numpy()
    per = sub[list(ENERGY_PARTS)].astype(float).div(np.where(done > 0, done, np.nan), axis=0) * 1e3
    means = per.groupby(sub[xcol].astype(float).to_numpy()).mean().reindex(xs)
    bottom = np.zeros(len(xs))
    pos = np.arange(len(xs))
    for j, part in enumerate(ENERGY_PARTS):
        v = means[part].fillna(0.0).to_numpy()
        ax.bar(pos, v, bottom=bottom, color=colors[j % len(colors)], label=part[len("energy_"):-2].replace("_", " "))
        bottom += v
    verdicts = sub.groupby(sub[xcol].astype(float))["verdict"].first().reindex(xs)
    for p, v in zip(pos, verdicts):
        if isinstance(v, str) and v != "ok":
            ax.text(p, 0, v, rotation=90, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(pos)
    ax.set_xticklabels([f"{x * 1e6:.3g}" if xcol == CAPACITANCE else f"{x:.3g}" for x in xs], fontsize=8)
    ax.set_ylabel("mJ / inference")


def _finish(ax, xlabel, xlog, title):
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9, loc="left")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="best")


def _save(fig, path: Path, plt) -> Path:
    import os
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


__all__ = ["plot_sweep"]
