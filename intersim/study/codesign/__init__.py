"""Co-design search: architecture x lightweighting x execution design x scheduler, for the highest
int8 held-out accuracy that meets a simulated p95 latency requirement (``docs/codesign.md``).

    intersim codesign scenarios/codesign_digits.toml --out out/codesign_digits [--workers N | --dask ADDR]

```python
from intersim.study.codesign import run_codesign
df = run_codesign("scenarios/codesign_digits.toml", out="out/cd", workers=2)  # every candidate evaluated
df.attrs["codesign"]["chosen"]                                                 # the choice per requirement
```

Modules, one concept each:

==============  ==================================================================================
``spec``        the spec file: parsing and up-front validation
``space``       variants, execution-design sources (granularities today), candidates, seeded samples
``models``      the model cache: each variant trained, lightened, quantised, measured once, on disk
``evaluate``    candidates as zip sweeps through :func:`intersim.study.sweep.run_sweep` (resumable)
``strategy``    successive halving over simulated fidelity with Pareto promotion; iNAS and HW-NAS
``report``      candidate table, Pareto front, choice per requirement, ``pareto.png``
``command``     ``run_codesign`` and the ``intersim codesign`` command line
==============  ==================================================================================
"""
from .command import run_codesign

__all__ = ["run_codesign"]
