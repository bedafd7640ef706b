"""The per-process state the routes share: settings, the hub context and the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from hub.api.batcher import DecisionBatcher
from hub.api.dispatch import Dispatcher, build_dispatcher
from hub.api.realtime import RealtimeDecider
from hub.config import Settings
from hub.pipeline.context import HubContext


@dataclass
class ApiState:
    settings: Settings
    ctx: HubContext
    dispatch: Dispatcher
    realtime: RealtimeDecider
    batcher: DecisionBatcher  # how the routes call ``realtime``

    @classmethod
    def build(cls, settings: Settings, ctx: HubContext | None = None) -> ApiState:
        ctx = ctx or HubContext.build(settings, embedded=settings.api.embedded)
        api = settings.api
        realtime = RealtimeDecider(ctx, api.policy_refresh_seconds)
        batcher = DecisionBatcher(realtime, api.batch_window_ms / 1000, api.batch_max, api.batch_latency_ms / 1000)
        return cls(settings=settings, ctx=ctx, dispatch=build_dispatcher(ctx), realtime=realtime, batcher=batcher)

    def close(self) -> None:
        self.realtime.close()
        self.dispatch.close()
        self.ctx.close()


async def hub_state(request: Request) -> ApiState:
    # async: no I/O here, so no thread-pool hop
    return request.app.state.hub
