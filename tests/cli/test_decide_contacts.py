"""`hub decide --contact A --contact B` with one of them unknown decides the known ones, names
each unknown one with what to do, and exits 1; it used to decide none of them. `hub decisions`
names an unknown contact in the same words (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import hub_config
from tests.plugins.memory_crm import MemoryCRM

WHAT_TO_DO = "check it, or bring the person in first (hub sync, hub import contacts)"


def hub(cfg, *args: str):  # noqa: ANN001, ANN201 - a path; click's Result
    return CliRunner().invoke(app, [*args, "-c", str(cfg)], terminal_width=300)


def _decided(cfg, who: str) -> int:  # noqa: ANN001
    res = hub(cfg, "decisions", who, "--json")
    assert res.exit_code == 0, res.output
    return len(json.loads(res.stdout))


def test_decide_decides_the_known_contacts_and_names_each_unknown_one(tmp_path, store_url, redis_url):
    cfg = hub_config(tmp_path, store_url, redis_url, **{"api.embedded": True})
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    for i in range(3):
        crm.put_contact(f"c{i}", email=f"p{i}@example.com", first_name=f"P{i}")
    assert hub(cfg, "migrate").exit_code == 0
    assert hub(cfg, "sync").exit_code == 0
    res = hub(cfg, "decide", "--contact", "p0@example.com", "--contact", "nobody@example.com", "--contact", "c1",
              "--contact", "zz-404")  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "Decided for 2 contacts" in res.stdout, res.output
    unknown = [ln for ln in res.stderr.splitlines() if "No contact has" in ln]
    assert len(unknown) == 2, res.stderr
    assert "'nobody@example.com'" in unknown[0] and "'zz-404'" in unknown[1]
    assert all(WHAT_TO_DO in ln for ln in unknown), res.stderr
    assert (_decided(cfg, "p0@example.com"), _decided(cfg, "c1"), _decided(cfg, "p2@example.com")) == (1, 1, 0)

    none = hub(cfg, "decide", "--contact", "nobody@example.com")
    assert none.exit_code == 1 and "nothing decided" in none.stderr, none.output
    assert _decided(cfg, "p0@example.com") == 1

    shown = hub(cfg, "decisions", "nobody@example.com")
    assert shown.exit_code == 1
    assert f"No contact has the e-mail, record id or contact id 'nobody@example.com': {WHAT_TO_DO}" in " ".join(
        shown.stderr.split()
    ), shown.stderr
    crm.clear()
