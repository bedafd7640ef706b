"""Governance fixtures: the memory CRM and hub contexts built from a real hub.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.config import load_settings
from hub.pipeline.context import HubContext
from hub.store import Store
from tests.conftest import hub_config
from tests.plugins.memory_crm import MemoryCRM


@pytest.fixture
def crm(redis_url):
    c = MemoryCRM(redis_url, "memcrm")
    c.clear()
    yield c
    c.clear()


def seed(crm: MemoryCRM, n: int = 6, hot: int = 3, industry: str | None = None) -> None:
    """n contacts; the first ``hot`` have three page views (the rules' sales hand-off)."""
    now = datetime.now(UTC)
    for i in range(n):
        crm.put_contact(str(i), email=f"p{i}@example.com", first_name=f"P{i}", stage="lead", industry=industry)
    for i in range(hot):
        for k in range(3):
            crm.add_activity(f"pv-{i}-{k}", str(i), "page_view", now - timedelta(days=k))


def make_ctx(tmp_path, store_url, redis_url, **overrides) -> HubContext:
    Store(store_url, auto_migrate=True).dispose()
    return HubContext.build(load_settings(hub_config(tmp_path, store_url, redis_url, **overrides)), embedded=True)
