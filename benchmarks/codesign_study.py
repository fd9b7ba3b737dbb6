"""The seeds' claim, checked (issue 14 item 6): co-design vs iNAS vs HW-NAS accuracy for both
datasets, two capacitors and three latency requirements per capacitor (the 25/50/75 % quantiles of
random candidates' p95 latencies), each from one ``run_codesign`` on ``scenarios/codesign_digits.toml``
with the dataset and capacitor changed (models cached per dataset, shared by both capacitors).

    python benchmarks/codesign_study.py --out out/codesign_study [--workers 2]

Prints the table of docs/codesign.md and writes OUT/study.json; each run's directory
(OUT/<dataset>_<capacitor>/) holds its candidates.csv, chosen.csv and pareto.png.
"""
from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np

from intersim.study.codesign import run_codesign

ROOT = Path(__file__).resolve().parent.parent
CAPACITORS_F = (100e-6, 470e-6)
MNIST1D_SPACE = {"kernels": [3, 5], "widths": [8, 16, 32]}


def spec_for(dataset: str, cap_f: float, out: Path) -> dict:
    raw = tomllib.loads((ROOT / "scenarios" / "codesign_digits.toml").read_text())
    raw["name"] = f"codesign_{dataset}_{cap_f * 1e6:g}uF"
    raw["dataset"] = dataset
    raw["set"]["storage.capacitance_f"] = cap_f
    raw["train"]["model_cache"] = str((out / f"models-{dataset}").resolve())
    if dataset == "mnist1d":
        raw["space"].update(MNIST1D_SPACE)
    return raw


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/codesign_study"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--datasets", nargs="+", default=["digits", "mnist1d"])
    a = ap.parse_args(argv)
    rows, fastest = [], []
    for dataset in a.datasets:
        for cap in CAPACITORS_F:
            t0 = time.perf_counter()
            spec = spec_for(dataset, cap, a.out)
            d = a.out / f"{dataset}_{cap * 1e6:g}uF"
            df = run_codesign(spec, out=d, workers=a.workers, base_dir=ROOT / "scenarios", log=print)
            info = df.attrs["codesign"]
            full = df[df["fidelity"] == 1.0]
            for r in info["chosen"]:
                rows.append({"dataset": dataset, "capacitance_f": cap, "run": str(d), **r})
            for what, sel in (("inas final", full["final_inas"]),
                              ("codesign explored", full["in_codesign"] & (full["design"] == "explored")),
                              ("codesign exit", full["in_codesign"] & full["lightweighting"].str.startswith("exit:"))):
                s = full[sel].sort_values(["latency_p95_s", "accuracy"], ascending=[True, False])
                best = s.iloc[0] if len(s) else None
                fastest.append({"dataset": dataset, "capacitance_f": cap, "set": what, "n_full": int(len(s)),
                                **({} if best is None else {
                                    "candidate": f"{best['variant']} | {best['design']} | {best['scheduler']}",
                                    "latency_p95_s": float(best["latency_p95_s"]), "accuracy": float(best["accuracy"]),
                                    "best_accuracy": float(s["accuracy"][np.isfinite(s["latency_p95_s"])].max())})})
            print(f"{dataset} {cap * 1e6:g} uF: {len(df)} evaluations, {time.perf_counter() - t0:.0f} s")
    (a.out / "study.json").write_text(json.dumps({"chosen": rows, "fastest": fastest}, indent=1, default=str) + "\n")
    print("| dataset | C | requirement p95 | co-design | iNAS | HW-NAS |")
    print("|---|---|---|---|---|---|")
    key = lambda r: (r["dataset"], r["capacitance_f"], r["requirement_p95_s"])  # noqa: E731
    for k in sorted({key(r) for r in rows}):
        cell = {}
        for r in rows:
            if key(r) == k:
                acc = r["verdict"] if r["verdict"] != "meets" else f"{r['accuracy']:.4f}"
                cell[r["method"]] = f"{acc} ({r['candidate']})" if isinstance(r["candidate"], str) else acc
        print(f"| {k[0]} | {k[1] * 1e6:g} uF | {k[2]:.4g} s | {cell['codesign']} | {cell['inas']} | {cell['hwnas']} |")

    print()
    print("| dataset | C | set | evaluated on the full scenario | fastest (p95, accuracy) | most accurate that finished |")
    print("|---|---|---|---|---|---|")
    for f in fastest:
        best = (f"{f['candidate']}: {f['latency_p95_s']:.4g} s, {f['accuracy']:.4f}" if "candidate" in f else "-")
        most = f"{f['best_accuracy']:.4f}" if "best_accuracy" in f else "-"
        print(f"| {f['dataset']} | {f['capacitance_f'] * 1e6:g} uF | {f['set']} | {f['n_full']} | {best} | {most} |")


if __name__ == "__main__":
    main()
