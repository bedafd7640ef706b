"""Kill switches (config and run time) send next_best_action back to the legacy rules at once;
injected drift raises an alert that flips the switch until a person acknowledges it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.errors import GovernanceError
from hub.governance import audit, killswitch
from hub.governance.alerts import acknowledge, list_alerts, monitor_step
from hub.pipeline.decide import decide_contacts
from hub.pipeline.sync import sync_connector
from hub.store.schema import decisions, identities
from tests.governance.conftest import make_ctx, seed

ENGINE = {"decision.policy": "engine", "decision.engine": {"holdout_share": 0.0}}


def policies(ctx, key: str) -> set[str]:
    with ctx.store.connect() as conn:
        return set(conn.execute(select(decisions.c.policy).where(decisions.c.request_key == key)).scalars())


def decide_all(ctx, ids, key: str) -> set[str]:
    decide_contacts(ctx, ids, key)
    return policies(ctx, key)


def test_run_time_switch_falls_back_to_rules_at_once(tmp_path, store_url, redis_url, crm):
    seed(crm, n=4, hot=2)
    ctx = make_ctx(tmp_path, store_url, redis_url, **ENGINE)
    ids = sorted(sync_connector(ctx, "crm").changed)
    assert decide_all(ctx, ids, "k1") == {"engine"}
    with ctx.store.begin() as conn:
        assert killswitch.flip(conn, "next_best_action", True, "ana", "bad week", ctx.clock())
        assert not killswitch.flip(conn, "next_best_action", True, "ana", "again", ctx.clock())  # no change
        # the real-time path's one-column read agrees with the full states
        on = {uc for uc, st in killswitch.states(conn, ctx.settings.governance).items() if st.on}
        assert killswitch.active(conn, ctx.settings.governance) == on == {"next_best_action"}
    assert decide_all(ctx, ids, "k2") == {"rules"}
    with ctx.store.connect() as conn:
        expl = list(conn.execute(select(decisions.c.explanation).where(decisions.c.request_key == "k2")).scalars())
    assert all(e.startswith("Kill switch on: legacy rules") for e in expl)
    with ctx.store.begin() as conn:
        killswitch.flip(conn, "next_best_action", False, "bo", "fixed", ctx.clock())
    assert decide_all(ctx, ids, "k3") == {"engine"}
    with ctx.store.connect() as conn:
        log = [(e.actor, e.action, e.reason) for e in reversed(audit.entries(conn))]
    assert log == [("ana", "kill_switch_on", "bad week"), ("bo", "kill_switch_off", "fixed")]
    ctx.close()


def test_turning_off_a_switch_never_turned_on_changes_and_audits_nothing(tmp_path, redis_url, crm):
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    with ctx.store.begin() as conn:
        assert not killswitch.flip(conn, "routing", False, "ana", None, ctx.clock())
        assert audit.entries(conn) == []
        assert not killswitch.states(conn, ctx.settings.governance)["routing"].stored
    ctx.close()


def test_contacts_first_decided_under_the_switch_keep_their_experiment_arm(tmp_path, redis_url, crm):
    """The reports take a contact's arm from its first decision: the fallback's decisions keep
    the engine's stable hash, so an incident does not move its contacts out of the experiment."""
    from hub.reports.data import load_arm_frame

    seed(crm, n=40, hot=10)
    ctx = make_ctx(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        **{"decision.policy": "engine", "decision.engine": {"holdout_share": 0.3}},
        governance={"kill_switches": {"next_best_action": True}},
    )
    ids = sorted(sync_connector(ctx, "crm").changed)
    assert decide_all(ctx, ids, "k") == {"rules"}
    hashed = dict(zip(ids, ctx.policy.arms(ids).tolist(), strict=True))
    assert set(hashed.values()) == {"engine", "holdout"}
    with ctx.store.connect() as conn:
        stamped = dict(conn.execute(select(decisions.c.contact_id, decisions.c.arm)).all())
        frame = load_arm_frame(conn, history=False)
    assert stamped == hashed
    assert dict(zip(frame.contact_id.tolist(), frame.arm.tolist(), strict=True)) == hashed
    # the rules' decisions in the engine arm are no sign that the engine stopped exploring
    from decision.monitoring import Thresholds
    from hub.pipeline.monitoring import monitor

    found = monitor(
        ctx.store, ctx.clock() + timedelta(hours=1), thresholds=Thresholds(min_rows=10, min_exploration=0.2)
    )
    assert "exploration_low" not in {a.kind for a in found}
    ctx.close()


