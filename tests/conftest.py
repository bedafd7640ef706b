"""Shared fixtures: a private Redis database, a throw-away PostgreSQL database, hub configs.

Tests use Redis DB 13 and a PostgreSQL database named hub_test_<random>, and clean both up.
"""

from __future__ import annotations

import os

# Before anything loads OpenMP: the tests run real worker processes beside this one on 2 cores, and
# gradient boosting's spinning OpenMP threads then slow a fit by 4x or more (measured on the lead
# scorer); one thread each is the faster choice here. A caller's own setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import yaml
from hypothesis import HealthCheck, settings

# A 2-core machine shared with other work: generation speed and per-example time say nothing
# about correctness here, so neither fails a test.
settings.register_profile("hub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hub")

REDIS_BASE = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379")
PG_ADMIN = os.environ.get("HUB_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    """A Redis database no other test run on this machine is using (DBs 8-15, leased in DB 0).

    Celery queue names are fixed, so two test runs sharing a database would steal each
    other's tasks."""
    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    token = uuid.uuid4().hex
    own = os.environ.get("HUB_TEST_REDIS_DB")  # a database this run was given (a shared machine)
    for db in [int(own)] if own else range(8, 16):
        if admin.set(f"hub:test-lease:{db}", token, nx=True, ex=3600):
            break
    else:
        raise RuntimeError(f"every test Redis database ({own or '8-15'}) is leased; is another test run stuck?")
    yield db
    if admin.get(f"hub:test-lease:{db}") == token.encode():
        admin.delete(f"hub:test-lease:{db}")
    admin.close()


@pytest.fixture
def redis_url(redis_db) -> Iterator[str]:
    url = f"{REDIS_BASE}/{redis_db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _pg_database() -> Iterator[str]:
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _pg_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        yield from _pg_database()


def hub_config(tmp_path: Path, store_url: str, redis_url: str, **overrides) -> Path:
    """Write a hub.yaml with one memory_crm connector named ``crm``."""
    cfg = {
        "store_url": store_url,
        "broker_url": redis_url,
        "plugins": ["tests.plugins.memory_crm"],
        "connectors": {
            "crm": {
                "type": "memory_crm",
                "settings": {"redis_url": redis_url, "namespace": "memcrm", "page_size": 25},
            }
        },
        "decision": {
            "policy": "rules",  # these tests pin the exact actions; the engine has its own tests
            "chunk_size": 20,
            "rules": [
                {
                    "name": "hot",
                    "when": "activities_30d['page_view'] >= 3 and not do_not_contact",
                    "reason": "Three or more page views this month",
                    "actions": [
                        {"kind": "set_fields", "fields": {"next_best_action": "sales_outreach", "reason": "hot"}},
                        {"kind": "add_to_list", "list": "sales-ready"},
                    ],
                },
                {
                    "name": "nurture",
                    "when": "not email_opt_out",
                    "actions": [
                        {"kind": "set_fields", "fields": {"next_best_action": "email_nurture", "reason": "nurture"}}
                    ],
                },
            ],
        },
        "celery": {"visibility_timeout": 6, "restore_interval": 1, "task_time_limit": 120},
        "push": {"lease_seconds": 4, "backoff_base": 0.2, "max_attempts": 5},
    }
    for key, value in overrides.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path
