"""Compensated (Neumaier) summation: the one rule every energy book and latency sum uses.

``neumaier_step`` is the rule; :class:`NeumaierSum` and :func:`neumaier_sum` apply it in Python,
:func:`neumaier_add` inside numba kernels on a ``(sum, compensation)`` row of a books array. The
compiled power cycles must reproduce the Python path bit for bit, so every form runs the
same function (compiled once for kernels).
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
        self.s, self.c = neumaier_step(self.s, self.c, x)

    @property
    def value(self):
        return self.s + self.c


def neumaier_sum(values) -> float:
    """Compensated sum of floats."""
    s = c = 0.0
    for x in values:
        s, c = neumaier_step(s, c, x)
    return s + c
