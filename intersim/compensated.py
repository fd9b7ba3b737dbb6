"""Compensated (Neumaier) summation: the one rule every energy book and latency sum uses.

``neumaier_step`` is the rule; :func:`neumaier_sum` applies it in Python, :func:`neumaier_add`
inside numba kernels on a ``(sum, compensation)`` row of a books array (the same function,
compiled). :class:`NeumaierSum` (the engine's running books) writes the step out for speed; the
compiled power cycles must reproduce the Python path bit for bit, and
``tests/test_compensated.py`` holds every form equal.
"""
from __future__ import annotations

from numba import njit


def neumaier_step(s: float, c: float, x: float) -> tuple[float, float]:
    """One Neumaier step: add ``x`` to the running sum ``s`` with compensation ``c``; returns the
    new ``(s, c)``; the compensated total is ``s + c``."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


#: :func:`neumaier_step` compiled, for kernels
neumaier_step_k = njit(cache=True)(neumaier_step)


@njit(cache=True)
def neumaier_add(books, k, x):
    """Compensated ``books[k] += x`` inside a kernel: column 0 the sum, column 1 the compensation."""
    books[k, 0], books[k, 1] = neumaier_step_k(books[k, 0], books[k, 1], x)


class NeumaierSum:
    """A running compensated sum (``.s`` the sum, ``.c`` the compensation, ``.value`` the total)."""

    __slots__ = ("s", "c")

    def __init__(self):
        self.s = 0.0
        self.c = 0.0

    def add(self, x):
        # neumaier_step written out: this runs once per booked load, on the engine's hot path
        # (a call would cost ~10 % of a small run); tests/test_compensated.py holds the two equal
        s = self.s
        t = s + x
        if abs(s) >= abs(x):
            self.c += (s - t) + x
        else:
            self.c += (x - t) + s
        self.s = t

    @property
    def value(self):
        return self.s + self.c


def neumaier_sum(values) -> float:
    """Compensated sum of floats."""
    s = c = 0.0
    for x in values:
        s, c = neumaier_step(s, c, x)
    return s + c
