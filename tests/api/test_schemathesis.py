"""Property-based run of every operation in the OpenAPI document: no input gives a 5xx, and
every answer is one the document lists, with its content type and schema (hub/api/openapi.py).

Schemathesis generates the cases; hypothesis runs them (schemathesis' own pytest plugin does
not load under pytest 9 yet, so the operations are walked here).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import TOKENS

STATUSES: list[int] = []
#: the document must list each status, content type and body the API answers with
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}


def test_no_input_makes_a_server_error(client):
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    seen = []
    for result in schema.get_all_operations():
        op = result.ok()
        seen.append(f"{op.method.upper()} {op.path}")

        # valid input, and input the document forbids (the guard's and the handlers' refusals)
        @given(case=op.as_strategy() | op.as_strategy(schemathesis.GenerationMode.NEGATIVE))
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            for headers in (ADMIN, {}):
                response = case.call(headers=headers)
                STATUSES.append(response.status_code)
                where = f"{case.method} {case.formatted_path}"
                assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
                if response.status_code >= 400:
                    assert response.headers["content-type"][0].startswith("application/problem+json"), where
                case.validate_response(response, checks=CONFORMANCE)

        run()
    assert any(200 <= s < 300 for s in STATUSES) and any(s == 422 for s in STATUSES)
    assert {"POST /v1/decisions", "POST /v1/events", "POST /v1/webhooks/hubspot", "GET /metrics"} <= set(seen)
