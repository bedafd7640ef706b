"""`hub demo`: the whole product against the sandbox market, with no accounts and no services.

Starts the HubSpot and Salesforce look-alikes in process, writes a hub.yaml that enables the
connectors against them (a SQLite store, or an empty PostgreSQL database; embedded runner), and runs simulated days of
sync -> decide -> push -> outcomes through the real pipeline. The market then runs what the
hub pushed and people respond.

Two measurements, side by side: the store's, with the same definitions `hub report lift`,
the console and /metrics use (hub/reports/metrics.py: each decided contact in the arm of its
first decision, what it did after that decision, the objective's weights), and the market's
ground truth for the same people and arms (everything they did since the demo started,
including what no connector syncs, such as ad clicks). Where the two differ, the difference
is what the hub cannot see, not another definition.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import func, select

from hub.config import Settings, load_settings
from hub.connector_health import run_checks
from hub.connectors_setup import setup_connector
from hub.console.passwords import hash_password
from hub.demo_store import (
    CONSOLE_PASSWORD,
    CONSOLE_USER,
    DEMO_MARK,
    SQLITE_URL,
    has_password,
    mark_demo_ended,
    prepare_demo_store,
    write_config,
)
from hub.errors import HubError
from hub.pipeline.context import HubContext
from hub.pipeline.run import run_once
from hub.plugins import build_plugin_manager
from hub.reports.data import load_arm_frame
from hub.reports.lift import LiftRow, compare, lift_rows
from hub.sandbox.market import EV
from hub.sandbox.serve import SandboxHandle, start_sandbox
from hub.sandbox.world import World, WorldConfig
from hub.store.schema import decisions, identities, pushes

METRICS = ("opens", "meetings", "opportunities", "pipeline", "won_revenue", "unsubscribes", "reward")
#: the metrics compared with the holdout, store and ground truth side by side
LIFT_METRICS = ("reward", "opportunities", "pipeline", "won_revenue", "unsubscribes")
NOT_REACHED = "not synced"


@dataclass
class ArmResult:
    arm: str
    contacts: int = 0
    decisions: int = 0
    pushes: int = 0
    totals: dict[str, float] = field(default_factory=dict)
    per_contact: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DemoLift:
    """One metric's lift over the holdout, as the store measures it and as the market knows it."""

    metric: str
    arm: str
    store: LiftRow | None  # None when the store has no such arm
    truth: LiftRow  # the same comparison (hub.reports.lift.compare) on what the market knows


@dataclass
class DemoReport:
    policy: str
    policy_version: str
    days: int
    contacts: int
    arms: list[ArmResult]
    lifts: list[DemoLift]
    workdir: str


def sandbox_settings(
    sb: SandboxHandle,
    workdir: Path,
    connector_types: set[str],
    engine: dict[str, Any] | None = None,
    store_url: str = SQLITE_URL,
    console: bool = False,
) -> Path:
    """Write the demo's hub.yaml: the sample's decision section (``engine`` keys override its
    ``decision.engine``), connectors on the sandbox, the store at ``store_url``; with ``console``,
    a console login (:func:`console_login`)."""
    sample = yaml.safe_load(resources.files("hub").joinpath("sample.yaml").read_text(encoding="utf-8"))
    sample["decision"]["engine"] = {**sample["decision"].get("engine", {}), **(engine or {})}
    connectors = sb.hub_connectors(connector_types)
    cfg = {
        "store_url": store_url,  # demo.db is beside this hub.yaml, wherever a command runs
        "connectors": connectors,
        "decision": sample["decision"],
    }
    if console:
        cfg["api"] = console_login(workdir)
    path = workdir / "hub.yaml"
    secret = console or has_password(store_url)  # a session secret, or a password in the store's URL
    write_config(path, f"{DEMO_MARK}\n" + yaml.safe_dump(cfg, sort_keys=False), secret=secret)
    return path


