"""The comparison figure of ``intersim run`` (``comparison.png``): who wins and why.

Top: per scheduler, the mean latency of its completed requests split into its parts (queue, off,
compute, preserve, restore, re-execution) with the table's numbers, and where the energy went.
Below: the harvested power over the run, and each capacitor's voltage with its power failures
and completed inferences. Every number drawn is one the table prints (``Results.table``).
"""
from __future__ import annotations

import math
import textwrap

import numpy as np

from .compare import LATENCY_PARTS, PART_LABELS, is_ideal_supply, latency_parts_mean, winner_line

#: Past this many events in one panel, power failures and completions are counted per time bin.
MAX_EVENT_MARKS = 300
#: Past this many timeline segments, a voltage trace is drawn as its per-bin min/max envelope.
MAX_SEGMENTS_DRAWN = 20_000
#: Time bins of the aggregated panels.
TIME_BINS = 600
#: Runs longer than this [s] get an hours axis.
HOURS_AXIS_ABOVE_S = 2 * 3600.0

PART_COLORS = {"queue_s": "#bbbbbb", "off_s": "#4c72b0", "compute_s": "#55a868", "preserve_s": "#dd8452",
               "restore_s": "#8172b3", "reexecution_s": "#c44e52"}
#: Loads at the MCU pin drawn in the energy panel: label -> (summary column, colour).
ENERGY_LOADS = {
    "compute": ("energy_compute_j", "#55a868"),
    "preserve": ("energy_checkpoint_j", "#dd8452"),
    "restore": ("energy_restore_j", "#8172b3"),
    "boot": ("energy_boot_j", "#937860"),
    "re-execution": ("energy_reexecution_j", "#c44e52"),
    "sleep": ("energy_sleep_j", "#64b5cd"),
}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _label(row) -> str:
    return f"{row['scheduler']}\n(ideal supply)" if is_ideal_supply(row) else str(row["scheduler"])


def _nothing_text(row) -> str:
    detail = str(row.get("verdict_detail") or "")
    detail = textwrap.shorten(detail, 90, placeholder=" ...") if detail else ""
    return f"{row['verdict']}: nothing completed" + (f" ({detail})" if detail else "")


def _latency_panel(ax, summary, requests):
    """Stacked mean latency parts per scheduler, annotated with the table's numbers."""
    rows = list(summary.iterrows())
    parts = latency_parts_mean(requests, list(summary["scheduler"]))
    y = np.arange(len(rows))[::-1]
    span = max([r["latency_mean_s"] for _, r in rows if r["completed"] > 0] or [1.0])
    for (_, row), yi in zip(rows, y):
        if row["completed"] == 0 or not math.isfinite(row["latency_mean_s"]):
            ax.text(0.01 * span, yi, _nothing_text(row), va="center", fontsize=7.5, color="tab:red")
            continue
        left = 0.0
        for p in LATENCY_PARTS:
            w = max(float(parts.loc[row["scheduler"], p]), 0.0)
            ax.barh(yi, w, left=left, height=0.6, color=PART_COLORS[p],
                    label=PART_LABELS[p] if yi == y[0] or not ax.get_legend_handles_labels()[0] else None)
            left += w
        pub = row.get("published_s", float("nan"))
        published = f", published {pub:.4g} s" if math.isfinite(pub) else ""
        if published:  # a scenario's [reference]: the published figure as a tick on the bar
            ax.plot([pub, pub], [yi - 0.4, yi + 0.4], color="black", lw=2,
                    label="published" if "published" not in ax.get_legend_handles_labels()[1] else None)
            span = max(span, pub)
        ax.text(max(left, pub if published else 0.0) + 0.01 * span, yi,
                f"mean {row['latency_mean_s']:.3g} s, p50 {row['latency_done_p50_s']:.3g}, "
                f"p95 {row['latency_done_p95_s']:.3g} ({row['completed']}/{row['requests']} done){published}",
                va="center", fontsize=7.5)
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    if uniq:
        ax.legend(uniq.values(), uniq.keys(), loc="lower right", fontsize=7, ncol=3, frameon=True)
    ax.set_yticks(y, [_label(r) for _, r in rows], fontsize=8)
    ax.set_xlim(0, span * 1.75)
    ax.set_ylim(-0.8 - (0.9 if uniq else 0), len(rows) - 0.4)
    ax.set_xlabel("mean latency of completed requests [s] (p50/p95: completed only)")
    ax.set_title("where the latency goes", fontsize=9, loc="left")


