"""Hypothesis budgets come from the profiles (issue 16 item 5): no test pins ``max_examples`` and
``thorough`` runs at least 10x ``ci`` for every scaled budget."""
import re
from pathlib import Path

import pytest
from hypothesis import settings

from intersim.testing import budget

TESTS = Path(__file__).resolve().parent


def _fractions():
    """Every ``budget(fraction)`` the tests use."""
    found = set()
    for path in TESTS.rglob("test_*.py"):
        if path.name == Path(__file__).name:
            continue
        found.update(float(x) for x in re.findall(r"budget\(([0-9.]+)\)", path.read_text()))
    return sorted(found)


def test_no_test_pins_max_examples():
    pinned = [f"{p.relative_to(TESTS)}:{n + 1}" for p in TESTS.rglob("test_*.py")
              for n, line in enumerate(p.read_text().splitlines())
              if re.search(r"max_examples\s*=\s*[0-9]", line)]
    assert not pinned, f"max_examples pinned (use intersim.testing.budget(fraction)): {pinned}"


@pytest.mark.parametrize("fraction", _fractions())
def test_thorough_runs_at_least_ten_times_ci(fraction):
    active = settings()
    try:
        counts = {}
        for name in ("ci", "dev", "thorough"):
            settings.load_profile(name)
            counts[name] = budget(fraction)
    finally:
        settings.load_profile(next(n for n in ("ci", "dev", "thorough")
                                   if settings.get_profile(n).max_examples == active.max_examples))
    assert counts["thorough"] >= 10 * counts["ci"], (fraction, counts)
    assert counts["ci"] >= 1


def test_budget_rejects_a_non_positive_fraction():
    with pytest.raises(ValueError, match="fraction 0"):
        budget(0)