def console_login(workdir: Path) -> dict[str, Any]:
    """The demo's console login: user ``demo`` with a new random password, written to
    :data:`CONSOLE_PASSWORD` beside hub.yaml (owner-readable only; never printed), and a session
    secret. Without them `hub serve` on the demo's store serves no console until one hashes a
    password and edits hub.yaml."""
    password = secrets.token_urlsafe(12)
    write_config(workdir / CONSOLE_PASSWORD, password + "\n", secret=True)
    return {
        "users": [{"username": CONSOLE_USER, "password_hash": hash_password(password)}],
        "session_secret": secrets.token_urlsafe(32),
    }


def run_demo(
    *,
    contacts: int = 2000,
    weeks: int = 4,
    seed: int = 0,
    workdir: Path,
    on_day: Callable[[int, int], None] | None = None,
    days: int | None = None,
    world_config: WorldConfig | None = None,
    before_day: Callable[[World, int], None] | None = None,
    on_sandbox: Callable[[SandboxHandle], None] | None = None,
    engine: dict[str, Any] | None = None,
    store_url: str | None = None,
) -> DemoReport:
    """Simulate ``weeks`` (or exactly ``days``) of the pipeline against the sandbox market.

    ``world_config`` replaces the market's (its size and seed then come from it);
    ``before_day(world, day)`` may change the world before each simulated day (bench/
    alerts_quality.py breaks a feed that way); ``on_sandbox(handle)`` is handed the running
    sandbox servers once (bench/alerts_quality.py revokes a token through it); ``engine``
    overrides keys of the sample's ``decision.engine`` (bench/impact_truth.py adds ablation arms
    or switches a component off that way); ``store_url``, an empty PostgreSQL database instead of
    demo.db (hub/demo_store.py)."""
    workdir.mkdir(parents=True, exist_ok=True)
    store_url = prepare_demo_store(workdir, store_url)
    # the clock ticks per reading, not with the wall: the same seed gives the same demo on any machine
    world = World(world_config or WorldConfig(n_contacts=contacts, seed=seed, realtime_clock=False))
    types = set(build_plugin_manager().types)
    try:
        with start_sandbox(world) as sb:
            if on_sandbox:
                on_sandbox(sb)
            settings = load_settings(sandbox_settings(sb, workdir, types, engine, store_url, console=True))
            ctx = HubContext.build(settings, embedded=True)
            ctx.clock = world.now  # decisions happen in simulated time, like the activities they read
            for name in settings.enabled_connectors():  # `hub connectors setup`: create, then verify
                setup = setup_connector(ctx.connector(name))
                if not setup.ok:
                    raise HubError(f"sandbox setup of {name} did not verify: {setup.as_dict()}")
            run_checks(ctx)  # `hub connectors list --check`: the console shows each one's health
            counts0, values0 = world.market.counts.copy(), world.market.values.copy()
            days = days if days is not None else weeks * 7
            for day in range(days):
                if before_day:
                    before_day(world, day)
                run_once(ctx, keep_going=True)
                world.advance_days(1)
                if on_day:
                    on_day(day + 1, days)
            run_once(ctx, keep_going=True)  # read the last day's outcomes
            report = _report(ctx, settings, world, counts0, values0, days, workdir)
            ctx.close()
    finally:  # its CRMs stop with it: `hub status`, the console and `--check` say so from now on
        if (workdir / "hub.yaml").exists():
            mark_demo_ended(workdir / "hub.yaml")
    return report


def _person_arms(ctx: HubContext, world: World) -> np.ndarray:
    """The arm of each simulated person: that of its hub contact's first decision, as the
    store's reports assign it (a person with two contacts takes the earliest decided one)."""
    arms = np.full(world.pop.n, NOT_REACHED, dtype=object)
    with ctx.store.connect() as conn:
        first: dict[int, tuple[int, str]] = {}
        for did, cid, arm in conn.execute(
            select(decisions.c.id, decisions.c.contact_id, decisions.c.arm).order_by(decisions.c.id)
        ):
            first.setdefault(cid, (did, arm))
        seen: dict[int, int] = {}
        for cid, connector, ext in conn.execute(
            select(identities.c.contact_id, identities.c.connector, identities.c.external_id)
        ):
            system = ctx.settings.connectors[connector].type
            person = world.person_for(system, ext)
            if person is not None and cid in first and first[cid][0] < seen.get(person, 1 << 62):
                seen[person] = first[cid][0]
                arms[person] = first[cid][1]
    return arms


