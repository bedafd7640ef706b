"""``hub evaluate``: what would a candidate hub.yaml have done on the decisions already logged?

From the decision log (``decisions`` + ``decision_features``: features as of decision time, the
action taken, the logged propensity, the finalized ``reward_total``) this builds the candidate's
policy from its ``decision`` section exactly as ``decide`` does (decision/factory.py), computes
its probability of every action on every finalized row, does the same for the current config
(the replay the current row is estimated from), and hands both to
:func:`hub.reports.offline.evaluate_log` (IPS, SNIPS, doubly robust, bootstrap intervals,
difference and ratio, overlap warnings; the plain logged mean as a check on the replay).

What is recomputed exactly, and what is approximated:

- features: the vectors logged at decision time are used when the candidate's feature schema is
  the logged one; otherwise they are rebuilt from the activities stored up to decision time;
- eligibility (each action's ``eligible`` expression, consent, do-not-contact, the 7-day touch
  cap, the quiet period after a sales touch) and the legacy rules are recomputed from the
  activities up to decision time and the hub's earlier decisions, but from the contact's
  *current* record: a stage, owner or title that changed since is read as it is now; an email
  opt-out whose ``unsubscribe`` activity came after the decision is undone for that decision.
  Activities are read by when they occurred, not when they were synced: one that had occurred
  but was not synced yet at decision time is seen by the replay and was not by the decision;
- the engine's model is the snapshot each decision logged (its ``policy_version``, ``<model>@v<n>``;
  rows decided otherwise use the newest saved by decision time): its bandit and all it learned
  beside it (opt-out model, long-term value, graduation evidence, segment values, content
  slots), restored as decide restores it; rows grouped per version, when the
  candidate's model is the logged one (same catalog, feature schema, bandit and seed), rebuilt with
  the engine's own design (its squared columns) and the candidate's hyperparameters (exploration,
  apprentice threshold); a candidate that needs a new model starts cold, as it would when
  deployed (it follows the legacy rules until actions mature);
- not modelled: the per-owner daily handoff budget (depends on the whole batch) and governance
  after the policy (approvals, kill switches, routing); a candidate that changes one of these
  gets a warning naming the keys, and its verdict says the change was not estimated;
- rewards are the finalized ``reward_total``, i.e. under the objective weights in force when the
  window closed; a candidate's own ``objective`` changes what it would learn, not the yardstick;
- for ``decision.policy: rules`` the action is the rules' ``next_best_action`` when it is a catalog
  id, else ``wait`` (probability 1 either way).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from decision.interface import ContactView
from hub.config import DecisionSettings, Settings, load_settings
from hub.errors import ConfigError, DecisionError
from hub.models import ActionKind, Activity, Contact
from hub.profile import build_profile
from hub.reports.numbers import counted
from hub.reports.offline import OfflineEvaluation, evaluate_log
from hub.store import Store
from hub.store import contacts as contact_store
from hub.store import learning as learning_store
from hub.store.activities import activity_from_row
from hub.store.contacts import aware
from hub.store.decisions import DECIDED_DAYS, from_batches
from hub.store.schema import activities, decision_features, decisions

_CHUNK = 500  # ids per IN (...) query: SQLite caps bound parameters


class NoDecisionLog(DecisionError):
    """The store holds no finalized decision to evaluate on."""


@dataclass
class DecisionLog:
    """Finalized decisions, oldest first, as parallel lists."""

    decision_ids: list[int]
    contact_ids: list[int]
    created_at: list[datetime]
    actions: list[str]
    propensities: np.ndarray
    rewards: np.ndarray
    features: list[list[float]]
    feature_versions: list[str]
    arms: list[str]
    policy_versions: list[str]

    def __len__(self) -> int:
        return len(self.decision_ids)


def load_candidate(path: str | Path) -> Settings:
    """The candidate hub.yaml, validated like ``hub config validate`` (ConfigError names key paths)."""
    if not Path(path).is_file():  # load_settings would say "run hub init": no sample is the changed copy
        raise ConfigError(
            f"candidate file {path} not found: give a changed copy of hub.yaml (cp hub.yaml candidate.yaml, edit it)"
        )
    try:
        return load_settings(path)
    except ConfigError as exc:
        raise ConfigError([(p, m) for p, m in exc.problems] + [("", f"(in the candidate file {path})")]) from None


#: what acts after the policy, by key path: a candidate that changes one is estimated without it
_UNMODELLED = (
    ("decision.owners", lambda s: s.decision.owners),
    ("decision.engine.sales_handoffs_per_owner_per_day", lambda s: s.decision.engine.sales_handoffs_per_owner_per_day),
    ("governance.autonomy", lambda s: s.governance.autonomy),
    ("governance.kill_switches", lambda s: s.governance.kill_switches),
    ("governance.alerts.kill_switch", lambda s: s.governance.alerts.kill_switch),
)


def unmodelled_changes(current: Settings, candidate: Settings) -> list[str]:
    """Key paths whose change the replay cannot show: approvals and actions switched ``off``,
    kill switches, owner routing and the per-owner hand-off budget all act after the policy.
    Switching the most taken action off read as "No clear difference" before."""
    return [path for path, get in _UNMODELLED if get(current) != get(candidate)]


def load_log(conn: Connection, since: datetime | None = None) -> DecisionLog:
    q = (
        select(
            decisions.c.id,
            decisions.c.contact_id,
            decisions.c.created_at,
            decisions.c.propensity,
            decisions.c.arm,
            decisions.c.policy_version,
            decision_features.c.action,
            decision_features.c.features,
            decision_features.c.feature_version,
            decision_features.c.reward_total,
        )
        .join(decision_features, decision_features.c.decision_id == decisions.c.id)
        .where(decision_features.c.finalized_at.is_not(None), decision_features.c.reward_total.is_not(None))
        .order_by(decisions.c.created_at, decisions.c.id)
    )
    if since is not None:
        q = q.where(decisions.c.created_at >= since)
    rows = conn.execute(q).all()
    return DecisionLog(
        [r.id for r in rows],
        [r.contact_id for r in rows],
        [aware(r.created_at) for r in rows],
        [r.action for r in rows],
        np.array([r.propensity for r in rows], dtype=float),
        np.array([r.reward_total for r in rows], dtype=float),
        [list(r.features or []) for r in rows],
        [r.feature_version for r in rows],
        [r.arm for r in rows],
        [r.policy_version for r in rows],
    )


def _activities(conn: Connection, ids: list[int], until: datetime) -> dict[int, list[Activity]]:
    out: dict[int, list[Activity]] = defaultdict(list)
    for s in range(0, len(ids), _CHUNK):
        q = (
            select(activities)
            .where(activities.c.contact_id.in_(ids[s : s + _CHUNK]), activities.c.occurred_at <= until)
            .order_by(activities.c.contact_id, activities.c.occurred_at)
        )
        for r in conn.execute(q):
            out[r.contact_id].append(activity_from_row(r))
    return out


def _first_unsubscribe(conn: Connection, ids: list[int]) -> dict[int, datetime]:
    out: dict[int, datetime] = {}
    for s in range(0, len(ids), _CHUNK):
        q = (
            select(activities.c.contact_id, func.min(activities.c.occurred_at))
            .where(activities.c.contact_id.in_(ids[s : s + _CHUNK]), activities.c.type == "unsubscribe")
            .group_by(activities.c.contact_id)
        )
        out.update({cid: aware(at) for cid, at in conn.execute(q)})
    return out


def _as_of(contact: Contact, now: datetime, unsubscribed: datetime | None) -> Contact:
    """The contact's consent at ``now``: an opt-out whose unsubscribe came later was not there yet."""
    if contact.consent.email_opt_out and unsubscribed is not None and unsubscribed > now:
        return contact.model_copy(update={"consent": contact.consent.model_copy(update={"email_opt_out": False})})
    return contact


