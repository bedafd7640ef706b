"""The Celery app, configured from hub.yaml.

Routing is central (by task name), messages carry ids only, and every task acks late and is
requeued if its worker dies. Redis redelivers unacked messages after the visibility timeout,
so tasks stay short (chunked) and the timeout sits above the longest task.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from celery.signals import worker_process_init

from hub.config import Settings, load_settings

QUEUES = ("sync", "decide", "push", "learn")
ROUTES = {f"hub.{q}": {"queue": q} for q in QUEUES}
ROUTES["hub.sweep"] = {"queue": "decide"}
ROUTES["hub.redecide"] = {"queue": "decide"}
ROUTES["hub.train_scoring"] = {"queue": "learn"}
ROUTES["hub.forget_records"] = {"queue": "sync"}
#: how often beat runs ``hub.sweep``, which decides contacts whose decide task the broker lost
SWEEP_INTERVAL = timedelta(minutes=10)
#: how often beat runs ``hub.redecide``, which decides again for contacts past
#: ``decision.engine.redecide_after_days`` (``hub run --once`` does it on every pass)
REDECIDE_INTERVAL = timedelta(hours=1)

app = Celery("hub")
_state: dict[str, object] = {}


def configure(settings: Settings) -> Celery:
    c = settings.celery
    _drop_broker_connections()
    app.conf.update(
        broker_url=settings.broker_url,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=c.task_time_limit,
        task_soft_time_limit=max(1, c.task_time_limit - 30),
        broker_transport_options={
            "visibility_timeout": c.visibility_timeout,
            "unacked_restore_interval": c.restore_interval,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        task_routes=ROUTES,
        task_default_queue="sync",
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
    )
    _state["settings"] = settings
    _state.pop("ctx", None)
    return app


def _drop_broker_connections() -> None:
    """Forget pooled broker connections: they were opened for the previous ``broker_url``, and
    Celery would go on sending there after the conf changed (a process that configures the app
    twice, e.g. ``hub status`` for one hub.yaml and then a task for another, lost its tasks)."""
    app._pool = None  # kombu keeps one pool per broker URL; the next use takes the right one
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None


def beat_schedule(settings: Settings) -> dict[str, dict]:
    schedule = {}
    for name, entry in settings.enabled_connectors().items():
        schedule[f"sync-{name}"] = {
            "task": "hub.sync",
            "schedule": timedelta(seconds=entry.sync_interval),
            "args": [name],
        }
        schedule[f"push-{name}"] = {
            "task": "hub.push",
            "schedule": timedelta(seconds=entry.push_interval),
            "args": [name],
        }
    if schedule:
        schedule["sweep-undecided"] = {"task": "hub.sweep", "schedule": SWEEP_INTERVAL, "args": [300]}
    # whatever the policy: credits activities no message brought (hub/pipeline/outcomes.py),
    # closes attribution windows and learns even when no new activity arrives; also expires
    # approvals and runs monitoring and sync-failure alerts when due (hub/governance/step.py)
    schedule["learn"] = {"task": "hub.learn", "schedule": timedelta(seconds=settings.decision.learn_interval)}
    if settings.decision.policy == "engine" and settings.decision.engine.redecide_after_days is not None:
        schedule["redecide"] = {"task": "hub.redecide", "schedule": REDECIDE_INTERVAL}
    scoring = settings.decision.scoring
    if scoring is not None and scoring.enabled:
        every = timedelta(hours=scoring.retrain_every_hours)
        schedule["train-scoring"] = {"task": "hub.train_scoring", "schedule": every}
    return schedule


def settings() -> Settings:
    if "settings" not in _state:
        configure(load_settings())
    return _state["settings"]  # type: ignore[return-value]


def context():
    """The process's HubContext, built after fork so no connection crosses processes."""
    from hub.pipeline.context import HubContext

    if "ctx" not in _state:
        _state["ctx"] = HubContext.build(settings())
    return _state["ctx"]


@worker_process_init.connect
def _fresh_after_fork(**_: object) -> None:
    _state.pop("ctx", None)
