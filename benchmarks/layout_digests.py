"""Digests of the outputs that a layout-only change must leave bit-identical.

Runs ``rf_reader`` (the default scenario before issue 12 chose a new one), ``bench_day`` and
``sweep_bench`` and prints one sha256 per table (summary, requests, timeline; the sweep's rows
sorted by point and scheduler), over the columns those tables had before the house issue (columns
added since are new outputs, not changes). Wall-clock columns are left out.

    python benchmarks/layout_digests.py [--skip-sweep] [--workers 2]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import pandas as pd

import intersim

REPO = Path(__file__).resolve().parent.parent
# columns that measure the machine, not the simulation
_WALL = ("wall", "elapsed", "plan_s")
# the tables' columns before the house issue (summary, requests, timeline)
_BEFORE = set("""scheduler requests completed dropped unfinished completion_rate correct latency_mean_s
latency_p50_s latency_p95_s latency_max_s throughput_per_h power_failures verdict energy_harvested_j
energy_supply_j energy_input_loss_j energy_clamped_j energy_stored_delta_j energy_leakage_j energy_esr_j
energy_output_loss_j energy_boot_j energy_restore_j energy_compute_j energy_checkpoint_j
energy_reexecution_j energy_sleep_j energy_residual_j checkpoints restores commits boots wasted_boots
reexecuted_cycles events verdict_detail request status arrival_s done_s latency_s queue_s off_s compute_s
preserve_s restore_s reexecution_s label predicted t_start_s t_end_s state harvest_w load_w v_start_v
v_end_v""".split())


def _digest(df: pd.DataFrame) -> str:
    keep = [c for c in df.columns if not any(w in c for w in _WALL) and c in _BEFORE]
    df = df[keep].reset_index(drop=True)
    h = hashlib.sha256()
    h.update(",".join(keep).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()[:16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    out = {}
    for name in ("rf_reader", "bench_day"):
        path = REPO / "scenarios" / f"{name}.toml"
        if not path.exists():  # before issue 12 the RF reader scenario was the default
            path = REPO / "scenarios" / "default.toml"
        sc = intersim.load_scenario(path)
        res = intersim.simulate(sc, record_timeline=True)
        out[name] = {"summary": _digest(res.summary), "requests": _digest(res.requests),
                     "timeline": _digest(res.timeline)}
        print(name, out[name], flush=True)
    if not args.skip_sweep:
        from intersim.cli import main as cli
        with tempfile.TemporaryDirectory() as tmp:
            rc = cli(["sweep", str(REPO / "scenarios" / "sweep_bench.toml"), "--out", tmp,
                      "--workers", str(args.workers)])
            assert rc == 0, rc
            df = pd.concat([pd.read_parquet(p) for p in sorted(Path(tmp).rglob("*.parquet"))])
            # point ids hash the scenario text, whose schema grew: sort by the swept value instead
            df = df[[c for c in df.columns if c in _BEFORE or c == "storage.capacitance_f"]]
            keys = ["storage.capacitance_f", "scheduler"]
            df = df.sort_values(keys).reset_index(drop=True)
            out["sweep_bench"] = {"rows": len(df), "table": _digest(df)}
            print("sweep_bench", out["sweep_bench"], flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
