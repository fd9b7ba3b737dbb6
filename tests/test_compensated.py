"""The one compensated sum: every form (Python step, running sum, the kernels' row add) gives the
same bits, so the compiled power cycles can reproduce the Python path exactly."""
import math

import numpy as np
from hypothesis import given, strategies as st

from intersim.compensated import NeumaierSum, neumaier_add, neumaier_step, neumaier_step_k, neumaier_sum

values = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False) | st.sampled_from([1e-17, -1e16, 1e16]),
                  min_size=1, max_size=60)


@given(values)
def test_every_form_gives_the_same_bits(xs):
    s = c = 0.0
    run = NeumaierSum()
    books = np.zeros((1, 2))
    for x in xs:
        s, c = neumaier_step(s, c, x)
        run.add(x)
        neumaier_add(books, 0, x)
        assert (run.s, run.c) == (s, c) == tuple(books[0])
        assert neumaier_step_k(s, c, x) == neumaier_step(s, c, x)
    assert run.value == s + c == neumaier_sum(xs)


def test_it_compensates():
    xs = [1.0, 1e100, 1.0, -1e100] * 1000
    assert sum(xs) == 0.0 and math.fsum(xs) == 2000.0 and neumaier_sum(xs) == 2000.0
