"""Explored designs as an execution-design source: iNAS's explorer run on each variant.

:class:`ExplorerDesigns` returns, per variant, one :class:`~intersim.study.codesign.space.Design`
labelled ``"explored"`` whose scenario keys are ``model.design = "explored"`` and
``model.design_supply = "mean-harvest"``, run under the ``inas`` scheduler (or the schedulers it
is given). The engine then runs iNAS's explorer on the variant's network (C0, C1 and the minimum
L_e2e per layer, ``docs/design.md``) and lowers the chosen tiles to tasks.

The supply iNAS-PMod needs is a Thevenin source; a co-design scenario's harvest (an RF or solar
trace through an MPPT converter) is not one, so the explorer sees an *equivalent* Thevenin source
(:func:`intersim.design.supply.equivalent_thevenin`): the storage clamp ``v_max_v`` behind the
resistance that refills ``V_off -> V_on`` at the trace's mean harvested power (docs/codesign.md).

A variant for which the explorer finds no design (a layer with no tiling that passes C0 and C1)
has no explored candidate; :meth:`ExplorerDesigns.explore` says why.
"""
from __future__ import annotations

from .space import Design, Variant

#: the design's label and the scenario keys that select it
EXPLORED = "explored"
EXPLORED_KEYS = (("model.design", "explored"), ("model.design_supply", "mean-harvest"))


class ExplorerDesigns:
    """iNAS's explorer per variant (module docstring).

    Parameters
    ----------
    spec : CodesignSpec
        The search (its base scenario with ``[set]`` is the explorer's platform and supply).
    cache : ModelCache
        Where the variants' networks are (trained on demand).
    schedulers : sequence of str
        The schedulers an explored design runs under (default ``("inas",)``: iNAS's runtime).
    found : dict, optional
        Explorations to share with another source of the same search (variant -> :meth:`explore`).
    """

    def __init__(self, spec, cache, schedulers=("inas",), found=None):
        self.spec, self.cache, self.schedulers = spec, cache, tuple(schedulers)
        self._found: dict = {} if found is None else found

    def explore(self, variant: Variant) -> dict:
        """``{"feasible": bool, "predicted_latency_s": float [s] (iNAS-PMod, inf if infeasible),
        "layers": [(layer, design text or None), ...]}`` of the variant, computed once."""
        if variant not in self._found:
            self._found[variant] = _explore(self.spec, self.cache, variant)
        return self._found[variant]

    def designs(self, variant: Variant) -> list[Design]:
        if not self.explore(variant)["feasible"]:
            return []
        return [Design(EXPLORED, EXPLORED_KEYS, self.schedulers)]


def variant_scenario(spec, cache, variant: Variant, design_keys=EXPLORED_KEYS):
    """The resolved scenario a candidate of ``variant`` with ``design_keys`` runs (through the
    sweep's own loader, so exactly what the engine is given)."""
    from ...scenario import Scenario
    from ..sweep import load_sweep
    from .evaluate import sweep_dict
    from .space import Candidate
    meta = cache.get(variant)
    cand = Candidate(variant, Design(EXPLORED, tuple(design_keys)), "inas")
    sw = load_sweep(sweep_dict(spec, [(cand, 1.0, meta["model_file"], meta["samples_file"])], f"{spec.name}-explore"),
                    base_dir=spec.scenario_path.parent)
    return Scenario(sw.points[0].scenario, f"{spec.source} ({variant.label}, explored)", sw.scenario_dir)


def _explore(spec, cache, variant: Variant) -> dict:
    from ...design import predict_network
    from ...design.explorer import explore_network
    from ...design.lowering import design_layers
    sc = variant_scenario(spec, cache, variant)
    net = sc.network()
    prices, supply = sc.design_model()
    layers = [(net.layers[li].name, shape) for li, shape in design_layers(net)]
    choice = explore_network(net.name, layers, prices, supply)
    per_layer = [(c.name, None if c.design is None else str(c.design)) for c in choice.choices]
    if choice.design is None:
        return {"feasible": False, "predicted_latency_s": float("inf"), "layers": per_layer}
    pred = predict_network(choice.design, prices, supply)
    return {"feasible": True, "predicted_latency_s": float(pred.latency_s) if pred.feasible else float("inf"),
            "layers": per_layer}
