"""What happens after an event or a webhook: decide again, or sync a connector.

With a broker (the default) the API enqueues the stable Celery tasks ``hub.decide`` and
``hub.sync`` and returns at once; workers do the work. In embedded mode (``api.embedded:
true``, no workers) it calls the same pipeline functions itself: a decide inline, since it
is one contact, and a sync in a background thread, since it can take minutes.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Literal, Protocol

from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from hub.api.problems import Problem
from hub.models import Identity
from hub.pipeline.context import HubContext
from hub.status import workers_alive

log = logging.getLogger(__name__)

Outcome = Literal["queued", "decided", "started", "done"]


class BrokerUnavailable(Problem):
    """The broker refused the message: a 503 for callers that can resend (webhooks)."""

    def __init__(self, exc: BaseException):
        super().__init__(
            503,
            "Broker unavailable",
            f"could not enqueue the task ({type(exc).__name__}); start Redis or fix broker_url",
            headers={"Retry-After": "30"},
        )


class Dispatcher(Protocol):
    mode: str

    def decide(self, contact_id: int, request_key: str) -> Outcome: ...

    def sync(self, connector: str, deletions: bool = False) -> Outcome: ...

    def learn(self, activity_ids: list[int]) -> None: ...

    def forget_records(self, connector: str, object_type: str, external_ids: list[str]) -> Outcome: ...

    def workers(self) -> list[str] | None: ...

    def close(self) -> None: ...


class CeleryDispatcher:
    """Sends through its own connection pool, not the Celery app's shared one.

    The app's pool is created once and keeps its first broker URL even when ``configure``
    is called again; a pool owned here follows this API's settings and closes with it.
    """

    mode = "celery"

    def __init__(self, ctx: HubContext):
        from tasks import configure

        app = configure(ctx.settings)
        self._pool = app.connection_for_write(ctx.settings.broker_url).Pool(limit=8)
        # remote control (ping) publishes through an app's producer pool: a private app keeps
        # that pool ours too, not the shared one of tasks.app
        self._control = Celery("hub-api-control", broker=ctx.settings.broker_url, set_as_current=False)

    def _send(self, task: Any, *args: Any) -> None:
        try:
            with self._pool.acquire(block=True, timeout=5) as conn:
                task.apply_async(args=list(args), connection=conn, retry_policy={"max_retries": 2})
        except (OperationalError, RedisError, OSError) as exc:
            raise BrokerUnavailable(exc) from None

    def decide(self, contact_id: int, request_key: str) -> Outcome:
        from tasks.pipeline import decide

        self._send(decide, [contact_id], request_key)
        return "queued"

    def sync(self, connector: str, deletions: bool = False) -> Outcome:
        from tasks.pipeline import sync

        # the flag only when set: a plain sync's message stays what older workers read
        self._send(sync, connector, *([True] if deletions else []))
        return "queued"

    def learn(self, activity_ids: list[int]) -> None:
        from tasks.pipeline import learn

        self._send(learn, activity_ids)

    def forget_records(self, connector: str, object_type: str, external_ids: list[str]) -> Outcome:
        from tasks.pipeline import forget_records

        self._send(forget_records, connector, object_type, external_ids)
        return "queued"

    def workers(self) -> list[str]:
        """Names of the Celery workers that answer a ping within a second."""
        return workers_alive(self._control)

    def close(self) -> None:
        self._pool.force_close_all()
        self._control.close()


class InlineDispatcher:
    mode = "embedded"

    def __init__(self, ctx: HubContext):
        self.ctx = ctx

    def decide(self, contact_id: int, request_key: str) -> Outcome:
        from hub.pipeline.decide import decide_contacts

        decide_contacts(self.ctx, [contact_id], request_key)
        return "decided"

    def sync(self, connector: str, deletions: bool = False) -> Outcome:
        from hub.pipeline.sync import sync_connector

        def run() -> None:
            try:
                sync_connector(self.ctx, connector, deletions=deletions)
            except Exception:  # a background thread has no caller to tell; the sync state records it
                log.exception("webhook-triggered sync of %s failed", connector)

        threading.Thread(target=run, name=f"sync-{connector}", daemon=True).start()
        return "started"

    def learn(self, activity_ids: list[int]) -> None:
        from hub.pipeline.outcomes import record_outcomes

        record_outcomes(self.ctx, activity_ids)

    def forget_records(self, connector: str, object_type: str, external_ids: list[str]) -> Outcome:
        """Forget them now (a few deletes each); a person with a write being sent at this moment
        makes the call a 503, so the CRM sends its webhook again."""
        from hub.forget import forget_record

        waiting = [
            ext
            for ext in external_ids
            if forget_record(self.ctx, Identity(connector=connector, object_type=object_type, external_id=ext)).waiting
        ]
        if waiting:
            raise Problem(
                503,
                "Forget not finished",
                f"{len(waiting)} of the deleted records' people have a write being sent right now; send again",
                headers={"Retry-After": "30"},
            )
        return "done"

    def workers(self) -> list[str] | None:
        return None  # embedded: no workers to ask

    def close(self) -> None:
        pass


def build_dispatcher(ctx: HubContext) -> Dispatcher:
    return InlineDispatcher(ctx) if ctx.settings.api.embedded else CeleryDispatcher(ctx)
