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
from .trace_io import DEFAULT_GAP_FACTOR, FORMATS, GAP_POLICIES, load_trace


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``trace inspect`` arguments to ``parser``."""
    parser.add_argument("file", metavar="FILE", type=Path, help="trace file to inspect")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="file format (default: guessed from the suffix and content)")
    parser.add_argument("--period-s", type=float, default=None, metavar="P",
                        help="sample period [s]; required for --format lux")
    parser.add_argument("--load-ohm", type=float, default=None, metavar="R",
                        help="load resistance [ohm]; required for --format rf-voltage")
    parser.add_argument("--threshold-w", type=float, default=1e-4, metavar="W",
                        help="report the fraction of time with power above W [W] (default 1e-4)")
    parser.add_argument("--gap-factor", type=float, default=DEFAULT_GAP_FACTOR, metavar="F",
                        help="a step longer than F x the median step is a logging gap")
    parser.add_argument("--gap-policy", choices=GAP_POLICIES, default="zero",
                        help="zero: no power in a gap; split: keep the longest gap-free piece")
    parser.add_argument("--out", type=Path, default=None, metavar="PNG",
                        help="save a plot of power vs time to PNG")
    return parser


def format_stats(stats: dict) -> str:
    """Human-readable lines for :meth:`intersim.energy.trace.Trace.stats`."""
    return "\n".join([
        f"trace:            {stats['name']}",
        f"samples:          {stats['samples']}",
        f"duration:         {stats['duration_s']:.6g} s ({stats['duration_s'] / 3600:.4g} h)"
        + ("  [loops]" if stats["loop"] else ""),
        f"mean power:       {stats['mean_power_w']:.6g} W",
        f"max power:        {stats['max_power_w']:.6g} W",
        f"energy:           {stats['energy_j']:.6g} J",
        f"time above {stats['threshold_w']:.3g} W: {100 * stats['fraction_above_threshold']:.4g} %",
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
                               gap_policy=getattr(args, "gap_policy", "zero"))
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        print(format_stats(trace.stats(args.threshold_w)))
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
