"""API fixtures: a hub.yaml with tokens, a console user and webhook secrets; Redis DB 11.

Contacts come in through the real pipeline (memory_crm plugin -> sync_connector), and
failed pushes through the real push step, so no test writes store rows by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from hub.config import load_settings
from hub.console.passwords import hash_password
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.push import push_connector
from hub.pipeline.sync import sync_connector
from hub.store import Store
from tests.conftest import hub_config
from tests.plugins.memory_crm import MemoryCRM

TOKENS = {
    "decide": "decide-token-0123456789abcdef",
    "events": "events-token-0123456789abcdef",
    "admin": "admin-token-0123456789abcdef01",
}
PASSWORD = "correct horse battery staple"
HUBSPOT_SECRET = "hs-client-secret-0123456789"
SF_SECRET = "sf-shared-secret-0123456789"
NAMESPACE = "apicrm"


def api_section(embedded: bool) -> dict:
    return {
        "embedded": embedded,
        "tokens": [{"name": k, "token": f"${{HUB_TEST_TOKEN_{k.upper()}}}", "scopes": [k]} for k in TOKENS],
        "users": [{"username": "ops", "password_hash": hash_password(PASSWORD, iterations=1000)}],
        "session_secret": "s" * 40,
        "hubspot_client_secret": HUBSPOT_SECRET,
        "salesforce_shared_secret": SF_SECRET,
        "public_url": "https://hub.example.com",
    }


@pytest.fixture
def api_redis_url(redis_url: str) -> str:
    """The run's leased Redis database (tests/conftest.py), flushed before and after."""
    return redis_url


@pytest.fixture(autouse=True)
def _token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in TOKENS.items():
        monkeypatch.setenv(f"HUB_TEST_TOKEN_{k.upper()}", v)


@pytest.fixture
def crm(api_redis_url: str) -> Iterator[MemoryCRM]:
    c = MemoryCRM(api_redis_url, NAMESPACE)
    c.clear()
    yield c
    c.clear()


def make_config(tmp_path, store_url: str, redis_url: str, embedded: bool = True, **extra):
    Store(store_url, auto_migrate=True).dispose()  # PostgreSQL is never migrated implicitly
    path = hub_config(
        tmp_path,
        store_url,
        redis_url,
        **{"connectors.crm.settings.namespace": NAMESPACE, "api": api_section(embedded), **extra},
    )
    return load_settings(path)


def seed(ctx: HubContext, crm: MemoryCRM, n: int = 3) -> None:
    """n contacts in the CRM, synced and decided through the real pipeline."""
    now = datetime.now(UTC)
    for i in range(n):
        crm.put_contact(f"c{i}", email=f"person{i}@example.com", first_name=f"P{i}", updated_at=now.isoformat())
    crm.add_activity("a0", "c0", "page_view", now - timedelta(days=1))
    res = sync_connector(ctx, "crm")
    decide_contacts(ctx, sorted(res.changed), "seed")


def fail_one_push(ctx: HubContext, crm: MemoryCRM) -> None:
    """Make the CRM reject c1's writes, then push: its pushes end failed with the CRM's reason."""
    crm.set_fault("fail_records", ["c1"])
    push_connector(ctx, "crm")
    crm.set_fault("fail_records", [])


@pytest.fixture
def settings(tmp_path, store_url, api_redis_url):
    """On SQLite and on a throw-away PostgreSQL database (tests/conftest.py's store_url)."""
    return make_config(tmp_path, store_url, api_redis_url)


@pytest.fixture
def client(settings, crm) -> Iterator[TestClient]:
    from hub.api.app import create_app

    app = create_app(settings)
    seed(app.state.hub.ctx, crm)
    with TestClient(app, base_url="https://hub.example.com") as c:
        yield c
    app.state.hub.close()


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[scope]}"}
