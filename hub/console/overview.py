"""What the console's overview and experiments pages show: KPI tiles and trends.

Business figures (lift per arm and its interval) come from hub/reports/metrics.py through
hub/reports/lift.py, exactly as `hub report lift`, `hub demo` and /metrics compute them;
operational ones (decisions per day, push success) are grouped counts from the store. The
trend window ends at the newest decision, so a demo store with a simulated clock still shows
its weeks, and starts at the oldest within DAYS days, so a young store is not drawn as weeks of
nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from hub.console.charts import bar_chart, interval_chart
from hub.pipeline.context import HubContext
from hub.reports.data import load_arm_frame
from hub.reports.lift import arm_metrics, lift_rows, no_lift, pick_baseline
from hub.reports.srm import check_arms
from hub.reports.svg import line_chart
from hub.reports.timeseries import Series, weekly_by_arm
from hub.store import console_views
from hub.store.schema import decisions, pushes

DAYS = 30
HEADLINE = "reward"  # the lift the overview's tiles show; the experiments page lists every metric


def _days(first: object, last: object) -> list[date]:
    """Every day from the oldest row's to the newest's, at most DAYS of them."""
    end = _date(last)
    start = max(_date(first), end - timedelta(days=DAYS - 1))
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _date(v: object) -> date:
    return v.date() if isinstance(v, datetime) else date.fromisoformat(str(v)[:10])


def trends(conn: Connection) -> dict[str, Any]:
    """Decisions per day per arm and push success per day, each over the days of its rows up to
    the newest (at most DAYS): pushes finish on the wall clock, decisions on the decider's (a
    demo simulates weeks)."""
    oldest, newest = conn.execute(select(func.min(decisions.c.created_at), func.max(decisions.c.created_at))).one()
    if newest is None:
        return {"days": 0, "decided": 0, "success": None, "finished": 0, "decisions_svg": "", "push_svg": ""}
    days = _days(oldest, newest)
    per_arm: dict[str, dict[date, int]] = {}
    for d, arm, n in console_views.decisions_per_day(conn, _at(days[0])):
        per_arm.setdefault(arm, {})[d] = n
    finished = pushes.c.state.in_(("done", "failed"))
    first_push, newest_push = conn.execute(
        select(func.min(pushes.c.updated_at), func.max(pushes.c.updated_at)).where(finished)
    ).one()
    push_days = _days(first_push, newest_push) if newest_push is not None else days
    done: dict[date, int] = {}
    failed: dict[date, int] = {}
    for d, state, n in console_views.pushes_finished_per_day(conn, _at(push_days[0])):
        (done if state == "done" else failed)[d] = n
    xs = [_at(d) for d in days]
    dec_series = [Series(arm, xs, [float(c.get(d, 0)) for d in days]) for arm, c in sorted(per_arm.items())]
    finished = [done.get(d, 0) + failed.get(d, 0) for d in push_days]
    rate = [100.0 * done.get(d, 0) / f if f else float("nan") for d, f in zip(push_days, finished, strict=True)]
    n_done, n_failed = sum(done.values()), sum(failed.values())
    return {
        "days": len(days),
        "since": days[0],
        "until": days[-1],
        "decided": sum(sum(c.values()) for c in per_arm.values()),
        "decided_last_day": sum(c.get(days[-1], 0) for c in per_arm.values()),
        "success": 100.0 * n_done / (n_done + n_failed) if n_done + n_failed else None,
        "finished": n_done + n_failed,
        "failed": n_failed,
        "decisions_svg": line_chart(dec_series, title="Decisions per day", y_label="decisions"),
        "push_svg": bar_chart(push_days, rate, title="Push success per day", y_label="% done of finished"),
    }


def lift(ctx: HubContext, conn: Connection) -> dict[str, Any]:
    """Arms, their per-contact metrics and every arm's lift over the baseline, with intervals."""
    frame = load_arm_frame(conn, declared=ctx.settings.decision.outcomes)
    weights = ctx.settings.decision.objective
    rows = lift_rows(frame, weights=weights)
    arms = {arm: int((frame.arm == arm).sum()) for arm in frame.arms}
    srm = check_arms(ctx.settings, frame)
    return {
        "arms": arms,
        "srm": srm,
        "baseline": pick_baseline(frame.arms),
        "no_lift": no_lift(frame.arms),
        "metrics": arm_metrics(frame, weights),
        "lifts": rows,
        "headline": [r for r in rows if r.metric == HEADLINE],
        "frame": frame,
    }


def lift_charts(summary: dict[str, Any]) -> dict[str, str]:
    """The experiments page's charts: reward lift per arm with its interval, weekly trends."""
    out = {}
    head = summary["headline"]
    if head:
        out["lift_svg"] = interval_chart(
            [(r.arm, r.diff, r.low, r.high) for r in head],
            title=f"Reward per contact over {summary['baseline']} (95% interval)",
        )
    weekly = weekly_by_arm(summary["frame"])
    if weekly["opportunity_rate"] and len(weekly["opportunity_rate"][0].x) > 1:
        out["opp_svg"] = line_chart(weekly["opportunity_rate"], title="Opportunities per contact", y_label="cumulative")
        out["pipe_svg"] = line_chart(
            weekly["pipeline_per_contact"], title="Pipeline per contact", y_label="cumulative amount"
        )
    return out
