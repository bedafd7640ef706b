"""`hub decide` ends by saying who sends the pushes it queued, true in each mode: in embedded
mode `hub push`; with a broker and a live worker on the push queue, the workers (it hands them
a push task per connector, and they send without `hub push`); with a broker but no worker on
the push queue, or a broker that does not answer, `hub push` from here. It used to say "Next:
hub push" in every mode, although in a cluster the workers push by themselves."""

from __future__ import annotations

from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import hub_config
from tests.integration.workers import Worker, wait_for
from tests.plugins.memory_crm import MemoryCRM


def hub(cfg, *args: str):  # noqa: ANN001, ANN201 - a path; click's Result
    res = CliRunner().invoke(app, [*args, "-c", str(cfg)], terminal_width=300)
    return res, " ".join(res.output.split())


def test_decide_says_who_pushes_in_each_mode(tmp_path, store_url, redis_url):
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    cluster = hub_config(tmp_path, store_url, redis_url)
    (tmp_path / "embedded").mkdir()
    embedded = hub_config(tmp_path / "embedded", store_url, redis_url, **{"api.embedded": True})
    (tmp_path / "nobroker").mkdir()
    nobroker = hub_config(tmp_path / "nobroker", store_url, "redis://127.0.0.1:1/0", **{"api.embedded": False})
    for i in range(4):
        crm.put_contact(f"c{i}", email=f"p{i}@example.com", first_name=f"P{i}", stage="lead")
    assert hub(cluster, "migrate")[0].exit_code == 0
    assert hub(cluster, "sync")[0].exit_code == 0

    res, said = hub(embedded, "decide", "--contact", "c0")
    assert res.exit_code == 0 and "Next: hub push." in said, said

    res, said = hub(cluster, "decide", "--contact", "c1")  # a broker, no worker on it
    assert res.exit_code == 0, said
    assert "No worker takes the push queue" in said and "hub push" in said and "hub worker" in said, said

    res, said = hub(nobroker, "decide", "--contact", "c2")
    assert res.exit_code == 0, said
    assert "broker unreachable" in said and "hub push" in said and "127.0.0.1:1" in said, said
    assert not crm.effects()  # nothing of these was sent

    worker = Worker(cluster, tmp_path / "worker.log", queues="push", concurrency=1)
    try:
        worker.wait_ready()
        res, said = hub(cluster, "decide", "--contact", "c3")
        assert res.exit_code == 0, said
        assert "Next: hub push" not in said and "the workers send them" in said and worker.name in said, said
        # true: the worker sends them with no `hub push` (c0-c2's queued pushes go along)
        wait_for(lambda: all(crm.contact(f"c{i}").get("next_best_action") for i in range(4)), 60, worker.tail)
    finally:
        worker.stop()
        crm.clear()


def test_approve_says_who_sends_the_approved_write_and_the_workers_send_it(tmp_path, redis_url):
    """`hub approvals approve` said "Next: hub push" with a push worker running: the write is the
    workers' to send (an operator running `hub push` beside them only races them), and they
    should send it now rather than at the connector's next scheduled push."""
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    cfg = hub_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        governance={"autonomy": {"kinds": {"set_fields": "needs_approval"}}},
    )
    crm.put_contact("c0", email="p0@example.com", first_name="P0", stage="lead")
    assert hub(cfg, "migrate")[0].exit_code == 0
    assert hub(cfg, "sync")[0].exit_code == 0
    res, said = hub(cfg, "decide", "--contact", "c0")
    assert res.exit_code == 0 and "1 write waits for approval" in said, said
    worker = Worker(cfg, tmp_path / "worker.log", queues="push", concurrency=1)
    try:
        worker.wait_ready()
        res, said = hub(cfg, "approvals", "approve", "1", "--by", "ana")
        assert res.exit_code == 0, said
        assert "Next: hub push" not in said and "the workers send them" in said and worker.name in said, said
        wait_for(lambda: crm.contact("c0").get("next_best_action"), 60, worker.tail)
    finally:
        worker.stop()
        crm.clear()