def test_config_switch_cannot_be_flipped_off_at_run_time(tmp_path, redis_url, crm):
    seed(crm, n=2, hot=1)
    ctx = make_ctx(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        redis_url,
        **ENGINE,
        governance={"kill_switches": {"next_best_action": True}},
    )
    ids = sorted(sync_connector(ctx, "crm").changed)
    with ctx.store.begin() as conn:
        killswitch.flip(conn, "next_best_action", False, "ana", None, ctx.clock())
        st = killswitch.states(conn, ctx.settings.governance)["next_best_action"]
    assert (st.on, st.configured, st.stored) == (True, True, False)
    assert decide_all(ctx, ids, "k") == {"rules"}
    with pytest.raises(GovernanceError, match="unknown use case"), ctx.store.begin() as conn:
        killswitch.flip(conn, "nba", True, "ana", None, ctx.clock())
    ctx.close()


def test_injected_drift_raises_an_alert_that_flips_the_switch_until_acked(tmp_path, redis_url, crm):
    seed(crm, n=30, hot=0)
    # a store with history: each contact's first activity is 200 days old, so the 7-, 30- and
    # 90-day features are comparable a week ago and now (a younger store watches fewer features)
    old = datetime.now(UTC) - timedelta(days=200)
    for i in range(30):
        crm.add_activity(f"old-{i}", str(i), "page_view", old)
    alerts_cfg = {"kill_switch": {"drift": ["next_best_action"]}, "min_severity": "critical", "min_rows": 20}
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, **ENGINE, governance={"alerts": alerts_cfg})
    ids = sorted(sync_connector(ctx, "crm").changed)
    wall = ctx.clock
    ctx.clock = lambda: wall() - timedelta(days=8)  # drift compares this week's decided contacts with last week's
    assert decide_all(ctx, ids, "before") == {"engine"}
    ctx.clock = wall

    # drift: every contact suddenly busy (the features a week ago had none of this)
    now = datetime.now(UTC)
    for i in range(30):
        for k in range(6):
            crm.add_activity(f"burst-{i}-{k}", str(i), "page_view", now - timedelta(hours=k + 1))
    sync_connector(ctx, "crm")
    assert decide_all(ctx, ids, "burst") == {"engine"}
    report = monitor_step(ctx, force=True)
    assert report.raised >= 1 and report.switched == ["next_best_action"]
    with ctx.store.connect() as conn:
        open_alerts = list_alerts(conn)
    drift = [a for a in open_alerts if a.kind == "drift" and a.severity == "critical"]
    assert drift and all(a.use_cases == ["next_best_action"] for a in drift)
    assert decide_all(ctx, ids, "during") == {"rules"}  # the fallback took effect

    again = monitor_step(ctx, force=True)  # still drifting: the same alerts, refreshed
    assert again.raised == 0 and again.refreshed == report.raised + report.refreshed

    with ctx.store.begin() as conn:
        for a in drift[:-1]:
            assert acknowledge(conn, a.id, "ana", "looked at it", ctx.clock()) == []  # others still hold it
        assert acknowledge(conn, drift[-1].id, "ana", "campaign launch, expected", ctx.clock()) == ["next_best_action"]
    assert decide_all(ctx, ids, "after") == {"engine"}

    still = monitor_step(ctx, force=True)  # drift persists, but a person knows: no new alert, no switch
    assert still.raised == 0 and still.switched == [] and still.still_acknowledged >= len(drift)
    assert decide_all(ctx, ids, "acked") == {"engine"}
    with ctx.store.connect() as conn:
        actions = [e.action for e in reversed(audit.entries(conn, limit=1000))]
    assert actions[0] == "kill_switch_on" and actions[-1] == "kill_switch_off"
    assert actions.count("alert_ack") == len(drift)
    ctx.close()


