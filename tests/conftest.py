"""Shared test configuration: hypothesis profiles and a once-per-session numba warm-up."""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# numba-compiled code: first call compiles, so no deadline anywhere.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO = Path(__file__).resolve().parent.parent
SHARED_TRACES = REPO.parent / "shared" / "traces"


@pytest.fixture(scope="session")
def shared_traces():
    """Path to ../shared/traces (real measured data); skips where it is absent."""
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"real traces not available: {SHARED_TRACES} does not exist")
    return SHARED_TRACES


@pytest.fixture(scope="session", autouse=True)
def warm_numba_kernels():
    """Compile (or load from cache) every numba kernel once per session."""
    try:
        from intersim import warmup
    except ImportError:
        return
    warmup()
