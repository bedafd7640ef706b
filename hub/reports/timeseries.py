"""Weekly series per arm, for the charts: opportunity rate and pipeline per decided contact.

Both are cumulative per contact decided so far, so an arm that reached more people later is
not flattered or penalised by its size: week ``w``'s value is (events up to the end of ``w``)
/ (contacts of the arm decided up to the end of ``w``). So each point is dated at the end of the
week it counts (the last, unfinished week at the newest decision or event), after a first point
of 0 at the start of the first week: a point dated at its week's start showed events of the days
after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from hub.reports.data import ArmFrame

WEEK = 7 * 86400.0


@dataclass(frozen=True)
class Series:
    name: str
    x: list[datetime]
    y: list[float]


def _week_floor(t: np.ndarray, origin: float) -> np.ndarray:
    return np.floor((t - origin) / WEEK).astype(np.int64)


def weekly_by_arm(frame: ArmFrame) -> dict[str, list[Series]]:
    """``{"opportunity_rate": [...], "pipeline_per_contact": [...]}``, one series per arm."""
    if len(frame.contact_id) == 0:
        return {"opportunity_rate": [], "pipeline_per_contact": []}
    origin = float(frame.first_at.min())
    # Monday 00:00 UTC before the first decision, so weeks read as calendar weeks.
    d = datetime.fromtimestamp(origin, UTC)
    origin = datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() - d.weekday() * 86400.0
    last = max(float(frame.first_at.max()), float(frame.ev_at.max()) if len(frame.ev_at) else 0.0)
    n_weeks = int(_week_floor(np.asarray([last]), origin)[0]) + 1
    ends = [min(origin + (w + 1) * WEEK, last) for w in range(n_weeks)]
    xs = [datetime.fromtimestamp(t, UTC) for t in (origin, *ends)]
    out: dict[str, list[Series]] = {"opportunity_rate": [], "pipeline_per_contact": []}
    opp = frame.ev_type == "opportunity_created"
    for arm in frame.arms:
        rows = frame.arm == arm
        decided = np.cumsum(np.bincount(_week_floor(frame.first_at[rows], origin), minlength=n_weeks))
        mine = opp & rows[frame.ev_row]
        wk = _week_floor(frame.ev_at[mine], origin)
        count = np.cumsum(np.bincount(wk, minlength=n_weeks))
        pipe = np.cumsum(np.bincount(wk, weights=frame.ev_amount[mine], minlength=n_weeks))
        safe = np.maximum(decided, 1)
        out["opportunity_rate"].append(Series(arm, xs, [0.0, *(count / safe).tolist()]))
        out["pipeline_per_contact"].append(Series(arm, xs, [0.0, *(pipe / safe).tolist()]))
    return out