def test_monitoring_is_skipped_until_due(tmp_path, redis_url, crm):
    seed(crm, n=5, hot=2)
    ctx = make_ctx(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url, governance={"alerts": {"interval": 600}})
    sync_connector(ctx, "crm")
    t0 = ctx.clock()
    assert monitor_step(ctx, t0).ran
    assert not monitor_step(ctx, t0 + timedelta(seconds=599)).ran
    assert monitor_step(ctx, t0 + timedelta(seconds=600)).ran
    ctx.close()


def test_acknowledged_alert_stays_quiet_until_it_worsens_or_clears_and_returns(tmp_path):
    from decision.monitoring import Alert
    from hub.governance.alerts import store_alerts
    from hub.governance.settings import AlertSettings, GovernanceSettings
    from hub.store import Store

    store = Store(f"sqlite:///{tmp_path / 'a.db'}", auto_migrate=True)
    gov = GovernanceSettings()
    s = AlertSettings(kill_switch={"drift": ["next_best_action"]}, min_severity="warning")
    t = datetime(2026, 3, 1, tzinfo=UTC)
    warn = Alert("drift", "pricing_views_7d", 0.15, 0.1, "warning", "PSI 0.15")
    crit = Alert("drift", "pricing_views_7d", 0.4, 0.25, "critical", "PSI 0.40")

    def run(found, day):
        with store.begin() as conn:
            return store_alerts(conn, found, s, t + timedelta(days=day))

    assert run([warn], 0).raised == 1
    with store.begin() as conn:
        first = list_alerts(conn)[0]
        acknowledge(conn, first.id, "ana", None, t)
        assert "next_best_action" not in killswitch.active(conn, gov)
    quiet = run([warn], 1)
    assert (quiet.raised, quiet.still_acknowledged, quiet.switched) == (0, 1, [])
    with store.connect() as conn:
        assert list_alerts(conn) == [] and "next_best_action" not in killswitch.active(conn, gov)
        assert list_alerts(conn, "acknowledged")[0].last_seen_at == t + timedelta(days=1)

    worse = run([crit], 2)  # escalated: a new open alert, and the switch again
    assert worse.raised == 1 and worse.switched == ["next_best_action"]
    with store.begin() as conn:
        assert [a.state for a in list_alerts(conn, None)] == ["open", "cleared"]
        acknowledge(conn, list_alerts(conn)[0].id, "ana", None, t)

    assert run([], 3).cleared == 1  # gone: the acknowledged alert is cleared
    back = run([warn], 4)  # and when it comes back, it is news again
    assert back.raised == 1 and back.still_acknowledged == 0
    store.dispose()


def test_hysteresis_a_held_finding_keeps_an_alert_open_and_never_raises_one(tmp_path):
    from decision.monitoring import Alert
    from hub.governance.alerts import store_alerts
    from hub.governance.settings import AlertSettings
    from hub.store import Store

    store = Store(f"sqlite:///{tmp_path / 'h.db'}", auto_migrate=True)
    s = AlertSettings()
    t = datetime(2026, 3, 1, tzinfo=UTC)
    raised = Alert("reward_rate", "overall", 0.5, 1.0, "warning", "fell")
    held = Alert("reward_rate", "overall", 0.8, 1.0, "warning", "still low", hold=True)

    def run(found, day):
        with store.begin() as conn:
            rep = store_alerts(conn, found, s, t + timedelta(days=day))
            return rep, [(a.subject, a.state) for a in list_alerts(conn, None)]

    assert run([held], 0)[0].raised == 0  # only at the clearing level: nothing new
    assert run([raised], 1)[1] == [("overall", "open")]
    assert run([held], 2)[1] == [("overall", "open")]  # between the levels: stays open
    rep, rows = run([], 3)  # not seen even at the clearing level: clears on its own
    assert rep.cleared == 1 and rows == [("overall", "cleared")]
    store.dispose()


