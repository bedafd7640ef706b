"""Bayesian linear regression blocks shared by the linear policies.

Each block holds the posterior of one weight vector under a Gaussian prior and Gaussian noise:
precision ``A = A0 + Z'Z / s2``, ``b = A0 m0 + Z'y / s2``, covariance ``A^-1`` and mean
``A^-1 b``. A single row is folded in with Sherman-Morrison (O(D^2)); a batch with one
precision update and a fresh inverse per touched block (O(D^3)), which is cheaper than m
rank-one updates once a block receives more than a handful of rows.
"""

from __future__ import annotations

import numpy as np


def spd_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a stack of symmetric positive-definite matrices, kept symmetric."""
    inv = np.linalg.inv(a)
    return 0.5 * (inv + np.swapaxes(inv, -1, -2))


def update_block(
    precision: np.ndarray,
    cov: np.ndarray,
    b: np.ndarray,
    mean: np.ndarray,
    Z: np.ndarray,
    y: np.ndarray,
    noise_variance: float,
) -> None:
    """Fold rows ``Z`` (m, D) with targets ``y`` (m,) into one block, in place."""
    precision += Z.T @ Z / noise_variance
    b += Z.T @ y / noise_variance
    if len(Z) == 1:
        z = Z[0]
        cz = cov @ z
        cov -= np.outer(cz, cz) / (noise_variance + z @ cz)
    else:
        cov[...] = spd_inverse(precision)
    mean[...] = cov @ b


def decay_blocks(
    precision: np.ndarray,
    b: np.ndarray,
    prior_precision: np.ndarray,
    prior_b: np.ndarray,
    factor: float,
) -> None:
    """Discount the data part of stacked blocks toward their prior, in place.

    ``precision = A0 + S`` becomes ``A0 + factor * S`` (and ``b`` likewise): every row learned
    so far now weighs ``factor`` times what it did, while the prior keeps its full weight. This
    is the exponentially discounted posterior of D-LinUCB (Russac et al., 2019): with
    ``factor = 0.5 ** (m / half_life)`` per m new rows, a row's weight halves every
    ``half_life`` rows, so the posterior tracks a drifting reward and widens again (exploring)
    for actions that have not been tried for a while. Callers refresh ``cov`` and ``mean``.
    """
    precision -= prior_precision
    precision *= factor
    precision += prior_precision
    b -= prior_b
    b *= factor
    b += prior_b


def group_rows(actions: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``[(action, row indices)]`` for the actions present, in one stable sort."""
    if len(actions) == 0:
        return []
    order = np.argsort(actions, kind="stable")
    uniq, starts = np.unique(actions[order], return_index=True)
    bounds = list(starts[1:]) + [len(order)]
    return [(int(a), order[s:e]) for a, s, e in zip(uniq, starts, bounds, strict=True)]
