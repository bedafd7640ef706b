"""Warm start from history: learn the engine's bandit from past touches before it goes live.

A team has years of campaign history: who got which touch, when, and what came of it. A cold
engine would spend weeks re-learning that. :func:`warm_start` reads such a log, rebuilds each
touched contact's features *as of the touch* from the store (the same featurization the live
engine uses, so the model sees what it will see when deciding), takes the logged propensities or
estimates them (a multinomial logistic model of the logged action on the context, clipped), and
values the warm-started policy offline on the newest part of the log, which it did not train on:
IPS, SNIPS and doubly robust with bootstrap intervals, against the logging policy and against
every single action. Only then, and only when asked, it trains on every row and saves the model
as the engine's next version, which deciding processes load like any learned version.

Features as of a touch use the store's activities up to the start of the touch's day (UTC): a
touch's own outcomes can never leak into its features, at the cost of that day's earlier
activity. Eligibility rules are not replayed: the policy is valued as if every catalog action
were allowed on every logged row.
"""

from __future__ import annotations

import shlex
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from decision.engine import MIN_PROPENSITY, EnginePolicy
from decision.interface import ContactView
from decision.offline.propensity import estimate_propensities, logged_propensity
from hub.cells import parse_outcome
from hub.errors import ConflictError, DataError
from hub.pipeline.context import HubContext
from hub.reports.numbers import counted
from hub.reports.offline import OfflineEvaluation, evaluate_log
from hub.store import contacts as contact_store
from hub.store import learning as learning_store
from hub.store.activities import activity_from_row
from hub.store.schema import activities, identities

#: estimated propensities are clipped here: a touch the log "never" makes gets a weight of at most 50
PROPENSITY_FLOOR = 0.02
SHOWN_UNMAPPED = 3  # unmapped actions named in the skip reason; the JSON lists every one
_CHUNK = 500


@dataclass(frozen=True)
class HistoryColumns:
    """Which column of the log holds what; ``propensity`` is a column, ``propensity_value`` a constant."""

    contact: str
    action: str
    reward: str
    time: str | None = None
    propensity: str | None = None
    propensity_value: float | None = None
    action_map: Mapping[str, str] = field(default_factory=dict)
    #: the contact column holds this source's ids (``hub import --source``, a connector), not emails
    contact_source: str | None = None


@dataclass
class WarmStart:
    """What :func:`warm_start` found and did."""

    rows: int
    used: int
    skipped: dict[str, int]
    n_train: int
    n_test: int
    propensities: str  # "logged", "constant" or "estimated"
    propensity_summary: dict[str, float]  # min, mean, max of the propensities used
    evaluation: OfflineEvaluation | None
    actions: dict[str, dict[str, float]]  # single action -> {"estimate", "low", "high"} (doubly robust)
    best_action: str | None
    model_name: str
    version: int | None = None  # saved version; None on a dry run or when refused
    warnings: list[str] = field(default_factory=list)
    refused: str | None = None  # why it was not saved though asked to (valued below the logging policy)
    unmapped: dict[str, int] = field(default_factory=dict)  # logged action not in the catalog -> its rows

    def to_dict(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "rows": self.rows,
            "used": self.used,
            "skipped": self.skipped,
            "unmapped_actions": self.unmapped,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "propensities": self.propensities,
            "propensity_summary": self.propensity_summary,
            "policy": _est(ev.candidate["dr"]) if ev else None,
            "policy_ips": _est(ev.candidate["ips"]) if ev else None,
            "policy_snips": _est(ev.candidate["snips"]) if ev else None,
            "logging": {"estimate": ev.logged.value, "low": ev.logged.low, "high": ev.logged.high} if ev else None,
            "actions": self.actions,
            "best_action": self.best_action,
            "diagnostics": ev.diagnostics.__dict__ if ev else None,
            "model": self.model_name,
            "version": self.version,
            "refused": self.refused,
            "warnings": self.warnings + (ev.warnings if ev else []),
        }


def _below_logging(ev: OfflineEvaluation) -> str | None:
    """Why a warm-started model should not go live: its value under the logging policy's."""
    mine, logged = ev.candidate["dr"].value, ev.logged.value
    if mine >= logged:
        return None
    return (
        f"the warm-started engine is valued at {mine:+.4g} per touch on the held-out touches, below the "
        f"{logged:+.4g} the logging policy earned on them: live, it would likely do worse than what ran before"
    )


def _est(e: Any) -> dict[str, float]:
    return {"estimate": float(e.value), "low": float(e.low), "high": float(e.high)}


