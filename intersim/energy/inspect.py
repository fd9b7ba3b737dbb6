"""``intersim trace inspect FILE``: load a trace, print its statistics, plot power vs time.

The CLI wires :func:`add_arguments` and :func:`run` into a subcommand; ``run`` returns the exit
status (0 ok, 2 refused file: one ``error: ...`` line on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ..errors import IntersimError
from . import harvester
from .trace_io import DEFAULT_GAP_FACTOR, FORMATS, GAP_POLICIES, load_trace

#: Default ``--threshold-w``: this fraction of the trace's maximum power (a fixed 100 uW said
#: "0 %" for an indoor trace that never exceeds 47 uW).
DEFAULT_THRESHOLD_FRACTION = 0.1


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``trace inspect`` arguments to ``parser``."""
    parser.add_argument("file", metavar="FILE", type=Path, help="trace file to inspect")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format (default: guessed from the suffix and content)")
    parser.add_argument("--period-s", type=float, default=None, metavar="P",
                        help="sample period [s]; required for --format lux")
    parser.add_argument("--load-ohm", type=float, default=None, metavar="R",
                        help="load resistance [ohm]; required for --format rf-voltage")
    parser.add_argument("--threshold-w", type=float, default=None, metavar="W",
                        help="report the fraction of time with power above W [W] (default: "
                             f"{DEFAULT_THRESHOLD_FRACTION:.0%} of the trace's maximum power)")
    parser.add_argument("--pv-cell", choices=harvester.PV_MODELS, default="area",
                        help="irradiance/lux formats: 'area' (area x efficiency) or a cell preset's I-V model")
    parser.add_argument("--pv-area-m2", type=float, default=harvester.SMALL_CELL_AREA_M2, metavar="A",
                        help=f"PV cell area [m^2] (default {harvester.SMALL_CELL_AREA_M2:g})")
    parser.add_argument("--pv-efficiency", type=float, default=harvester.SMALL_CELL_EFFICIENCY, metavar="E",
                        help=f"PV efficiency at the MPP [-] (default {harvester.SMALL_CELL_EFFICIENCY:g})")
    parser.add_argument("--lux-efficacy-lm-per-w", type=float, default=harvester.DAYLIGHT_EFFICACY_LM_PER_W,
                        metavar="K", help="luminous efficacy [lm/W] between lux and W/m^2 "
                                          f"(default {harvester.DAYLIGHT_EFFICACY_LM_PER_W:g}, daylight)")
    parser.add_argument("--dark-threshold-w-m2", type=float, default=None, metavar="G",
                        help="irradiance below G [W/m^2] is dark (default: "
                             f"{harvester.PYRANOMETER_DARK_THRESHOLD_W_M2:g} for tmy/midc, 0 for lux)")
    parser.add_argument("--gap-factor", type=float, default=DEFAULT_GAP_FACTOR, metavar="F",
                        help="a step longer than F x the median step is a logging gap")
    parser.add_argument("--gap-policy", choices=GAP_POLICIES, default="zero",
                        help="zero: no power in a gap; split: keep the longest gap-free piece")
    parser.add_argument("--out", type=Path, default=None, metavar="PNG",
                        help="save a plot of power vs time to PNG")
    return parser


def conversion_text(trace) -> str:
    """How the file became harvested power (one line, every constant with its unit)."""
    return (trace.meta or {}).get("conversion") or "none: the file holds harvested power [W]"


def format_stats(stats: dict, threshold_note: str = "") -> str:
    """Human-readable lines for :meth:`intersim.energy.trace.Trace.stats`."""
    return "\n".join([
        f"trace:            {stats['name']}",
        f"samples:          {stats['samples']}",
        f"duration:         {stats['duration_s']:.6g} s ({stats['duration_s'] / 3600:.4g} h)"
        + ("  [loops]" if stats["loop"] else ""),
        f"mean power:       {stats['mean_power_w']:.6g} W",
        f"max power:        {stats['max_power_w']:.6g} W",
        f"energy:           {stats['energy_j']:.6g} J",
        f"time above {stats['threshold_w']:.3g} W: {100 * stats['fraction_above_threshold']:.4g} %"
        + (f"  ({threshold_note})" if threshold_note else ""),
    ])


def plot_trace(trace, out_png: Path) -> Path:
    """Save a step plot of power [mW] vs time (s, min or h by length) to ``out_png``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    scale, unit = (1.0, "s") if trace.duration_s <= 600 else (
        (60.0, "min") if trace.duration_s <= 6 * 3600 else (3600.0, "h"))
    t = np.append(trace.time_s, trace.end_s) / scale
    p = np.append(trace.power_w, trace.power_w[-1]) * 1e3
    fig, ax = plt.subplots(figsize=(10, 3.5), layout="constrained")
    ax.step(t, p, where="post", lw=0.7)
    ax.set_xlabel(f"time [{unit}]")
    ax.set_ylabel("harvested power [mW]")
    ax.set_title(f"{trace.name}: mean {trace.mean_power_w() * 1e3:.3g} mW, "
                 f"energy {trace.energy_j():.3g} J")
    ax.set_xlim(t[0], t[-1])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png


def run(args: argparse.Namespace) -> int:
    """Load, print statistics, optionally plot. Returns 0, or 2 with one ``error:`` line."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trace = load_trace(args.file, args.format, period_s=args.period_s,
                               load_ohm=args.load_ohm, gap_factor=getattr(args, "gap_factor", DEFAULT_GAP_FACTOR),
                               gap_policy=getattr(args, "gap_policy", "zero"),
                               pv_cell=getattr(args, "pv_cell", "area"),
                               area_m2=getattr(args, "pv_area_m2", harvester.SMALL_CELL_AREA_M2),
                               efficiency=getattr(args, "pv_efficiency", harvester.SMALL_CELL_EFFICIENCY),
                               efficacy_lm_per_w=getattr(args, "lux_efficacy_lm_per_w",
                                                         harvester.DAYLIGHT_EFFICACY_LM_PER_W),
                               dark_threshold_w_m2=getattr(args, "dark_threshold_w_m2", None))
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        threshold, note = args.threshold_w, ""
        if threshold is None:
            threshold = DEFAULT_THRESHOLD_FRACTION * trace.max_power_w()
            note = f"{DEFAULT_THRESHOLD_FRACTION:.0%} of the max power; --threshold-w to choose"
        print(format_stats(trace.stats(threshold), note))
        print(f"conversion:       {conversion_text(trace)}")
        if args.out is not None:
            plot_trace(trace, args.out)
            print(f"plot:             {args.out}")
    except (IntersimError, ImportError, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    """Stand-alone entry point: ``python -m intersim.energy.inspect FILE ...``."""
    parser = add_arguments(argparse.ArgumentParser(prog="intersim trace inspect",
                                                   description=__doc__.splitlines()[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
