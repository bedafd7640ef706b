"""`hub forget`: the person leaves the store entirely, and with --clear-crm the hub's fields
leave the CRM first; if the CRM cannot be reached, nothing is deleted until it can."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.forget import forget
from hub.pipeline.run import run_once
from hub.store.schema import activities, contact_emails, contacts, decisions, identities, outcomes, pushes
from tests.plugins.memory_crm import MemoryCRM
from tests.test_config import run_hub
from tests.test_pipeline import make_ctx, seed

TABLES = (contacts, contact_emails, identities, decisions, pushes, activities)


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def rows_of(ctx, contact_id: int) -> dict[str, int]:
    out = {}
    with ctx.store.connect() as conn:
        for t in TABLES:
            col = t.c.id if t is contacts else t.c.contact_id
            out[t.name] = conn.execute(select(func.count()).where(col == contact_id)).scalar()
        out["outcomes"] = conn.execute(
            select(func.count()).where(
                outcomes.c.decision_id.in_(select(decisions.c.id).where(decisions.c.contact_id == contact_id))
            )
        ).scalar()
    return out


def contact_id_of(ctx, email: str) -> int:
    with ctx.store.connect() as conn:
        return conn.execute(select(contact_emails.c.contact_id).where(contact_emails.c.email == email)).scalar()


def test_forget_with_clear_crm_empties_the_hub_fields_then_removes_every_row(tmp_path, store_url, redis_url, crm):
    seed(crm, n=5, hot=2)  # person 0 is hot: page views (activities) and a list
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    assert crm.contact("0")["next_best_action"] == "sales_outreach"
    cid = contact_id_of(ctx, "p0@example.com")
    before = rows_of(ctx, cid)
    assert before["activities"] == 3 and before["decisions"] == 1 and before["pushes"] >= 2
    other = rows_of(ctx, contact_id_of(ctx, "p1@example.com"))

    report = forget(ctx, "  P0@Example.com ", clear_crm=True)

    assert report.done and report.cleared == {"crm": {"done": 1}}
    assert crm.contact("0")["next_best_action"] == "" and crm.contact("0")["reason"] == ""
    assert crm.contact("1")["next_best_action"] == "sales_outreach", "nobody else is touched"
    assert set(rows_of(ctx, cid).values()) == {0}
    assert report.deleted["activities"] == 3 and report.deleted["decisions"] == 2  # the rule's and the clear
    assert rows_of(ctx, contact_id_of(ctx, "p1@example.com")) == other
    assert not forget(ctx, "p0@example.com").found
    ctx.close()


def test_forget_waits_while_the_crm_is_down_and_finishes_on_a_rerun(tmp_path, store_url, redis_url, crm):
    seed(crm, n=3, hot=0)
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    cid = contact_id_of(ctx, "p2@example.com")
    crm.r.set(crm.k("flaky_left"), 100)  # every push call fails as retryable
    report = forget(ctx, "p2@example.com", clear_crm=True)
    assert not report.done and report.waiting
    assert rows_of(ctx, cid)["contacts"] == 1, "nothing is deleted before the CRM is cleared"
    assert crm.contact("2")["next_best_action"] == "email_nurture"
    crm.r.delete(crm.k("flaky_left"))
    report = forget(ctx, "p2@example.com", clear_crm=True)
    assert report.done, report.waiting
    assert crm.contact("2")["next_best_action"] == ""
    assert set(rows_of(ctx, cid).values()) == {0}
    ctx.close()


def test_forget_cli_without_clear_crm_leaves_the_crm_alone(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=0)
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    ctx = make_ctx(tmp_path, store_url, redis_url)
    run_once(ctx)
    ctx.close()
    cfg = str(tmp_path / "hub.yaml")
    out = run_hub("forget", "p1@example.com", "-c", cfg)
    assert out.returncode == 0, out.stderr
    assert "Forgotten contact" in out.stdout
    assert crm.contact("1")["next_best_action"] == "email_nurture"
    missing = run_hub("forget", "p1@example.com", "-c", cfg)
    assert missing.returncode == 1 and "No contact" in missing.stderr
