"""Random draws for the real-time path: the same numbers from the same stream, cheaper when few.

A numpy array draw such as ``rng.beta(a, b)`` fills its output in C order with one scalar draw
per element, so drawing the elements one by one in that order gives the same numbers and leaves
the generator in the same state; for a handful of numbers (one contact's content variants or
channels) that skips the array call's fixed cost, several times the draws themselves.
"""

from __future__ import annotations

import numpy as np

#: up to this many numbers, :func:`beta` draws them one by one
SCALAR_DRAWS = 8


def beta(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``rng.beta(a, b)`` for arrays ``a`` and ``b`` of one shape, bit for bit.

    >>> a, b = np.array([[2.0, 3.0]]), np.array([[5.0, 1.0]])
    >>> bool((beta(np.random.default_rng(1), a, b) == np.random.default_rng(1).beta(a, b)).all())
    True
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size > SCALAR_DRAWS:
        return rng.beta(a, b)
    draw = rng.beta
    return np.array([draw(x, y) for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True)]).reshape(a.shape)