def _decided(conn: Connection, ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
    """Every logged decide-batch decision per contact but control ones, ``(when, action)``,
    oldest first: what decide's :func:`~hub.store.decisions.recent_actions` reads, replayed
    with its lookback in :func:`_recent`."""
    out: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for s in range(0, len(ids), _CHUNK):
        q = (
            select(decisions.c.contact_id, decisions.c.created_at, decision_features.c.action)
            .join(decision_features, decision_features.c.decision_id == decisions.c.id)
            .where(decisions.c.contact_id.in_(ids[s : s + _CHUNK]), decisions.c.arm != "control", from_batches())
            .order_by(decisions.c.created_at)
        )
        for cid, at, action in conn.execute(q):
            out[cid].append((aware(at), action))
    return out


def _recent(decided: list[tuple[datetime, str]], now: datetime) -> list[tuple[datetime, str]]:
    """The decisions a contact's view held at ``now``: those of the ``DECIDED_DAYS`` before it, as
    decide and the real-time API read them (a sales call decided a month ago is no touch now)."""
    start = now - timedelta(days=DECIDED_DAYS)
    return [(at, a) for at, a in decided if start <= at < now]


def logged_version(policy_version: str | None, model_name: str) -> int | None:
    """The snapshot version a decision logged (``<model>@v<n>``), or None when it was not
    decided by this model (holdout and control rows log the rules' version)."""
    prefix = f"{model_name}@v"
    if policy_version and policy_version.startswith(prefix) and policy_version[len(prefix) :].isdigit():
        return int(policy_version[len(prefix) :])
    return None


class _Models:
    """The candidate engine's learned state per snapshot version, with the candidate's
    hyperparameters; version 0 is the cold engine (nothing learned yet)."""

    def __init__(self, conn: Connection, engine: Any):
        self.conn, self.engine = conn, engine
        snaps = learning_store.list_snapshots(conn, engine.model_name)
        self.times = [(s["created_at"], s["version"]) for s in snaps]
        self.saved = {v for _, v in self.times}
        self.cache: dict[int, tuple] = {0: (engine.fresh_model(), engine.raw_model, engine.opt_out, None)}
        self.current: int | None = None

    def live_at(self, now: datetime) -> int:
        """The newest version saved by ``now`` (0 when none was)."""
        live = [v for t, v in self.times if t <= now]
        return live[-1] if live else 0

    def _fresh(self, loaded: Any) -> Any:
        """A model built exactly as the engine builds it, holding ``loaded``'s learned state
        (trailing-underscore attributes): the candidate's hyperparameters apply and the design
        (squared columns) is the one the state was learned on."""
        model = self.engine.fresh_model()
        for key, value in vars(loaded.policy).items():
            if key.endswith("_") and not key.startswith("_"):
                setattr(model.policy, key, value)
        return model

    def use(self, version: int) -> None:
        """Make the engine decide as it did under ``version``: the snapshot loaded as decide loads
        it (its bandit, the opt-out ablation's, the opt-out model; hub/pipeline/learn.py), the
        bandits rebuilt with the candidate's hyperparameters, and what it learned beside them.
        Version 0 is left cold, so callers replay the cold rows before any snapshot is restored."""
        from hub.pipeline.learn import restore_learned

        engine = self.engine
        version = version if version in self.saved else 0
        if version == self.current:
            return
        if version not in self.cache:
            _, blob, metrics = learning_store.load_snapshot(self.conn, engine.model_name, version)
            engine.load_model(version, blob)
            raw = engine.raw_model
            self.cache[version] = (
                self._fresh(engine.model),
                self._fresh(raw) if raw is not None else None,
                engine.opt_out,
                metrics,
            )
        engine.model, engine.raw_model, engine.opt_out, metrics = self.cache[version]
        engine.model_version = self.current = version
        if version:
            restore_learned(engine, metrics)


def _rules_probabilities(settings: DecisionSettings, views: list[ContactView], now: datetime, ids: list[str]):
    from decision.rules import RulesPolicy

    wait = next((a.id for a in settings.actions if a.kind == "wait"), "wait")
    out = np.zeros((len(views), len(ids)))
    for i, d in enumerate(RulesPolicy(settings.rules).decide(views, now)):
        action = wait
        for a in d.actions:
            nba = a.payload.get("fields", {}).get("next_best_action") if a.kind is ActionKind.SET_FIELDS else None
            if nba in ids:
                action = nba
        out[i, ids.index(action)] = 1.0
    return out


def policy_probabilities(
    conn: Connection, settings: DecisionSettings, log: DecisionLog, ids: list[str]
) -> tuple[np.ndarray, list[str]]:
    """(n, len(ids)) probability the policy of ``settings`` takes each action on each logged row,
    with notes on what was approximated (see the module docstring)."""
    from decision.factory import build_policy

    policy = build_policy(settings)
    for a in settings.actions:
        if a.id not in ids:
            ids.append(a.id)
    if settings.policy == "rules" and not any(a.kind == "wait" for a in settings.actions) and "wait" not in ids:
        ids.append("wait")
    contact_ids = sorted(set(log.contact_ids))
    contacts = {c.id: c for c in contact_store.load_contacts(conn, contact_ids)}
    history = _activities(conn, contact_ids, max(log.created_at))
    decided = _decided(conn, contact_ids)
    unsubscribed = _first_unsubscribe(conn, contact_ids)
    engine = settings.policy == "engine"
    tags = _bind_declared(conn, policy, contacts, history, max(log.created_at)) if engine else []
    models = _Models(conn, policy) if engine else None
    # one group per decision time and model version: each row is replayed with the snapshot it
    # was decided with (rows not decided by this model use the one live at that time)
    groups: dict[tuple[datetime, int], list[int]] = defaultdict(list)
    for i, at in enumerate(log.created_at):
        version = 0
        if engine:
            logged = logged_version(log.policy_versions[i], policy.model_name)
            version = logged if logged is not None else models.live_at(at)
            version = version if version in models.saved else 0
        groups[(at, version)].append(i)
    out = np.zeros((len(log), len(ids)))
    notes: list[str] = []
    used_versions: set[int] = set()
    same_schema = rebuilt = 0
    # cold rows first: a restored snapshot's learning is not undone for them
    for (now, version), rows in sorted(groups.items(), key=lambda g: g[0][1]):
        rows = [i for i in rows if log.contact_ids[i] in contacts]
        if not rows:
            continue
        views = []
        for i in rows:
            cid = log.contact_ids[i]
            acts = history.get(cid, [])
            views.append(
                ContactView(
                    contact=_as_of(contacts[cid], now, unsubscribed.get(cid)),
                    activities=acts,
                    profile=build_profile(acts, now, tags),
                    decided=_recent(decided.get(cid, []), now),
                )
            )
        if not engine:
            out[rows] = _rules_probabilities(settings, views, now, ids)
            continue
        models.use(version)
        if hasattr(policy.model.policy, "_seed_rng"):
            policy.model.policy._seed_rng()  # Monte Carlo shares: a group's replay does not depend on the others
        used_versions.add(version)
        X = None
        if all(log.feature_versions[i] == policy.feature_version for i in rows):
            X = np.array([log.features[i] for i in rows], dtype=float)
            same_schema += len(rows)
        else:
            rebuilt += len(rows)
        probs = policy.action_probabilities(views, now, X=X)
        cols = [ids.index(a) for a in policy.ids]
        out[np.ix_(rows, cols)] = probs
    missing = sum(1 for c in log.contact_ids if c not in contacts)
    if missing:
        notes.append(f"Left out {counted(missing, 'decision')} of contacts deleted since.")
    if engine:
        if rebuilt:
            notes.append(
                f"{counted(rebuilt, 'row')} logged under another feature schema: features were rebuilt from activities."
            )
        cold = 0 in used_versions
        saved = sorted(models.saved)
        if not saved:
            what = "no saved snapshot (a new catalog, schema, bandit or seed), so it starts cold and follows the rules."
        elif used_versions <= {0}:
            what = (
                f"snapshots v{saved[0]}..v{saved[-1]} are saved, but every finalized decision was made before "
                "the first, so all are replayed with the cold model they were decided with."
            )
        else:
            what = (
                f"each decision replayed with the snapshot it was decided with (versions {min(used_versions - {0})}"
                f"..{max(used_versions)}{', and cold before the first' if cold else ''})."
            )
        notes.append(f"Engine model {policy.model_name}: {what}")
    return out, notes


def _bind_declared(conn: Connection, policy, contacts, history, now: datetime) -> list[dict]:  # noqa: ANN001
    """Declared features of an engine config: the stored fitted spec when that declaration went
    live, else fitted here on the logged contacts (profiles rebuilt from their activities, so a
    tag never registered still counts). Returns the profile tags the replay's profiles need."""
    if policy.declared is None:
        return []
    from decision.declared.spec import DeclaredSpec
    from hub.store.feature_specs import load_spec

    decls = policy.declared.decls
    state = load_spec(conn, policy.declared.declaration)
    if state is not None:
        spec = DeclaredSpec.from_state(decls, state)
    else:
        people = list(contacts.values())
        tags = policy.declared.tags
        spec = DeclaredSpec(decls).fit(people, [build_profile(history.get(c.id, []), now, tags) for c in people], now)
    policy.bind_features(spec)
    return spec.tags


def evaluate_candidate(
    store: Store,
    current: Settings,
    candidate: Settings,
    *,
    since: datetime | None = None,
    seed: int = 0,
    n_bootstrap: int = 1000,
) -> OfflineEvaluation:
    """The candidate config against the logged (current) policy on finalized decisions."""
    with store.connect() as conn:
        log = load_log(conn, since)
        if not len(log):
            when = f" since {since:%Y-%m-%d}" if since else ""
            raise NoDecisionLog(
                f"No finalized decisions{when} to evaluate on. Decisions need the learning engine's log "
                "(decision.policy: engine) and a closed attribution window: run `hub run --once` (or the "
                "workers) to decide, let the actions' attribution windows pass, then run the learn step "
                "(`hub run --once` again, or `hub beat`) so rewards are finalized."
            )
        ids = list(dict.fromkeys([a.id for a in current.decision.actions] + log.actions))
        if candidate.decision == current.decision:
            # the same policy: one replay serves both rows, so the difference is exactly zero
            replay, notes = policy_probabilities(conn, current.decision, log, ids)
            target = replay.copy()
            notes.append("The candidate's decision section equals the current one: the same replay serves both.")
        else:
            target, notes = policy_probabilities(conn, candidate.decision, log, ids)
            replay, _ = policy_probabilities(conn, current.decision, log, ids)
    if replay.shape[1] < target.shape[1]:
        replay = np.hstack([replay, np.zeros((len(log), target.shape[1] - replay.shape[1]))])
    if target.shape[1] < replay.shape[1]:
        target = np.hstack([target, np.zeros((len(log), replay.shape[1] - target.shape[1]))])
    keep = (target.sum(axis=1) > 0) & (replay.sum(axis=1) > 0)  # rows of contacts deleted since
    index = {a: j for j, a in enumerate(ids)}
    actions = np.array([index[a] for a in log.actions], dtype=np.intp)
    common = max(set(log.feature_versions), key=log.feature_versions.count)
    width = len(log.features[log.feature_versions.index(common)])
    # the DR reward model reads the logged vectors of the most common schema (zeros for others)
    X = np.array([f if v == common else [0.0] * width for f, v in zip(log.features, log.feature_versions, strict=True)])
    ev = evaluate_log(
        X[keep],
        actions[keep],
        log.rewards[keep],
        np.clip(log.propensities[keep], 1e-6, 1.0),
        target[keep],
        ids,
        current=replay[keep],
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    ev.notes = notes + ev.notes
    ev.unmodelled = unmodelled_changes(current, candidate)
    if ev.unmodelled:
        ev.warnings.append(
            f"The candidate changes {', '.join(ev.unmodelled)}: approvals, actions switched off, kill switches,"
            " owner routing and the hand-off budget act after the policy, and this replay estimates the policy"
            " alone, so nothing here measures that change."
        )
    return ev
