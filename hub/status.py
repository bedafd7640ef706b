"""What `hub status` and the console show: per connector sync and push state, per queue depth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import redis
from sqlalchemy import func, select

from hub.config import Settings
from hub.models import utcnow
from hub.reports.numbers import counted
from hub.store import Store, sync_state
from hub.store import pushes as push_store
from hub.store import usage as usage_store
from hub.store.schema import activities, identities

QUEUES = ("sync", "decide", "push", "learn")
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport keeps priority sub-queues as "<queue>\x06\x16<n>"
#: kombu's Redis transport moves a message a worker takes from its queue's list into this hash
#: (delivery tag -> JSON [message, exchange, routing key]) until the worker acks it; a dead
#: worker's stay there until ``visibility_timeout`` has passed, then go back to their queue
#: (kombu/transport/redis.py: Channel.unacked_key, QoS.append and QoS.restore_visible)
UNACKED = "unacked"
#: what `hub status` and the console's Queues page say under the taken counts
TAKEN_NOTE = (
    "Taken, not finished: messages a worker took and has not acknowledged (in progress, or their worker "
    "died); a dead worker's go back to their queue once celery.visibility_timeout ({timeout} s) has passed."
)


@dataclass
class ConnectorStatus:
    name: str
    type: str
    enabled: bool
    last_sync: datetime | None = None
    #: what the connector shows: "running" or "interrupted" while a stream's sync is so, else ``last_result``
    last_status: str | None = None
    last_error: str | None = None
    #: the last finished syncs' result (a failure over a warning over ok), kept while the next runs
    last_result: str | None = None
    #: when the shown stream's sync last renewed its lock (a running or interrupted one's life sign)
    last_heartbeat: datetime | None = None
    cursors: dict[str, str | None] = field(default_factory=dict)
    records: int = 0
    pending: int = 0
    failed: int = 0
    done: int = 0
    #: of ``pending``, those a try already failed (retried later), and the newest of their errors
    retrying: int = 0
    push_error: str | None = None
    usage: dict = field(default_factory=dict)
    usage_at: datetime | None = None

    @property
    def sync_summary(self) -> str:
        """The status column of `hub status` and the console's Overview (one story in both):
        a running or interrupted sync with the last finished one's result beside it."""
        if self.last_status in ("running", "interrupted"):
            return f"{self.last_status} (last finished sync: {self.last_result or 'none yet'})"
        return self.last_status or "-"

    @property
    def sync_tone(self) -> str:
        """How the console colours that column: a failure "bad", a warning or interrupted sync
        "warn", a running one as its last result."""
        shown = self.last_result if self.last_status == "running" else self.last_status
        return "" if shown in (None, "ok", "continuing") else "warn" if shown in ("warning", "interrupted") else "bad"

    @property
    def usage_summary(self) -> str:
        """The API budget in words: a daily share where the vendor reports one, else calls."""
        u = self.usage
        if not u:
            return "-"
        if u.get("share") is not None:
            text = f"{u['share']:.0%} of the daily API limit"
            if u.get("api_limit"):
                text += f" ({u.get('api_used', 0):,} of {u['api_limit']:,})"
            if u.get("push_paused"):
                text += f"; pushing paused at {u.get('push_pause_share', 0):.0%}"
            return text
        calls = u.get("calls")
        n = sum(calls.values()) if isinstance(calls, dict) else calls
        text = f"{counted(n, 'call')} by the last worker" if isinstance(n, int) else "-"
        if u.get("rate_limit_wait_seconds"):
            text += f", {u['rate_limit_wait_seconds']:.1f} s waiting on rate limits"
        return text


@dataclass
class SourceStatus:
    """A source of people or events that is no configured connector: a ``hub import --source``
    name, ``segment``, ``api``."""

    source: str
    records: int = 0  # identities (one per imported or identified person)
    events: int = 0
    last: datetime | None = None  # the newest record written


@dataclass
class HubStatus:
    connectors: list[ConnectorStatus]
    queues: dict[str, int] | None
    workers: list[str] | None
    #: per queue, the messages taken by a worker and not yet acknowledged (None: broker not read)
    taken: dict[str, int] | None = None
    broker_error: str | None = None
    sources: list[SourceStatus] = field(default_factory=list)
    #: the hub's queues no live worker consumes (None: not asked): they fill and nothing empties them
    queues_without_workers: list[str] | None = None


