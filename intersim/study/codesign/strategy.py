"""The search strategy: successive halving over simulated fidelity, with Pareto promotion.

Why this strategy fits this problem: once a variant is trained (the expensive part, done once per
variant by the model cache), its accuracy is *exact* and free — it is measured through intersim's
int8 kernels on the held-out split, not estimated. The only uncertain objective is the simulated
p95 latency, whose cost grows with the length of the simulated workload while its ranking of
candidates settles after a few requests (one inference's energy and the capacitor's window
dominate it). So every candidate the budget allows is simulated first on a fraction of the
workload (``search.fidelities[0]``), and the candidates on or near the accuracy-vs-p95 Pareto
front (non-dominated sorting: front 1, then front 2, ...) are promoted to the next, longer
fidelity, until the full scenario decides. The budget is counted in full-scenario-equivalent
engine runs (a run at fidelity ``f`` costs ``f``) and is the same for the co-design and for iNAS.

Methods (same run, same budget, same engine, same cached models):

* ``codesign``: architecture x lightweighting x execution design x scheduler (granularities under
  ``space.schedulers``; ``"explored"`` under ``space.explored_schedulers``).
* ``inas``: iNAS as iNAS does it — its architectures without lightweighting, each with the design
  iNAS's explorer chooses for it (:class:`~intersim.study.codesign.explored.ExplorerDesigns`),
  under ``baselines.inas_schedulers`` (default ``inas``: iNAS's runtime). With
  ``baselines.inas_designs = "granularities"`` the older static-granularity baseline instead:
  the space's granularities under ``baselines.inas_schedulers``.
* ``hwnas``: hardware-aware NAS for continuous power — each architecture's latency under the
  ``continuous`` scheduler (an ideal supply) decides: the most accurate architecture meeting the
  requirement there is then deployed on the harvesting node with its best execution design (every
  design x scheduler of the co-design space, lowest p95); it meets the requirement or not.
"""
from __future__ import annotations

import math

import numpy as np

from .explored import EXPLORED, ExplorerDesigns
from .space import CombinedDesigns, GranularityDesigns, candidates, sample, variants


def rung_sizes(n_space: int, budget: float, keep: float, fidelities) -> list[int]:
    """Candidates per rung: ``n_0`` fills the budget with a geometric plan (``n_r = keep^r n_0``);
    a later rung gets what the budget still allows under the same plan, never more than the rung
    before. With a small space every candidate starts and the spare budget promotes more."""
    f = list(fidelities)

    def plan_cost(r):
        return sum(keep ** (q - r) * f[q] for q in range(r, len(f)))
    sizes, spent = [], 0.0
    for r, fr in enumerate(f):
        cap = n_space if r == 0 else sizes[-1]
        n = min(cap, int(math.floor((budget - spent) / plan_cost(r) + 1e-9)))
        n = max(n, min(cap, 1))
        sizes.append(n)
        spent += n * fr
    return sizes


def pareto_ranks(acc, lat) -> np.ndarray:
    """Non-dominated sorting rank (0 = the front) of points maximising ``acc`` and minimising
    ``lat``; infinite latencies get rank ``len(points)`` (never promoted before a finite one)."""
    acc, lat = np.asarray(acc, float), np.asarray(lat, float)
    n = len(acc)
    ranks = np.full(n, n, dtype=int)
    left = [i for i in range(n) if math.isfinite(lat[i])]
    r = 0
    while left:
        front = [i for i in left if not any((acc[j] >= acc[i] and lat[j] <= lat[i]) and
                                            (acc[j] > acc[i] or lat[j] < lat[i]) for j in left)]
        for i in front:
            ranks[i] = r
        left = [i for i in left if i not in set(front)]
        r += 1
    return ranks


def promote(cands, acc, lat, n: int) -> list:
    """The ``n`` best of ``cands`` by (Pareto rank, latency, accuracy descending, key): a total,
    deterministic order. Candidates with an infinite latency are never promoted."""
    ranks = pareto_ranks(acc, lat)
    order = sorted(range(len(cands)), key=lambda i: (ranks[i], lat[i], -acc[i], cands[i].key))
    return [cands[i] for i in order[:n] if math.isfinite(lat[i])]


class Halving:
    """Successive halving of one method over its candidate space."""

    def __init__(self, name: str, space: list, spec, accuracy):
        self.name, self.spec, self.accuracy = name, spec, accuracy
        self.fids = spec.fidelities
        self.sizes = rung_sizes(len(space), spec.budget, spec.keep, self.fids)
        self.current = sample(space, self.sizes[0], spec.seed, name)
        self.spent = 0.0
        self.final: list = []

    def pairs(self, r: int) -> list:
        return [(c, self.fids[r]) for c in self.current]

    def advance(self, r: int, ev) -> None:
        """Charge rung ``r``'s runs and choose the candidates of rung ``r + 1``."""
        self.spent += len(self.current) * self.fids[r]
        if r == len(self.fids) - 1:
            self.final = list(self.current)
            return
        acc = [self.accuracy(c) for c in self.current]
        lat = [ev.p95(c, self.fids[r]) for c in self.current]
        self.current = promote(self.current, acc, lat, self.sizes[r + 1])


