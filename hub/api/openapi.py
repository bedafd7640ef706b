"""The OpenAPI document says what each operation can answer, errors included.

FastAPI documents a route's own responses, and its 422 as ``application/json``. But every error
here is an RFC 9457 ``application/problem+json`` document (hub/api/problems.py), and some come
from before the route: :class:`~hub.api.guard.RequestGuard` refuses a NUL in the URL or a bad
``Content-Length`` (400), a body over the route's limit (413; 400 on Segment's routes, as Segment
answers) and a missing or wrong token (401),
and any route that reads the store answers 503 when the store is down. A client generated from
the document should expect all of them, so each operation lists them, and each error response
has the ``Problem`` schema.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hub.api.guard import SEGMENT_ROUTES, TOKEN_ROUTES
from hub.api.problems import PROBLEM
from hub.api.schemas import MAX_ID

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details: what went wrong, in a sentence that says what to fix.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "each invalid field (422)",
            "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}},
        },
    },
}
_REF = {"$ref": "#/components/schemas/Problem"}

#: what the guard and the store can answer on every operation of the API
EVERYWHERE = {
    400: "A NUL in the URL, a Content-Length that is not a number, or a body that is not JSON of a bounded shape",
    413: "The body is over this route's size limit",
    503: "The store is unavailable; retry later",
}
UNAUTHORIZED = "No valid credentials: a bearer token (a Segment write key on Segment's routes)"


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with every error response a problem document."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for path, operations in spec.get("paths", {}).items():
        guarded = path.startswith(("/v1/", "/metrics"))
        for op in operations.values():
            responses = op.setdefault("responses", {})
            if guarded:
                segment = path.startswith(SEGMENT_ROUTES)  # over its limit, Segment answers 400
                for status, why in EVERYWHERE.items():
                    if not (segment and status == 413):
                        responses.setdefault(str(status), {"description": why})
                if path.startswith(TOKEN_ROUTES + SEGMENT_ROUTES):
                    responses.setdefault("401", {"description": UNAUTHORIZED})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = {PROBLEM: {"schema": _REF}}
                    if not response.get("description") or response["description"] == "Additional Response":
                        response["description"] = HTTPStatus(int(status)).phrase
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, never sent here
        schemas.pop(unused, None)
    _integer_bounds(spec)
    app.openapi_schema = spec
    return spec


def _integer_bounds(node: Any) -> None:
    """Integer bounds back to exact integers: FastAPI's OpenAPI model holds them as floats, so
    the id bound 2**63 - 1 read 2**63 (9.223372036854776e+18), a value the API refuses. No
    integer bound here is past a 64-bit id."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in ("minimum", "maximum"):
                v = node.get(key)
                if isinstance(v, float) and v.is_integer():
                    node[key] = max(-MAX_ID, min(MAX_ID, int(v)))
        for child in node.values():
            _integer_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _integer_bounds(child)


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
