"""Cost of declared features: engine decisions per second with the default schema and with
declared columns, and what the profile-tag read adds to an activity insert.

Setting: sandbox-like contacts (decision-quality population, 12 activities each over 100 days),
the default catalog, a cold engine (the apprentice follows the rules; features, mask, bandit,
extras all run). ``decide`` is timed in CPU seconds on batches of 200 (the pipeline's chunk
size), median of repeats. The insert part times ``insert_activities`` of 1,000 page views on a SQLite store
with no tags and with one declared filtered tag. Prints a table and one JSON line.

    python bench/declared_features.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from decision.engine import EnginePolicy
from decision.interface import ContactView
from hub.config import DecisionSettings
from hub.models import Activity, ActivityType, Company, Contact, Identity
from hub.profile import build_profile
from hub.sandbox.population import COUNTRIES, INDUSTRIES, generate_population

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
DECLARED = [
    {"name": "tier", "source": {"property": "icp_tier"}, "type": "categorical"},
    {"name": "size", "source": {"field": "company.employees"}, "transforms": ["log1p", "standardize"]},
    {
        "name": "pricing_30d",
        "source": {"activity": "page_view", "days": 30, "where": {"property": "url", "contains": "/pricing"}},
        "transforms": ["log1p"],
    },
    {"name": "senior", "source": {"field": "job_title"}, "type": "keyword", "keywords": ["vp", "director"]},
]


def sandbox_batch(n: int, seed: int = 3) -> tuple[list[Contact], list[dict]]:
    """Population contacts with a tier property and 12 random page views, opens, sends, meetings."""
    pop = generate_population(n, seed=seed)
    rng = np.random.default_rng(seed)
    kinds = [ActivityType.PAGE_VIEW, ActivityType.EMAIL_OPEN, ActivityType.EMAIL_SENT, ActivityType.MEETING]
    pages = ["https://x.example/pricing", "https://x.example/docs/api", "https://x.example/blog"]
    contacts, profiles = [], []
    for i in range(n):
        c = pop.company[i]
        company = Company(
            industry=INDUSTRIES[pop.company_industry[c]],
            employees=int(pop.company_employees[c]),
            annual_revenue=float(pop.company_revenue[c]),
            country=COUNTRIES[pop.company_country[c]],
        )
        tier = ["A", "B", "C", None][i % 4]
        contacts.append(Contact(id=i + 1, job_title=pop.title[i], company=company, properties={"icp_tier": tier}))
        acts = [
            Activity(
                type=kinds[int(rng.integers(0, 4))],
                occurred_at=NOW - timedelta(days=float(rng.uniform(0, 100))),
                properties={"url": pages[int(rng.integers(0, 3))]},
                source="b",
                external_id=f"{i}-{j}",
            )
            for j in range(12)
        ]
        profiles.append(build_profile(acts, NOW))
    return contacts, profiles


def time_decide(engine: EnginePolicy, views: list[ContactView], repeats: int) -> float:
    """Median decisions per CPU second (process time: less swayed by other work on a shared
    machine than the wall clock) over ``repeats`` batches of 200."""
    rates = []
    for r in range(repeats):
        batch = views[(r * 200) % len(views) :][:200]
        t = time.process_time()
        engine.decide(batch, NOW)
        rates.append(len(batch) / (time.process_time() - t))
    return float(np.median(rates))


def time_inserts(tagged: bool, n: int) -> float:
    """Seconds to insert ``n`` page views for 100 contacts (one transaction)."""
    from hub.store import Store
    from hub.store import activities as activity_store
    from hub.store import contacts as contact_store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/b.db", auto_migrate=True)
        with store.begin() as conn:
            ids = sorted(
                contact_store.upsert_contacts(
                    conn, [Contact(identities=[Identity(connector="c", external_id=str(i))]) for i in range(100)]
                ).changed
            )
            if tagged:
                from decision.declared.aggregates import tags_of
                from decision.declared.settings import FeatureDecl
                from hub.store import feature_specs

                feature_specs.register_tags(conn, tags_of([FeatureDecl.model_validate(DECLARED[2])]), NOW)
        acts = [
            Activity(
                contact_id=ids[i % 100],
                type=ActivityType.PAGE_VIEW,
                occurred_at=NOW - timedelta(hours=i),
                properties={"url": "https://x/pricing" if i % 3 else "https://x/blog"},
                source="b",
                external_id=str(i),
            )
            for i in range(n)
        ]
        t = time.perf_counter()
        with store.begin() as conn:
            activity_store.insert_activities(conn, acts)
        took = time.perf_counter() - t
        store.dispose()
    return took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--default-only",
        action="store_true",
        help="only the default schema (runs on a tree without declared features, to compare)",
    )
    args = ap.parse_args()
    n, repeats = (400, 5) if args.quick else (2_000, 21)
    contacts, profiles = sandbox_batch(n)
    views = [ContactView(contact=c, profile=p) for c, p in zip(contacts, profiles, strict=True)]
    default = EnginePolicy(DecisionSettings())
    default.decide(views[:200], NOW)  # warm up
    rows = {
        "default_per_s": time_decide(default, views, repeats),
        "insert_1000_no_tags_s": float(np.median([time_inserts(False, 1000) for _ in range(5)])),
        "load": os.getloadavg()[0],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    print(f"engine decide, default schema : {rows['default_per_s']:,.0f} decisions per CPU second")
    if args.default_only:
        print(json.dumps(rows))
        return
    declared = EnginePolicy(DecisionSettings(features=DECLARED))
    declared.fit_features(views, NOW)
    declared.decide(views[:200], NOW)
    rows["declared_per_s"] = time_decide(declared, views, repeats)
    rows["declared_columns"] = len(declared.declared.names)
    rows["insert_1000_one_tag_s"] = float(np.median([time_inserts(True, 1000) for _ in range(5)]))
    print(f"engine decide, +{rows['declared_columns']} declared columns: {rows['declared_per_s']:,.0f} per CPU second")
    print(
        f"insert 1,000 activities: {rows['insert_1000_no_tags_s']:.3f} s with no tags,"
        f" {rows['insert_1000_one_tag_s']:.3f} s with one declared tag"
    )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