def requirements(spec, ev, space) -> tuple[list[float], list]:
    """The latency requirements [s]: the spec's, or the ``requirements.quantiles`` of the p95
    latencies of ``requirements.n_random`` random co-design candidates simulated on the full
    scenario (as iNAS set its requirements); returns (requirements, the random candidates)."""
    if spec.latency_p95_s:
        return sorted(spec.latency_p95_s), []
    from ...errors import ScenarioError
    rand = sample(space, spec.n_random, spec.seed, "random")
    ev.run("random", [(c, 1.0) for c in rand])
    lat = np.array([ev.p95(c, 1.0) for c in rand])
    finite = lat[np.isfinite(lat)]
    if len(finite) < 2:
        raise ScenarioError(f"{spec.source}: only {len(finite)} of {len(rand)} random candidates completed "
                            "their requests on this scenario, too few for requirements.quantiles; allowed: "
                            "give requirements.latency_p95_s, or a scenario where more designs are feasible")
    return [float(np.quantile(finite, q)) for q in spec.quantiles], rand


def design_sources(spec, cache) -> dict:
    """The execution-design sources of the co-design and of the iNAS baseline."""
    grans, found = GranularityDesigns([d for d in spec.designs if d != EXPLORED]), {}
    codesign = CombinedDesigns(grans, ExplorerDesigns(spec, cache, spec.explored_schedulers, found)) \
        if EXPLORED in spec.designs else grans
    inas = ExplorerDesigns(spec, cache, spec.inas_schedulers, found) if spec.inas_designs == EXPLORED else grans
    return {"codesign": codesign, "inas": inas}


def hwnas(spec, ev, cache, reqs, arch_variants, deploy_source) -> dict:
    """The HW-NAS baseline: returns ``{"continuous": [...], "deployed": {req: [...]}, "chosen": {req: cand},
    "spent": runs}``."""
    cont = candidates(arch_variants, GranularityDesigns(spec.hwnas_designs), ["continuous"])
    ev.run("hwnas-continuous", [(c, 1.0) for c in cont])
    spent = float(len(cont))
    by_arch = {}
    for c in cont:  # an architecture's continuous-power latency: its best design
        lat = ev.p95(c, 1.0)
        if c.variant not in by_arch or lat < by_arch[c.variant]:
            by_arch[c.variant] = lat
    picks = {}
    for req in reqs:
        ok = [v for v, lat in by_arch.items() if lat <= req]
        pool = ok or [min(by_arch, key=lambda v: (by_arch[v], v.label))]
        picks[req] = max(pool, key=lambda v: (cache.get(v)["accuracy"], -by_arch[v], v.label))
    deployed = {req: candidates([v], deploy_source, spec.schedulers) for req, v in picks.items()}
    todo = {c.key: c for cs in deployed.values() for c in cs}
    ev.run("hwnas-deploy", [(c, 1.0) for c in todo.values()])
    spent += len(todo)
    chosen = {req: min(cs, key=lambda c: (ev.p95(c, 1.0), c.key)) for req, cs in deployed.items()}
    return {"continuous": cont, "continuous_p95": by_arch, "deployed": deployed, "chosen": chosen, "spent": spent}


def search(spec, ev, cache, log=None) -> dict:
    """Run the whole search; returns what the report needs (spaces, requirements, per-method
    finals and choices)."""
    log = log or (lambda msg: None)
    sources = design_sources(spec, cache)
    cd_variants = variants(spec)
    arch_variants = variants(spec, ["none"])
    for v in cd_variants:  # train every variant once (cached on disk)
        cache.get(v)
    accuracy = lambda c: cache.get(c.variant)["accuracy"]  # noqa: E731
    spaces = {"codesign": candidates(cd_variants, sources["codesign"], spec.schedulers),
              "inas": candidates(arch_variants, sources["inas"], spec.inas_schedulers)}
    reqs, rand = requirements(spec, ev, spaces["codesign"])
    log("requirements (p95 latency): " + ", ".join(f"{r:.4g} s" for r in reqs))
    methods = {name: Halving(name, space, spec, accuracy) for name, space in spaces.items()}
    for r in range(len(spec.fidelities)):
        ev.run(f"rung{r}", [p for m in methods.values() for p in m.pairs(r)])
        for m in methods.values():
            m.advance(r, ev)
    hw = hwnas(spec, ev, cache, reqs, arch_variants, sources["codesign"])
    chosen = {}
    for name, m in methods.items():
        chosen[name] = {}
        for req in reqs:
            ok = [c for c in m.final if ev.p95(c, 1.0) <= req]
            chosen[name][req] = max(ok, key=lambda c: (accuracy(c), -ev.p95(c, 1.0), c.key)) if ok else None
    chosen["hwnas"] = {req: c if ev.p95(c, 1.0) <= req else None for req, c in hw["chosen"].items()}
    return {"requirements": reqs, "random": rand, "spaces": spaces, "methods": methods, "hwnas": hw,
            "chosen": chosen, "hwnas_attempt": hw["chosen"],
            "spent": {**{n: m.spent for n, m in methods.items()}, "hwnas": hw["spent"]}}
