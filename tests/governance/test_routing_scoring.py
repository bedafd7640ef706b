"""Owner routing of sales hand-offs and lead-score pushes, wired after the policy decides."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hub.config import Settings
from hub.governance import approvals
from hub.models import Action, ActionKind, Company, Contact, Decision
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.routing import route_handoffs
from hub.pipeline.run import run_once
from hub.pipeline.sync import sync_connector
from hub.store import Store
from hub.store import pushes as push_store
from tests.governance.conftest import make_ctx, seed

OWNERS = [
    {"id": "ana", "specializations": {"industries": ["software"]}, "capacity": {"max_new_per_day": 2}},
    {"id": "bo", "active": False, "specializations": {"industries": ["software"]}},
    {"id": "cy", "capacity": {"max_new_per_day": 1}},
]


def owner_writes(ctx) -> Counter:
    with ctx.store.connect() as conn:
        rows = push_store.list_pushes(conn, state=None, limit=1000)
    return Counter(p.payload["owner"] for p in rows if p.kind == "assign_owner")


def test_handoffs_respect_active_specialization_and_daily_capacity(tmp_path, store_url, redis_url, crm):
    seed(crm, n=7, hot=5, industry="software")
    ctx = make_ctx(tmp_path, store_url, redis_url, **{"decision.owners": OWNERS})
    run_once(ctx)
    owners = {e["record"]: e["new"] for e in crm.effects() if e["field"] == "owner"}
    assert Counter(owners.values()) == Counter({"ana": 2, "cy": 1})  # bo is inactive; two leads find no one
    assert set(owners) <= {"0", "1", "2", "3", "4"}  # only hand-offs are routed
    with ctx.store.connect() as conn:
        from sqlalchemy import select

        from hub.store.schema import decisions

        expl = list(conn.execute(select(decisions.c.explanation)).scalars())
    routed = [e for e in expl if "| routing:" in e]
    assert len(routed) == 5
    assert sum("every eligible owner is at capacity" in e for e in routed) == 2

    # a second batch the same day: every owner's capacity for today is used up
    decide_contacts(ctx, list(range(1, 8)), "again")
    assert owner_writes(ctx) == Counter({"ana": 2, "cy": 1})
    ctx.close()


def test_assign_owner_needing_approval_is_held_and_still_counts_against_capacity(tmp_path, redis_url, crm):
    seed(crm, n=4, hot=4, industry="software")
    gov = {"autonomy": {"kinds": {"assign_owner": "needs_approval"}}}
    ctx = make_ctx(
        tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, governance=gov, **{"decision.owners": OWNERS}
    )
    run_once(ctx)
    assert [e for e in crm.effects() if e["field"] == "owner"] == []
    with ctx.store.connect() as conn:
        held = approvals.list_approvals(conn)
    assert sorted(a.payload["owner"] for a in held) == ["ana", "ana", "cy"]
    decide_contacts(ctx, [1, 2, 3, 4], "again")
    assert owner_writes(ctx) == Counter({"ana": 2, "cy": 1})
    with ctx.store.begin() as conn:
        approvals.decide(conn, held[0].id, "approve", "lead-desk", None, ctx.clock())
    push_connector(ctx, "crm")
    assert [e["new"] for e in crm.effects() if e["field"] == "owner"] == [held[0].payload["owner"]]
    ctx.close()


def test_territory_is_a_hard_constraint(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", auto_migrate=True)
    settings = Settings.model_validate(
        {
            "decision": {
                "policy": "rules",
                "owners": [
                    {"id": "de_rep", "territory": ["DE"], "capacity": {"max_new_per_day": 1}},
                    {"id": "anyone", "capacity": {"max_new_per_day": 5}},
                ],
            }
        }
    )
    now = datetime.now(UTC)
    countries = {1: "DE", 2: "DE", 3: "FR"}
    contacts = [Contact(id=i, company=Company(country=c)) for i, c in countries.items()]
    handoff = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "sales_outreach"}})
    static = Action(kind=ActionKind.ASSIGN_OWNER, payload={"owner": "legacy_queue"})
    decisions = [
        Decision(contact_id=i, actions=[handoff, static], policy="rules", policy_version="t", created_at=now)
        for i in countries
    ]
    with store.connect() as conn:
        out = route_handoffs(settings, conn, contacts, decisions, now.replace(hour=0))
    owners = {d.contact_id: [a.payload["owner"] for a in d.actions if a.kind is ActionKind.ASSIGN_OWNER] for d in out}
    assert owners == {1: ["de_rep"], 2: [], 3: ["anyone"]}  # the second DE lead waits rather than leave DE
    assert "territory 'territory DE'" in out[1].explanation
    assert decisions[1].actions[-1].payload["owner"] == "legacy_queue"  # inputs untouched
    store.dispose()


def test_routing_kill_switch_keeps_the_legacy_owner(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=2, industry="software")
    ctx = make_ctx(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        governance={"kill_switches": {"routing": True}},
        **{"decision.owners": OWNERS},
    )
    run_once(ctx)
    assert owner_writes(ctx) == Counter()  # the rules assign no owner; routing is off
    ctx.close()


def test_lead_scores_are_pushed_with_the_decision(tmp_path, redis_url, crm):
    seed(crm, n=6, hot=3)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, **{"decision.scoring": {}})
    run_once(ctx)
    effects = crm.effects()
    score = {e["record"]: e["new"] for e in effects if e["field"] == "lead_score"}
    prob = {e["record"]: e["new"] for e in effects if e["field"] == "conversion_probability"}
    assert set(score) == set(prob) == {str(i) for i in range(6)}
    assert all(0 <= s <= 100 for s in score.values()) and all(0 < p < 1 for p in prob.values())
    assert min(score[str(i)] for i in range(3)) > max(score[str(i)] for i in range(3, 6))  # page views count
    with ctx.store.connect() as conn:
        rows = push_store.list_pushes(conn, state=None, limit=1000)
    assert {p.kind for p in rows} == {"set_fields", "add_to_list"}  # scores ride on the field write
    assert len([p for p in rows if p.kind == "set_fields"]) == 6
    ctx.close()


def test_no_scores_without_scoring_config(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=1)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    sync_connector(ctx, "crm")
    run_once(ctx)
    assert not [e for e in crm.effects() if e["field"] in ("lead_score", "conversion_probability")]
    ctx.close()


def test_past_win_rate_in_the_segment_decides_between_equal_owners(tmp_path):
    from sqlalchemy import select

    from hub.models import Activity, Identity
    from hub.store.activities import insert_activities
    from hub.store.contacts import upsert_contacts
    from hub.store.schema import contacts as contacts_table

    store = Store(f"sqlite:///{tmp_path / 'hub.db'}", auto_migrate=True)
    now = datetime.now(UTC)
    history = {"ana": (2, 10), "cy": (8, 10)}  # (won, closed) in software / US
    with store.begin() as conn:
        people = [
            Contact(
                identities=[Identity(connector="crm", external_id=f"{o}-{k}")],
                owner=o,
                company=Company(industry="software", country="US"),
            )
            for o in history
            for k in range(10)
        ]
        upsert_contacts(conn, people, now)
        rows = conn.execute(select(contacts_table.c.id, contacts_table.c.owner).order_by(contacts_table.c.id)).all()
        acts, seen = [], Counter()
        for cid, owner in rows:
            kind = "opportunity_won" if seen[owner] < history[owner][0] else "opportunity_lost"
            seen[owner] += 1
            acts.append(Activity(contact_id=cid, type=kind, occurred_at=now, source="t", external_id=f"o{cid}"))
        insert_activities(conn, acts)
    settings = Settings.model_validate({"decision": {"policy": "rules", "owners": [{"id": "ana"}, {"id": "cy"}]}})
    handoff = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "sales_outreach"}})
    leads = {101: Company(industry="software", country="US"), 102: Company(industry="software", country="US")}
    contacts = [Contact(id=i, company=c) for i, c in leads.items()]
    decisions = [Decision(contact_id=i, actions=[handoff], policy="rules", policy_version="t") for i in leads]
    with store.connect() as conn:
        out = route_handoffs(settings, conn, contacts, decisions, now.replace(hour=0))
    owners = [[a.payload["owner"] for a in d.actions if a.kind is ActionKind.ASSIGN_OWNER] for d in out]
    assert owners == [["cy"], ["cy"]]  # both leads go to the owner who wins in this segment, not round-robin
    assert "(10 decided)" in out[0].explanation and "software/US" in out[0].explanation
    store.dispose()


def _store_with_leads(store_url: str, n: int, now: datetime) -> tuple[Store, list[int]]:
    """A store with ``n`` unowned contacts and one decision each (what pushes hang on)."""
    from sqlalchemy import select

    from hub.models import Identity
    from hub.store.contacts import upsert_contacts
    from hub.store.decisions import insert_decisions
    from hub.store.schema import contacts as contacts_table

    store = Store(store_url, auto_migrate=True)
    with store.begin() as conn:
        upsert_contacts(
            conn, [Contact(identities=[Identity(connector="hs", external_id=f"h{k}")]) for k in range(n)], now
        )
        ids = list(conn.execute(select(contacts_table.c.id).order_by(contacts_table.c.id)).scalars())
        made = [Decision(contact_id=i, actions=[], policy="rules", policy_version="t", created_at=now) for i in ids]
        decision_ids = insert_decisions(conn, made, "seed")
    return store, list(zip(ids, decision_ids, strict=True))


def _assign(conn, lead: tuple[int, int], owner: str, now: datetime, connectors=("hs", "sf")) -> None:
    """The assign_owner pushes of one hand-off: one row per CRM the person is in."""
    cid, did = lead
    rows = [
        {
            "decision_id": did,
            "contact_id": cid,
            "connector": c,
            "object_type": "contact",
            "external_id": f"{c}-{cid}",
            "kind": "assign_owner",
            "payload": {"owner": owner},
        }
        for c in connectors
    ]
    push_store.enqueue(conn, rows, now)


def test_capacity_counts_leads_not_push_rows(store_url):
    """A person in two CRMs is one lead: their hand-off's two assign_owner rows count once."""
    from hub.pipeline.routing import owner_load
    from hub.pipeline.targets import day_start

    now = datetime.now(UTC).replace(hour=12)
    store, leads = _store_with_leads(store_url, 6, now)
    with store.begin() as conn:
        for lead in leads[:2]:
            _assign(conn, lead, "ana", now)
    with store.connect() as conn:
        _, today = owner_load(conn, ["ana"], day_start(now))
    assert today == Counter({"ana": 2})
    settings = Settings.model_validate(
        {"decision": {"policy": "rules", "owners": [{"id": "ana", "capacity": {"max_new_per_day": 4}}]}}
    )
    handoff = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "sales_outreach"}})
    rest = [cid for cid, _ in leads[2:]]
    decisions = [Decision(contact_id=i, actions=[handoff], policy="rules", policy_version="t") for i in rest]
    with store.connect() as conn:
        out = route_handoffs(settings, conn, [Contact(id=i) for i in rest], decisions, day_start(now))
    routed = [d for d in out if any(a.kind is ActionKind.ASSIGN_OWNER for a in d.actions)]
    assert len(routed) == 2  # 2 of ana's 4 new leads today are taken, not 4
    store.dispose()