def _time(v: Any) -> datetime | None:
    """A touch time (numpy datetime64, ISO text or epoch seconds) as an aware datetime, or None."""
    if isinstance(v, np.datetime64):
        v = None if np.isnat(v) else v.astype("datetime64[us]").item()
    elif isinstance(v, int | float | np.integer | np.floating):
        v = datetime.fromtimestamp(float(v), UTC) if np.isfinite(v) else None
    elif isinstance(v, str):
        try:
            v = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(v, datetime):
        return None
    return v if v.tzinfo else v.replace(tzinfo=UTC)


def _times(values: np.ndarray) -> np.ndarray:
    """Touch times as aware datetimes; None where a cell is blank or no time."""
    return np.array([_time(v) for v in values], dtype=object)


def _rewards(values: np.ndarray) -> np.ndarray:
    """Rewards as floats (yes/no as 1/0, as `hub offline evaluate` reads them); NaN where a cell
    is blank, neither, or not finite."""
    r = values.astype(float) if values.dtype.kind in "fiub" else parse_outcome(values).values
    return np.where(np.isfinite(r), r, np.nan)


def _unmapped_reason(counts: Counter[str], shown: int = SHOWN_UNMAPPED) -> str:
    """One skip reason for every logged action the catalog lacks, the most frequent ``shown``
    named with their rows: a log of 80 items, 71 of them unmapped, printed 71 lines."""
    top = counts.most_common(shown)
    hint = "--map-action " + shlex.quote(f"{top[0][0] or 'VALUE'}=ACTION_ID")  # 'Civic Duty=ACTION_ID': one shell word
    if len(counts) == 1:
        return f"action {top[0][0]!r} is not in decision.actions (map it with {hint})"
    named = ", ".join(f"{v!r} ({counted(n, 'row')})" for v, n in top)
    more = f" and {len(counts) - len(top)} more" if len(counts) > len(top) else ""
    see = "; --json lists them all" if more else ""
    return f"{len(counts)} actions are not in decision.actions: {named}{more} (map each with {hint}{see})"


def _skip(skipped: dict[str, int], what: str, bad: np.ndarray, values: np.ndarray) -> None:
    """Count ``bad`` rows under one reason that names the first (its file row, header = row 1)."""
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        skipped[f"{what} (first: row {first + 2}, {values[first]!r})"] += int(bad.sum())


def _resolve(conn: Connection, keys: Sequence[Any], source: str | None = None) -> np.ndarray:
    """Contact key -> store contact id, -1 when unknown. With ``source`` a key is that source's
    id of the person (a ``hub import --source`` name or a connector); else an email, or a store
    contact id written as the store writes it ("0005" is a code, not contact 5)."""
    text = [str(k).strip() if k is not None else "" for k in keys]
    if source is not None:
        by_id = _by_source_id(conn, source, {k for k in text if k})
        return np.array([by_id.get(k, -1) for k in text], dtype=np.int64)
    by_email = contact_store.resolve_emails(conn, [k for k in text if "@" in k])
    numeric = {int(k) for k in text if _store_id(k)}
    known = {c.id for c in contact_store.load_contacts(conn, sorted(numeric))} if numeric else set()
    out = np.full(len(text), -1, dtype=np.int64)
    for i, k in enumerate(text):
        if "@" in k:
            out[i] = by_email.get(k.lower(), -1)
        elif _store_id(k) and int(k) in known:
            out[i] = int(k)
    return out


def _store_id(key: str) -> bool:
    return key.isdigit() and str(int(key)) == key


def _by_source_id(conn: Connection, source: str, keys: set[str]) -> dict[str, int]:
    """``source``'s external ids -> contact ids (any object type), read in chunks."""
    ordered, out = sorted(keys), {}
    for s in range(0, len(ordered), _CHUNK):
        q = select(identities.c.external_id, identities.c.contact_id).where(
            identities.c.connector == source, identities.c.external_id.in_(ordered[s : s + _CHUNK])
        )
        out.update(dict(conn.execute(q).all()))
    return out


