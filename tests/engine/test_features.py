"""Features: a documented, versioned schema that never looks past decision time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from decision.features import feature_names, feature_version, featurize
from hub.models import Activity, ActivityType, Company, Contact
from hub.profile import add_activity, build_profile, empty_profile

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TYPES = [t for t in ActivityType if t is not ActivityType.CUSTOM]


def act(kind: ActivityType, at: datetime, i: int, **props) -> Activity:
    return Activity(type=kind, occurred_at=at, properties=props, source="t", external_id=str(i))


history = st.lists(
    st.tuples(
        st.sampled_from(TYPES),
        st.floats(min_value=-120, max_value=30, allow_nan=False),
        st.sampled_from(["", "https://x.example/pricing", "https://x.example/docs/api", "Download: technical"]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(history)
def test_activities_after_decision_time_change_nothing(events):
    acts = [act(k, NOW + timedelta(days=d), i, page=p) for i, (k, d, p) in enumerate(events)]
    past = [a for a in acts if a.occurred_at <= NOW]
    contact = Contact(id=1)
    everything = featurize([contact], [build_profile(acts, NOW)], NOW)
    only_past = featurize([contact], [build_profile(past, NOW)], NOW)
    assert np.array_equal(everything.X, only_past.X)


@settings(max_examples=40, deadline=None)
@example([(ActivityType.PAGE_VIEW, 0.0, ""), (ActivityType.PAGE_VIEW, -1.0, "")])
@example([(ActivityType.PAGE_VIEW, -0.5, ""), (ActivityType.PAGE_VIEW, 0.0, "")])
@given(history)
def test_an_incrementally_kept_profile_matches_a_rebuilt_one_up_to_the_day(events):
    """The store's profile also holds later activities; features still ignore other days'."""
    # decide at the first instant of a day: everything on that day or later is after decision
    # time, so the kept profile's rule (a kind's bucket for the decision's day is dropped when
    # that kind was seen after decision time: conservative, never a leak) meets the rebuilt
    # profile exactly. An event at exactly that instant is neither before nor after it.
    start_of_day = NOW.replace(hour=0)
    acts = [act(k, NOW + timedelta(days=d), i) for i, (k, d, _) in enumerate(events)]
    acts = [a for a in acts if a.occurred_at != start_of_day]
    kept = empty_profile()
    for a in acts:
        add_activity(kept, a)
    past = [a for a in acts if a.occurred_at < start_of_day]
    f_kept = featurize([Contact(id=1)], [kept], start_of_day)
    f_past = featurize([Contact(id=1)], [build_profile(past, start_of_day)], start_of_day)
    counts = [j for j, n in enumerate(f_kept.names) if n.endswith("d") and n.split("_")[-1][:-1].isdigit()]
    assert np.array_equal(f_kept.raw[:, counts], f_past.raw[:, counts])


def test_schema_is_named_versioned_and_handles_missing_values():
    names = feature_names()
    assert len(names) == len(set(names))
    assert feature_version().startswith("f1-") and feature_version() == feature_version()
    assert feature_version(("technical",)) != feature_version()
    f = featurize([Contact(id=1), Contact(id=2, job_title="", company=Company())], [None, {}], NOW)
    assert f.X.shape == (2, len(names)) and np.isfinite(f.X).all()
    assert f.column("industry_unknown").tolist() == [1, 1] and f.column("never_sales_touch").tolist() == [1, 1]


def test_recency_frequency_pages_topics_firmographics_and_title():
    acts = [
        act(ActivityType.PAGE_VIEW, NOW - timedelta(days=2), 1, url="https://x.example/pricing"),
        act(ActivityType.PAGE_VIEW, NOW - timedelta(days=3), 2, url="https://x.example/pricing"),
        act(ActivityType.PAGE_VIEW, NOW - timedelta(days=20), 3, url="https://x.example/docs"),
        act(ActivityType.EMAIL_SENT, NOW - timedelta(days=10), 4),
        act(ActivityType.EMAIL_OPEN, NOW - timedelta(days=9), 5),
        act(ActivityType.CALL, NOW - timedelta(days=1), 6),
    ]
    c = Contact(
        id=1,
        job_title="VP of Engineering",
        lifecycle_stage="lead",
        company=Company(industry="software", country="DE", employees=250),
    )
    f = featurize([c], [build_profile(acts, NOW)], NOW)
    get = {n: v for n, v in zip(f.names, f.raw[0], strict=True)}
    assert get["pricing_7d"] == 2 and get["pricing_30d"] == 2 and get["docs_30d"] == 1
    assert get["page_view_7d"] == 2 and get["page_view_30d"] == 3 and get["page_view_1d"] == 0
    assert get["email_open_rate"] == 0.5 and abs(get["days_since_sales_touch"] - 1) < 1e-9
    assert get["industry_software"] == get["country_DE"] == get["stage_lead"] == 1
    assert get["seniority_vp"] == 1 and get["department_technical"] == 1 and get["log_employees"] == 250


def test_categorical_buckets_come_from_the_configured_vocabulary():
    from decision.engine import EnginePolicy
    from decision.features import Vocabulary
    from decision.interface import ContactView
    from hub.config import DecisionSettings

    crm = {"industries": ["COMPUTER_SOFTWARE", "Banking"], "countries": ["United States"], "lifecycle_stages": None}
    policy = EnginePolicy(DecisionSettings(engine={"features": crm}))
    people = [
        Contact(id=1, company=Company(industry="COMPUTER_SOFTWARE", country="united states")),
        Contact(id=2, company=Company(industry="software", country="US")),  # the built-in names: now "other"
    ]
    f = policy.features([ContactView(contact=c) for c in people], NOW)
    assert f.column("industry_computer_software").tolist() == [1.0, 0.0]
    assert f.column("industry_other").tolist() == [0.0, 1.0]
    assert f.column("country_UNITED STATES").tolist() == [1.0, 0.0]
    assert "industry_software" not in f.names and "stage_lead" in f.names  # stages keep the defaults
    assert f.version == policy.feature_version != feature_version()  # another schema: a new model
    assert feature_version(vocab=Vocabulary()) == feature_version()  # the defaults keep today's schema
