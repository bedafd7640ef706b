"""Builds the FastAPI app: the real-time API under /v1, /metrics, and the console under /console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse

from hub.api import openapi, problems
from hub.api.guard import RequestGuard
from hub.api.hotpath import DecisionFastPath
from hub.api.routes import approvals, contacts, decisions, events, segment, status, webhooks
from hub.api.state import ApiState
from hub.config import Settings


def create_app(settings: Settings, state: ApiState | None = None) -> FastAPI:
    """One app per process; ``state`` lets a test hand in a context it built itself."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.hub.close()  # broker connections and the store's pool

    app = FastAPI(
        lifespan=lifespan,
        title="Decision Hub API",
        version="1",
        description="Real-time decisions and events, CRM webhooks, status and metrics. "
        "Errors are application/problem+json.",
    )
    app.state.hub = state or ApiState.build(settings)
    problems.install(app)
    openapi.install(app)  # every error documented as a problem document
    app.add_middleware(DecisionFastPath)  # valid POST /v1/decisions answered below the framework
    app.add_middleware(RequestGuard)  # outermost: token and body limits before anything reads the body
    for module in (decisions, events, webhooks, contacts, status, approvals, segment):
        app.include_router(module.router)

    from hub.console.decisions import router as decisions_router
    from hub.console.governance import router as governance_router
    from hub.console.insights import router as insights_router
    from hub.console.render import invalid_address
    from hub.console.routes import router as console_router

    app.include_router(governance_router)  # before the console's catch-all /console/{name}
    app.include_router(insights_router)
    app.include_router(decisions_router)
    app.include_router(console_router)
    # a console address edited by hand gets the console's own page; the API's stay problems
    app.add_exception_handler(RequestValidationError, invalid_address)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=303)

    return app