def _report(
    ctx: HubContext,
    settings: Settings,
    world: World,
    counts0: np.ndarray,
    values0: np.ndarray,
    days: int,
    workdir: Path,
) -> DemoReport:
    counts = world.market.counts - counts0
    values = world.market.values - values0
    # ground truth under the hub's own objective (hub.yaml), so only what is seen differs
    w = settings.decision.objective
    per_person = {
        "opens": counts[:, EV["email_open"]],
        "meetings": counts[:, EV["meeting"]],
        "opportunities": counts[:, EV["opportunity_created"]],
        "pipeline": values[:, EV["opportunity_created"]],
        "won_revenue": values[:, EV["opportunity_won"]],
        "unsubscribes": (counts[:, EV["unsubscribe"]] > 0).astype(float),
    }
    per_person["reward"] = (
        w.open * counts[:, EV["email_open"]]
        + w.click * (counts[:, EV["email_click"]] + counts[:, EV["ad_click"]])
        + w.form * (counts[:, EV["form_submit"]] + counts[:, EV["webinar"]] + counts[:, EV["content_download"]])
        + w.meeting * counts[:, EV["meeting"]]
        + w.opportunity * counts[:, EV["opportunity_created"]]
        + w.revenue * values[:, EV["opportunity_won"]]
        + w.unsubscribe * counts[:, EV["unsubscribe"]]
    )
    arms = _person_arms(ctx, world)
    with ctx.store.connect() as conn:
        dec = {a: n for a, n in conn.execute(select(decisions.c.arm, func.count()).group_by(decisions.c.arm))}
        pus = {
            a: n
            for a, n in conn.execute(
                select(decisions.c.arm, func.count())
                .select_from(pushes.join(decisions, pushes.c.decision_id == decisions.c.id))
                .where(pushes.c.state == "done")
                .group_by(decisions.c.arm)
            )
        }
        # the policy that ran is the newest treatment decision's (a holdout row logs the rules)
        newest = select(decisions.c.policy, decisions.c.policy_version).order_by(decisions.c.id.desc()).limit(1)
        last = conn.execute(newest.where(decisions.c.arm == "engine")).first() or conn.execute(newest).first()
        frame = load_arm_frame(conn, declared=settings.decision.outcomes)
    stored = {(r.arm, r.metric): r for r in lift_rows(frame, weights=settings.decision.objective)}
    results = []
    for arm in sorted(set(arms), key=lambda a: (a == NOT_REACHED, a)):
        sel = arms == arm
        r = ArmResult(arm=arm, contacts=int(sel.sum()), decisions=dec.get(arm, 0), pushes=pus.get(arm, 0))
        r.per_contact = {m: np.asarray(v[sel], dtype=float) for m, v in per_person.items()}
        r.totals = {m: float(v.sum()) for m, v in r.per_contact.items()}
        results.append(r)
    baseline = next((r for r in results if r.arm in ("holdout", "rules")), None)
    lifts = []
    if baseline is not None:
        for r in results:
            if r is baseline or r.arm == NOT_REACHED:
                continue
            for m in LIFT_METRICS:
                lifts.append(DemoLift(m, r.arm, stored.get((r.arm, m)), lift(m, r, baseline)))
    return DemoReport(
        policy=last.policy if last else settings.decision.policy,
        policy_version=last.policy_version if last else "-",
        days=days,
        contacts=world.pop.n,
        arms=results,
        lifts=lifts,
        workdir=str(workdir),
    )


def lift(metric: str, arm: ArmResult, base: ArmResult) -> LiftRow:
    """``arm`` minus ``base`` per contact, by the reports' own comparison (hub.reports.lift.compare),
    so the ground truth column is read as the store's is (a rare event's interval included)."""
    a = np.asarray(arm.per_contact[metric], dtype=float)
    b = np.asarray(base.per_contact[metric], dtype=float)
    return compare(metric, arm.arm, base.arm, a, b)
