"""Transcribe the iNAS anchor's published figures into ``intersim/design/data/inas_published.json``.

Source: ``../shared/anchors/inas.md`` §6.1 (INTPOW summary), §6.2 (CONTPOW summary), §6.3
(per-layer INTPOW designs and costs) and §6.4 (per-layer CONTPOW designs, continuous costs and the
same designs re-evaluated at 1/5/10 mF), themselves read from EMCLab-Sinica/Intermittent-aware-NAS
@ f0f14f2 ``intermittent-inference-library/data/{cifar,har,kws}/all_data_{ds}.json``.

Usage::

    python -m intersim.design.transcribe_anchor [ANCHOR_MD] [OUT_JSON]

The figures keep the decimals the anchor prints; ``decimals`` in the output says how many, so a
test can tell rounding from a real difference.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# ../shared/anchors beside the repository
DEFAULT_ANCHOR = Path(__file__).resolve().parents[3] / "shared" / "anchors" / "inas.md"
DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "inas_published.json"

#: Decimals the anchor prints per column (§6.1-§6.4).
DECIMALS = {"latency_s": 4, "layer_le2e_s": 4, "epc_uj": 2, "eu_pct": 1, "cont_energy_uj": 2,
            "cont_latency_s": 4, "at_cap_latency_s": 2, "at_cap_epc_uj": 0}
CAPS = ("0.001", "0.005", "0.01")


def _rows(text: str):
    """Cells of every markdown table row of ``text`` that is not a header or rule."""
    for line in text.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        yield cells


def _section(md: str, start: str, stop: str) -> str:
    i = md.index(start)
    return md[i:md.index(stop, i + len(start))]


def _shape(cell: str, kcell: str):
    """'3×32×32 → 24×32×32' and '5×5' / 'pool 16×16' -> layer shape dict."""
    src, dst = (p.strip() for p in cell.split("→"))
    n, h, w = (int(x) for x in src.split("×"))
    m, r, c = (int(x) for x in dst.split("×"))
    kh, kw = (int(x) for x in kcell.replace("pool", "").strip().split("×"))
    return {"N": n, "H": h, "W": w, "M": m, "R": r, "C": c, "Kh": kh, "Kw": kw}


def _kind(name: str) -> str:
    return "gavgpool" if name.startswith("GAVGPOOL") else ("fc" if name.startswith("FC") else "conv")


def _design(tiles: str, order: str, s: int):
    tr, tc, tm, tn = (int(x) for x in tiles.split(","))
    return {"Tr": tr, "Tc": tc, "Tm": tm, "Tn": tn, "order": order, "S": s}


def _by_dataset(sec: str):
    """Split a §6.3/§6.4 section into {'cifar': text, 'har': ..., 'kws': ...}."""
    parts = re.split(r"^\*\*(CIFAR|HAR|KWS)\*\*$", sec, flags=re.M)
    return {parts[i].lower(): parts[i + 1] for i in range(1, len(parts), 2)}


def _intpow(md: str):
    summary = {}
    for c in _rows(_section(md, "### 6.1", "### 6.2")):
        if c[0] == "Dataset":
            continue
        key = (c[0].lower(), c[1], c[4])
        summary[key] = {
            "dataset": c[0].lower(), "capacitance_f": float(c[1]), "r_ehm_ohm": float(c[2]),
            "margin": float(c[3]), "ts": c[4], "latency_req_s": float(c[5]), "architecture": c[6],
            "accuracy_pct": float(c[7]), "latency_s": float(c[8].strip("*")),
            "npc_total": int(c[9]), "header": c[12].strip("`"), "layers": []}
    for ds, text in _by_dataset(_section(md, "### 6.3", "### 6.4")).items():
        for c in _rows(text):
            if c[0] == "Sol":
                continue
            cap, ts = c[0].split()
            sol = summary[(ds, cap.rstrip("F"), ts)]
            npc = [int(x) for x in c[7].strip("[]").split(",")]
            emax, emin = (float(x) for x in c[8].split("/"))
            sol["layers"].append({
                "name": c[1], "kind": _kind(c[1]), "shape": _shape(c[2], c[3]),
                "design": _design(c[4], c[5], int(c[6])), "npc": npc, "epc_max_uj": emax,
                "epc_min_uj": emin, "eu_pct": float(c[9]), "vm_bytes": int(c[10]),
                "le2e_s": float(c[11])})
    return list(summary.values())


def _at_cap(cell: str):
    out = {}
    for cap, part in zip(CAPS, (p.strip() for p in cell.split("/"))):
        m = re.fullmatch(r"✗\((\d+)\)", part)
        out[cap] = ({"feasible": False, "epc_max_uj": float(m.group(1))} if m
                    else {"feasible": True, "le2e_s": float(part)})
    return out


def _contpow(md: str):
    summary = {}
    for c in _rows(_section(md, "### 6.2", "### 6.3")):
        if c[0] == "Dataset":
            continue
        at_cap = {}
        for cap, cell in zip(CAPS, c[6:9]):
            lat, n_bad = (x.strip() for x in cell.split("/"))
            at_cap[cap] = {"latency_s": float(lat), "infeasible_layers": int(n_bad)}
        summary[(c[0].lower(), c[1])] = {
            "dataset": c[0].lower(), "ts": c[1], "latency_req_s": float(c[2]),
            "architecture": c[3], "accuracy_pct": float(c[4]),
            "latency_s": float(c[5].strip("*")), "at_cap": at_cap, "header": c[9].strip("`"),
            "layers": []}
    for ds, text in _by_dataset(_section(md, "### 6.4", "## 8")).items():
        for c in _rows(text):
            if c[0] == "Sol":
                continue
            summary[(ds, c[0])]["layers"].append({
                "name": c[1], "kind": _kind(c[1]), "shape": _shape(c[2], c[3]),
                "design": _design(c[4], c[5], 1), "vm_bytes": int(c[6]),
                "energy_uj": float(c[7]), "latency_s": float(c[8]), "at_cap": _at_cap(c[9])})
    return list(summary.values())


def transcribe(anchor: Path) -> dict:
    md = anchor.read_text(encoding="utf-8")
    return {
        "source": ("iNAS anchor ../shared/anchors/inas.md §6.1-§6.4, from "
                   "EMCLab-Sinica/Intermittent-aware-NAS @ f0f14f2 "
                   "intermittent-inference-library/data/{cifar,har,kws}/all_data_{ds}.json"),
        "r_ehm_contpow_at_cap_ohm": 300.0,
        "margin_contpow_at_cap": 0.55,
        "decimals": DECIMALS,
        "intpow": _intpow(md),
        "contpow": _contpow(md),
    }


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    anchor = Path(argv[0]) if argv else DEFAULT_ANCHOR
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    data = transcribe(anchor)
    n_int = len(data["intpow"])
    n_cont = len(data["contpow"])
    n_layers = sum(len(s["layers"]) for s in data["intpow"] + data["contpow"])
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{out}: {n_int} INTPOW + {n_cont} CONTPOW solutions, {n_layers} layers")


if __name__ == "__main__":
    main()
