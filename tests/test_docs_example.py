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


def _narrowing_block():
    text = (REPO / "docs" / "schedulers.md").read_text()
    return re.search(r"### Strategies: narrow.*?```python\n(# test_narrow\.py.*?)```", text, re.S).group(1)


def _run_narrowing_example(monkeypatch, every_k):
    """Run the narrowing example of docs/schedulers.md as printed, with ``mysched.EveryK`` bound to
    ``every_k``."""
    mysched = types.ModuleType("mysched")
    mysched.EveryK = every_k
    monkeypatch.setitem(sys.modules, "mysched", mysched)
    namespace = {}
    exec(compile(_narrowing_block(), "docs/schedulers.md: test_narrow.py", "exec"), namespace)
    namespace["test_every_k_on_small_networks"]()


def test_docs_narrowing_example_runs_as_printed(monkeypatch):
    _run_narrowing_example(monkeypatch, _example_module().EveryK)


def test_docs_narrowing_example_catches_a_wrong_scheduler(monkeypatch):
    """The same block fails on a scheduler that resumes without restoring its image."""
    from intersim.testing import NoRestoreJIT

    class EveryK(NoRestoreJIT):
        name = "every-k"

    try:
        _run_narrowing_example(monkeypatch, EveryK)
    except (AssertionError, BaseExceptionGroup):  # hypothesis reports several distinct failures as a group
        return
    raise AssertionError("the narrowing example passed a scheduler that never restores its image")