def connector_status(settings: Settings, store: Store) -> list[ConnectorStatus]:
    with store.connect() as conn:
        states = sync_state.all_states(conn)
        counts, retrying = push_store.counts_and_retrying(conn)
        records = {
            c: n for c, n in conn.execute(select(identities.c.connector, func.count()).group_by(identities.c.connector))
        }
        usage = usage_store.all_usage(conn)
    out = []
    now, lease = utcnow(), settings.push.lease_seconds  # a sync's lock lease (hub/pipeline/sync.py)
    for name, entry in settings.connectors.items():
        st = ConnectorStatus(name=name, type=entry.type, enabled=entry.enabled, records=records.get(name, 0))
        for s in (s for s in states if s.connector == name):
            st.cursors[s.stream] = s.cursor
            if s.last_finished_at and (st.last_sync is None or s.last_finished_at > st.last_sync):
                st.last_sync = s.last_finished_at
            shown, error = sync_state.shown(s, now, lease)
            done = sync_state.result(s)
            if done is not None and _weight(done) >= _weight(st.last_result):
                st.last_result = done
            if st.last_status is None or _weight(shown) >= max(_weight(st.last_status), 1):
                st.last_status, st.last_error, st.last_heartbeat = shown, error, s.heartbeat_at
        st.pending = counts.get((name, "pending"), 0) + counts.get((name, "sending"), 0)
        st.failed = counts.get((name, "failed"), 0)
        st.done = counts.get((name, "done"), 0)
        st.retrying, st.push_error = retrying.get(name, (0, None))
        st.usage, st.usage_at = usage.get(name, ({}, None))
        out.append(st)
    return out


def other_sources(settings: Settings, store: Store) -> list[SourceStatus]:
    """People and events from sources that are no configured connector (imports, Segment, the
    API), so a hub fed by files says what it holds. ``hub`` (outcome records) is left out."""
    skip = [*settings.connectors, "hub"]
    with store.connect() as conn:
        people = conn.execute(
            select(identities.c.connector, func.count(), func.max(identities.c.synced_at))
            .where(identities.c.connector.not_in(skip))
            .group_by(identities.c.connector)
        ).all()
        events = dict(
            conn.execute(
                select(activities.c.source, func.count())
                .where(activities.c.source.not_in(skip))
                .group_by(activities.c.source)
            ).all()
        )
    out = {s: SourceStatus(s, records=n, last=at) for s, n, at in people}
    for s, n in events.items():
        out.setdefault(s, SourceStatus(s)).events = n
    return sorted(out.values(), key=lambda s: s.source)


def _weight(status: str | None) -> int:
    """Which stream's state the connector shows: a failure or an interrupted sync over a running
    one over a warning (a part synced without, hub/pipeline/sync.py) over ok, whichever stream."""
    return {None: 0, "ok": 0, "continuing": 0, "warning": 1, "running": 2}.get(status, 3)


def _broker(broker_url: str) -> redis.Redis:
    return redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=2)


def queue_depths(client: redis.Redis) -> dict[str, int]:
    """Messages waiting per queue, its priority sub-queues included, in one round trip."""
    pipe = client.pipeline()
    for q in QUEUES:
        for k in [q] + [f"{q}{PRIORITY_SEP}{p}" for p in range(1, 10)]:
            pipe.llen(k)
    lengths = pipe.execute()
    return {q: int(sum(lengths[10 * i : 10 * (i + 1)])) for i, q in enumerate(QUEUES)}


def taken_unfinished(client: redis.Redis) -> dict[str, int]:
    """Per queue, the messages in kombu's ``unacked`` hash (read only), by their routing key:
    the hub routes each queue's tasks with the queue's name as routing key (tasks/app.py)."""
    taken = dict.fromkeys(QUEUES, 0)
    for _tag, raw in client.hscan_iter(UNACKED):
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, TypeError, IndexError):
            continue  # not a kombu entry: not ours to count
        if routing_key in taken:
            taken[routing_key] += 1
    return taken


def workers_alive(app, timeout: float = 1.0) -> list[str]:
    replies = app.control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


def worker_queues(app, timeout: float = 1.0) -> dict[str, set[str]]:
    """The queues each worker that answers within ``timeout`` consumes (one broadcast, as a ping)."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {name: {q["name"] for q in queues or []} for name, queues in replies.items()}


def hub_status(settings: Settings, store: Store, app=None, sources: bool = False) -> HubStatus:
    """``sources``: also count the other sources' people and events (`hub status` does; the
    console's Overview and a /metrics scrape, read far more often, skip those two scans)."""
    status = HubStatus(
        connectors=connector_status(settings, store),
        queues=None,
        workers=None,
        sources=other_sources(settings, store) if sources else [],
    )
    try:
        with _broker(settings.broker_url) as client:
            status.queues = queue_depths(client)
            status.taken = taken_unfinished(client)
        if app is not None:
            consumed = worker_queues(app)
            status.workers = sorted(consumed)
            status.queues_without_workers = [q for q in QUEUES if not any(q in qs for qs in consumed.values())]
    except (redis.exceptions.RedisError, OSError) as exc:
        status.broker_error = broker_unreachable(settings.broker_url, exc)
    return status


def broker_unreachable(url: str, exc: BaseException) -> str:
    """What ``hub status`` and the console say when Redis does not answer: which broker (its
    password hidden: this lands in terminals and logs) and what to do."""
    return f"broker unreachable at {shown_url(url)} ({type(exc).__name__}); start Redis or fix broker_url"


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit(parts._replace(netloc=f"{user}***@{netloc}"))
