"""The trace look-up on evenly sampled traces (``linear_kernel.search_right``'s guess, which
the uneven generated traces of ``test_optimal_compiled`` do not reach): the index is
``np.searchsorted``'s, and the planner's advance stays the engine kernel's bit for bit."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from intersim.energy.capacitor import _advance
from intersim.energy.linear_kernel import search_right
from intersim.sched.optimal.advance import advance
from intersim.testing import budget


@settings(max_examples=budget(20))
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), step=st.sampled_from([0.01, 0.1, 1.0, 0.3]),
       t0=st.sampled_from([0.0, 5.0, -2.5]), uneven=st.booleans())
def test_search_right_is_searchsorted(seed, n, step, t0, uneven):
    """On the grid's points, between them, at and past both ends, nan, and on uneven or repeated
    values: the index ``np.searchsorted(a, x, side="right")`` gives."""
    rng = np.random.default_rng(seed)
    a = t0 + np.arange(n) * step
    if uneven:
        a = np.sort(np.round(a + rng.random(n) * step * 3, 2))  # rounded: some values repeat
    xs = np.concatenate([a, a + step * 0.5, a - step * 1e-9, a + step * 1e-9, rng.uniform(a[0] - 1, a[-1] + 1, 50),
                         [a[0] - 1e9, a[-1] + 1e9, math.nan, math.inf, -math.inf]])
    got = np.array([search_right(a, x) for x in xs])
    want = np.searchsorted(a, xs, side="right")
    assert np.array_equal(got, want)
    # the guess is taken: most points of an even grid are found by it (not vacuous)
    if not uneven and n > 2:
        guessed = sum(a[g - 1] <= x < a[g] for x, g in zip(xs, got) if 0 < g < n)
        assert guessed > n


@settings(max_examples=budget(10))
@given(seed=st.integers(0, 2**32 - 1), loop=st.booleans(), t0=st.floats(-1.0, 40.0), v0=st.floats(0.0, 3.7),
       dur=st.floats(0.0, 30.0), load=st.sampled_from([0.0, 1e-5, 1e-3]), step=st.sampled_from([0.01, 0.1, 1.0]))
def test_planner_advance_on_an_even_grid_is_the_engine_kernel(seed, loop, t0, v0, dur, load, step):
    """``advance`` on an evenly sampled trace returns ``_advance``'s ``(t, e, reason)`` bit for bit."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    tt = np.arange(n) * step
    pw = rng.random(n) * 2e-3 * (rng.random(n) > 0.3)
    c = 10e-6
    e_max = 0.5 * c * 3.6 ** 2
    args = (tt, pw, 0.0, float(n * step), loop, 0.8, 0.0, e_max, t0, 0.5 * c * v0 * v0, t0 + dur, load,
            0.5 * c * 1.8 ** 2, math.inf)
    none = np.empty(0)
    want = _advance(*args, np.zeros((6, 2)), none, none, none, none, none, 0)[:3]
    assert tuple(advance(*args)) == tuple(want)
