"""``intersim explore``: iNAS's execution-design explorer on a scenario's model, platform and storage.

Per tileable layer (conv, dense as 1x1 conv, global average pool) the intermittent explorer
(C0 footprint, C1 ``E_pc,max <= E_av``, minimum L_e2e, ties to the smallest VM) and, as the
HW-NAS baseline, the continuous-power explorer (minimum continuous latency); iNAS-PMod's
prediction of the chosen design. The design file it writes is what ``[model] design`` names.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..design import explore_network, explore_network_continuous, predict_network, save_design
from ..design.explorer import predict_choice
from ..design.lowering import design_layers

#: price lists ``--price`` accepts (docs/design.md)
PRICES = ("intersim", "inas-compat")


def explore_scenario(scenario, price: str | None = None):
    """Explore ``scenario``'s model. Returns ``(table, NetworkChoice, NetworkPrediction or None)``:
    one row per layer with the chosen design, its prediction and the continuous baseline."""
    network = scenario.network()
    prices, supply = scenario.design_model(price)
    layers = [(network.layers[li].name, shape) for li, shape in design_layers(network)]
    chosen = explore_network(network.name, layers, prices, supply)
    continuous = explore_network_continuous(network.name, layers, prices)
    rows = []
    for c, base in zip(chosen.choices, continuous.choices):
        pred = predict_choice(c, prices, supply)
        rows.append({
            "layer": c.name, "design": c.design.label() if c.design else "none",
            "n_designs": c.n_designs, "n_feasible": c.n_feasible,
            "npc": pred.npc if pred else None, "epc_max_j": pred.epc_max_j if pred else float("nan"),
            "vm_bytes": c.vm_bytes, "le2e_s": c.objective_s,
            "continuous_design": base.design.label() if base.design else "none",
            "continuous_latency_s": base.objective_s,
        })
    network_pred = predict_network(chosen.design, prices, supply) if chosen.design is not None else None
    return pd.DataFrame(rows), chosen, network_pred


def add_explore_arguments(parser):
    parser.add_argument("scenario", help="scenario TOML file (its model, platform preset and Thevenin source)")
    parser.add_argument("--price", choices=PRICES, default=None,
                        help="price list: 'intersim' (the scenario's platform preset through intersim's "
                             "cost model) or 'inas-compat' (iNAS-PMod as published); default: the "
                             "scenario's model.design_price")
    parser.add_argument("--out", help="output directory (default: out/<scenario name>-explore)")


def run_explore_command(args) -> int:
    """Print the per-layer designs and write ``design.json`` (a design file) and ``layers.csv``."""
    from ..scenario import load_scenario
    sc = load_scenario(args.scenario)
    table, chosen, pred = explore_scenario(sc, args.price)
    out = Path(args.out) if args.out else Path("out") / f"{sc.name}-explore"
    print(f"scenario {sc.name}: model {sc.data['model']['name'] or sc.data['model']['file']}, "
          f"price list {args.price or sc.data['model']['design_price']}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if chosen.design is None:
        missing = [r["layer"] for _, r in table.iterrows() if r["design"] == "none"]
        print(f"no legal design passes C0 and C1 for layer(s) {', '.join(missing)}: the capacitor's "
              f"energy per power cycle is too small for them (nothing written)")
        return 1
    out.mkdir(parents=True, exist_ok=True)
    written = [save_design(chosen.design, out / "design.json")]
    table.to_csv(out / "layers.csv", index=False)
    written.append(out / "layers.csv")
    print(f"iNAS-PMod predicted end-to-end latency: {pred.latency_s:.6g} s "
          f"(continuous-power explorer: {table['continuous_latency_s'].sum():.6g} s of compute)")
    print(f"wrote {', '.join(str(p) for p in written)}; select it with [model] design = \"{out / 'design.json'}\"")
    return 0
