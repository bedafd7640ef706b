"""The impact analyzer: what each engine component earns, measured on the hub's own contacts.

Beside the engine arm, hub.yaml's ``decision.engine.experiments`` puts small shares of contacts
in ablation arms, each the engine with one component switched off (decision/experiment.py:
``no_learned_propensities``, ``no_long_term_value``, ``no_send_time``, ``no_content``,
``no_opt_out_model``), and in a random-control arm. Arms are a hash of the contact id, so each
is a random sample and the difference of two arms' means is the component's causal effect on
the population: the lift of the full engine over the arm without that component. References
set the scale: the engine over the random arm (what choosing at all earns), over the
legacy-rules holdout and over the no-action control.

Each row is one :func:`hub.reports.lift.compare` of the engine arm against another arm on one
metric of hub/reports/metrics.py (Welch 95 % interval, CUPED-adjusted by the contacts' history
where the store holds some; the contacts both arms together, at their ratio, need for a
two-sided 5 % test with 80 % power at the observed difference, and how many more that is): one
definition of every metric and interval, shared with `hub report lift`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from decision.experiment import COMPONENTS, CONTROL, ENGINE, HOLDOUT, RANDOM, ablation_arm
from hub.config import ObjectiveWeights
from hub.outcomes_spec import DeclaredOutcome
from hub.reports.data import ArmFrame, load_arm_frame
from hub.reports.lift import LiftRow, arm_lift, with_history
from hub.reports.metrics import METRICS

#: the reference arms, labelled by what the engine's lift over them measures
REFERENCES = (
    (RANDOM, "choosing (engine over random actions)"),
    (HOLDOUT, "engine over the legacy rules"),
    (CONTROL, "engine over doing nothing"),
)


@dataclass(frozen=True)
class ImpactRow:
    """The engine arm minus ``lift.baseline`` on ``lift.metric``: ``component`` is the engine
    part that arm lacks (or a reference's label)."""

    component: str
    kind: str  # "component" (an ablation arm) or "reference"
    lift: LiftRow

    def as_dict(self) -> dict[str, Any]:
        d = {"component": self.component, "kind": self.kind, **asdict(self.lift)}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def impact_rows(
    frame: ArmFrame, weights: ObjectiveWeights | None = None, metrics: tuple[str, ...] = ("reward",)
) -> list[ImpactRow]:
    """Per component with an ablation arm among the decisions, then per reference arm present:
    the engine's lift over it on each of ``metrics``. Empty without an engine arm."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    if ENGINE not in frame.arms:
        return []
    values = with_history(frame, weights)
    arms = [(c, ablation_arm(c), "component") for c in COMPONENTS]
    arms += [(label, arm, "reference") for arm, label in REFERENCES]
    rows = []
    for component, arm, kind in arms:
        if arm not in frame.arms:
            continue
        rows += [ImpactRow(component, kind, arm_lift(frame, values, m, ENGINE, arm)) for m in metrics]
    return rows


def impact_table(
    store: Any,
    weights: ObjectiveWeights | None = None,
    *,
    metrics: tuple[str, ...] = ("reward",),
    since: datetime | None = None,
    until: datetime | None = None,
    declared: Sequence[DeclaredOutcome] = (),
) -> list[dict[str, Any]]:
    """:func:`impact_rows` straight from a store, as plain dicts (the console's Experiments page
    and `hub report impact --json` show these; infinities are None)."""
    with store.connect() as conn:
        frame = load_arm_frame(conn, since, until, declared=declared)
    return [r.as_dict() for r in impact_rows(frame, weights, metrics)]
