"""The objective: what a decision's outcomes are worth, as one number to learn from.

Outcomes are stored as raw counts per activity type (hub/pipeline/outcomes.py); this module
maps them onto the weighted components of ``decision.objective`` in hub.yaml. Sends and calls
are the action being carried out, not a response, so they are worth nothing on their own.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping

from hub.config import ObjectiveWeights

#: activity type -> objective component
COMPONENT = {
    "email_open": "open",
    "email_click": "click",
    "form_submit": "form",
    "content_download": "form",
    "webinar": "form",
    "meeting": "meeting",
    "opportunity_created": "opportunity",
    "unsubscribe": "unsubscribe",
}


def components(outcomes: Iterable[Mapping[str, float]], declared: Collection[str] = ()) -> dict[str, float]:
    """Sum outcome rows (``{activity_type: count, "revenue": amount, declared_name: value}``)
    into components; a declared outcome (``decision.outcomes``) is its own component.

    >>> components([{"email_open": 1.0}, {"email_click": 1.0}, {"revenue": 900.0}])
    {'open': 1.0, 'click': 1.0, 'revenue': 900.0}
    >>> components([{"custom": 1.0, "trial": 1.0}], declared={"trial"})
    {'trial': 1.0}
    """
    out: dict[str, float] = {}
    for row in outcomes:
        for key, v in row.items():
            comp = "revenue" if key == "revenue" else key if key in declared else COMPONENT.get(key)
            if comp is not None and isinstance(v, int | float) and math.isfinite(v):
                # a value that is no finite number (a null the store made of NaN) counts nothing:
                # raising here had stopped every window from closing, for everyone
                out[comp] = out.get(comp, 0.0) + float(v)
    return out


def weighted(parts: Mapping[str, float], weights: ObjectiveWeights) -> dict[str, float]:
    """Each component times its weight.

    >>> weighted({"open": 2.0, "unsubscribe": 1.0}, ObjectiveWeights())
    {'open': 0.2, 'unsubscribe': -30.0}
    """
    w = weights.model_dump()  # declared outcomes' weights are its extra keys
    return {k: round(v * w[k], 10) for k, v in parts.items() if k in w}


def total(parts: Mapping[str, float], weights: ObjectiveWeights) -> float:
    return float(sum(weighted(parts, weights).values()))
