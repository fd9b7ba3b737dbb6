"""``python -m intersim.study.sweep SWEEP.toml ...``: the same as ``intersim sweep``."""
from .command import main

raise SystemExit(main())
