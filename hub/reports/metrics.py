"""The business metrics, defined once: `hub report lift`, `hub demo`, the console and /metrics
all read them from here.

Every metric is a per-contact quantity over the contacts decided in the window, each in the
arm of its first decision, counting only what happened *after* that first decision (see
hub/reports/data.py), so two arms' means compare like with like:

- ``reward``: the objective (``decision.objective`` in hub.yaml) applied to the contact's
  activities: each activity type's component weight (decision/objective.py) plus
  ``revenue`` times the amount of each won opportunity, plus each declared outcome's weight
  times its value (``decision.outcomes``, when the frame was loaded with them). The same weights
  the engine learns from, over every activity after the first decision (not only those inside an attribution
  window), so it measures what the people did, not what the learner was credited with;
- ``opportunities``: opportunities opened (count); ``pipeline``: their summed amount;
- ``won_revenue``: summed amount of won opportunities;
- ``unsubscribes``: unsubscribed (0/1);
- ``conversion``: opened an opportunity (0/1);
- ``win_rate``: among contacts with an opportunity, won one (0/1; a subset, so its n is smaller);
- ``deal_velocity_days``: days from the first decision to the first opportunity (converted
  contacts only; lower is better). A contact whose first opening is one implied by a closing
  (hub/opportunities.py: a won or lost deal arrived with no opening) is left out: that opening
  is dated at the close, and when the deal opened is not known, only that it was by then (it
  still counts as an opportunity and a conversion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from decision.objective import COMPONENT
from hub.config import ObjectiveWeights
from hub.reports.data import ArmFrame

METRICS = (
    "reward",
    "opportunities",
    "pipeline",
    "won_revenue",
    "unsubscribes",
    "conversion",
    "win_rate",
    "deal_velocity_days",
)
LOWER_IS_BETTER = {"deal_velocity_days", "unsubscribes"}


@dataclass(frozen=True)
class ArmMetric:
    arm: str
    metric: str
    n: int
    mean: float
    total: float


def reward_per_event(frame: ArmFrame, weights: ObjectiveWeights) -> np.ndarray:
    """Objective points of each event of the frame (its component weight; a won deal adds
    ``revenue`` times its amount; a declared outcome its weight times its value)."""
    w = weights.model_dump()
    per_type = {t: w[c] for t, c in COMPONENT.items()}
    types, inv = np.unique(frame.ev_type, return_inverse=True)
    points = np.array([per_type.get(str(t), 0.0) for t in types], dtype=float)[inv] if len(types) else np.zeros(0)
    points = points + np.where(frame.ev_type == "opportunity_won", w["revenue"] * frame.ev_amount, 0.0)
    for name, values in frame.ev_declared.items():
        points = points + float(w.get(name, 0.0)) * values
    return points


def per_contact(frame: ArmFrame, weights: ObjectiveWeights | None = None) -> dict[str, np.ndarray]:
    """Metric arrays aligned with the frame's contacts; NaN where a metric does not apply."""
    weights = weights or ObjectiveWeights()
    n = len(frame.contact_id)

    def by_type(kind: str, values: np.ndarray | None = None) -> np.ndarray:
        sel = frame.ev_type == kind
        return np.bincount(frame.ev_row[sel], weights=None if values is None else values[sel], minlength=n)

    opps = by_type("opportunity_created")
    won = by_type("opportunity_won")
    first_opp, first_known = np.full(n, np.inf), np.full(n, np.inf)
    sel = frame.ev_type == "opportunity_created"
    np.minimum.at(first_opp, frame.ev_row[sel], frame.ev_at[sel])
    if frame.ev_implied is not None:
        sel = sel & ~frame.ev_implied
    np.minimum.at(first_known, frame.ev_row[sel], frame.ev_at[sel])
    converted = opps > 0
    # an implied opening first: the deal opened by then, when is not known
    timed = converted & (first_known <= first_opp)
    return {
        "reward": np.bincount(frame.ev_row, weights=reward_per_event(frame, weights), minlength=n).astype(float),
        "opportunities": opps.astype(float),
        "pipeline": by_type("opportunity_created", frame.ev_amount).astype(float),
        "won_revenue": by_type("opportunity_won", frame.ev_amount).astype(float),
        "unsubscribes": (by_type("unsubscribe") > 0).astype(float),
        "conversion": converted.astype(float),
        "win_rate": np.where(converted, (won > 0).astype(float), np.nan),
        "deal_velocity_days": np.where(timed, (first_opp - frame.first_at) / 86400.0, np.nan),
    }


def arm_metrics(frame: ArmFrame, weights: ObjectiveWeights | None = None) -> list[ArmMetric]:
    """Per arm and metric: contacts it applies to, mean per contact, total."""
    values = per_contact(frame, weights)
    out = []
    for arm in frame.arms:
        sel = frame.arm == arm
        for metric in METRICS:
            v = values[metric][sel]
            v = v[~np.isnan(v)]
            out.append(ArmMetric(arm, metric, len(v), float(v.mean()) if len(v) else float("nan"), float(v.sum())))
    return out
