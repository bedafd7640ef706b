"""Who sends the pushes a `hub decide` queued: this process (`hub push`) or the workers.

In embedded mode (``api.embedded``) nothing else runs the pipeline. With a broker, a worker
that consumes the push queue sends them: the decide hands it one ``hub.push`` task per
connector, as a worker's own decide task does (tasks/pipeline.py), so they go out now rather
than at the connector's next scheduled push. With no such worker, or a broker that does not
answer, they wait for `hub push`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from kombu.exceptions import OperationalError

from hub.config import Settings
from hub.status import broker_unreachable, worker_queues


@dataclass
class PushHandoff:
    #: True: this process's `hub push` sends them (embedded, no push worker, or no broker)
    here: bool
    #: the live workers consuming the push queue (handed the pushes when not ``here``)
    workers: list[str] = field(default_factory=list)
    #: why no worker was asked: the broker does not answer (its URL, password hidden)
    broker_error: str | None = None
    embedded: bool = False


def hand_over_pushes(settings: Settings, app: Any, connectors: Iterable[str]) -> PushHandoff:
    """Hand ``connectors``' queued pushes to the workers if one consumes the push queue."""
    if settings.api.embedded:
        return PushHandoff(here=True, embedded=True)
    try:
        redis.Redis.from_url(settings.broker_url, socket_connect_timeout=2, socket_timeout=2).ping()
        takers = sorted(w for w, queues in worker_queues(app).items() if "push" in queues)
        if takers:
            for name in sorted(connectors):
                app.send_task("hub.push", args=[name])
    except (redis.exceptions.RedisError, OSError, OperationalError) as exc:
        return PushHandoff(here=True, broker_error=broker_unreachable(settings.broker_url, exc))
    return PushHandoff(here=not takers, workers=takers)
