"""CUPED: lift and impact adjust each metric by the same metric over the 28 days before a
contact's first decision (hub/reports/lift.py, hub/reports/data.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from hub.models import Activity, Contact, Decision, Identity
from hub.reports.data import PRE_DAYS, load_arm_frame
from hub.reports.lift import compare, lift_rows
from hub.store import Store
from hub.store.activities import insert_activities
from hub.store.contacts import upsert_contacts
from hub.store.decisions import insert_decisions
from hub.store.schema import contacts as contacts_table

T0 = datetime(2025, 6, 2, tzinfo=UTC)


def _world(rng: np.random.Generator, n: int, effect: float) -> tuple[np.ndarray, ...]:
    """Per contact: pre-period activity x, and an outcome y = 3 x + noise (+ effect in arm a)."""
    xa, xb = rng.poisson(2.0, n).astype(float), rng.poisson(2.0, n).astype(float)
    ya = 3 * xa + rng.normal(0, 1.5, n) + effect
    yb = 3 * xb + rng.normal(0, 1.5, n)
    return ya, yb, xa, xb


def test_history_narrows_the_interval_and_it_still_covers_the_effect():
    rng = np.random.default_rng(7)
    covered, reductions, widths = 0, [], []
    for _ in range(200):
        ya, yb, xa, xb = _world(rng, 300, effect=0.5)
        raw = compare("reward", "engine", "holdout", ya, yb)
        adj = compare("reward", "engine", "holdout", ya, yb, xa, xb)
        covered += adj.low <= 0.5 <= adj.high
        reductions.append(adj.variance_reduction)
        widths.append((adj.high - adj.low) / (raw.high - raw.low))
        assert raw.variance_reduction == 0.0
    # corr(x, y)^2 = 18 / (18 + 2.25): about 89% of the variance is the history's
    assert 0.85 < np.mean(reductions) < 0.93
    assert np.mean(widths) < 0.4
    assert covered >= 180  # a 95% interval: 190 expected of 200


def test_chance_imbalance_in_history_is_corrected():
    rng = np.random.default_rng(3)
    ya, yb, xa, xb = _world(rng, 400, effect=0.0)
    xa, ya = xa + 1, ya + 3  # arm a happened to draw people more active before: no effect of the arm
    raw = compare("reward", "engine", "holdout", ya, yb)
    adj = compare("reward", "engine", "holdout", ya, yb, xa, xb)
    assert raw.low > 0  # unadjusted: a "significant" lift that is only who was in the arm
    assert adj.low <= 0 <= adj.high


def test_without_history_nothing_changes():
    rng = np.random.default_rng(1)
    ya, yb, _, _ = _world(rng, 100, effect=1.0)
    plain = compare("reward", "engine", "holdout", ya, yb)
    flat = compare("reward", "engine", "holdout", ya, yb, np.zeros(100), np.zeros(100))
    assert flat == plain


def test_the_store_frame_reads_the_28_days_before_each_first_decision(store_url):
    """Contacts whose activity before the hub acted predicts what they do after: the frame holds
    that history (not what is older, not mirrors), and lift_rows uses it."""
    store = Store(store_url, auto_migrate=True)
    rng = np.random.default_rng(11)
    n = 120
    people = [Contact(identities=[Identity(connector="crm", external_id=f"c{i}")]) for i in range(n)]
    with store.begin() as conn:
        upsert_contacts(conn, people, T0)
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
    decisions, acts = [], []
    for k, cid in enumerate(ids):
        first = T0 + timedelta(days=k % 7)
        arm = "engine" if k % 2 else "holdout"
        decisions.append(
            Decision(contact_id=cid, actions=[], policy="p", policy_version="1", arm=arm, created_at=first)
        )
        active = int(rng.poisson(2.0))
        for j in range(active):  # history inside the window, and the same again after the decision
            acts.append(_act(cid, "email_open", first - timedelta(days=1 + j), f"pre{cid}-{j}"))
            acts.append(_act(cid, "email_open", first + timedelta(days=1 + j), f"post{cid}-{j}"))
        acts.append(_act(cid, "email_open", first - timedelta(days=PRE_DAYS + 2), f"old{cid}"))  # too old
        acts.append(_act(cid, "email_open", first - timedelta(hours=5), f"mir{cid}", mirror_of="x"))
    with store.begin() as conn:
        insert_decisions(conn, decisions, "req")
        insert_activities(conn, acts)
    with store.connect() as conn:
        frame = load_arm_frame(conn)
    store.dispose()
    keys_per_contact = np.bincount(frame.pre_row, minlength=n)
    expected = np.asarray([sum(a.external_id.startswith(f"pre{c}-") for a in acts) for c in frame.contact_id])
    assert (keys_per_contact == expected).all()
    rows = {r.metric: r for r in lift_rows(frame)}
    assert rows["reward"].variance_reduction > 0.9  # the outcome is the history, again
    assert rows["conversion"].variance_reduction == 0.0  # no opportunity before or after: nothing to adjust


def _act(cid: int, kind: str, at: datetime, key: str, **props) -> Activity:
    return Activity(contact_id=cid, type=kind, occurred_at=at, properties=props, source="t", external_id=key)


def test_hub_report_lift_says_when_it_adjusted(tmp_path):
    from typer.testing import CliRunner

    from hub.cli.reports import reports_app

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store(url, auto_migrate=True)
    people = [Contact(identities=[Identity(connector="crm", external_id=f"c{i}")]) for i in range(40)]
    with store.begin() as conn:
        upsert_contacts(conn, people, T0)
        ids = sorted(conn.execute(select(contacts_table.c.id)).scalars())
        arms = ["engine" if k % 2 else "holdout" for k in range(len(ids))]
        insert_decisions(
            conn,
            [
                Decision(contact_id=c, actions=[], policy="p", policy_version="1", arm=a, created_at=T0)
                for c, a in zip(ids, arms, strict=True)
            ],
            "req",
        )
        acts = []
        for k, cid in enumerate(ids):
            for j in range(k % 4):  # the same activity before and after
                acts.append(_act(cid, "email_open", T0 - timedelta(days=1 + j), f"pre{cid}-{j}"))
                acts.append(_act(cid, "email_open", T0 + timedelta(days=1 + j), f"post{cid}-{j}"))
        insert_activities(conn, acts)
    store.dispose()
    text = CliRunner().invoke(reports_app, ["lift", "--store-url", url]).output
    assert "(CUPED) on reward" in text and "of the variance removed" in text
    as_json = CliRunner().invoke(reports_app, ["lift", "--store-url", url, "--json"]).output
    assert '"variance_reduction"' in as_json


def test_readers_of_means_only_skip_the_history_query(tmp_path):
    """/metrics and monitoring read arm means: ``history=False`` leaves the pre-period empty."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    store = Store(url, auto_migrate=True)
    with store.begin() as conn:
        upsert_contacts(conn, [Contact(identities=[Identity(connector="crm", external_id="c0")])], T0)
        cid = conn.execute(select(contacts_table.c.id)).scalar()
        insert_decisions(
            conn, [Decision(contact_id=cid, actions=[], policy="p", policy_version="1", created_at=T0)], "r"
        )
        insert_activities(conn, [_act(cid, "email_open", T0 - timedelta(days=1), "pre")])
    with store.connect() as conn:
        full, means = load_arm_frame(conn), load_arm_frame(conn, history=False)
    store.dispose()
    assert len(full.pre_row) == 1 and len(means.pre_row) == 0
    assert (full.contact_id == means.contact_id).all()
