"""Runs ``bench_engine.py`` against another checkout of intersim (issue 17: "report the ratio
against the current code in the same run").

Alternates, round by round, this checkout and ``--base`` (a directory holding an ``intersim``
package, e.g. a ``git worktree add --detach`` of the starting commit): each round runs
``bench_engine.py`` once per checkout (this script's copy, with ``PYTHONPATH`` set to the checkout;
``--repeats`` runs per call), so a slow spell of a shared machine falls on both. Reports per
scheduler the median wall of each, their spreads (min-max over the rounds' medians), the ratio
base / this, and the raw simpy event rate of every call. Ends with one JSON line.

    python benchmarks/bench_against.py --base ../wt-base [--this .] [--rounds 3] [--repeats 3] -- [bench_engine args]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _run(tree: Path, repeats: int, extra: list) -> dict:
    """One ``bench_engine.py`` call with ``intersim`` imported from ``tree``: its JSON line."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(HERE / "bench_engine.py"), "--repeats", str(repeats), *extra],
                         env=env, cwd=str(REPO), capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the checkout to compare against")
    ap.add_argument("--this", default=str(REPO), help="the checkout measured (default: this one)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("bench_args", nargs=argparse.REMAINDER, help="after --: arguments of bench_engine.py")
    args = ap.parse_args(argv)
    extra = [a for a in args.bench_args if a != "--"]
    trees = {"this": Path(args.this).resolve(), "base": Path(args.base).resolve()}
    walls = {k: {} for k in trees}
    rates = {k: [] for k in trees}
    for r in range(args.rounds):
        for key, tree in (trees.items() if r % 2 == 0 else reversed(list(trees.items()))):
            res = _run(tree, args.repeats, extra)
            rates[key].append(res["simpy_events_per_s"])
            for name, v in res["schedulers"].items():
                walls[key].setdefault(name, []).append(v["wall_s"])
            print(f"round {r + 1} {key}: " + ", ".join(f"{n} {v['wall_s']:.3f} s" for n, v in res["schedulers"].items())
                  + f"; raw simpy {res['simpy_events_per_s']:,.0f} events/s", flush=True)
    out = {}
    for name in walls["this"]:
        this, base = statistics.median(walls["this"][name]), statistics.median(walls["base"][name])
        rate = statistics.median(rates["this"])
        out[name] = {"this_s": this, "base_s": base, "ratio": base / this,
                     "this_spread_s": [min(walls["this"][name]), max(walls["this"][name])],
                     "base_spread_s": [min(walls["base"][name]), max(walls["base"][name])],
                     "this_wall_x_simpy_rate": this * rate}
        print(f"{name:>15}: this {this:.3f} s [{min(walls['this'][name]):.3f}-{max(walls['this'][name]):.3f}], "
              f"base {base:.3f} s [{min(walls['base'][name]):.3f}-{max(walls['base'][name]):.3f}], "
              f"ratio base/this {base / this:.2f}")
    print(json.dumps({"schedulers": out, "rounds": args.rounds, "repeats": args.repeats, "bench_args": extra,
                      "simpy_events_per_s": rates}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
