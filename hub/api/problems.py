"""Errors as RFC 9457 ``application/problem+json``: a title, a status and a plain sentence.

Every handler here turns a known failure into a 4xx with a message that says what to fix, or
a 503 with Retry-After when the store is down; bad input never becomes a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import ConfigError, StoreError

PROBLEM = "application/problem+json"
#: the store's driver or pool failed: the database is down, restarting, unreachable or saturated
STORE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
RETRY_STORE = {"Retry-After": "30"}
log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers, self.extra = status, title, detail, headers, extra


def problem_response(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p != "body") or "body"


_NOT_AN_OBJECT = ("model_attributes_type", "model_type", "dict_type")


def _error(e: dict[str, Any]) -> dict[str, str]:
    """One of pydantic's errors in plain words: FastAPI names invalid JSON by its offset (field
    "1") and validators' messages by their exception ("Value error, ...")."""
    loc, kind, msg = tuple(e.get("loc", ())), e.get("type"), str(e.get("msg", "invalid"))
    if kind == "json_invalid":
        why = (e.get("ctx") or {}).get("error", "")
        where = f"at character {loc[-1]}" if len(loc) > 1 else ""
        return {"field": "body", "message": f"not valid JSON ({', '.join(p for p in (why, where) if p)})"}
    if loc == ("body",) and kind in _NOT_AN_OBJECT:
        return {"field": "body", "message": "send a JSON object with Content-Type: application/json"}
    return {"field": _loc(loc), "message": msg.removeprefix("Value error, ")}


def field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """Each problem of an invalid request as ``{field, message}``, worded for a person."""
    return [_error(e) for e in exc.errors()]


async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = field_errors(exc)
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    detail = f"{first['field']}: {first['message']}"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem(s), see `errors`)"
    return problem_response(422, "Invalid request", detail, errors=errors)


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    titles = {404: "Not found", 405: "Method not allowed"}
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such endpoint; see /docs for the API"
    return problem_response(
        exc.status_code, titles.get(exc.status_code, "Request failed"), detail, dict(exc.headers or {}) or None
    )


def known(exc: Exception) -> JSONResponse | None:
    """The answer to an error raised while deciding, or None for a bug (a 500)."""
    if isinstance(exc, Problem):
        return problem_response(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)
    if isinstance(exc, StoreError):
        return problem_response(503, "Store unavailable", str(exc), RETRY_STORE)
    if isinstance(exc, STORE_DOWN):
        # the driver's text names the host, port and database: logged here, never answered
        why = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()
        log.warning("store unavailable: %s: %s", type(exc).__name__, why[0] if why else "")
        return problem_response(503, "Store unavailable", "the store cannot be reached; retry later", RETRY_STORE)
    if isinstance(exc, ConfigError):
        return problem_response(409, "Not configured", str(exc))
    return None


async def _known(_: Request, exc: Exception) -> JSONResponse:
    response = known(exc)
    assert response is not None  # registered only for the types known() answers
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    for exc in (Problem, StoreError, ConfigError, *STORE_DOWN):
        app.add_exception_handler(exc, _known)
