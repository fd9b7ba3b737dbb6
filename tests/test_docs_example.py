"""docs/schedulers.md's example scheduler runs as printed and passes the correctness property."""
import re
import sys
import types
from pathlib import Path

from intersim.testing import budget, check_scheduler

REPO = Path(__file__).resolve().parent.parent


def _example_module():
    text = (REPO / "docs" / "schedulers.md").read_text()
    code = re.search(r"```python\n(# mysched\.py\n.*?)```", text, re.S).group(1)
    module = types.ModuleType("mysched")
    exec(compile(code, "docs/schedulers.md: mysched.py", "exec"), module.__dict__)
    return module


def test_docs_example_scheduler_is_correct(monkeypatch):
    module = _example_module()
    monkeypatch.setitem(sys.modules, "mysched", module)
    check_scheduler(module.EveryK, max_examples=budget(0.375))
