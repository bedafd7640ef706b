"""Declared features (decision.features): validation, extraction, the default schema, model names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from decision.declared.aggregates import tags_of
from decision.declared.settings import FeatureDecl
from decision.declared.spec import DeclaredSpec
from decision.engine import EnginePolicy
from decision.features import featurize
from decision.interface import ContactView
from hub.config import DecisionSettings, parse_settings
from hub.errors import ConfigError, DecisionError
from hub.models import Activity, ActivityType, Company, Contact
from hub.profile import build_profile
from hub.sandbox.population import COUNTRIES, INDUSTRIES, generate_population

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def decls(*raw: dict) -> list[FeatureDecl]:
    return [FeatureDecl.model_validate(r) for r in raw]


def problems(doc: dict) -> dict[str, str]:
    with pytest.raises(ConfigError) as exc:
        parse_settings(doc)
    return dict(exc.value.problems)


# -- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feature", "path", "words"),
    [
        ({"name": "t", "source": {"field": "job_tittle"}, "type": "categorical"}, "source.field", "unknown hub field"),
        ({"name": "t", "source": {"activity": "page_visit", "days": 7}}, "source.activity", "unknown activity type"),
        ({"name": "t", "source": {"event": "webinar_x", "property": "topic"}}, "source.event", "unknown activity type"),
        ({"name": "t", "source": {"field": "company.employees"}, "transforms": ["sqrt"]}, "transforms.0", "log1p"),
        ({"name": "t", "source": {"expression": "budget > 3"}}, "source.expression", "unknown names"),
        ({"name": "T!", "source": {"field": "company.employees"}}, "name", "pattern"),
    ],
)
def test_a_bad_declaration_names_its_key_path(feature, path, words):
    doc = {"decision": {"features": [{"name": "ok", "source": {"field": "company.employees"}}, feature]}}
    found = problems(doc)
    key = f"decision.features[1].{path}".replace(".0", "[0]")
    assert key in found, found
    assert words in found[key]


def test_a_bad_transform_for_the_type_and_a_source_with_two_kinds_are_refused():
    found = problems(
        {
            "decision": {
                "features": [
                    {"name": "a", "source": {"field": "job_title"}, "type": "categorical", "transforms": ["log1p"]},
                    {"name": "b", "source": {"field": "job_title", "activity": "page_view", "days": 7}},
                ]
            }
        }
    )
    assert "numeric" in found["decision.features[0]"]
    assert "exactly one of" in found["decision.features[1].source"]


def test_a_property_no_configured_connector_provides_is_a_config_error():
    sf = {"type": "salesforce", "settings": {"instance_url": "https://x.my.salesforce.com", "access_token": "t"}}
    doc = {
        "connectors": {"crm": sf},
        "decision": {
            "features": [
                {"name": "src", "source": {"field": "properties.lead_source"}, "type": "categorical"},
                {"name": "tier", "source": {"field": "properties.icp_tier"}, "type": "categorical"},
                {"name": "tier2", "source": {"property": "icp_tier", "connector": "hubspot"}, "type": "categorical"},
            ]
        },
    }
    found = problems(doc)
    assert "decision.features[0].source.field" not in found  # Salesforce documents lead_source
    assert "icp_tier" in found["decision.features[1].source.field"]
    assert "no configured connector" in found["decision.features[2].source.connector"]


def test_hub_config_validate_exits_2_on_a_bad_feature(tmp_path):
    from tests.test_config import run_hub

    path = tmp_path / "hub.yaml"
    path.write_text("decision:\n  features:\n    - name: x\n      source: {field: nope}\n")
    out = run_hub("config", "validate", "-c", str(path))
    assert out.returncode == 2
    assert "decision.features[0].source.field" in out.stderr


# -- the default schema ----------------------------------------------------------------------


def sandbox_batch(n: int = 200, seed: int = 3) -> tuple[list[Contact], list[dict]]:
    pop = generate_population(n, seed=seed)
    rng = np.random.default_rng(seed)
    contacts, profiles = [], []
    kinds = [ActivityType.PAGE_VIEW, ActivityType.EMAIL_OPEN, ActivityType.EMAIL_SENT, ActivityType.MEETING]
    pages = ["https://x.example/pricing", "https://x.example/docs/api", "https://x.example/blog"]
    for i in range(n):
        c = pop.company[i]
        contacts.append(
            Contact(
                id=i + 1,
                job_title=pop.title[i],
                lifecycle_stage=["lead", "subscriber", "opportunity"][i % 3],
                company=Company(
                    industry=INDUSTRIES[pop.company_industry[c]],
                    employees=int(pop.company_employees[c]),
                    annual_revenue=float(pop.company_revenue[c]),
                    country=COUNTRIES[pop.company_country[c]],
                ),
                properties={"icp_tier": ["A", "B", "C", None][i % 4]},
            )
        )
        acts = [
            Activity(
                type=kinds[int(k)],
                occurred_at=NOW - timedelta(days=float(d)),
                properties={"url": pages[int(p)]},
                source="t",
                external_id=f"{i}-{j}",
            )
            for j, (k, d, p) in enumerate(
                zip(rng.integers(0, 4, 12), rng.uniform(0, 100, 12), rng.integers(0, 3, 12), strict=True)
            )
        ]
        profiles.append(build_profile(acts, NOW))
    return contacts, profiles


def test_the_default_spec_is_todays_schema_exactly():
    contacts, profiles = sandbox_batch()
    engine = EnginePolicy(DecisionSettings())
    views = [ContactView(contact=c, profile=p) for c, p in zip(contacts, profiles, strict=True)]
    F = engine.features(views, NOW)
    topics = engine.topics
    expected = featurize(contacts, profiles, NOW, topics, engine.vocab)
    assert F.names == expected.names
    assert F.version == expected.version == engine.feature_version
    assert np.array_equal(F.X, expected.X)
    assert engine.declared is None and engine.features_ready


# -- extraction ------------------------------------------------------------------------------

PRICING = {
    "name": "pricing_30d",
    "label": "Pricing page visits (30 days)",
    "source": {"activity": "page_view", "days": 30, "where": {"property": "url", "contains": "/pricing"}},
}
TIER = {"name": "tier", "label": "ICP tier", "source": {"property": "icp_tier"}, "type": "categorical"}
SIZE = {"name": "size", "source": {"field": "company.employees"}, "transforms": ["log1p", "standardize"]}
BIG = {"name": "big", "source": {"expression": "employees >= 500"}, "type": "boolean"}
TOPIC = {"name": "webinar_topic", "source": {"event": "webinar", "property": "topic"}, "type": "categorical"}


def test_declared_columns_are_computed_from_contacts_and_profiles():
    spec_decls = decls(PRICING, TIER, SIZE, BIG, TOPIC)
    tags = tags_of(spec_decls)
    acts = [
        Activity(
            type="page_view",
            occurred_at=NOW - timedelta(days=2),
            properties={"url": "https://a/pricing"},
            source="t",
            external_id="1",
        ),
        Activity(
            type="page_view",
            occurred_at=NOW - timedelta(days=20),
            properties={"url": "https://a/Pricing?x"},
            source="t",
            external_id="2",
        ),
        Activity(
            type="page_view",
            occurred_at=NOW - timedelta(days=45),
            properties={"url": "https://a/pricing"},
            source="t",
            external_id="3",
        ),
        Activity(
            type="page_view",
            occurred_at=NOW - timedelta(days=1),
            properties={"url": "https://a/blog"},
            source="t",
            external_id="4",
        ),
        Activity(
            type="page_view",
            occurred_at=NOW + timedelta(hours=1),
            properties={"url": "https://a/pricing"},
            source="t",
            external_id="5",
        ),
        Activity(
            type="webinar",
            occurred_at=NOW - timedelta(days=9),
            properties={"topic": "security"},
            source="t",
            external_id="6",
        ),
        Activity(
            type="webinar",
            occurred_at=NOW - timedelta(days=3),
            properties={"topic": "pricing"},
            source="t",
            external_id="7",
        ),
    ]
    # the store's profile holds everything inserted so far, including the future activity
    kept = build_profile(acts, NOW + timedelta(days=1), tags)
    people = [
        Contact(id=1, company=Company(employees=900), properties={"icp_tier": "A"}),
        Contact(id=2, company=Company(employees=40), properties={"icp_tier": "B"}),
        Contact(id=3),
    ]
    spec = DeclaredSpec(spec_decls).fit(people, [kept, None, None], NOW)
    cols = spec.columns(people, [kept, None, None], NOW)
    assert cols["x_pricing_30d"].tolist() == [2.0, 0.0, 0.0]  # 45 days ago, the blog and the future left out
    assert cols["x_tier"].tolist() == ["A", "B", None]
    assert cols["x_big"].tolist() == [1.0, 0.0, 0.0]  # as in rules: a comparison with unknown is false
    assert cols["x_webinar_topic"].tolist() == ["pricing", None, None]
    X, raw = spec.transform(people, [kept, None, None], NOW)
    col = {n: j for j, n in enumerate(spec.names)}
    assert X[:, col["x_tier=A"]].tolist() == [1.0, 0.0, 0.0]
    assert X[:, col["x_tier=missing"]].tolist() == [0.0, 0.0, 1.0]
    assert raw[0, col["x_size"]] == 900.0 and np.isnan(raw[2, col["x_size"]])
    assert X[2, col["x_size_missing"]] == 1.0 and X[2, col["x_size"]] == 0.0  # standardized mean
    assert not np.isnan(X).any()
    assert spec.phrase("x_tier=A", 1.0) == "ICP tier is A"
    assert spec.phrase("x_pricing_30d", 2.0) == "Pricing page visits (30 days) 2"


def test_a_stored_spec_reads_identical_columns_and_a_refit_is_a_new_version():
    contacts, profiles = sandbox_batch(60)
    spec = DeclaredSpec(decls(TIER, SIZE)).fit(contacts, profiles, NOW)
    again = DeclaredSpec.from_state(decls(TIER, SIZE), spec.state())
    assert again.version == spec.version and again.names == spec.names
    assert np.array_equal(again.transform(contacts, profiles, NOW)[0], spec.transform(contacts, profiles, NOW)[0])
    other = DeclaredSpec(decls(TIER, SIZE)).fit(contacts[:10], profiles[:10], NOW)
    assert other.version != spec.version  # other means: other columns' values
    with pytest.raises(DecisionError):
        DeclaredSpec.from_state(decls(TIER), spec.state())


def test_a_spec_change_makes_a_new_model_name_and_the_default_keeps_its_own():
    contacts, profiles = sandbox_batch(60)
    views = [ContactView(contact=c, profile=p) for c, p in zip(contacts, profiles, strict=True)]
    plain = EnginePolicy(DecisionSettings())
    names = set()
    for features in ([TIER], [TIER, SIZE], [{**TIER, "levels": ["A", "B"]}]):
        engine = EnginePolicy(DecisionSettings(features=features))
        with pytest.raises(DecisionError, match="not fitted"):
            engine.features(views, NOW)
        engine.fit_features(views, NOW)
        assert engine.model_name != plain.model_name
        assert engine.feature_version.startswith(plain.feature_version + "+d-")
        assert len(engine.feature_version) <= 40  # the store's column
        names.add(engine.model_name)
    assert len(names) == 3
    # labels are words only: same columns, same model
    relabelled = EnginePolicy(DecisionSettings(features=[{**TIER, "label": "Tier"}]))
    relabelled.fit_features(views, NOW)
    first = EnginePolicy(DecisionSettings(features=[TIER]))
    first.fit_features(views, NOW)
    assert relabelled.model_name == first.model_name


_values = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.sampled_from(
        ["job_title", "company.employees", "page_view", "webinar", "log1p", "squared", "A", "/pricing", "x > 1", ""]
    )
)
_source = st.dictionaries(
    st.sampled_from(["field", "property", "connector", "activity", "days", "measure", "where", "event", "expression"]),
    _values | st.dictionaries(st.sampled_from(["property", "contains", "equals"]), _values, max_size=2),
    max_size=3,
)
_feature = st.fixed_dictionaries(
    {"name": st.sampled_from(["a", "b", "Bad name"]), "source": _source},
    optional={
        "type": st.sampled_from(["numeric", "categorical", "boolean", "date", "keyword", "text"]),
        "transforms": st.lists(st.sampled_from(["log1p", "standardize", "squared", "sqrt"]), max_size=2),
        "top_k": _values,
        "levels": st.lists(st.text(max_size=3), max_size=2),
        "keywords": st.lists(st.text(max_size=3), max_size=2),
    },
)


@hsettings(max_examples=80, deadline=None)
@given(st.lists(_feature, max_size=3))
def test_any_declaration_is_accepted_or_refused_under_decision_features(features):
    from hub.plugins import HubPlugins

    try:
        s = parse_settings({"decision": {"features": features}}, plugins=HubPlugins())
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("decision.features") and m for p, m in exc.problems)
        return
    assert len(s.decision.features) == len(features)
    spec = DeclaredSpec(s.decision.features)  # whatever validates can be fitted and read
    assert spec.declaration and len(spec.tags) <= len(features)
    people = [Contact(id=1, job_title="VP", company=Company(employees=10), properties={"A": "x"}), Contact(id=2)]
    X, _ = spec.fit(people, [None, None], NOW).transform(people, [None, None], NOW)
    assert X.shape == (2, len(spec.names)) and np.isfinite(X).all()
