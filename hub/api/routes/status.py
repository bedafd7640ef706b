"""GET /v1/status and GET /metrics."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from hub.api.auth import require
from hub.api.metrics import render, workers_alive
from hub.api.settings import Scope
from hub.api.state import ApiState, hub_state
from hub.governance.killswitch import active
from hub.status import hub_status

router = APIRouter(tags=["status"])


class ConnectorOut(BaseModel):
    name: str
    type: str
    enabled: bool
    last_sync: datetime | None
    last_status: str | None = Field(None, description='"running" or "interrupted" while a sync is so, else last_result')
    last_error: str | None
    last_result: str | None = Field(
        None, description="the last finished sync's result (ok, warning, continuing, failed), kept while the next runs"
    )
    last_heartbeat: datetime | None = Field(
        None, description="when a running (or interrupted) sync last renewed its lock; older than a lease: interrupted"
    )
    records: int
    pending: int
    failed: int
    done: int
    retrying: int = Field(0, description="of pending, the pushes a try already failed, waiting to be retried")
    push_error: str | None = Field(None, description="the newest error of the retrying pushes")
    usage: dict = Field(default_factory=dict, description="the connector's last reported API usage")
    usage_summary: str = "-"
    sync_summary: str = Field(
        "-", description='the status as hub status and the console say it, e.g. "running (last finished sync: ok)"'
    )
    sync_tone: str = Field("", description='"bad" (a failure), "warn" (a warning or interrupted sync) or ""')


class StatusOut(BaseModel):
    mode: str
    policy: str
    policy_version: str
    connectors: list[ConnectorOut]
    queues: dict[str, int] | None
    queues_taken: dict[str, int] | None = Field(
        None,
        description="per queue, messages a worker took and has not acknowledged (running, or stuck with a dead"
        " worker until celery.visibility_timeout returns them)",
    )
    workers: list[str] | None = Field(
        None, description="Celery workers answering a ping (as hub status lists them); null when embedded"
    )
    broker_error: str | None
    kill_switches_on: list[str] = Field(
        default_factory=list,
        description="use cases sent back to the legacy behaviour (hub killswitch); with next_best_action"
        " among them the rules decide, whatever policy and policy_version say is loaded",
    )


def current_status(state: ApiState) -> StatusOut:
    from hub.pipeline.learn import policy_in_use

    policy, version = policy_in_use(state.ctx)
    st = hub_status(state.settings, state.ctx.store)
    return StatusOut(
        mode=state.dispatch.mode,
        policy=policy,
        policy_version=version,
        connectors=[ConnectorOut(**{k: getattr(c, k) for k in ConnectorOut.model_fields}) for c in st.connectors],
        queues=st.queues,
        queues_taken=st.taken,
        broker_error=st.broker_error,
    )


@router.get(
    "/v1/status", response_model=StatusOut, responses={401: {}, 403: {}}, dependencies=[Depends(require(Scope.ADMIN))]
)
def get_status(state: ApiState = Depends(hub_state)) -> StatusOut:
    """Per connector: last sync, records, pending and failed pushes; per queue: depth; workers."""
    st = current_status(state)
    st.workers = workers_alive(state, st.broker_error)  # a second's ping: not on every console page
    with state.ctx.store.connect() as conn:  # the console's Overview reads the switches itself
        st.kill_switches_on = sorted(active(conn, state.settings.governance))
    return st


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}, 401: {}, 403: {}},
    dependencies=[Depends(require(Scope.ADMIN))],
)
def metrics(state: ApiState = Depends(hub_state)) -> PlainTextResponse:
    """Prometheus text format: syncs, records, decisions, pushes by state, queue depths, policy version."""
    return PlainTextResponse(render(state), media_type="text/plain; version=0.0.4; charset=utf-8")