def _energy_panel(ax, summary):
    """The energy of each load at the MCU pin per completed inference [mJ] (the summary's books
    over ``completed``): what a scheduler's overheads cost, hence its extra recharging time."""
    rows = list(summary.iterrows())
    y = np.arange(len(rows))[::-1]
    seen = set()
    span = 0.0
    for (_, row), yi in zip(rows, y):
        if row["completed"] == 0:
            ax.text(0.0, yi, " nothing completed", va="center", fontsize=7.5, color="tab:red")
            continue
        left = 0.0
        for label, (col, color) in ENERGY_LOADS.items():
            v = 1e3 * float(row[col]) / row["completed"]
            if not v > 0.0:
                continue
            ax.barh(yi, v, left=left, height=0.6, color=color, label=None if label in seen else label)
            seen.add(label)
            left += v
        span = max(span, left)
        src = "supplied" if is_ideal_supply(row) else "harvested"
        total = 1e3 * (row["energy_supply_j"] if is_ideal_supply(row) else row["energy_harvested_j"])
        ax.text(left, yi, f" {left:.3g} mJ ({total:.3g} mJ {src} in all)", va="center", fontsize=7.5)
    ax.set_yticks(y, [_label(r) for _, r in rows], fontsize=8)
    ax.set_xlim(0, 1.6 * span if span > 0 else 1.0)
    ax.set_ylim(-0.8 - (0.9 if seen else 0), len(rows) - 0.4)
    if seen:
        ax.legend(loc="lower right", fontsize=7, ncol=3, frameon=True)
    ax.set_xlabel("energy per completed inference at the MCU pin [mJ]")
    ax.set_title("where the energy goes", fontsize=9, loc="left")


def _time_scale(t0_s, t1_s):
    return (3600.0, "time [h]") if t1_s - t0_s > HOURS_AXIS_ABOVE_S else (1.0, "time [s]")


def _harvest_panel(ax, trace, t0_s, t1_s, scale, eta_in, source=None):
    """The harvested power over the run, as its mean per bin (exact, from the cumulative energy)."""
    if trace is None:
        ax.text(0.5, 0.5, "no trace", transform=ax.transAxes, ha="center")
        return
    edges = np.linspace(t0_s, t1_s, TIME_BINS + 1)
    start, dur = trace.start_s, trace.duration_s
    e_pass = float(trace.cumulative_energy_j(trace.end_s))

    def cum(t):
        if trace.loop:
            n, r = np.divmod(t - start, dur)
            return n * e_pass + trace.cumulative_energy_j(start + r)
        return trace.cumulative_energy_j(np.clip(t, start, trace.end_s))

    p_w = np.diff(cum(edges)) / np.diff(edges)
    k, unit = (1e3, "mW") if np.nanmax(p_w, initial=0.0) >= 1e-4 else (1e6, "uW")
    ax.stairs(k * p_w, edges / scale, fill=True, color="#f0a030", alpha=0.8,
              label=f"harvested power (mean per {(t1_s - t0_s) / TIME_BINS:.3g} s bin)")
    mean_w = (cum(np.array([t1_s])) - cum(np.array([t0_s])))[0] / (t1_s - t0_s)
    ax.axhline(k * mean_w, color="k", lw=0.7, ls="--", label=f"mean {k * mean_w:.3g} {unit}")
    ax.set_ylabel(f"harvest [{unit}]")
    title = f"harvested power, trace {trace.name}"
    if eta_in is not None:
        title += f" (into the capacitor through an input efficiency of {eta_in:.2g})"
    if source:
        title += f"; plus {source} (not drawn; its energy counts as harvested in the books)"
    ax.set_title(title, fontsize=9, loc="left")
    ax.legend(loc="upper right", fontsize=7)


def _source_text(storage):
    """The storage's non-harvest source in words (a Thevenin or constant-current source), or None."""
    if storage is None:
        return None
    if math.isfinite(getattr(storage, "source_resistance_ohm", math.inf)):
        return (f"a Thevenin source of {storage.source_voltage_v:g} V behind "
                f"{storage.source_resistance_ohm:g} Ohm")
    if getattr(storage, "source_current_a", 0.0) > 0:
        return f"a constant {storage.source_current_a * 1e3:g} mA source"
    return None


def _event_times(seg):
    st = seg["state"].to_numpy()
    t = seg["t_start_s"].to_numpy()
    fail = np.flatnonzero((st[1:] == "off") & (st[:-1] != "off")) + 1
    return t[fail]


