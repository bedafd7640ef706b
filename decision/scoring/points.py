"""The legacy points score: what marketing ops ran before any model, and the cold-start score.

Until there are enough labelled outcomes to fit and calibrate a model, leads are scored with
the familiar points formula below, computed from the same feature matrix as the model so the
switch-over changes nothing else. Points (capped per line, total clipped to 0-100):

=====================================  ======  =====
signal (window)                        points  cap
=====================================  ======  =====
page view (30 d)                       1       15
email open (30 d)                      1       10
email click (30 d)                     3       15
content download (90 d)                5       15
webinar (90 d)                         8       16
form submit (90 d)                     10      20
meeting (90 d)                         15      30
call (90 d)                            5       10
company >= 200 employees / >= 1000     5 / 10
unsubscribe (90 d)                     -30
email opt-out                          -10
=====================================  ======  =====

The probability shown beside the points is a fixed, *uncalibrated* curve
``1 / (1 + exp(-(points - 70) / 12))`` (70 points = 50 %, 40 = 8 %, 10 = 0.7 %); it only
exists so cold-start output has the same shape as the model's. Trust it for ranking only.

>>> import numpy as np
>>> from decision.scoring.dataset import FEATURE_NAMES
>>> x = np.zeros((1, len(FEATURE_NAMES))); x[0, FEATURE_NAMES.index("meeting_90d")] = 1
>>> float(points_score(x)[0])
15.0
"""

from __future__ import annotations

import numpy as np

from decision.scoring.dataset import FEATURE_NAMES

# (feature, points each, cap)
POINTS: tuple[tuple[str, float, float], ...] = (
    ("page_view_30d", 1, 15),
    ("email_open_30d", 1, 10),
    ("email_click_30d", 3, 15),
    ("content_download_90d", 5, 15),
    ("webinar_90d", 8, 16),
    ("form_submit_90d", 10, 20),
    ("meeting_90d", 15, 30),
    ("call_90d", 5, 10),
)
MIDPOINT, SCALE = 70.0, 12.0


def points_score(X: np.ndarray, feature_names: tuple[str, ...] = FEATURE_NAMES) -> np.ndarray:
    """Points 0-100 per row of a feature matrix built by :mod:`decision.scoring.dataset`."""
    X = np.asarray(X, dtype=float)
    col = {name: i for i, name in enumerate(feature_names)}
    total = np.zeros(len(X))
    for name, each, cap in POINTS:
        total += np.minimum(each * np.nan_to_num(X[:, col[name]]), cap)
    employees = np.expm1(np.nan_to_num(X[:, col["log_employees"]]))
    total += np.where(employees >= 1000, 10.0, np.where(employees >= 200, 5.0, 0.0))
    total -= 30.0 * (np.nan_to_num(X[:, col["unsubscribe_90d"]]) > 0)
    total -= 10.0 * np.nan_to_num(X[:, col["email_opt_out"]])
    return np.clip(total, 0.0, 100.0)


def points_probability(points: np.ndarray) -> np.ndarray:
    """The fixed, uncalibrated curve from points to a probability (see module docstring)."""
    p = np.asarray(points, dtype=float)
    if p.shape == (1,):  # a real-time row: the same float steps on Python floats, numpy's exp
        out = np.exp(np.array([-(p.item() - MIDPOINT) / SCALE]))  # exp of a 1-element array, as below
        out[0] = 1.0 / (1.0 + out.item())
        return out
    return 1.0 / (1.0 + np.exp(-(p - MIDPOINT) / SCALE))