def _alert_store(store_url):
    from hub.governance.settings import AlertSettings
    from hub.store import Store

    # the documented config: drift stops next_best_action, only critical alerts may (default)
    return Store(store_url, auto_migrate=True), AlertSettings(kill_switch={"drift": ["next_best_action"]})


def test_an_open_warning_that_escalates_holds_its_switch_until_acknowledged(store_url):
    """Escalating an open warning to critical flips the switch; the alert records it, so
    acknowledging releases it and the condition going away does not clear the alert under it."""
    from decision.monitoring import Alert
    from hub.governance.alerts import store_alerts
    from hub.governance.settings import GovernanceSettings

    store, s = _alert_store(store_url)
    gov = GovernanceSettings()
    t = datetime(2026, 3, 1, tzinfo=UTC)
    warn = Alert("drift", "pricing_views_7d", 0.15, 0.1, "warning", "PSI 0.15")
    crit = Alert("drift", "pricing_views_7d", 0.4, 0.25, "critical", "PSI 0.40")

    def run(found, day):
        with store.begin() as conn:
            return store_alerts(conn, found, s, t + timedelta(days=day))

    try:
        assert run([warn], 0).switched == []
        assert run([crit], 1).switched == ["next_best_action"]
        with store.connect() as conn:
            (alert,) = list_alerts(conn)
            assert alert.use_cases == ["next_best_action"]
        assert run([], 2).cleared == 0  # the numbers wobbled back: the alert waits for a person
        with store.begin() as conn:
            assert [a.id for a in list_alerts(conn)] == [alert.id]
            assert acknowledge(conn, alert.id, "ana", "looked", t + timedelta(days=2)) == ["next_best_action"]
            assert "next_best_action" not in killswitch.active(conn, gov)
            with pytest.raises(GovernanceError, match="already acknowledged by ana"):
                acknowledge(conn, alert.id, "bo", None, t + timedelta(days=2))
    finally:
        store.dispose()


def test_acknowledging_a_cleared_alert_says_it_was_cleared(store_url):
    from decision.monitoring import Alert
    from hub.governance.alerts import store_alerts

    store, s = _alert_store(store_url)
    t = datetime(2026, 3, 1, tzinfo=UTC)
    try:
        with store.begin() as conn:
            store_alerts(conn, [Alert("drift", "x", 0.15, 0.1, "warning", "PSI 0.15")], s, t)
            store_alerts(conn, [], s, t + timedelta(days=1))
            (alert,) = list_alerts(conn, None)
            assert alert.state == "cleared"
            with pytest.raises(GovernanceError, match="cleared") as exc:
                acknowledge(conn, alert.id, "ana", None, t + timedelta(days=1))
            assert "None" not in str(exc.value)
    finally:
        store.dispose()


def test_a_held_critical_finding_never_raises_escalates_or_flips(store_url):
    """Seen only at the clearing level (not significant at alpha), a critical finding keeps a
    warning alive but neither raises a new alert over an acknowledged one nor escalates an
    open one, and flips no switch."""
    from decision.monitoring import Alert
    from hub.governance.alerts import store_alerts
    from hub.governance.settings import GovernanceSettings

    store, s = _alert_store(store_url)
    gov = GovernanceSettings()
    t = datetime(2026, 3, 1, tzinfo=UTC)
    warn = Alert("drift", "pricing_views_7d", 0.15, 0.1, "warning", "PSI 0.15")
    held = Alert("drift", "pricing_views_7d", 0.4, 0.25, "critical", "PSI 0.40", hold=True)
    try:
        with store.begin() as conn:
            store_alerts(conn, [warn], s, t)
            acknowledge(conn, list_alerts(conn)[0].id, "ana", None, t)
            rep = store_alerts(conn, [held], s, t + timedelta(days=1))
            assert (rep.raised, rep.still_acknowledged, rep.switched) == (0, 1, [])
            assert [(a.severity, a.state) for a in list_alerts(conn, None)] == [("warning", "acknowledged")]
            store_alerts(conn, [Alert("drift", "other", 0.15, 0.1, "warning", "PSI 0.15")], s, t)
            rep = store_alerts(conn, [replace(held, subject="other")], s, t + timedelta(days=1))
            assert (rep.raised, rep.refreshed, rep.switched) == (0, 1, [])
            assert list_alerts(conn)[0].severity == "warning"
            assert "next_best_action" not in killswitch.active(conn, gov)
    finally:
        store.dispose()


