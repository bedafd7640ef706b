"""Which decision an activity is credited to: the newest earlier decision that acted and was
carried out, within that decision's own attribution window; else the newest earlier decision.

The CRM's echo of the hub's own e-mail (``email_sent``) is a change, so the contact is decided
again within the hour, mostly ``wait``. Credited to the newest decision, every response after the
echo went to that ``wait``: the e-mail's 7-day window shrank to about a day and the engine learned
that waiting earns what e-mails earned (the audit's demo store: 1,035 of 1,048 e-mail windows cut).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from hub.config import DecisionSettings
from hub.models import Action, ActionKind, Activity, ActivityType, Contact, Decision, Identity
from hub.pipeline.outcomes import attribute
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import decisions as decision_store
from hub.store import pushes as push_store
from hub.store.contacts import upsert_contacts
from hub.store.schema import outcomes, pushes
from tests.push_rows import set_field_rows

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
CATALOG = DecisionSettings.model_validate(
    {
        "actions": [
            {"id": "email_nurture", "kind": "email", "channel": "email"},
            {"id": "sales_outreach", "kind": "sales_outreach", "channel": "phone"},
            {"id": "hold_back", "kind": "wait"},  # the catalog says what waits, not the id
        ]
    }
)


class Log:
    """Decisions, their writes and activities of one contact, straight into the store."""

    def __init__(self, store: Store, key: str):
        self.store, self.key, self.n = store, key, 0
        with store.begin() as conn:
            person = Contact(identities=[Identity(connector="crm", external_id=key)])
            (self.cid,) = upsert_contacts(conn, [person], T0).changed

    def decide(self, at: datetime, action: str | None, push: str | None = "done", days: float = 7.0) -> int:
        """A decision at ``at``: engine-logged ``action`` (None: a rules decision, no features);
        ``push``: the state of its one write (None: no write at all)."""
        self.n += 1
        fields = {"next_best_action": action or "rule"}
        writes = [Action(kind=ActionKind.SET_FIELDS, payload={"fields": fields})] if push else []
        d = Decision(
            contact_id=self.cid,
            actions=writes,
            policy="engine" if action else "rules",
            policy_version="v1",
            created_at=at,
            action=action,
            features=[1.0] if action else None,
            feature_version="f1",
            attribution_days=days,
        )
        with self.store.begin() as conn:
            (did,) = decision_store.insert_decisions(conn, [d], f"{self.key}-{self.n}")
            if push:
                push_store.enqueue(conn, set_field_rows(self.cid, did, [self.key], fields), at)
                conn.execute(update(pushes).where(pushes.c.decision_id == did).values(state=push))
        return did

    def credited(self, kind: ActivityType, at: datetime) -> int | None:
        """Store one activity, credit it; the decision it went to (None: none)."""
        self.n += 1
        a = Activity(contact_id=self.cid, type=kind, occurred_at=at, source="crm", external_id=f"{self.key}-{self.n}")
        with self.store.begin() as conn:
            ids = activity_store.insert_activities(conn, [a]).new_ids
        attribute(self.store, CATALOG, ids)
        with self.store.connect() as conn:
            return conn.execute(select(outcomes.c.decision_id).where(outcomes.c.activity_id == ids[0])).scalar()


def test_a_wait_decided_after_the_emails_echo_does_not_take_its_responses(store_url):
    store = Store(store_url, auto_migrate=True)
    log = Log(store, "echo")
    email = log.decide(T0, "email_nurture")
    assert log.credited(ActivityType.EMAIL_SENT, T0 + timedelta(minutes=30)) == email  # the echo
    wait = log.decide(T0 + timedelta(hours=1), "hold_back")  # re-decided on the echo
    assert log.credited(ActivityType.EMAIL_CLICK, T0 + timedelta(days=2)) == email
    assert log.credited(ActivityType.FORM_SUBMIT, T0 + timedelta(days=6)) == email
    # the e-mail's window closed: the newest decision again
    assert log.credited(ActivityType.FORM_SUBMIT, T0 + timedelta(days=7, minutes=30)) == wait
    store.dispose()


def test_an_action_that_never_happened_takes_nothing_from_the_decision_after_it(store_url):
    store = Store(store_url, auto_migrate=True)
    for state in ("rejected", "awaiting_approval", "failed", "superseded"):
        log = Log(store, state)
        log.decide(T0, "email_nurture", push=state)
        wait = log.decide(T0 + timedelta(hours=1), "hold_back")
        assert log.credited(ActivityType.EMAIL_CLICK, T0 + timedelta(days=2)) == wait, state
    store.dispose()


def test_the_last_action_within_its_window_wins(store_url):
    store = Store(store_url, auto_migrate=True)
    log = Log(store, "touches")
    email = log.decide(T0, "email_nurture")
    call = log.decide(T0 + timedelta(days=1), "sales_outreach", days=3)
    log.decide(T0 + timedelta(days=1, hours=1), "hold_back")
    assert log.credited(ActivityType.MEETING, T0 + timedelta(days=2)) == call  # last touch
    # the call's 3-day window closed; the e-mail's 7-day one is still open
    assert log.credited(ActivityType.MEETING, T0 + timedelta(days=5)) == email
    store.dispose()


def test_a_rules_decision_with_writes_acts_and_one_without_does_not(store_url):
    store = Store(store_url, auto_migrate=True)
    log = Log(store, "rules")
    rule = log.decide(T0, None)  # a rules policy's decision: no features, one write
    log.decide(T0 + timedelta(hours=1), "hold_back")
    assert log.credited(ActivityType.EMAIL_CLICK, T0 + timedelta(days=2)) == rule
    other = Log(store, "rules-empty")
    other.decide(T0, None, push=None)  # wrote nothing: no action taken
    wait = other.decide(T0 + timedelta(hours=1), "hold_back")
    assert other.credited(ActivityType.EMAIL_CLICK, T0 + timedelta(days=2)) == wait
    store.dispose()
