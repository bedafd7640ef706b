"""Raw values of declared columns for a batch: contacts and their profiles in, one array per column.

Values keep their own units (a count, a tier, a timestamp) with ``None`` / NaN for missing;
:mod:`decision.tabular` turns them into model input. Nothing here queries the store: activity
aggregates come from the profile kept current at insert time, so a decision never rescans
history. Only activity at or before ``now`` counts (as in decision/features.py): day buckets
after ``now``'s day are ignored, today's bucket only counts when the newest occurrence is not
after ``now``, and an event property last set after ``now`` reads as missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from decision.declared.aggregates import tag_of
from decision.declared.settings import CONTACT_FIELDS, FeatureDecl
from hub.models import Contact
from hub.profile import DAY_SECONDS


def _attr(contact: Contact, path: str) -> Any:
    obj: Any = contact
    if path == "email":
        return contact.primary_email
    for part in path.split("."):
        obj = getattr(obj, part, None)
    return obj


def _field_values(decl: FeatureDecl, contacts: Sequence[Contact]) -> np.ndarray:
    path = decl.source.field or ""
    prop = decl.source.property_name()
    if prop is not None:
        return np.array([c.properties.get(prop) for c in contacts], dtype=object)
    values = [_attr(c, path) for c in contacts]
    kind = CONTACT_FIELDS[path]
    if kind == "number":
        return np.array([np.nan if v is None else float(v) for v in values], dtype=float)
    if kind == "bool":
        return np.array([np.nan if v is None else float(bool(v)) for v in values], dtype=float)
    if kind == "date":
        return np.array(
            [None if v is None else np.datetime64(v.replace(tzinfo=None), "us") for v in values], dtype="datetime64[us]"
        )
    return np.array(values, dtype=object)


def _activity_values(decl: FeatureDecl, profiles: Sequence[Mapping[str, Any] | None], now: datetime) -> np.ndarray:
    s = decl.source
    tag = tag_of(decl)
    kind = tag["key"] if tag else str(s.activity)
    now_ts = now.timestamp()
    today = int(now_ts // DAY_SECONDS)
    out = np.full(len(profiles), np.nan if s.measure == "days_since" else 0.0)
    for i, p in enumerate(profiles):
        if not p:
            continue
        last = p.get("last", {}).get(kind)
        bucket = p.get("days", {}).get(kind)
        future = last is not None and last > now_ts
        if s.measure == "days_since":
            if last is not None and not future:
                out[i] = (now_ts - last) / DAY_SECONDS
            elif bucket:
                ages = [today - int(d) for d in bucket if today - int(d) > 0]
                out[i] = float(min(ages)) if ages else np.nan
            continue
        if bucket:
            w = int(s.days or 90)
            out[i] = sum(c for d, c in bucket.items() if 0 < today - int(d) < w or (today == int(d) and not future))
    if decl.type == "boolean" and s.measure == "count":
        return (out > 0).astype(float)
    return out


def _event_values(decl: FeatureDecl, profiles: Sequence[Mapping[str, Any] | None], now: datetime) -> np.ndarray:
    tag = tag_of(decl)
    key = tag["key"] if tag else ""
    now_ts = now.timestamp()
    out = []
    for p in profiles:
        hit = (p or {}).get("latest", {}).get(key)
        out.append(hit[1] if hit and hit[0] <= now_ts else None)
    return np.array(out, dtype=object)


def _expression_values(
    decl: FeatureDecl, contacts: Sequence[Contact], profiles: Sequence[Mapping[str, Any] | None], now: datetime
) -> np.ndarray:
    from decision.context import expression_env
    from decision.interface import ContactView
    from hub.expressions import Expression

    expr = Expression(str(decl.source.expression))
    out = []
    for c, p in zip(contacts, profiles, strict=True):
        v = expr.value(expression_env(ContactView(contact=c, profile=dict(p or {"days": {}})), now))
        out.append(v)
    if decl.type in ("numeric", "boolean"):
        return np.array([np.nan if v is None or isinstance(v, str) else float(v) for v in out], dtype=float)
    return np.array(out, dtype=object)


def raw_columns(
    decls: Sequence[FeatureDecl],
    contacts: Sequence[Contact],
    profiles: Sequence[Mapping[str, Any] | None],
    now: datetime,
) -> dict[str, np.ndarray]:
    """``{decl.name: values}`` for the batch; ``profiles[i]`` is contact i's (None: no history)."""
    out: dict[str, np.ndarray] = {}
    for d in decls:
        kind = d.source.kind
        if kind in ("field", "property"):
            out[d.name] = _field_values(d, contacts)
        elif kind == "activity":
            out[d.name] = _activity_values(d, profiles, now)
        elif kind == "event":
            out[d.name] = _event_values(d, profiles, now)
        else:
            out[d.name] = _expression_values(d, contacts, profiles, now)
    return out
