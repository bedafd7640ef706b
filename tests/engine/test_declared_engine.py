"""Declared features on a real store: fitted once, folded at insert, decided and learned end to end,
shown and explained by the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import yaml

from hub.config import Settings
from hub.features_report import explain, show
from hub.models import Activity, ActivityType, Company, Contact, Identity
from hub.pipeline.context import HubContext
from hub.pipeline.decide import decide_contacts
from hub.pipeline.features import declared_matrix, ensure_features
from hub.pipeline.learn import learn_step, list_models
from hub.pipeline.outcomes import record_outcomes
from hub.store import Store, feature_specs
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.profiles import load_profiles
from hub.store.schema import decision_features

T0 = datetime(2026, 2, 2, 9, tzinfo=UTC)
FEATURES = [
    {"name": "tier", "label": "ICP tier", "source": {"property": "icp_tier"}, "type": "categorical"},
    {
        "name": "pricing_30d",
        "label": "Pricing page visits (30 days)",
        "source": {"activity": "page_view", "days": 30, "where": {"property": "url", "contains": "/pricing"}},
        "transforms": ["log1p"],
    },
    {"name": "size", "source": {"field": "company.employees"}, "transforms": ["log1p", "standardize"]},
    {"name": "senior", "source": {"field": "job_title"}, "type": "keyword", "keywords": ["vp", "director"]},
]


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def settings_doc(store_url: str) -> dict:
    return {
        "store_url": store_url,
        "decision": {
            "actions": [
                {"id": "email_nurture_business", "kind": "email", "channel": "email", "attribution_days": 3},
                {"id": "wait", "kind": "wait"},
            ],
            "engine": {"holdout_share": 0.0, "explore_share": 0.0, "apprentice_min_observations": 1},
            "rules": [
                {
                    "name": "nurture",
                    "when": "True",
                    "actions": [{"kind": "set_fields", "fields": {"next_best_action": "email_nurture_business"}}],
                }
            ],
            "features": FEATURES,
        },
    }


@pytest.fixture
def ctx(store_url):
    c = HubContext.build(
        Settings.model_validate(settings_doc(store_url)), embedded=True, store=Store(store_url, auto_migrate=True)
    )
    c.clock = Clock(T0)
    yield c
    c.close()


def add_people(ctx, n: int) -> list[int]:
    people = [
        Contact(
            identities=[Identity(connector="crm", external_id=str(i))],
            emails=[f"p{i}@x.example"],
            job_title=["VP Marketing", "Engineer", "Director of Sales"][i % 3],
            company=Company(employees=[20, 400, 5000][i % 3]),
            properties={"icp_tier": ["A", "B", "C", "A"][i % 4]},
        )
        for i in range(n)
    ]
    with ctx.store.begin() as conn:
        return sorted(contact_store.upsert_contacts(conn, people).changed)


def visit(ctx, cid: int, at: datetime, url: str, key: str) -> list[int]:
    a = Activity(
        contact_id=cid,
        type=ActivityType.PAGE_VIEW,
        occurred_at=at,
        properties={"url": url},
        source="crm",
        external_id=key,
    )
    with ctx.store.begin() as conn:
        return activity_store.insert_activities(conn, [a]).new_ids


def test_new_tags_are_backfilled_once_and_then_folded_at_insert(ctx):
    cids = add_people(ctx, 3)
    visit(ctx, cids[0], T0 - timedelta(days=3), "https://x/pricing", "before")  # before the spec exists
    ensure_features(ctx)
    engine = ctx.policy
    assert engine.features_ready and engine.feature_version.endswith(engine.declared.version)
    visit(ctx, cids[0], T0 - timedelta(days=1), "https://x/Pricing/team", "after")
    visit(ctx, cids[0], T0 - timedelta(hours=1), "https://x/blog", "blog")
    X, names, order = declared_matrix(ctx.store, engine.declared, cids, T0)
    assert order == cids and names == engine.declared.names
    raw = engine.declared.columns(*_people(ctx, cids), T0)
    assert raw["x_pricing_30d"].tolist() == [2.0, 0.0, 0.0]
    with ctx.store.connect() as conn:
        tags = feature_specs.load_tags(conn)
        assert len(tags) == 1 and load_profiles(conn, [cids[0]])[cids[0]]["total"][tags[0]["key"]] == 2
    assert X[:, names.index("x_tier=A")].tolist() == [1.0, 0.0, 0.0]


def _people(ctx, cids):
    from hub.pipeline.features import _load

    with ctx.store.connect() as conn:
        return _load(conn, cids)


def test_the_spec_is_fitted_once_and_every_process_reads_the_same_columns(ctx):
    cids = add_people(ctx, 8)
    ensure_features(ctx)
    first = ctx.policy.declared
    add_people_more = [
        Contact(identities=[Identity(connector="crm", external_id=f"n{i}")], properties={"icp_tier": "Z"})
        for i in range(20)
    ]
    with ctx.store.begin() as conn:
        contact_store.upsert_contacts(conn, add_people_more)
    other = HubContext.build(ctx.settings, embedded=True, store=ctx.store)  # a second worker, later
    other.clock = ctx.clock
    ensure_features(other)
    assert other.policy.declared.version == first.version  # loaded, not refitted on the new contacts
    assert other.policy.model_name == ctx.policy.model_name
    assert "x_tier=Z" not in other.policy.declared.names
    assert cids


def test_an_engine_with_declared_features_decides_and_learns_end_to_end(ctx):
    cids = add_people(ctx, 6)
    for day in range(2):
        ctx.clock.t = T0 + timedelta(days=4 * day)
        result = decide_contacts(ctx, cids, f"d{day}")
        assert result.decided == 6
        ids = []
        for cid in cids[:3]:
            ids += visit(ctx, cid, ctx.clock.t + timedelta(hours=1), "https://x/pricing", f"{day}-{cid}")
            a = Activity(
                contact_id=cid,
                type=ActivityType.EMAIL_CLICK,
                occurred_at=ctx.clock.t + timedelta(hours=2),
                source="crm",
                external_id=f"c{day}-{cid}",
            )
            with ctx.store.begin() as conn:
                ids += activity_store.insert_activities(conn, [a]).new_ids
        record_outcomes(ctx, ids)
        report = learn_step(ctx, ctx.clock.t + timedelta(days=3, hours=1))
        assert report.learned == 6
    engine = ctx.policy
    with ctx.store.connect() as conn:
        from sqlalchemy import select

        rows = conn.execute(select(decision_features.c.features, decision_features.c.feature_version)).all()
    assert {r.feature_version for r in rows} == {engine.feature_version}
    assert all(len(r.features) == _builtin(engine) + len(engine.declared.names) for r in rows)
    models = list_models(ctx)
    assert [m["name"] for m in models if m["name"].startswith("engine-")] == [engine.model_name] * 2
    assert engine.model.policy.n_obs_.sum() == 12
    # explanations of a learned engine name declared columns in words when they matter
    ctx.clock.t = T0 + timedelta(days=10)
    out = explain(ctx, "p0@x.example")
    declared = [r for r in out["columns"] if r["declared"]]
    assert out["model"] is not None and all(r["contribution"] is not None for r in declared)
    tier = next(r for r in declared if r["column"] == "x_tier=A")
    assert tier["words"] == "ICP tier is A" and tier["raw"] == 1.0


def _builtin(engine) -> int:
    from decision.features import feature_names

    return len(feature_names(engine.topics, engine.vocab))


def test_hub_features_show_and_explain(ctx, tmp_path):
    from typer.testing import CliRunner

    from hub.cli import app

    cids = add_people(ctx, 5)
    visit(ctx, cids[1], T0 - timedelta(days=2), "https://x/pricing", "v1")
    report = show(ctx, T0)
    by_name = {d["name"]: d for d in report["declared"]}
    assert report["contacts"] == 5
    assert by_name["tier"]["coverage"] == 1.0 and by_name["tier"]["top"][0] == ["A", 3]  # A, B, C, A, A
    assert by_name["pricing_30d"]["max"] == 1.0 and by_name["pricing_30d"]["mean"] == pytest.approx(0.2)
    assert any(b["name"] == "email_open_rate" for b in report["builtin"])

    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(settings_doc(ctx.settings.store_url)))
    runner = CliRunner()
    res = runner.invoke(app, ["features", "show", "-c", str(path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["feature_version"] == ctx.policy.feature_version
    res = runner.invoke(app, ["features", "explain", str(cids[1]), "-c", str(path)])
    assert res.exit_code == 0, res.output
    assert "x_pricing_30d" in res.output and "no learned model yet" in res.output
    res = runner.invoke(app, ["features", "explain", "nobody@x.example", "-c", str(path)])
    assert res.exit_code == 1 and "no contact" in res.output
    padded = runner.invoke(app, ["features", "explain", f"000{cids[1]}", "-c", str(path)])  # a code, not contact 2
    assert padded.exit_code == 1 and "no contact" in padded.output, padded.output


def test_declared_columns_feed_the_bandit_and_the_opt_out_model(ctx):
    add_people(ctx, 4)
    ensure_features(ctx)
    engine = ctx.policy
    d = _builtin(engine) + len(engine.declared.names)
    X = np.zeros((3, d))
    assert engine.learn(X, ["email_nurture_business"] * 3, np.ones(3), np.ones(3), np.zeros(3)) == 3
    assert engine.opt_out is not None and engine.opt_out.model.n_features_in_ == d


def test_declared_columns_are_watched_for_drift(ctx):
    from decision.monitoring import Thresholds
    from hub.pipeline.monitoring import declared_drift

    add_people(ctx, 120)  # alerts need at least Thresholds.min_rows (100) rows on each side
    ensure_features(ctx)
    spec = ctx.policy.declared
    assert declared_drift(ctx.store, spec, T0, Thresholds()) == []  # the fitted contacts themselves
    newcomers = [
        Contact(identities=[Identity(connector="crm", external_id=f"z{i}")], properties={"icp_tier": "Z"})
        for i in range(200)
    ]
    with ctx.store.begin() as conn:
        contact_store.upsert_contacts(conn, newcomers)
    drifted = {a.subject for a in declared_drift(ctx.store, spec, T0, Thresholds()) if a.kind == "drift"}
    assert {"x_tier=other", "x_size_missing"} <= drifted


def test_features_show_reads_imported_text_cells_as_the_declared_type(store_url):
    """An imported CSV keeps properties as text. `hub features show` described a numeric
    property as top levels ("38.37 (5)") with 100% coverage, counting "1,200", which the model
    reads as missing, as covered; a boolean as its raw spellings. It now parses as the model does."""
    doc = settings_doc(store_url)
    doc["decision"]["features"] = [
        {"name": "ltv", "source": {"property": "ltv"}},
        {"name": "vip", "source": {"property": "vip"}, "type": "boolean"},
        {"name": "since", "source": {"property": "since"}, "type": "date"},
    ]
    c = HubContext.build(Settings.model_validate(doc), embedded=True, store=Store(store_url, auto_migrate=True))
    c.clock = Clock(T0)
    cells = [("10.5", "TRUE", "2025-01-01"), ("1,200", "0", "2025-03-01"), ("30", "yes", "soon"), ("", "", "")]
    people = [
        Contact(
            identities=[Identity(connector="import", external_id=str(i))],
            properties={k: v for k, v in zip(("ltv", "vip", "since"), row, strict=True) if v},
        )
        for i, row in enumerate(cells)
    ]
    try:
        with c.store.begin() as conn:
            contact_store.upsert_contacts(conn, people)
        by_name = {d["name"]: d for d in show(c, T0)["declared"]}
    finally:
        c.close()
    ltv, vip, since = by_name["ltv"], by_name["vip"], by_name["since"]
    assert (ltv["coverage"], ltv["min"], ltv["max"]) == (0.5, 10.5, 30.0) and "top" not in ltv
    assert (vip["coverage"], vip["mean"]) == (0.75, pytest.approx(2 / 3))
    assert since["coverage"] == 0.5 and (since["min"], since["max"]) == ("2025-01-01", "2025-03-01")


def test_hub_features_show_says_how_many_contacts_it_read_of_how_many(ctx, tmp_path, monkeypatch):
    """It read the newest 20,000 contacts of a store of 25,927 and said "20000 contacts"; a
    year read 1.94e+03; an empty store printed an empty table and nothing else."""
    from typer.testing import CliRunner

    from hub import features_report
    from hub.cli import app

    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(settings_doc(ctx.settings.store_url)))
    empty = CliRunner().invoke(app, ["features", "show", "-c", str(path)], terminal_width=200)
    assert empty.exit_code == 0 and "No contacts yet" in empty.output, empty.output
    add_people(ctx, 5)
    monkeypatch.setattr(features_report, "SHOW_ROWS", 3)
    assert (show(ctx, T0)["contacts"], show(ctx, T0)["contacts_total"]) == (3, 5)
    res = CliRunner().invoke(app, ["features", "show", "-c", str(path)], terminal_width=200)
    assert res.exit_code == 0 and "the newest 3 of 5 contacts" in res.output, res.output
    assert "e+" not in res.output  # days_since_* of 365 and years print as numbers
