"""The co-design's outputs: the candidate table, the Pareto front, the choice per requirement, the plot."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .strategy import pareto_ranks

METHODS = ("codesign", "inas", "hwnas")
CANDIDATE_COLUMNS = ("stage", "fidelity", "variant", "arch", "lightweighting", "design", "scheduler", "accuracy",
                     "int8_correct", "n_test", "macs", "weight_bytes", "indexed_weight_bytes", "activation_peak_bytes",
                     "latency_p95_s", "latency_done_p95_s", "energy_per_inference_j", "verdict", "requests",
                     "completed", "accuracy_served", "power_failures", "in_codesign", "in_inas", "in_hwnas",
                     "final_codesign", "final_inas", "codesign_front", "verdict_detail", "error")


def candidate_table(res: dict, ev, cache) -> pd.DataFrame:
    """One row per evaluation (candidate x fidelity) in the order they were run."""
    cands = {}
    for name in ("codesign", "inas"):
        for c in res["spaces"][name]:
            cands[c.key] = c
    hw = res["hwnas"]
    for c in hw["continuous"] + [c for cs in hw["deployed"].values() for c in cs]:
        cands[c.key] = c
    spaces = {n: {c.key for c in res["spaces"][n]} for n in ("codesign", "inas")}
    spaces["hwnas"] = {c.key for c in hw["continuous"]} | {c.key for cs in hw["deployed"].values() for c in cs}
    front = {c.key for c in pareto_front(res["methods"]["codesign"].final, ev, cache)}
    finals = {n: {c.key for c in res["methods"][n].final} for n in ("codesign", "inas")}
    rows = []
    for (key, fid), r in ev.results.items():
        c, meta = cands[key], cache.get(cands[key].variant)
        rows.append({"stage": ev.stage_of[(key, fid)], "fidelity": fid, "variant": c.variant.label,
                     "arch": c.variant.arch, "lightweighting": c.variant.lightweighting, "design": c.design.label,
                     "scheduler": c.scheduler, **{k: meta[k] for k in ("accuracy", "int8_correct", "n_test", "macs",
                                                                         "weight_bytes", "indexed_weight_bytes",
                                                                         "activation_peak_bytes")},
                     "latency_p95_s": r["latency_p95_s"], "latency_done_p95_s": r["latency_done_p95_s"],
                     "energy_per_inference_j": r["energy_per_inference_j"], "verdict": r["verdict"],
                     "requests": r["requests"], "completed": r["completed"], "accuracy_served": r["accuracy"],
                     "power_failures": r["power_failures"], **{f"in_{n}": key in spaces[n] for n in METHODS},
                     **{f"final_{n}": fid == 1.0 and key in finals[n] for n in ("codesign", "inas")},
                     "codesign_front": fid == 1.0 and key in front, "verdict_detail": r["verdict_detail"],
                     "error": r["error"]})
    return pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS))


def pareto_front(cands, ev, cache) -> list:
    """The accuracy-vs-p95 Pareto front of ``cands`` on the full scenario, by increasing latency."""
    acc = [cache.get(c.variant)["accuracy"] for c in cands]
    lat = [ev.p95(c, 1.0) for c in cands]
    ranks = pareto_ranks(acc, lat)
    front = [c for c, r in zip(cands, ranks) if r == 0]
    return sorted(front, key=lambda c: (ev.p95(c, 1.0), c.key))


def chosen_table(res: dict, ev, cache) -> pd.DataFrame:
    """Per requirement and method: the chosen design, its accuracy, p95 latency and energy, or why none."""
    rows = []
    quantiles = dict(zip(res["requirements"], res.get("quantiles") or [None] * len(res["requirements"])))
    for req in res["requirements"]:
        for m in METHODS:
            c = res["chosen"][m][req]
            attempt = res["hwnas_attempt"][req] if m == "hwnas" else c
            row = {"requirement_p95_s": req, "quantile": quantiles.get(req), "method": m,
                   "budget_runs": res["spent"][m]}
            if c is not None:
                r, meta = ev.results[(c.key, 1.0)], cache.get(c.variant)
                row.update(candidate=c.key, accuracy=meta["accuracy"], latency_p95_s=r["latency_p95_s"],
                           energy_per_inference_j=r["energy_per_inference_j"], macs=meta["macs"],
                           weight_bytes=meta["weight_bytes"], verdict="meets")
            else:
                lat = ev.p95(attempt, 1.0) if attempt is not None else math.nan
                row.update(candidate=attempt.key if attempt is not None else None, accuracy=math.nan,
                           latency_p95_s=lat, energy_per_inference_j=math.nan, macs=None, weight_bytes=None,
                           verdict="misses" if attempt is not None else "none feasible")
            rows.append(row)
    return pd.DataFrame(rows)


def plot(res: dict, ev, cache, path: Path, title: str) -> Path:
    """``pareto.png``: every candidate simulated on the full scenario (accuracy vs p95 latency,
    log axis), the co-design's Pareto front, iNAS's final candidates, each method's choice per
    requirement, the requirements."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8.0, 5.2), dpi=120)
    full = [(k, r) for (k, f), r in ev.results.items() if f == 1.0]
    keys = {c.key: c for s in res["spaces"].values() for c in s}
    keys.update({c.key: c for c in res["hwnas"]["continuous"]})
    keys.update({c.key: c for cs in res["hwnas"]["deployed"].values() for c in cs})
    fin = [(cache.get(keys[k].variant)["accuracy"], r["latency_p95_s"], keys[k].scheduler == "continuous")
           for k, r in full if math.isfinite(r["latency_p95_s"])]
    inf_n = sum(1 for _, r in full if not math.isfinite(r["latency_p95_s"]))
    if fin:
        a, lat, cont = map(np.array, zip(*fin))
        ax.scatter(lat[~cont], a[~cont], s=12, c="0.7", label=f"candidates, full scenario ({(~cont).sum()}; "
                                                             f"{inf_n} never finished, not shown)")
        if cont.any():
            ax.scatter(lat[cont], a[cont], s=14, marker="s", facecolors="none", edgecolors="tab:green",
                       label="HW-NAS: architectures on continuous power")
    inas_final = [(ev.p95(c, 1.0), cache.get(c.variant)["accuracy"]) for c in res["methods"]["inas"].final
                  if math.isfinite(ev.p95(c, 1.0))]
    if inas_final:
        x, y = zip(*inas_final)
        ax.scatter(x, y, s=30, marker="D", facecolors="none", edgecolors="tab:orange",
                   label=f"iNAS: final candidates ({len(inas_final)} finished)")
    front = pareto_front(res["methods"]["codesign"].final, ev, cache)
    if front:
        fl = [ev.p95(c, 1.0) for c in front]
        fa = [cache.get(c.variant)["accuracy"] for c in front]
        ax.step(fl, fa, where="post", color="tab:blue", lw=1.5, label="co-design Pareto front")
        ax.scatter(fl, fa, s=22, color="tab:blue", zorder=3)
    markers = {"codesign": ("*", "tab:blue", 180), "inas": ("D", "tab:orange", 60), "hwnas": ("^", "tab:green", 70)}
    names = {"codesign": "co-design", "inas": "iNAS", "hwnas": "HW-NAS"}
    for m, (mk, col, size) in markers.items():
        pts = [(ev.p95(c, 1.0), cache.get(c.variant)["accuracy"]) for c in res["chosen"][m].values() if c is not None]
        if pts:
            x, y = zip(*pts)
            ax.scatter(x, y, marker=mk, s=size, color=col, edgecolors="k", linewidths=0.5, zorder=4,
                       label=f"{names[m]} choice ({len(pts)}/{len(res['requirements'])} requirements met)")
    for i, req in enumerate(res["requirements"]):
        ax.axvline(req, color="0.3", ls="--", lw=0.8)
        ax.annotate(f"req {i + 1}", (req, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -10),
                    textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("p95 latency of the scenario's requests, simulated [s]")
    ax.set_ylabel("int8 held-out accuracy (intersim kernels)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
