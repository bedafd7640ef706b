"""What `hub features show` and `hub features explain` print: the engine's columns on the store.

``show`` reads up to :data:`SHOW_ROWS` contacts (newest first; ``contacts_total`` counts the store) and describes every column the
engine reads: declared columns by their source (type, coverage = share of contacts with a value,
min/mean/max or top levels) and built-in ones by their output. ``explain`` takes one contact and
lists each column's raw value, model value and, when a learned model is loaded, its
contribution to the action the model currently rates best.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select

from decision.engine import EnginePolicy
from decision.features import Features
from decision.interface import ContactView
from hub.cells import parse_column
from hub.errors import ConfigError, HubError
from hub.pipeline.context import HubContext
from hub.pipeline.features import _load, ensure_features
from hub.profile import empty_profile
from hub.store import lookup
from hub.store.schema import contacts

SHOW_ROWS = 20_000


def _engine(ctx: HubContext) -> EnginePolicy:
    policy = ctx.policy
    if not isinstance(policy, EnginePolicy):
        raise ConfigError([("decision.policy", "features belong to the learning engine; set policy: engine")])
    ensure_features(ctx)
    return policy


def _builtin_coverage(F: Features, name: str) -> float:
    """Built-in columns are never missing (a neutral value plus a flag); coverage reads the flag."""
    for flag in (f"{name.removeprefix('log_')}_missing", name.replace("days_since_", "never_")):
        if flag in F.names and flag != name:
            return float(1.0 - F.column(flag).mean())
    return 1.0


def _as_read(values: np.ndarray, kind: str) -> np.ndarray:
    """Text cells (an imported CSV's properties) parsed as the declared type, as the model reads
    them: "1,200" is a missing number there, so it is not coverage here."""
    if values.dtype == object and kind in ("numeric", "boolean", "date"):
        return parse_column(values, kind).values
    return values


def _when(v: np.datetime64) -> str:
    """ISO to the second; a date alone when it is midnight (a date column)."""
    return str(v.astype("datetime64[s]")).removesuffix("T00:00:00")


def _describe(values: np.ndarray) -> dict[str, Any]:
    if values.dtype.kind in "fiub":
        x = values.astype(float)
        ok = ~np.isnan(x)
        stats = {"coverage": float(ok.mean()) if len(x) else 0.0}
        if ok.any():
            stats |= {"min": float(x[ok].min()), "mean": float(x[ok].mean()), "max": float(x[ok].max())}
        return stats
    if values.dtype.kind == "M":
        ok = ~np.isnat(values)
        stats = {"coverage": float(ok.mean()) if len(values) else 0.0}
        if ok.any():
            stats |= {"min": _when(values[ok].min()), "max": _when(values[ok].max())}
        return stats
    present = [str(v) for v in values if v is not None and str(v) != ""]
    top = Counter(present).most_common(5)
    return {"coverage": len(present) / len(values) if len(values) else 0.0, "top": [[k, n] for k, n in top]}


def _json_value(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else _when(v)
    return v


def show(ctx: HubContext, now: datetime | None = None) -> dict[str, Any]:
    """Every engine column with its type, coverage and statistics, and one sample row."""
    now = now or ctx.clock()
    engine = _engine(ctx)
    with ctx.store.connect() as conn:
        ids = list(conn.execute(select(contacts.c.id).order_by(contacts.c.id.desc()).limit(SHOW_ROWS)).scalars())
        people, profiles = _load(conn, sorted(ids))
        total = conn.execute(select(func.count()).select_from(contacts)).scalar_one()
    out: dict[str, Any] = {
        "feature_version": engine.feature_version,
        "model": engine.model_name,
        "contacts": len(people),
        "contacts_total": total,
        "declared": [],
        "builtin": [],
        "sample": {},
        "warnings": [],
    }
    if not people:
        return out
    views = [ContactView(contact=c, profile=p) for c, p in zip(people, profiles, strict=True)]
    F = engine.features(views, now)
    if engine.declared is not None:
        raw = engine.declared.columns(people, profiles, now)
        for d in engine.declared.decls:
            values = _as_read(raw["x_" + d.name], d.type)
            out["declared"].append(
                {
                    "name": d.name,
                    "label": d.readable,
                    "source": d.source.model_dump(exclude_none=True, exclude_defaults=True),
                    "type": d.type,
                    **_describe(values),
                }
            )
            out["sample"][d.name] = _json_value(values[0])
        out["warnings"] = _absent_properties(engine.declared.decls, out["declared"], people)
    for j, name in enumerate(F.names):
        if name.startswith("x_"):
            continue
        x = F.raw[:, j]
        out["builtin"].append(
            {
                "name": name,
                "coverage": _builtin_coverage(F, name),
                "min": float(x.min()),
                "mean": float(x.mean()),
                "max": float(x.max()),
            }
        )
        out["sample"][name] = float(F.raw[0, j])
    out["sample_contact"] = people[0].id
    return out


def _absent_properties(decls, described: list[dict[str, Any]], people) -> list[str]:  # noqa: ANN001
    """A declared column of no coverage whose property no contact read here has: a misspelled
    name reads as a column of nothing, which hub config validate cannot see when no connector
    declares its properties (imports). Names the key path and the closest property held."""
    held: Counter[str] = Counter(k for c in people for k in (c.properties or {}))
    warnings = []
    for i, (d, shown) in enumerate(zip(decls, described, strict=True)):
        key = d.source.property_name()  # an event's property is the event's, not the contact's
        if shown["coverage"] > 0 or key is None:
            continue
        path = f"decision.features[{i}].source.{d.source.kind}"
        if key in held:
            continue
        close = difflib.get_close_matches(key, list(held), n=1)
        if close:
            hint = f"did you mean {close[0]!r}?"
        elif held:
            hint = "the contacts' properties: " + ", ".join(k for k, _ in held.most_common(8))
        else:
            hint = "no contact has any property yet"
        warnings.append(f"{path}: no contact has a property {key!r}, so {d.name} is empty for everyone ({hint})")
    return warnings


def resolve_contact(ctx: HubContext, ref: str) -> int:
    """A contact id as the hub writes it ("0002" is someone's code, not contact 2), or the
    contact with this email."""
    with ctx.store.connect() as conn:
        if re.fullmatch(r"[1-9][0-9]{0,17}", ref) and lookup.contact_exists(conn, int(ref)):
            return int(ref)
        found = lookup.contact_by_email(conn, ref)
    if found is None:
        raise HubError(f"no contact {ref!r}: give a contact id or an email the store knows (`hub status` counts them)")
    return found


def explain(ctx: HubContext, ref: str, now: datetime | None = None) -> dict[str, Any]:
    """Each column's raw and model value for one contact, and its contribution if a model is loaded."""
    from hub.pipeline.learn import ensure_current

    now = now or ctx.clock()
    engine = _engine(ctx)
    cid = resolve_contact(ctx, ref)
    with ctx.store.connect() as conn:
        ensure_current(ctx, conn)
        people, profiles = _load(conn, [cid])
    view = ContactView(contact=people[0], profile=profiles[0] or empty_profile())
    F = engine.features([view], now)
    contrib: dict[int, float] = {}
    action = None
    if engine.model_version > 0:
        scores = engine.model.predict_many(F.X)[0]
        best = int(np.argmax(scores))
        action = engine.ids[best]
        try:
            for j, c in engine.model.explain_one(F.X[0], best):
                if j < len(F.names):
                    contrib[j] = contrib.get(j, 0.0) + c * engine.settings.engine.reward_scale
        except HubError:
            contrib = {}
    rows = []
    for j, name in enumerate(F.names):
        rows.append(
            {
                "column": name,
                "declared": name.startswith("x_"),
                "raw": _json_value(float(F.raw[0, j])),
                "model": float(F.X[0, j]),
                "contribution": contrib.get(j),
                "words": engine.phrase(name, float(F.raw[0, j])),
            }
        )
    return {
        "contact": cid,
        "feature_version": engine.feature_version,
        "model": f"{engine.model_name}@v{engine.model_version}" if engine.model_version else None,
        "action": action,
        "columns": rows,
    }
