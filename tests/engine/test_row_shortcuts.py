"""Shortcuts of the one-row decision path give exactly what the plain forms give.

A real-time decision pays for every call of its one row; these pin that the cheaper forms
(expression environments of the names read, the experiment cuts worked out once, touches and
history columns on Python numbers, kept row counts) change no value.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from decision.context import EXPRESSION_NAMES, expression_env
from decision.experiment import assign_arms
from decision.interface import ContactView
from hub.errors import DecisionError
from hub.expressions import Expression
from hub.models import Activity, ActivityType, Company, Consent, Contact, Identity

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def _view(activities: bool) -> ContactView:
    contact = Contact(
        id=7,
        emails=["A@Example.com"],
        job_title="VP Sales",
        identities=[Identity(connector="hubspot", external_id="1"), Identity(connector="crm", external_id="2")],
        company=Company(name="Co", employees=250, country="DE"),
        consent=Consent(email_opt_out=True),
    )
    acts = [
        Activity(
            contact_id=7,
            type=[ActivityType.PAGE_VIEW, ActivityType.EMAIL_OPEN][k % 2],
            occurred_at=NOW - timedelta(days=k * 4),
            source="test",
            external_id=str(k),
        )
        for k in range(25)
    ]
    if activities:
        return ContactView(contact=contact, activities=acts)
    profile = {"days": {"page_view": {str(int(NOW.timestamp() // 86_400) - d): 2 for d in (0, 3, 20, 60, 95)}}}
    return ContactView(contact=contact, profile=profile)


@pytest.mark.parametrize("activities", [True, False])
@pytest.mark.parametrize(
    "names",
    [
        {"employees", "activities_30d"},
        {"email", "connectors", "do_not_contact"},
        {"activities_7d", "activities_90d", "industry"},
        set(),
        set(EXPRESSION_NAMES),
    ],
)
def test_an_environment_of_some_names_is_the_full_one_cut_to_them(activities, names):
    view = _view(activities)
    full = expression_env(view, NOW)
    assert list(full) == sorted(EXPRESSION_NAMES, key=list(full).index)  # every name, in one order
    assert expression_env(view, NOW, frozenset(names)) == {k: v for k, v in full.items() if k in names}


def test_rules_and_eligibility_read_only_the_names_the_engine_builds():
    from decision.engine import EnginePolicy
    from hub.config import DecisionSettings

    rules = [
        {"name": "hot", "when": "activities_30d['page_view'] >= 3 and employees > 10", "actions": []},
        {"name": "rest", "when": "not email_opt_out", "actions": []},
    ]
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": rules, "engine": {}}))
    assert engine._env_names >= {"activities_30d", "employees", "email_opt_out", "do_not_contact"}
    view = _view(False)
    small = expression_env(view, NOW, engine._env_names)
    for source in [r["when"] for r in rules] + [a.eligible for a in engine.entries]:
        assert Expression(source).evaluate(small) == Expression(source).evaluate(expression_env(view, NOW))


@pytest.mark.parametrize(
    "shares",
    [
        {"holdout_share": 0.1},
        {"holdout_share": 0.2, "control_share": 0.1, "random_share": 0.05},
        {"holdout_share": 0.1, "ablations": {"send_time": 0.1, "content": 0.05}},
        {"holdout_share": 0.0, "control_share": 0.3, "ablations": {"long_term_value": 0.3}},
    ],
)
def test_arms_of_a_few_ids_are_their_arms_in_a_big_batch(shares):
    ids = list(range(1, 400))
    together = assign_arms(ids, "salt-1", **shares)
    alone = np.concatenate([assign_arms(ids[i : i + 3], "salt-1", **shares) for i in range(0, len(ids), 3)])
    np.testing.assert_array_equal(alone, together)
    assert len(set(together.tolist())) > 1


@pytest.mark.parametrize(
    "shares", [{"holdout_share": -0.1}, {"holdout_share": 0.6, "control_share": 0.5}, {"ablations": {"nope": 0.1}}]
)
def test_bad_shares_are_refused_every_time(shares):
    for _ in range(2):  # the checked cuts are kept; a refusal is not
        with pytest.raises(DecisionError):
            assign_arms([1], "s", **shares)


def test_touch_parts_equal_their_definitions_alone_and_in_a_batch():
    """E-mails and felt touches ordered in the last 7 days and days since the newest sales
    touch, from the hub's own decisions and the synced activities, for one row and a batch."""
    from decision.engine import EnginePolicy
    from decision.features import NEVER_DAYS
    from decision.segment_step import MAIL_ACTION_KINDS
    from hub.config import DecisionSettings

    engine = EnginePolicy(DecisionSettings.model_validate({"engine": {}}))
    email = next(a.id for a in engine.entries if a.kind == "email")
    sales = next(a.id for a in engine.entries if a.kind == "sales_outreach")
    ad = next(a.id for a in engine.entries if a.kind not in ("email", "sales_outreach", "wait"))
    rng = np.random.default_rng(3)
    batch = []
    for i in range(40):
        decided = [
            (NOW - timedelta(days=float(rng.uniform(-1, 12))), [email, sales, ad][int(rng.integers(0, 3))])
            for _ in range(int(rng.integers(0, 6)))
        ]
        acts = [
            Activity(
                contact_id=i + 1,
                type=[ActivityType.EMAIL_SENT, ActivityType.CALL][k % 2],
                occurred_at=NOW - timedelta(days=float(rng.uniform(0, 20))),
                source="test",
                external_id=f"{i}-{k}",
            )
            for k in range(int(rng.integers(0, 4)))
        ]
        batch.append(ContactView(contact=Contact(id=i + 1), activities=acts, decided=decided))
    batch = engine._with_profiles(batch, NOW)
    F = engine.features(batch, NOW)
    touches, since, felt = engine._touches(batch, NOW, F)
    for i, v in enumerate(batch):
        week = [a for at, a in v.decided if (NOW - at).days < 7]
        ages = [(NOW - at).total_seconds() / 86_400 for at, a in v.decided if a == sales]
        sent, calls = F.column("email_sent_7d")[i], F.column("call_7d")[i]
        mails = sum(engine.entries[engine.ids.index(a)].kind in MAIL_ACTION_KINDS for a in week)
        assert touches[i] == max(sent, mails)
        assert felt[i] == max(sent + calls, mails + week.count(sales))
        assert since[i] == min(F.column("days_since_sales_touch")[i], max(min(ages, default=NEVER_DAYS), 0.0))
        one = engine._touches([v], NOW, F.subset(np.array([i])))
        assert [p.tolist() for p in one] == [[touches[i]], [since[i]], [felt[i]]]


