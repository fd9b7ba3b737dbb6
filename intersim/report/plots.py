"""Pictures people would rather look at than read."""
from __future__ import annotations

import numpy as np


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_comparison(results, path):
    """Capacitor voltage over time per scheduler (power failures and completed inferences
    marked), and the latency of every request per scheduler. Writes a PNG to ``path``."""
    plt = _pyplot()
    names = list(results.summary["scheduler"])
    n = len(names)
    fig = plt.figure(figsize=(12, 2.2 * n + 3.2), constrained_layout=True)
    grid = fig.add_gridspec(n + 1, 1, height_ratios=[1.0] * n + [1.3])
    tl, req = results.timeline, results.requests
    share = None
    for i, name in enumerate(names):
        ax = fig.add_subplot(grid[i, 0], sharex=share)
        share = share or ax
        seg = tl[tl["scheduler"] == name] if len(tl) else tl
        if len(seg):
            t = np.column_stack([seg["t_start_s"], seg["t_end_s"]]).ravel()
            v = np.column_stack([seg["v_start_v"], seg["v_end_v"]]).ravel()
            ax.plot(t, v, lw=0.7, color="tab:blue", label="capacitor voltage")
            st = seg["state"].to_numpy()
            fail = np.flatnonzero((st[1:] == "off") & (st[:-1] != "off")) + 1
            if fail.size:
                ax.plot(seg["t_start_s"].to_numpy()[fail], seg["v_start_v"].to_numpy()[fail], "x",
                        color="tab:red", ms=4, label=f"power failure ({fail.size})")
        r = req[(req["scheduler"] == name) & (req["status"] == "done")]
        for t_done in r["done_s"]:
            ax.axvline(t_done, color="tab:green", lw=0.6, alpha=0.6)
        row = results.summary[results.summary["scheduler"] == name].iloc[0]
        if row["verdict"] != "ok":
            ax.text(0.5, 0.5, f"{row['verdict']}: {row['verdict_detail']}", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, wrap=True, color="tab:red")
        ax.set_ylabel("V [V]")
        ax.set_title(f"{name}: {row['completed']}/{row['requests']} done, {row['power_failures']} power "
                     f"failures, p95 latency {row['latency_p95_s']:.3g} s (green: inference done)",
                     fontsize=9, loc="left")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=7)
        last = ax
    if n:
        last.set_xlabel("time [s]")
    ax = fig.add_subplot(grid[n, 0])
    for i, name in enumerate(names):
        lat = req[(req["scheduler"] == name)]["latency_s"].to_numpy()
        finite = lat[np.isfinite(lat)]
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, finite.size)
        ax.plot(np.full(finite.size, i) + jitter, finite, ".", ms=4, alpha=0.7)
        if finite.size:
            ax.plot([i - 0.3, i + 0.3], [np.median(finite)] * 2, color="k", lw=1.5)
        n_inf = int((~np.isfinite(lat)).sum())
        if n_inf:
            ax.annotate(f"{n_inf} not done", (i, 1), xycoords=("data", "axes fraction"), ha="center",
                        va="top", fontsize=8, color="tab:red")
    ax.set_xticks(range(n), names)
    ax.set_yscale("log")
    ax.set_ylabel("latency [s]")
    ax.set_title("end-to-end latency per request (bar: median)", fontsize=9, loc="left")
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