def _voltage_panel(ax, seg, done_s, row, t0_s, t1_s, scale, storage):
    """One scheduler's capacitor voltage, power failures and completed inferences."""
    t = np.column_stack([seg["t_start_s"], seg["t_end_s"]]).ravel()
    v = np.column_stack([seg["v_start_v"], seg["v_end_v"]]).ravel()
    if len(seg) > MAX_SEGMENTS_DRAWN:
        edges = np.linspace(t0_s, t1_s, TIME_BINS + 1)
        k = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, TIME_BINS - 1)
        vmin = np.full(TIME_BINS, np.nan)
        vmax = np.full(TIME_BINS, np.nan)
        np.fmin.at(vmin, k, v)
        np.fmax.at(vmax, k, v)
        ax.fill_between(edges[:-1] / scale, vmin, vmax, step="post", color="tab:blue", alpha=0.6, lw=0,
                        label="voltage (min-max per bin)")
    else:
        ax.plot(t / scale, v, lw=0.6, color="tab:blue", label="capacitor voltage")
    if storage is not None:
        for val in (storage.v_on_v, storage.v_off_v):
            ax.axhline(val, color="k", lw=0.4, ls=":")
        ax.set_yticks([0.0, storage.v_off_v, storage.v_on_v, storage.v_max_v],
                      ["0", f"V_off {storage.v_off_v:g}", f"V_on {storage.v_on_v:g}", f"{storage.v_max_v:g}"],
                      fontsize=7)
    fails = _event_times(seg)
    # a scheduler may switch itself off (``PowerOff``): those offs are not power failures
    n_pf = row["power_failures"]
    off_what = ("power failures" if fails.size == n_pf else
                f"offs ({n_pf} power failures, {fails.size - n_pf} switched off by the scheduler)")
    if fails.size + done_s.size > MAX_EVENT_MARKS:
        edges = np.linspace(t0_s, t1_s, TIME_BINS + 1)
        tw = ax.twinx()
        for times, color, what in ((fails, "tab:red", off_what), (done_s, "tab:green", "completed")):
            counts, _ = np.histogram(times, edges)
            tw.stairs(counts, edges / scale, color=color, lw=0.8, label=f"{what} per bin ({times.size})")
        tw.set_ylabel("per bin", fontsize=7)
        tw.tick_params(labelsize=7)
        tw.legend(loc="upper left", fontsize=6.5)
    else:
        vmark = storage.v_max_v if storage is not None else float(np.nanmax(v))
        if fails.size:
            ax.plot(fails / scale, np.full(fails.size, storage.v_off_v if storage else 0.0), "x",
                    color="tab:red", ms=4, label=f"{off_what} ({fails.size})" if fails.size != n_pf
                    else f"power failure ({fails.size})")
        if done_s.size:
            ax.plot(done_s / scale, np.full(done_s.size, vmark * 1.04), "v", color="tab:green", ms=4,
                    label=f"inference done ({done_s.size})")
    ax.set_ylabel("V [V]")
    ax.set_title(f"{row['scheduler']}: {row['completed']}/{row['requests']} done, "
                 f"{row['power_failures']} power failures", fontsize=8.5, loc="left")
    ax.legend(loc="lower right", fontsize=6.5, ncol=3)


def plot_comparison(results, path):
    """Write the comparison figure of ``results`` (:class:`~intersim.report.results.Results`) to
    ``path`` (PNG). Never fails on a run in which nothing completed: such a scheduler gets a
    panel that says so."""
    plt = _pyplot()
    summary, req, tl = results.summary, results.requests, results.timeline
    setting = getattr(results, "setting", None) or {}
    n = len(summary)
    volt_rows = [row for _, row in summary.iterrows()
                 if not is_ideal_supply(row) and row["scheduler"] in set(tl["scheduler"] if len(tl) else ())]
    no_tl = [row for _, row in summary.iterrows()
             if not is_ideal_supply(row) and row["scheduler"] not in {r["scheduler"] for r in volt_rows}]
    t0_s = setting.get("t0_s", float(req["arrival_s"].min()) if len(req) else 0.0)
    t1_s = setting.get("horizon_s", float(tl["t_end_s"].max()) if len(tl) else t0_s + 1.0)
    t1_s = max(t1_s, t0_s + 1e-9)
    scale, xlabel = _time_scale(t0_s, t1_s)
    heights = [0.42 * n + 1.6, 1.5] + [1.05] * len(volt_rows) + ([0.45] if no_tl else [])
    fig = plt.figure(figsize=(14, sum(heights) + 1.0), constrained_layout=True)
    grid = fig.add_gridspec(len(heights), 2, height_ratios=heights)
    _latency_panel(fig.add_subplot(grid[0, 0]), summary, req)
    _energy_panel(fig.add_subplot(grid[0, 1]), summary)
    ax_h = fig.add_subplot(grid[1, :])
    storage = setting.get("storage")
    _harvest_panel(ax_h, setting.get("trace"), t0_s, t1_s, scale,
                   getattr(storage, "input_efficiency", None), _source_text(storage))
    last = ax_h
    for k, row in enumerate(volt_rows):
        ax = fig.add_subplot(grid[2 + k, :], sharex=ax_h)
        seg = tl[tl["scheduler"] == row["scheduler"]]
        done = req[(req["scheduler"] == row["scheduler"]) & (req["status"] == "done")]["done_s"].to_numpy()
        _voltage_panel(ax, seg, done, row, t0_s, t1_s, scale, storage)
        last = ax
    if no_tl:
        ax = fig.add_subplot(grid[-1, :])
        ax.axis("off")
        ax.text(0.0, 0.5, "no voltage trace: " + "; ".join(
            f"{r['scheduler']} ({r['verdict']}, {r['completed']}/{r['requests']} done)" for r in no_tl),
            transform=ax.transAxes, fontsize=8, va="center", color="tab:red")
    last.set_xlabel(xlabel)
    ax_h.set_xlim(t0_s / scale, t1_s / scale)
    fig.suptitle("\n".join(textwrap.wrap(winner_line(summary, req), 190)), fontsize=9, x=0.01, ha="left")
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
