"""/metrics in the Prometheus text exposition format (0.0.4), rendered by hand.

Rendering ~10 gauge families needs no client library; the values are read from the store and
the broker when scraped, so every API replica reports the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from hub.api.state import ApiState
from hub.governance import killswitch
from hub.models import utcnow
from hub.pipeline.learn import ensure_current
from hub.reports.data import load_arm_frame
from hub.reports.metrics import arm_metrics
from hub.status import hub_status
from hub.store import sync_state
from hub.store.metrics import store_counts


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _family(name: str, help_: str, samples: Iterable[tuple[dict[str, str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        lab = ",".join(f'{k}="{_esc(str(v))}"' for k, v in labels.items())
        lines.append(f"{name}{{{lab}}} {value}" if lab else f"{name} {value}")
    return lines


def workers_alive(state: ApiState, broker_error: str | None) -> list[str] | None:
    """The workers that answer a ping, as ``hub status`` and the console's Queues page list them;
    None where none are asked (embedded) or the broker is down."""
    if state.dispatch.mode != "celery" or broker_error is not None:
        return None
    try:
        return state.dispatch.workers() or []
    except (OSError, RedisError, KombuError):
        return None


def render(state: ApiState) -> str:
    with state.ctx.store.connect() as conn:
        c = store_counts(conn)
        ensure_current(state.ctx, conn)  # name the model version decisions use now
        switches = killswitch.states(conn, state.settings.governance)
        d = state.settings.decision
        business = arm_metrics(load_arm_frame(conn, history=False, declared=d.outcomes), d.objective)
    status = hub_status(state.settings, state.ctx.store)
    policy = state.ctx.policy
    out: list[str] = []
    out += _family("hub_contacts", "Contacts in the store.", [({}, c.contacts)])
    out += _family("hub_activities", "Activities in the store.", [({}, c.activities)])
    out += _family(
        "hub_records",
        "CRM records (identities) per connector.",
        [({"connector": k}, v) for k, v in sorted(c.records.items())],
    )
    out += _family(
        "hub_sync_records",
        "Records synced per connector and stream since the cursor began.",
        [({"connector": s.connector, "stream": s.stream}, s.records) for s in c.streams],
    )
    out += _family(
        "hub_sync_rejects",
        "Records rejected per connector and stream.",
        [({"connector": s.connector, "stream": s.stream}, s.rejects) for s in c.streams],
    )
    out += _family(
        "hub_sync_last_finished_timestamp_seconds",
        "When each stream's last sync finished.",
        [
            ({"connector": s.connector, "stream": s.stream}, s.last_finished_at.timestamp())
            for s in c.streams
            if s.last_finished_at
        ],
    )
    now, lease = utcnow(), state.settings.push.lease_seconds  # as hub status reads them (hub/status.py)
    finished = [s for s in c.streams if sync_state.result(s) is not None]
    out += _family(
        "hub_sync_last_ok",
        "1 if the stream's last finished sync succeeded (with a warning too: see hub_sync_warning); kept while"
        " the next one runs (hub_sync_running).",
        [
            ({"connector": s.connector, "stream": s.stream}, int(s.last_status in sync_state.FINISHED_OK))
            for s in finished
        ],
    )
    out += _family(
        "hub_sync_warning",
        "1 if the stream's last finished sync went on without a part it may not read (hub status says which and why).",
        [({"connector": s.connector, "stream": s.stream}, int(s.last_status == "warning")) for s in finished],
    )
    runs = [(s, sync_state.run_state(s, now, lease)) for s in c.streams]
    out += _family(
        "hub_sync_running",
        "1 while a sync of the stream runs (its heartbeat renewed within push.lease_seconds).",
        [({"connector": s.connector, "stream": s.stream}, int(r == "running")) for s, r in runs],
    )
    out += _family(
        "hub_sync_interrupted",
        "1 if the stream's sync stopped without finishing (its process killed; no heartbeat for a lease) and"
        " none has run since; the next sync reads on from the last committed page.",
        [({"connector": s.connector, "stream": s.stream}, int(r == "interrupted")) for s, r in runs],
    )
    out += _family(
        "hub_decisions",
        "Decisions recorded per policy and arm.",
        [({"policy": p, "arm": a}, n) for (p, a), n in sorted(c.decisions.items())],
    )
    out += _family(
        "hub_pushes",
        "Pushes per connector and state.",
        [({"connector": k, "state": s}, n) for (k, s), n in sorted(c.pushes.items())],
    )
    out += _family(
        "hub_pushes_retrying",
        "Open pushes per connector that a try already failed, waiting to be retried (hub status names their error).",
        [({"connector": c.name}, c.retrying) for c in status.connectors],
    )
    out += _family(
        "hub_queue_depth",
        "Messages waiting per Celery queue (absent if the broker is unreachable).",
        [({"queue": q}, n) for q, n in sorted((status.queues or {}).items())],
    )
    out += _family(
        "hub_queue_taken",
        "Messages per Celery queue a worker took and has not acknowledged: running, or stuck with a dead worker"
        " until celery.visibility_timeout returns them to the queue (absent if the broker is unreachable).",
        [({"queue": q}, n) for q, n in sorted((status.taken or {}).items())],
    )
    out += _family("hub_broker_up", "1 if the broker answered.", [({}, int(status.broker_error is None))])
    alive = workers_alive(state, status.broker_error)
    out += _family(
        "hub_workers_alive",
        "Celery workers that answered a ping within a second, as hub status and the console's Queues page"
        " count them (absent in embedded mode and while the broker is unreachable).",
        [({}, len(alive))] if alive is not None else [],
    )
    out += _family(
        "hub_policy_info", "The policy deciding now.", [({"policy": policy.name, "version": policy.version}, 1)]
    )
    out += _family(
        "hub_kill_switch",
        "1 while a use case is switched back to the legacy behaviour (hub killswitch); with next_best_action"
        " on, the legacy rules decide instead of hub_policy_info's policy.",
        [({"use_case": uc}, int(s.on)) for uc, s in switches.items()],
    )
    out += _family(
        "hub_arm_metric_per_contact",
        "Business metric per decided contact and experiment arm (hub/reports/metrics.py: what each contact"
        " did after its first decision; reward under decision.objective).",
        [({"arm": m.arm, "metric": m.metric}, m.mean) for m in business if math.isfinite(m.mean)],
    )
    out += _family(
        "hub_arm_contacts",
        "Decided contacts per experiment arm (the arm of each contact's first decision).",
        [({"arm": m.arm}, m.n) for m in business if m.metric == "reward"],
    )
    b = state.batcher
    out += _family(
        "hub_realtime_batch_window_seconds",
        "This API process's current wait for companions of a real-time decision (hub/api/batcher.py).",
        [({}, round(b.window, 6))],
    )
    out += _family(
        "hub_realtime_decisions_per_batch",
        "Real-time decisions per engine call in this API process since it started.",
        [({}, round(b.decided / b.batches, 3) if b.batches else 0)],
    )
    return "\n".join(out) + "\n"
