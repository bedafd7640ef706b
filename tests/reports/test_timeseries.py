"""The weekly chart series: each cumulative point is dated when what it counts has happened."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from hub.reports.data import ArmFrame
from hub.reports.timeseries import weekly_by_arm


def _at(day: int, hour: int = 12) -> float:
    return datetime(2026, 1, day, hour, tzinfo=UTC).timestamp()  # 2026-01-05 is a Monday


def _frame() -> ArmFrame:
    # two engine contacts decided on Monday 5 January, one holdout contact; one opportunity
    # on Friday 9 January and one on Wednesday 14 January, both engine
    return ArmFrame(
        contact_id=np.array([1, 2, 3]),
        arm=np.array(["engine", "engine", "holdout"]),
        first_at=np.array([_at(5, 0), _at(5, 1), _at(6)]),
        ev_row=np.array([0, 1]),
        ev_type=np.array(["opportunity_created", "opportunity_created"]),
        ev_at=np.array([_at(9), _at(14)]),
        ev_amount=np.array([100.0, 300.0]),
    )


def test_points_are_dated_at_the_end_of_the_week_they_count() -> None:
    series = {s.name: s for s in weekly_by_arm(_frame())["opportunity_rate"]}
    engine = series["engine"]
    assert [x.date().isoformat() for x in engine.x] == ["2026-01-05", "2026-01-12", "2026-01-14"]
    # nothing has happened at the start; the Friday opportunity shows by the week's end, the
    # second by the last event
    assert engine.y == [0.0, 0.5, 1.0]
    assert series["holdout"].y == [0.0, 0.0, 0.0]


def test_pipeline_per_contact_counts_amounts_cumulatively() -> None:
    engine = next(s for s in weekly_by_arm(_frame())["pipeline_per_contact"] if s.name == "engine")
    assert engine.y == [0.0, 50.0, 200.0]


def test_no_decided_contacts_gives_no_series() -> None:
    empty = ArmFrame(*(np.array([]) for _ in range(7)))
    assert weekly_by_arm(empty) == {"opportunity_rate": [], "pipeline_per_contact": []}


def test_the_chart_places_points_by_date() -> None:
    import xml.etree.ElementTree as ET

    from hub.reports.svg import LEFT, RIGHT, W, line_chart

    engine = next(s for s in weekly_by_arm(_frame())["opportunity_rate"] if s.name == "engine")
    root = ET.fromstring(line_chart([engine], title="t", y_label="y"))
    line = root.find("{http://www.w3.org/2000/svg}polyline")
    xs = [float(p.split(",")[0]) for p in line.get("points").split()]
    width = W - LEFT - RIGHT
    # 5 Jan, 12 Jan, 14 Jan 12:00: a week, then two and a half days, not two equal steps
    assert [round((x - LEFT) / width, 3) for x in xs] == [0.0, round(7 / 9.5, 3), 1.0]
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text and t.text.startswith("2026")]
    assert labels == sorted(set(labels))  # each date once, in order
