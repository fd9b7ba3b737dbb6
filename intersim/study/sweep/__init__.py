"""Sweeps: run a scenario over a grid (or a zip) of values of any of its keys.

A sweep file (TOML, see docs/sweeps.md) names a scenario and varies dotted keys of it::

    scenario = "default.toml"              # relative to the sweep file (or an inline table)
    mode = "grid"                          # "grid": every combination; "zip": i-th values together
    [set]                                  # fixed overrides applied to every point
    "workload.duration_s" = 600.0
    [vary]
    "storage.capacitance_f" = { logspace = [4.7e-6, 4.7e-3, 16] }
    seed = [1, 2, 3]

Every point's resolved scenario is validated up front (:func:`intersim.scenario.validate`).
A point is identified by a hash of its resolved scenario and ``intersim.__version__``; it runs
under each of its schedulers (one unit of work per scheduler, so a slow scheduler does not hold
a whole point) and gives one row per (point, scheduler). Results go to ``DIR/parts/`` as a
Parquet dataset whose part files are written to a temporary name and moved into place with
``os.replace``; running again on the same DIR resumes.
"""
from .command import (add_plot_arguments, add_sweep_arguments, best_per_scheduler, main, run_plot_command,
                      run_sweep_command)
from .run import run_sweep
from .spec import (FRACTION_COLUMNS, INT_COLUMNS, PARTS_DIR, STRING_COLUMNS, WALL_COLUMNS, Axis, Point, Sweep,
                   SweepAborted, load_sweep)
from .store import _lock, _unlock, diff_definitions, load_results  # noqa: F401  (_lock/_unlock: tests)
from .workers import live_workers, run_unit, run_units, shutdown_workers

__all__ = ["Axis", "Point", "Sweep", "SweepAborted", "load_sweep", "run_sweep", "load_results",
           "diff_definitions", "best_per_scheduler", "run_unit", "run_units", "add_sweep_arguments",
           "run_sweep_command", "add_plot_arguments", "run_plot_command", "main", "PARTS_DIR",
           "STRING_COLUMNS", "INT_COLUMNS", "FRACTION_COLUMNS", "WALL_COLUMNS", "shutdown_workers",
           "live_workers"]
