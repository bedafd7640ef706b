"""The decisions whose long-term horizon has passed, read in cursor order with whether their
contact converted after the attribution window (hub/store/learning.long_term_due), on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from hub.models import Activity, ActivityType, Decision
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import decisions as decision_store
from hub.store.learning import long_term_due
from hub.store.schema import contacts

DAY = datetime(2026, 11, 1, 9, tzinfo=UTC)
HORIZON = timedelta(days=28)


def _decision(cid: int, days: float, action: str = "email", version: str = "v1") -> Decision:
    return Decision(
        contact_id=cid,
        actions=[],
        policy="engine",
        policy_version="1",
        arm="random",
        propensity=0.25,
        created_at=DAY,
        action=action,
        features=[float(cid), 1.0],
        feature_version=version,
        attribution_days=days,
    )


def test_rows_come_in_cursor_order_each_once_with_conversions_after_the_window_only(store_url):
    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        for cid in range(1, 7):
            conn.execute(
                insert(contacts).values(
                    id=cid, created_at=DAY, changed_at=DAY, properties={}, email_opt_out=False, do_not_contact=False
                )
            )
        items = [
            _decision(1, 7),  # opportunity inside the window: the immediate reward's
            _decision(2, 7),  # at the horizon's last instant: counted
            _decision(3, 7),  # a day after the horizon: not
            _decision(4, 3, "wait"),  # an earlier window end, read first
            _decision(5, 7, version="v0"),  # another feature version: never read here
            _decision(6, 40),  # its horizon has not passed by `until`
        ]
        for k, d in enumerate(items):
            decision_store.insert_decisions(conn, [d], f"run-{k}")
        end7 = DAY + timedelta(days=7)
        opened = {1: end7 - timedelta(hours=1), 2: end7 + HORIZON, 3: end7 + HORIZON + timedelta(days=1)}
        opened[4] = DAY + timedelta(days=4)
        activity_store.insert_activities(
            conn,
            [
                Activity(
                    contact_id=cid,
                    type=ActivityType.OPPORTUNITY_CREATED,
                    occurred_at=at,
                    source="crm",
                    external_id=f"o{cid}",
                )
                for cid, at in opened.items()
            ]
            + [  # another kind of activity after the window converts nobody
                Activity(
                    contact_id=1,
                    type=ActivityType.PAGE_VIEW,
                    occurred_at=end7 + timedelta(days=2),
                    source="web",
                    external_id="p1",
                )
            ],
        )
    until = DAY + timedelta(days=40)
    with store.connect() as conn:
        first = long_term_due(conn, "v1", None, until, HORIZON, limit=2)
        after = (first[-1].window_ends_at, first[-1].decision_id)
        rest = long_term_due(conn, "v1", after, until, HORIZON, limit=10)
        done = long_term_due(conn, "v1", (rest[-1].window_ends_at, rest[-1].decision_id), until, HORIZON)
    store.dispose()
    got = first + rest
    by_contact = {int(r.features[0]): r for r in got}
    assert [int(r.features[0]) for r in got] == [4, 1, 2, 3]  # window end, then id: ties split by the cursor
    assert {c: r.converted for c, r in by_contact.items()} == {4: True, 1: False, 2: True, 3: False}
    assert by_contact[4].action == "wait" and by_contact[4].arm == "random" and by_contact[4].propensity == 0.25
    assert done == []


def test_only_decisions_whose_action_happened_in_their_window_are_read(store_url):
    """An e-mail withheld (autonomy off), rejected, failed or landed after its window taught
    long-term value that e-mailing converts: the bandit's rows skip them (``learnable``), and so
    do these. One with no write (the real-time API's) or a write that landed in time is read."""
    from sqlalchemy import update

    from hub.store import pushes as push_store
    from hub.store.schema import pushes
    from tests.push_rows import set_field_rows

    store = Store(store_url, auto_migrate=True)
    end7 = DAY + timedelta(days=7)
    states = {  # contact: (push state, landed at); None: no write
        1: None,
        2: ("done", DAY + timedelta(minutes=5)),
        3: ("skipped", end7),
        4: ("rejected", DAY + timedelta(days=1)),
        5: ("failed", DAY + timedelta(hours=1)),
        6: ("done", end7 + timedelta(hours=1)),  # approved after the window closed
        7: ("awaiting_approval", DAY),
    }
    with store.begin() as conn:
        for cid in states:
            conn.execute(
                insert(contacts).values(
                    id=cid, created_at=DAY, changed_at=DAY, properties={}, email_opt_out=False, do_not_contact=False
                )
            )
            (did,) = decision_store.insert_decisions(conn, [_decision(cid, 7)], f"run-{cid}")
            if states[cid]:
                push_store.enqueue(conn, set_field_rows(cid, did, [f"r{cid}"], {"next_best_action": "email"}), DAY)
                state, at = states[cid]
                conn.execute(update(pushes).where(pushes.c.decision_id == did).values(state=state, updated_at=at))
        # a withheld write (governance.autonomy off for the action): never sent
        conn.execute(
            insert(contacts).values(
                id=8, created_at=DAY, changed_at=DAY, properties={}, email_opt_out=False, do_not_contact=False
            )
        )
        (did,) = decision_store.insert_decisions(conn, [_decision(8, 7)], "run-8")
        push_store.withhold(
            conn, set_field_rows(8, did, ["r8"], {"next_best_action": "email"}), DAY, push_store.AUTONOMY_OFF
        )
    with store.connect() as conn:
        got = long_term_due(conn, "v1", None, DAY + timedelta(days=40), HORIZON)
    store.dispose()
    assert sorted(int(r.features[0]) for r in got) == [1, 2, 3]