def test_open_leads_count_assignments_not_yet_synced_back(store_url):
    """An assignment the CRM has not echoed yet holds one of the owner's open-lead slots, once
    per person; one the sync shows, or that was rejected or failed, is not counted twice or at all."""
    from sqlalchemy import update

    from hub.pipeline.routing import owner_load
    from hub.pipeline.targets import day_start
    from hub.store.schema import contacts as contacts_table
    from hub.store.schema import pushes

    now = datetime.now(UTC).replace(hour=12)
    store, leads = _store_with_leads(store_url, 6, now)
    earlier = now - timedelta(hours=2)
    with store.begin() as conn:
        for lead in leads[:3]:
            _assign(conn, lead, "ana", now)
        _assign(conn, leads[3], "bo", now)
        _assign(conn, leads[5], "ana", earlier)
        # the sync brought lead 0's new owner back; lead 1's push landed, not yet synced back;
        # bo's push failed; lead 5's landed, then someone gave the lead to cy in the CRM
        conn.execute(update(contacts_table).where(contacts_table.c.id == leads[0][0]).values(owner="ana"))
        conn.execute(update(pushes).where(pushes.c.contact_id == leads[1][0]).values(state="done"))
        conn.execute(update(pushes).where(pushes.c.contact_id == leads[3][0]).values(state="failed"))
        conn.execute(update(pushes).where(pushes.c.contact_id == leads[5][0]).values(state="done"))
        conn.execute(
            update(contacts_table).where(contacts_table.c.id == leads[5][0]).values(owner="cy", changed_at=now)
        )
    with store.connect() as conn:
        open_leads, _ = owner_load(conn, ["ana", "bo"], day_start(now))
    assert open_leads == Counter({"ana": 3})
    settings = Settings.model_validate(
        {"decision": {"policy": "rules", "owners": [{"id": "ana", "capacity": {"max_open_leads": 3}}]}}
    )
    handoff = Action(kind=ActionKind.SET_FIELDS, payload={"fields": {"next_best_action": "sales_outreach"}})
    cid = leads[4][0]
    decision = Decision(contact_id=cid, actions=[handoff], policy="rules", policy_version="t")
    with store.connect() as conn:
        out = route_handoffs(settings, conn, [Contact(id=cid)], [decision], day_start(now))
    assert not [a for a in out[0].actions if a.kind is ActionKind.ASSIGN_OWNER]  # ana is full
    store.dispose()
