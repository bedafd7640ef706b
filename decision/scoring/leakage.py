"""Leakage guard for a table: columns that give the label away on their own.

A column that ranks the outcome almost perfectly by itself (single-column ROC AUC >= 0.98,
either direction) is nearly always written *after* the outcome (a close date, a "customer
since", the label under another name), so a model trained with it looks excellent and is
useless on new leads. Honest strong features (a demo request, company size) stay far below
that bar. Measured on the training rows only.

- numeric, boolean, date columns: the AUC of the value itself; a missing value is tried both
  below and above every present one (a column missing exactly for negatives leaks too);
- categorical columns: the AUC of the label rate of each value, learned on the other half of
  the rows (out of fold), so an id-like column with one row per value does not look perfect.

>>> import numpy as np
>>> y = np.array([0, 1] * 50)
>>> [c.column for c in leaky_columns({"copy": y * 2.0, "noise": np.arange(100.0) % 7}, y)]
['copy']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

LEAK_AUC = 0.98


@dataclass(frozen=True)
class Leak:
    column: str
    auc: float  # single-column ROC AUC, folded to >= 0.5

    def message(self) -> str:
        return (
            f"column {self.column!r} predicts the label almost perfectly on its own (AUC {self.auc:.3f}); "
            "it is probably recorded after the outcome, so it was left out (--keep-leaky keeps it)"
        )


def _folded(y: np.ndarray, s: np.ndarray) -> float:
    auc = roc_auc_score(y, s)
    return max(auc, 1.0 - auc)


def column_auc(values: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """Single-column ROC AUC of ``values`` for ``y``, folded to >= 0.5 (see the module docstring)."""
    values = np.asarray(values)
    if values.dtype.kind == "M":
        values = np.where(np.isnat(values), np.nan, values.astype("datetime64[s]").astype(np.int64).astype(float))
    if values.dtype.kind in "fiub":
        x = values.astype(float)
        gone = ~np.isfinite(x)
        if gone.all():
            return 0.5
        lo, hi = np.nanmin(np.where(gone, np.nan, x)) - 1, np.nanmax(np.where(gone, np.nan, x)) + 1
        return max(_folded(y, np.where(gone, lo, x)), _folded(y, np.where(gone, hi, x)))
    text = np.array(["\0missing" if v is None else str(v) for v in values], dtype=object)
    _, code = np.unique(text, return_inverse=True)
    half = np.random.default_rng(seed).random(len(y)) < 0.5
    rate = np.full(len(y), y.mean())
    for learn, apply in ((half, ~half), (~half, half)):
        n = np.bincount(code[learn], minlength=code.max() + 1)
        k = np.bincount(code[learn], weights=y[learn], minlength=code.max() + 1)
        seen = n[code[apply]] > 0
        rows = np.flatnonzero(apply)[seen]
        rate[rows] = k[code[rows]] / n[code[rows]]
    return _folded(y, rate)


def leaky_columns(columns: Mapping[str, np.ndarray], y: np.ndarray, threshold: float = LEAK_AUC) -> list[Leak]:
    """The columns whose single-column AUC reaches ``threshold``, strongest first."""
    y = np.asarray(y).astype(int)
    if y.min() == y.max():
        return []
    found = [Leak(name, column_auc(values, y)) for name, values in columns.items()]
    return sorted((f for f in found if f.auc >= threshold), key=lambda f: -f.auc)
