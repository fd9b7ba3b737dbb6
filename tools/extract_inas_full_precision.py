"""Extract the full-precision published predictions into
``intersim/design/data/inas_published_full.json``.

The anchor (``/work/shared/anchors/inas.md`` §6) prints the published predictions rounded (4
decimals for latencies [s], 2 for energies [uJ]); its source, EMCLab-Sinica/Intermittent-aware-NAS
@ f0f14f2 ``intermittent-inference-library/data/{cifar,har,kws}/all_data_{ds}.json`` (anchor §1,
§6), holds the same figures as float64. This script copies only the figures (no code) from
those three files so that the 63 network latencies and the per-layer values can be checked to
1e-6 relative, which the rounded anchor tables cannot support.

Usage::

    python tools/extract_inas_full_precision.py GIT_DIR [OUT_JSON]

``GIT_DIR`` is a clone (or mirror) of the repository that has commit f0f14f2.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

COMMIT = "f0f14f2"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "intersim/design/data/inas_published_full.json"


def _read(git_dir: str, ds: str) -> dict:
    path = f"{COMMIT}:intermittent-inference-library/data/{ds}/all_data_{ds}.json"
    out = subprocess.run(["git", "--git-dir", git_dir, "show", path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)[ds]


def _layers(entries, continuous: bool):
    rows = []
    for e in entries:
        row = {"name": e["layer"], "params": e["params"], "vm_bytes": e["vm"]}
        if continuous:
            row.update(energy_j=e["Epc"][0], latency_s=e["Le2e"])
        else:
            npc = e["npc"] if isinstance(e["npc"], list) else None
            row.update(epc_max_j=e["Epc"][0], epc_min_j=e["Epc"][1], le2e_s=e["Le2e"],
                       feasible=not e.get("infeasible", False))
            if npc is not None:
                row["npc"] = [int(x) for x in npc]
            else:
                row["npc_total"] = int(e["npc"])
        rows.append(row)
    return rows


def extract(git_dir: str) -> dict:
    out = {"source": (f"EMCLab-Sinica/Intermittent-aware-NAS @ {COMMIT} intermittent-inference-"
                      "library/data/{cifar,har,kws}/all_data_{ds}.json (cited by the iNAS anchor "
                      "§1, §6); figures only"),
           "intpow": {}, "contpow": {}, "contpow_at_cap": {}}
    for ds in ("cifar", "har", "kws"):
        d = _read(git_dir, ds)
        for cap, sols in d["INTPOW"].items():
            for ts, s in sols.items():
                out["intpow"][f"{ds}/{cap}/{ts}"] = {"latency_s": s["lat"],
                                                    "layers": _layers(s["exec_design"], False)}
        for cap, sols in d["CONTPOW"].items():
            for ts, s in sols.items():
                if cap == "NoEn":
                    out["contpow"][f"{ds}/{ts}"] = {"latency_s": s["lat"],
                                                   "layers": _layers(s["exec_design"], True)}
                else:
                    out["contpow_at_cap"][f"{ds}/{cap}/{ts}"] = {
                        "latency_s": s["lat"], "layers": _layers(s["exec_design"], False)}
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit(__doc__)
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    data = extract(argv[0])
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {len(data['intpow'])} INTPOW, {len(data['contpow'])} CONTPOW, "
          f"{len(data['contpow_at_cap'])} CONTPOW-at-capacitor latencies")


if __name__ == "__main__":
    main()
