"""Routing: hard constraints as properties over random owners, leads and territory rules."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision.routing import Lead, Owner, Router, TerritoryRule
from hub.errors import DecisionError

INDUSTRIES = ["software", "retail", "energy"]
REGIONS = ["EU", "US", "APAC"]
PRODUCTS = ["core", "addon"]
LANGS = ["en", "de"]


def subset(values):
    return st.frozensets(st.sampled_from(values), max_size=2)


owners_st = st.lists(
    st.builds(
        Owner,
        id=st.sampled_from([f"o{i}" for i in range(8)]),
        active=st.booleans(),
        industries=subset(INDUSTRIES),
        regions=subset(REGIONS),
        products=subset(PRODUCTS),
        languages=subset(LANGS),
        open_leads=st.integers(0, 12),
        max_open_leads=st.integers(0, 12),
        assigned_today=st.integers(0, 4),
        max_new_per_day=st.integers(0, 5),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda o: o.id,
)
leads_st = st.lists(
    st.builds(
        Lead,
        contact_id=st.integers(1, 10_000),
        industry=st.none() | st.sampled_from(INDUSTRIES + ["media"]),
        region=st.none() | st.sampled_from(REGIONS),
        product=st.none() | st.sampled_from(PRODUCTS),
        language=st.none() | st.sampled_from(LANGS),
    ),
    max_size=40,
)


@st.composite
def scenario(draw):
    owners = draw(owners_st)
    ids = [o.id for o in owners]
    rules = draw(
        st.lists(
            st.builds(
                TerritoryRule,
                name=st.sampled_from(["emea", "na", "apac", "big"]),
                owners=st.frozensets(st.sampled_from(ids), max_size=3),
                industries=subset(INDUSTRIES),
                regions=subset(REGIONS),
            ),
            max_size=3,
        )
    )
    stats = draw(
        st.dictionaries(
            st.tuples(st.sampled_from([f"{i}/{r}" for i in INDUSTRIES for r in REGIONS]), st.sampled_from(ids)),
            st.integers(0, 20).flatmap(lambda d: st.tuples(st.integers(0, d), st.just(d))),
            max_size=10,
        )
    )
    return owners, draw(leads_st), rules, stats, draw(st.booleans())


def first_rule(lead: Lead, rules: list[TerritoryRule]) -> TerritoryRule | None:
    for r in rules:
        if (not r.industries or lead.industry in r.industries) and (not r.regions or lead.region in r.regions):
            return r
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_hard_constraints_hold_for_any_batch(case):
    owners, leads, rules, stats, require = case
    router = Router(require_territory=require)
    out = router.route_many(leads, owners, rules, stats)
    by_id = {o.id: o for o in owners}
    assert [a.contact_id for a in out] == [lead.contact_id for lead in leads]
    taken = Counter(a.owner for a in out if a.owner is not None)
    for owner_id, k in taken.items():
        assert k <= by_id[owner_id].capacity, "capacity exceeded"
        assert by_id[owner_id].active, "inactive owner chosen"
    for lead, a in zip(leads, out, strict=True):
        assert a.reason, "every assignment records why"
        rule = first_rule(lead, rules)
        if a.owner is not None:
            if rule is not None:
                assert a.owner in rule.owners, "territory broken"
            else:
                assert not require
            continue
        # Work-conserving: nobody is left out while an allowed active owner still has room.
        if rule is not None:
            allowed = [o for o in owners if o.active and o.id in rule.owners]
        else:
            allowed = [] if require else [o for o in owners if o.active]
        assert all(taken[o.id] >= o.capacity for o in allowed), a.reason


def test_ties_go_round_robin_and_the_cursor_carries_over():
    owners = [Owner(f"o{i}", max_new_per_day=100) for i in range(4)]
    router = Router()
    first = router.route_many([Lead(i) for i in range(8)], owners)
    assert Counter(a.owner for a in first) == {"o0": 2, "o1": 2, "o2": 2, "o3": 2}
    assert "round-robin among 4 equal owners" in first[0].reason
    second = router.route_many([Lead(9)], owners)
    assert second[0].owner == "o0"  # cursor moved 8 = 0 mod 4
    assert router.route_many([Lead(10)], owners)[0].owner == "o1"


def test_specialist_and_segment_winner_preferred_and_reasons_explain_refusals():
    owners = [
        Owner("generalist"),
        Owner("de_software", industries=frozenset({"software"}), languages=frozenset({"de"})),
        Owner("off", active=False, industries=frozenset({"retail"})),
    ]
    leads = [Lead(1, industry="software", language="de"), Lead(2, industry="retail", region="US")]
    stats = {("retail/US", "generalist"): (8, 10), ("retail/US", "de_software"): (1, 10)}
    out = Router().route_many(leads, owners, win_stats=stats)
    assert out[0].owner == "de_software" and "matches industry, language" in out[0].reason
    assert out[1].owner == "generalist" and "win rate" in out[1].reason
    rules = [TerritoryRule("dach", frozenset({"off"}), regions=frozenset({"EU"}))]
    refused = Router().route_many([Lead(3, region="EU")], owners, rules)
    assert refused[0].owner is None and "no active owner is allowed" in refused[0].reason
    full = Router().route_many([Lead(4)], [Owner("busy", open_leads=5, max_open_leads=5)])
    assert full[0].owner is None and "capacity" in full[0].reason
    with pytest.raises(DecisionError):
        Router().route_many([Lead(5)], owners, [TerritoryRule("x", frozenset({"ghost"}))])
    assert Router().route_many([Lead(6)], [])[0].reason == "no owner: no owners are configured"


def test_leads_and_win_stats_come_from_hub_models():
    from datetime import UTC, datetime

    from decision.routing import lead_from_contact, win_stats
    from hub.models import Activity, Company, Contact

    c = Contact(id=7, owner="ana", company=Company(industry="software", country="DE"), properties={"language": "de"})
    lead = lead_from_contact(c, region_of={"DE": "EU"})
    assert (lead.industry, lead.region, lead.language, lead.segment) == ("software", "EU", "de", "software/EU")
    at = datetime(2025, 1, 1, tzinfo=UTC)
    acts = [
        Activity(contact_id=7, type=t, occurred_at=at, source="s", external_id=str(i))
        for i, t in enumerate(["opportunity_won", "opportunity_lost", "opportunity_won", "meeting"])
    ]
    assert win_stats([c], acts, region_of={"DE": "EU"}) == {("software/EU", "ana"): (2, 3)}
