"""The PostgreSQL store goes away under a running API (a failover, a restart): every route that
reads it answers the 503 problem document the OpenAPI document promises, never a 500, and
never the driver's connection text."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from tests.api.conftest import auth, make_config, seed
from tests.conftest import PG_ADMIN


def test_a_store_gone_away_answers_503_store_unavailable_with_retry_after(tmp_path, pg_url, api_redis_url, crm):
    from hub.api.app import create_app

    app = create_app(make_config(tmp_path, pg_url, api_redis_url))
    seed(app.state.hub.ctx, crm)
    database = pg_url.rsplit("/", 1)[1]
    with TestClient(app, base_url="https://hub.example.com", raise_server_exceptions=False) as client:
        up = client.post("/v1/decisions", json={"contact": {"email": "person1@example.com"}}, headers=auth("decide"))
        assert up.status_code == 200, up.text
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        answers = [
            client.post("/v1/decisions", json={"contact": {"email": "person2@example.com"}}, headers=auth("decide")),
            client.post("/v1/decisions", json={"contact": {"contact_id": 1}}, headers=auth("decide")),
            client.get("/v1/contacts/1", headers=auth("admin")),
        ]
    app.state.hub.close()
    for r in answers:
        assert r.status_code == 503, (r.request.url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"].isdigit()
        body = r.json()
        assert (body["status"], body["title"]) == (503, "Store unavailable")
        assert database not in r.text and "127.0.0.1" not in r.text and "postgres" not in r.text.lower()