def test_one_row_history_without_stamps_is_its_row_in_a_batch():
    """Day buckets of a kind with no ``last`` stamp, or one after now, give its recency."""
    from decision.features import featurize

    today = int(NOW.timestamp() // 86_400)
    profiles = [
        {"days": {"email_sent": {str(today - 3): 2, str(today - 40): 1}, "call": {str(today): 1}}},
        {"days": {"call": {str(today): 1, str(today - 2): 1}}, "last": {"call": NOW.timestamp() + 60}},
        {"days": {"meeting": {str(today - 200): 1}}, "last": {"meeting": NOW.timestamp() - 86_400 * 200}},
        {"last": {"email_sent": NOW.timestamp() - 3600}},
    ]
    contacts = [Contact(id=i + 1) for i in range(len(profiles))]
    F = featurize(contacts, profiles, NOW)
    for i in range(len(profiles)):
        one = featurize([contacts[i]], [profiles[i]], NOW)
        np.testing.assert_array_equal(one.raw[0], F.raw[i])
        np.testing.assert_array_equal(one.X[0], F.X[i])
    assert F.column("days_since_email_sent")[0] == 3.0 and F.column("days_since_call")[1] == 2.0


def test_the_chooser_reads_the_rows_learned_until_they_change():
    from decision.segment_value import SegmentChooser

    ch = SegmentChooser(n_stages=2, n_roles=1, n_actions=2, wait=0, min_rows=3)
    assert ch.values.rows() == 0.0 and not ch.active
    ch.values.learn(np.array([0, 1]), np.array([1, 1]), np.array([1.0, 2.0]))
    assert ch.values.rows() == 2.0 and not ch.active
    ch.values.learn(np.array([0]), np.array([0]), np.array([1.0]))
    assert ch.active
    other = SegmentChooser(n_stages=2, n_roles=1, n_actions=2, wait=0, min_rows=3)
    assert not other.active
    other.load_state(ch.state())
    assert other.values.rows() == 3.0 and other.active


def test_the_traces_exclusion_reasons_follow_the_mask_steps():
    """Each excluded action's reason, in the order the mask forbids it, alone and in a batch."""
    from decision.engine import EnginePolicy
    from hub.config import DecisionSettings

    rules = [{"name": "r", "when": "employees >= 100", "actions": []}]
    engine = EnginePolicy(DecisionSettings.model_validate({"rules": rules, "engine": {}}))
    engine = EnginePolicy(
        engine.settings.model_copy(
            update={
                "actions": [
                    a.model_copy(update={"eligible": "employees >= 100"}) if a.kind == "ad_audience" else a
                    for a in engine.settings.actions
                ]
            }
        )
    )
    email = next(a.id for a in engine.entries if a.kind == "email")
    sales = next(a.id for a in engine.entries if a.kind == "sales_outreach")
    batch = []
    for i in range(24):
        consent = Consent(email_opt_out=i % 4 == 1, do_not_contact=i % 6 == 5)
        decided = [(NOW - timedelta(hours=3 + k), email) for k in range(i % 5)]
        decided += [(NOW - timedelta(days=0.5), sales)] if i % 3 == 0 else []
        contact = Contact(id=i + 1, consent=consent, company=Company(name="Co", employees=[20, 500][i % 2]))
        batch.append(ContactView(contact=contact, profile={"days": {}}, decided=decided))
    decisions = engine.decide(batch, NOW)
    cp = engine.contact_policy
    seen = set()
    for i, (v, d) in enumerate(zip(batch, decisions, strict=True)):
        c, t = v.contact.consent, d.trace
        one = engine.decide([v], NOW)[0].trace
        assert one["excluded"] == t["excluded"]
        touches = sum(1 for at, a in v.decided if a == email)
        quiet = any(a == sales for at, a in v.decided)
        for j, (entry, why) in enumerate(zip(engine.entries, t["excluded"], strict=True)):
            marketing, mail = engine.catalog.actions[j].marketing, bool(engine.catalog.email[j])
            if entry.kind == "wait":
                want = None
            elif c.do_not_contact:
                want = "do not contact"
            elif c.email_opt_out and mail:
                want = "opted out of e-mail"
            elif entry.kind == "ad_audience" and v.contact.company.employees < 100:
                want = f"its eligible rule is false: {entry.eligible}"
            elif (entry.id == sales or marketing) and quiet:
                want = f"quiet period: sales touch 0.5 days ago (< {cp.sales_quiet_days})"
            elif marketing and touches >= cp.max_marketing_touches_7d:
                want = f"touch cap: {touches} {'e-mail' if touches == 1 else 'e-mails'} in 7 days"
            else:
                want = None
            assert why == want, (i, entry.id)
            seen.add(want.split(":")[0] if want else None)
    assert len(seen) == 6
