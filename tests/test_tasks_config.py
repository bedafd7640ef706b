"""The Celery app is configured for at-least-once delivery with idempotent tasks."""

from __future__ import annotations

from hub.config import load_settings
from tests.conftest import hub_config


def test_celery_settings_follow_the_reliability_rules(tmp_path):
    from tasks import configure

    settings = load_settings(
        hub_config(tmp_path, "sqlite:///x.db", "redis://127.0.0.1:6379/13", **{"connectors.crm.sync_interval": 120})
    )
    app = configure(settings)
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit / 100  # set from config
    assert conf.broker_transport_options["visibility_timeout"] == 6
    assert {r["queue"] for r in conf.task_routes.values()} == {"sync", "decide", "push", "learn"}
    assert conf.beat_schedule["sync-crm"]["schedule"].total_seconds() == 120
    assert conf.beat_schedule["push-crm"]["args"] == ["crm"]
    assert set(app.tasks) >= {"hub.sync", "hub.decide", "hub.push", "hub.learn", "hub.train_scoring"}
    assert "train-scoring" not in conf.beat_schedule  # no scoring configured, nothing to retrain


def test_lead_scoring_retrains_on_the_beat_on_the_single_learn_queue(tmp_path):
    from tasks import configure

    path = hub_config(
        tmp_path, "sqlite:///x.db", "redis://127.0.0.1:6379/13", **{"decision.scoring": {"retrain_every_hours": 6}}
    )
    conf = configure(load_settings(path)).conf
    assert conf.beat_schedule["train-scoring"]["task"] == "hub.train_scoring"
    assert conf.beat_schedule["train-scoring"]["schedule"].total_seconds() == 6 * 3600
    assert conf.task_routes["hub.train_scoring"] == {"queue": "learn"}


def test_run_once_needs_no_broker(tmp_path, redis_url):
    from tests.plugins.memory_crm import MemoryCRM
    from tests.test_config import run_hub

    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    crm.put_contact("1", email="a@example.com")
    # the broker points at a closed port: run --once must not need it
    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", redis_url, broker_url="redis://127.0.0.1:1/0")
    out = run_hub("run", "--once", "-c", str(path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Decided for 1 contact" in out.stdout
    assert [e["new"] for e in crm.effects() if e["field"] == "next_best_action"] == ["email_nurture"]
    crm.clear()


def test_configuring_again_sends_to_the_new_broker(tmp_path, redis_url):
    """A process that used the app for one hub.yaml (``hub status`` inspects the queues) and
    then configures it for another must send to the new broker, not the pooled old one."""
    import redis

    from tasks import configure

    first = load_settings(hub_config(tmp_path, "sqlite:///x.db", redis_url, broker_url="memory://"))
    configure(first).send_task("hub.sync", args=["crm"])
    second = load_settings(hub_config(tmp_path, "sqlite:///x.db", redis_url))
    configure(second).send_task("hub.sync", args=["crm"])
    client = redis.Redis.from_url(redis_url)
    assert client.llen("sync") == 1
    client.close()


def test_beat_redecides_engine_contacts_hourly_and_always_runs_the_learn_step(tmp_path):
    """The re-decide of ``hub run --once`` (``redecide_after_days``) runs on the beat too; the
    learn step runs whatever the policy: governance (approval expiry, monitoring, sync-failure
    alerts) runs there."""
    from tasks.app import beat_schedule

    engine = load_settings(
        hub_config(tmp_path, "sqlite:///x.db", "redis://127.0.0.1:6379/13", **{"decision.policy": "engine"})
    )
    sched = beat_schedule(engine)
    assert sched["redecide"]["task"] == "hub.redecide"
    assert sched["redecide"]["schedule"].total_seconds() == 3600
    assert sched["learn"]["task"] == "hub.learn"
    rules = load_settings(hub_config(tmp_path, "sqlite:///x.db", "redis://127.0.0.1:6379/13"))
    assert "redecide" not in beat_schedule(rules)  # nothing is ever due under the rules
    assert beat_schedule(rules)["learn"]["task"] == "hub.learn"
    off = load_settings(
        hub_config(
            tmp_path,
            "sqlite:///x.db",
            "redis://127.0.0.1:6379/13",
            **{"decision.policy": "engine", "decision.engine.redecide_after_days": None},
        )
    )
    assert "redecide" not in beat_schedule(off)


def test_store_retries_outlast_a_store_restart():
    """STORE_RETRY promises to retry rather than drop the work: on average (full jitter draws
    each wait from zero to its cap) its retries span ten minutes, none waiting over five."""
    from celery.utils.time import get_exponential_backoff_interval

    from tasks.pipeline import STORE_RETRY

    most = STORE_RETRY.get("retry_backoff_max", 600)  # Celery's default
    caps = [
        get_exponential_backoff_interval(STORE_RETRY["retry_backoff"], n, most, full_jitter=False)
        for n in range(STORE_RETRY["max_retries"])
    ]
    assert sum(caps) / 2 >= 600
    assert max(caps) <= 300