def test_the_switch_keeps_consent_and_the_contact_policy(tmp_path, store_url, redis_url, crm):
    """The fallback's legacy rules pass the engine's guard, as the holdout arm's do: a lead sales
    called yesterday, or one the engine handed to sales an hour ago, is not handed over again."""
    seed(crm, n=4, hot=3)
    crm.add_activity("call-0", "0", "call", datetime.now(UTC) - timedelta(hours=20))
    holdout = {"decision.policy": "engine", "decision.engine": {"holdout_share": 1.0}}  # the legacy rules, guarded
    ctx = make_ctx(tmp_path, store_url, redis_url, **holdout)
    ids = sorted(sync_connector(ctx, "crm").changed)
    with ctx.store.connect() as conn:
        by_ext = dict(conn.execute(select(identities.c.external_id, identities.c.contact_id)).all())
    called, hot = by_ext["0"], [by_ext["1"], by_ext["2"]]
    decide_contacts(ctx, hot, "engine")  # the engine's holdout arm hands the hot leads to sales
    assert actions(ctx, "engine") == {c: "sales_outreach" for c in hot}
    with ctx.store.begin() as conn:
        killswitch.flip(conn, "next_best_action", True, "ana", "bad week", ctx.clock())
    decide_contacts(ctx, ids, "switched")
    got = actions(ctx, "switched")
    assert got[called] == "wait" and all(got[c] == "wait" for c in hot)
    with ctx.store.connect() as conn:
        expl = dict(
            conn.execute(
                select(decisions.c.contact_id, decisions.c.explanation).where(decisions.c.request_key == "switched")
            ).all()
        )
    assert expl[called].startswith("Kill switch on: legacy rules. wait: the legacy rule's action is not allowed")
    ctx.close()


def actions(ctx, key: str) -> dict[int, str]:
    """Each contact's ``next_best_action`` in the decisions of ``key``."""
    with ctx.store.connect() as conn:
        rows = conn.execute(
            select(decisions.c.contact_id, decisions.c.actions).where(decisions.c.request_key == key)
        ).all()
    return {
        cid: next(a["payload"]["fields"]["next_best_action"] for a in acts if a["kind"] == "set_fields")
        for cid, acts in rows
    }


def test_two_first_flips_at_once_turn_the_switch_on_once(store_url):
    """Two admins (or an admin and an alert) turning on a switch that never had a row both read
    "no row" and both inserted one: the second failed on the unique key with a 500. Now it finds
    the first one's row, and one change is audited."""
    import threading

    from sqlalchemy import delete, func

    from hub.store import Store
    from hub.store.schema import audit_log, kill_switches

    store = Store(store_url, auto_migrate=True)
    now = datetime(2026, 3, 2, tzinfo=UTC)

    def flip(by: str, ready: threading.Barrier, results: list, errors: list) -> None:
        try:
            with store.begin() as conn:
                ready.wait()
                results.append(killswitch.flip(conn, "next_best_action", True, by, "incident", now))
        except Exception as exc:  # noqa: BLE001 - what the loser raised is what is checked
            errors.append(exc)

    try:
        for _ in range(10):
            with store.begin() as conn:
                conn.execute(delete(kill_switches))
                conn.execute(delete(audit_log))
            ready, results, errors = threading.Barrier(2), [], []
            threads = [threading.Thread(target=flip, args=(who, ready, results, errors)) for who in ("ann", "bo")]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == [] and sorted(results) == [False, True]
            with store.connect() as conn:
                assert conn.execute(select(func.count()).select_from(audit_log)).scalar() == 1
                assert conn.execute(select(kill_switches.c.is_on)).scalars().all() == [True]
    finally:
        store.dispose()
