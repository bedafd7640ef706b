"""End to end: an owner deactivated in HubSpot stops receiving leads at the next sync.

The hub routes sales hand-offs among ``decision.owners``; each sync now reads HubSpot's owners
(active and archived) into the store, and routing leaves out those HubSpot archived. Until that
sync, an assignment to the archived owner is refused and kept as a failed push with the reason.
"""

from __future__ import annotations

from collections import Counter

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.owner_status import owner_statuses, owner_warnings
from hub.pipeline.push import push_connector
from hub.pipeline.sync import sync_connector
from hub.sandbox.serve import start_sandbox
from hub.sandbox.world import World
from hub.store import Store
from hub.store import owners as owner_store
from hub.store import pushes as push_store
from tests.conftest import hub_config

CAPACITY = {"max_new_per_day": 1000, "max_open_leads": 1000}


def _ctx(tmp_path, store_url, redis_url, sb, owners: tuple[str, ...] = ("71001", "71003")) -> HubContext:
    settings = {"access_token": sb.hubspot_token, "base_url": sb.hubspot_url}
    rule = {
        "name": "hand off",
        "when": "True",
        "actions": [{"kind": "set_fields", "fields": {"next_best_action": "sales_outreach", "reason": "x"}}],
    }
    cfg = hub_config(
        tmp_path,
        store_url,
        redis_url,
        plugins=[],
        connectors={"crm": {"type": "hubspot", "settings": settings}},
        **{
            "decision.rules": [rule],
            "decision.owners": [{"id": o, "capacity": CAPACITY} for o in owners],
        },
    )
    Store(store_url, auto_migrate=True).dispose()
    ctx = HubContext.build(load_settings(cfg), embedded=True)
    ctx.connector("crm").ensure_schema()
    ctx.connector("crm").client.sleep = lambda s: None
    return ctx


def _assignments(ctx) -> list:
    with ctx.store.connect() as conn:
        return [p for p in push_store.list_pushes(conn, state=None, limit=10_000) if p.kind == "assign_owner"]


def test_an_owner_archived_in_hubspot_gets_no_leads_after_the_next_sync(tmp_path, store_url, redis_url):
    world = World(n_contacts=60, seed=7)
    with start_sandbox(world) as sb:
        ctx = _ctx(tmp_path, store_url, redis_url, sb)
        try:
            changed = sorted(sync_connector(ctx, "crm").changed)
            with ctx.store.connect() as conn:
                assert owner_store.inactive(conn) == set()
            first, second, third = changed[:10], changed[10:20], changed[20:30]
            decide_contacts(ctx, first, "k1")
            assert Counter(p.payload["owner"] for p in _assignments(ctx)) == Counter({"71001": 5, "71003": 5})
            push_connector(ctx, "crm")

            with world.hubspot.lock:  # the rep leaves; an admin deactivates their user
                world.hubspot.archive_owner("71003")
            decide_contacts(ctx, second, "k2")  # no sync yet: the hub still routes to them
            push_connector(ctx, "crm")
            refused = [p for p in _assignments(ctx) if p.payload["owner"] == "71003" and p.state == "failed"]
            assert len(refused) == 5
            assert all("'71003' is not an active HubSpot owner" in (p.last_error or "") for p in refused)

            sync_connector(ctx, "crm")  # reads the owners again
            with ctx.store.connect() as conn:
                assert owner_store.inactive(conn) == {"71003"}
                seen = owner_statuses(ctx.settings, conn, ctx.clock())  # what hub status and the console show
            assert [(o.id, o.crm_view, o.eligible) for o in seen] == [
                ("71001", "active", True),
                ("71003", "deactivated in crm", False),
            ]
            assert owner_warnings(seen)[0].startswith("Owners getting no leads: 71003 (deactivated in crm")
            before = {p.id for p in _assignments(ctx)}
            decide_contacts(ctx, third, "k3")
            new = [p for p in _assignments(ctx) if p.id not in before]
            assert len(new) == 10 and {p.payload["owner"] for p in new} == {"71001"}
        finally:
            ctx.close()


def test_owners_unreadable_keep_those_read_before_and_the_sync_succeeds(tmp_path, store_url, redis_url):
    world = World(n_contacts=20, seed=3)
    with start_sandbox(world) as sb:
        ctx = _ctx(tmp_path, store_url, redis_url, sb)
        try:
            with world.hubspot.lock:
                world.hubspot.archive_owner("71002")
            sync_connector(ctx, "crm")
            sb.hubspot.scopes -= {"crm.objects.owners.read"}
            result = sync_connector(ctx, "crm")
            assert not result.skipped
            with ctx.store.connect() as conn:
                assert owner_store.inactive(conn) == {"71002"}
        finally:
            ctx.close()


def test_an_owner_id_hubspot_does_not_know_gets_no_leads_once_its_owners_are_read(tmp_path, store_url, redis_url):
    """A typo or a removed user in decision.owners: HubSpot refuses every assignment to it, so
    once a sync has read HubSpot's owners, routing gives its share to the owners HubSpot knows,
    and `hub status` says it gets none and why."""
    world = World(n_contacts=40, seed=5)
    with start_sandbox(world) as sb:
        ctx = _ctx(tmp_path, store_url, redis_url, sb, owners=("71001", "71099"))
        try:
            changed = sorted(sync_connector(ctx, "crm").changed)
            with ctx.store.connect() as conn:
                seen = owner_statuses(ctx.settings, conn, ctx.clock())
            assert [(o.id, o.crm_view, o.eligible) for o in seen] == [
                ("71001", "active", True),
                ("71099", "not reported", False),
            ]
            warning = " ".join(owner_warnings(seen))
            assert "71099" in warning and "get no leads" in warning
            decide_contacts(ctx, changed[:10], "k1")
            assert Counter(p.payload["owner"] for p in _assignments(ctx)) == Counter({"71001": 10})
            push_connector(ctx, "crm")
            assert all(p.state == "done" for p in _assignments(ctx))
        finally:
            ctx.close()
