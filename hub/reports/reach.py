"""Reach: who gets no action, and why (Pega's Value Finder question, from our own records).

Each contact's *latest* decision says what the hub does for it now. Contacts whose latest
decision has no actions are grouped by the decision's explanation (the policy writes why:
"No rule matched", consent, contact policy, control arm...); contacts never decided are a
group of their own. Consent flags are counted beside, because "no action" for an opted-out
contact is the system working, not a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, or_, select

from hub.store.contacts import aware
from hub.store.schema import contacts, decisions

NEVER_DECIDED = "never decided"


@dataclass(frozen=True)
class ReachRow:
    reason: str
    contacts: int
    share: float  # of all contacts
    opted_out: int  # email opt-out or do-not-contact among them


@dataclass(frozen=True)
class ReachReport:
    total: int
    with_action: int
    rows: list[ReachRow]  # the no-action groups, largest first

    @property
    def without_action(self) -> int:
        return self.total - self.with_action


@dataclass(frozen=True)
class WeeklyReach:
    week: datetime
    decisions: int
    no_action: int


def _short(text: str, width: int = 120) -> str:
    text = " ".join((text or "(no explanation)").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def reach_report(conn: Connection, until: datetime | None = None) -> ReachReport:
    """Who gets no action and why, as of ``until`` (None: now): each contact's latest decision
    before it."""
    before = [] if until is None else [decisions.c.created_at < until]
    latest = select(func.max(decisions.c.id).label("id")).where(*before).group_by(decisions.c.contact_id).subquery()
    decided = conn.execute(
        select(
            decisions.c.contact_id,
            decisions.c.actions,
            decisions.c.explanation,
            contacts.c.email_opt_out,
            contacts.c.do_not_contact,
        )
        .join(latest, decisions.c.id == latest.c.id)
        .join(contacts, contacts.c.id == decisions.c.contact_id)
    ).all()
    total = conn.execute(select(func.count()).select_from(contacts)).scalar() or 0
    groups: dict[str, list[int]] = {}
    with_action = 0
    for row in decided:
        if row.actions:
            with_action += 1
            continue
        g = groups.setdefault(_short(row.explanation), [0, 0])
        g[0] += 1
        g[1] += int(bool(row.email_opt_out or row.do_not_contact))
    undecided = ~contacts.c.id.in_(select(decisions.c.contact_id).where(*before))
    never = conn.execute(select(func.count()).select_from(contacts).where(undecided)).scalar() or 0
    if never:
        opted = or_(contacts.c.email_opt_out, contacts.c.do_not_contact)
        never_opted = conn.execute(select(func.count()).select_from(contacts).where(undecided, opted)).scalar()
        groups[NEVER_DECIDED] = [int(never), int(never_opted or 0)]
    rows = [
        ReachRow(reason, n, n / total if total else 0.0, opted)
        for reason, (n, opted) in sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    return ReachReport(total, with_action, rows)


def weekly_reach(conn: Connection, since: datetime | None = None, until: datetime | None = None) -> list[WeeklyReach]:
    """Decisions per week in ``[since, until)`` and how many of them had no action (all decisions,
    not latest only)."""
    when = decisions.c.created_at
    window = [*([] if since is None else [when >= since]), *([] if until is None else [when < until])]
    weeks: dict[datetime, list[int]] = {}
    for created, actions in conn.execute(select(when, decisions.c.actions).where(*window)):
        w = week_start(aware(created))
        c = weeks.setdefault(w, [0, 0])
        c[0] += 1
        c[1] += int(not actions)
    return [WeeklyReach(w, n, none) for w, (n, none) in sorted(weeks.items())]


def week_start(t: datetime) -> datetime:
    """Monday 00:00 UTC of ``t``'s week."""
    d = t.astimezone(UTC)
    return datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(days=d.weekday())