def _features_as_of(conn: Connection, engine: Any, contact_ids: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The engine's feature rows for each (contact, touch time), from activities before the touch's day."""
    days = np.array([datetime(t.year, t.month, t.day, tzinfo=UTC) for t in times], dtype=object)
    ids = sorted({int(c) for c in contact_ids})
    contacts = {c.id: c for c in contact_store.load_contacts(conn, ids)}
    history: dict[int, list] = defaultdict(list)
    until = max(days)
    for s in range(0, len(ids), _CHUNK):
        q = (
            select(activities)
            .where(activities.c.contact_id.in_(ids[s : s + _CHUNK]), activities.c.occurred_at < until)
            .order_by(activities.c.contact_id, activities.c.occurred_at)
        )
        for r in conn.execute(q):
            history[r.contact_id].append(activity_from_row(r))
    groups: dict[datetime, list[int]] = defaultdict(list)
    for i, day in enumerate(days):
        groups[day].append(i)
    X: np.ndarray | None = None
    for day, rows in sorted(groups.items()):
        views = []
        for i in rows:
            cid = int(contact_ids[i])
            acts = [a for a in history.get(cid, []) if _aware(a.occurred_at) < day]
            views.append(ContactView(contact=contacts[cid], activities=acts))  # the engine profiles them
        F = engine.features(views, day)
        if X is None:
            X = np.zeros((len(contact_ids), F.X.shape[1]))
        X[rows] = F.X
    assert X is not None
    return X


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _single_actions(
    X: np.ndarray, a: np.ndarray, r: np.ndarray, p: np.ndarray, ids: list[str], seed: int, n_bootstrap: int
) -> dict[str, dict[str, float]]:
    out = {}
    for j, action in enumerate(ids):
        if not (a == j).any():
            continue  # nothing in the log measures an action it never took
        target = np.zeros((len(a), len(ids)))
        target[:, j] = 1.0
        ev = evaluate_log(X, a, r, p, target, ids, n_bootstrap=n_bootstrap, seed=seed)
        out[action] = _est(ev.candidate["dr"])
    return out


def warm_start(
    ctx: HubContext,
    table: Mapping[str, np.ndarray],
    cols: HistoryColumns,
    *,
    train_share: float = 0.7,
    seed: int = 0,
    n_bootstrap: int = 500,
    save: bool = True,
    force: bool = False,
) -> WarmStart:
    """Value the engine warm-started on ``table`` (columns -> arrays) and, if ``save``, store it.

    A model valued below what the logging policy earned on the same held-out touches is not
    saved unless ``force``: going live, it would do worse than what ran before (a challenger
    is promoted only when it beats the champion)."""
    from hub.pipeline.features import ensure_features

    settings = ctx.settings.decision
    if settings.policy != "engine":
        raise DataError("decision.policy is `rules`: there is no learning engine to warm-start. Set it to `engine`.")
    if not 0 < train_share < 1:
        raise DataError(f"--train-share must lie between 0 and 1, not {train_share}.")
    ensure_features(ctx)  # declared features: the fitted state deciding will use
    engine: EnginePolicy = ctx.policy  # type: ignore[assignment]
    ids = list(engine.ids)
    n = len(next(iter(table.values()))) if table else 0
    skipped: dict[str, int] = defaultdict(int)
    raw_actions = [str(v).strip() if v is not None else "" for v in table[cols.action]]
    mapped = [cols.action_map.get(v, v) for v in raw_actions]
    a = np.array([ids.index(v) if v in ids else -1 for v in mapped], dtype=np.intp)
    unmapped = Counter(v for v, j in zip(mapped, a, strict=True) if j < 0)
    # one bad cell skips its row, counted with the first one named, not the whole log
    r = _rewards(np.asarray(table[cols.reward]))
    bad_reward = ~np.isfinite(r)
    _skip(skipped, f"no reward in {cols.reward!r}", bad_reward & (a >= 0), np.asarray(table[cols.reward]))
    if cols.propensity:
        p = np.asarray(table[cols.propensity], dtype=float)
        bad = ~np.isfinite(p) | (p <= 0) | (p > 1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"column {cols.propensity!r}, row {first + 2}: propensity {p[first]!r} is not in (0, 1]; "
                "a logged propensity is the chance the logging policy took the logged action."
            )
        source = "logged"
    elif cols.propensity_value is not None:
        if not 0 < cols.propensity_value <= 1:
            raise DataError(f"--propensity must lie in (0, 1], not {cols.propensity_value}.")
        p = np.full(n, float(cols.propensity_value))
        source = "constant"
    else:
        p = np.ones(n)
        source = "estimated"
    now = ctx.clock()
    times = _times(table[cols.time]) if cols.time else np.array([now] * n, dtype=object)
    bad_time = np.array([v is None for v in times], dtype=bool)
    if cols.time:
        _skip(skipped, f"no time in {cols.time!r}", bad_time & (a >= 0) & ~bad_reward, np.asarray(table[cols.time]))
    with ctx.store.connect() as conn:
        cid = _resolve(conn, table[cols.contact], cols.contact_source)
        unknown = (cid < 0) & (a >= 0) & ~bad_reward & ~bad_time
        if unknown.any():
            skipped["contact not in the store (import or sync them first: hub import contacts, hub sync)"] += int(
                unknown.sum()
            )
        keep = (a >= 0) & ~bad_reward & ~bad_time & (cid >= 0)
        usable = int(keep.sum()) >= 20
        if unmapped:  # one reason for them all; an error names every one, since no --json comes out
            reason = _unmapped_reason(unmapped, SHOWN_UNMAPPED if usable else len(unmapped))
            skipped = {reason: unmapped.total(), **skipped}
        if not usable:
            why = "; ".join(f"{k} × {reason}" for reason, k in sorted(skipped.items(), key=lambda kv: -kv[1]))
            raise DataError(
                f"only {int(keep.sum())} of {n} rows are usable (skipped: {why}); "
                "a warm start needs at least 20 touches of known contacts and catalog actions."
            )
        order = np.flatnonzero(keep)[np.argsort([times[i] for i in np.flatnonzero(keep)], kind="stable")]
        X = _features_as_of(conn, engine, cid[order], times[order])
    a, r, p = a[order], r[order], p[order]
    warnings = []
    if not cols.time:
        warnings.append("No --time-col: features are as of now, not as of each touch; later activity may leak in.")
    if source == "estimated":
        P = estimate_propensities(X, a, len(ids), clip=PROPENSITY_FLOOR, seed=seed)
        p = logged_propensity(P, a)
    cut = int(round(len(a) * train_share))
    if cut < 10 or len(a) - cut < 10:
        raise DataError(f"{len(a)} usable rows split {cut} / {len(a) - cut}: too few on one side for --train-share.")
    trained = EnginePolicy(settings)
    if engine.declared is not None:
        trained.bind_features(engine.declared)
    trained.learn(X[:cut], [ids[j] for j in a[:cut]], r[:cut], p[:cut])
    Xt, at, rt, pt = X[cut:], a[cut:], r[cut:], np.clip(p[cut:], MIN_PROPENSITY, 1.0)
    target = trained.choice_probabilities(Xt)
    ev = evaluate_log(Xt, at, rt, pt, target, ids, n_bootstrap=n_bootstrap, seed=seed)
    singles = _single_actions(Xt, at, rt, pt, ids, seed, n_bootstrap)
    best = max(singles, key=lambda k: singles[k]["estimate"]) if singles else None
    result = WarmStart(
        rows=n,
        used=len(a),
        skipped=dict(skipped),
        unmapped=dict(unmapped.most_common()),
        n_train=cut,
        n_test=len(a) - cut,
        propensities=source,
        propensity_summary={"min": float(p.min()), "mean": float(p.mean()), "max": float(p.max())},
        evaluation=ev,
        actions=singles,
        best_action=best,
        model_name=engine.model_name,
        warnings=warnings,
    )
    if save and not force:
        result.refused = _below_logging(ev)
    if save and result.refused is None:
        from hub.pipeline.learn import ensure_current

        with ctx.store.connect() as conn:
            ensure_current(ctx, conn)  # a model already learning live keeps what it learned
        loaded = max(engine.model_version, 0)  # the version learned on (0: none yet)
        if engine.model_version:
            result.warnings.append(
                f"The engine already had version {engine.model_version}: the history was learned on top of it."
            )
        engine.learn(X, [ids[j] for j in a], r, np.clip(p, MIN_PROPENSITY, 1.0))
        metrics = {
            "warm_start": {"rows": len(a), "propensities": source, "policy_dr": result.to_dict()["policy"]},
            "learned": len(a),
            "mean_reward": float(r.mean()),
            "observations": engine.model.policy.n_obs_.tolist(),
            "feature_version": engine.feature_version,
        }
        from hub.governance import audit

        with ctx.store.begin() as conn:
            # saved only if ``loaded`` is still the newest, as the learn step saves: a rollback
            # committed meanwhile stays live
            snap = engine.snapshot()
            result.version = learning_store.save_snapshot(conn, engine.model_name, snap, metrics, now, expect=loaded)
            if result.version is None:
                raise _moved(conn, engine, loaded)
            audit.record(
                conn,
                now,
                "hub learn history",
                "model.warm_start",
                f"{engine.model_name}@v{result.version}",
                details={"rows": len(a), "propensities": source},
            )
    return result


def _moved(conn: Connection, engine: EnginePolicy, loaded: int) -> ConflictError:
    """The lost save: this process's engine learned on a version that is no longer the newest,
    so it is marked for a reload (its learning here is dropped) and the error says what to do."""
    engine.model_version = -1
    latest = learning_store.latest_version(conn, engine.model_name)
    return ConflictError(
        f"Nothing saved: {engine.model_name} moved from v{loaded} to v{latest} while the history was learned "
        "(a `hub model rollback` or a learn step saved meanwhile), and saving would have replaced it. "
        "See `hub model list`, then run `hub learn history` again to learn the history on top of the live version."
    )
