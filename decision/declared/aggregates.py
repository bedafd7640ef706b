"""Declared activity aggregates kept in the profile as activities are inserted.

A plain count or recency of one activity type reads the profile's existing day buckets. A
filtered count (page views whose ``url`` contains ``/pricing``) or the latest value of an event
property needs each activity when it arrives, so it becomes a *tag*: a stable key derived from
its definition (not from the column name, so renaming a column keeps its history), e.g.
``f:page_view:1a2b3c4d``. :func:`fold_tags` adds an activity to the profile under every tag it
matches, beside the built-in kinds (hub/profile.py):

- ``days[key]``, ``last[key]``, ``total[key]`` like any kind, for filtered counts;
- ``latest[key] = [epoch seconds, value]`` for event properties.

The store keeps the list of tags in use (hub/store/feature_specs.py), so every process that
inserts activities folds the same tags, and a newly declared tag is backfilled once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decision.declared.settings import FeatureDecl
    from hub.models import Activity


def tag_of(decl: FeatureDecl) -> dict[str, Any] | None:
    """The tag a declared column needs, or None when the built-in buckets serve it."""
    s = decl.source
    if s.kind == "activity" and s.where is not None:
        body = {"type": s.activity, "where": s.where.model_dump(exclude_none=True)}
        return {"key": _key("f", s.activity, body), **body}
    if s.kind == "event":
        body = {"type": s.event, "latest": s.property}
        return {"key": _key("p", s.event, body), **body}
    return None


def tags_of(decls: Sequence[FeatureDecl]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for d in decls:
        t = tag_of(d)
        if t is not None:
            out[t["key"]] = t
    return [out[k] for k in sorted(out)]


def _key(prefix: str, kind: str | None, body: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]
    return f"{prefix}:{kind}:{digest}"


def _matches(where: dict[str, Any], props: dict[str, Any]) -> bool:
    v = props.get(where["property"])
    if v is None:
        return False
    text = str(v).lower()
    if "contains" in where:
        return where["contains"].lower() in text
    return text == str(where["equals"]).lower()


def fold_tags(profile: dict[str, Any], activity: Activity, tags: Sequence[dict[str, Any]], day: str, ts: float) -> None:
    """Add ``activity`` (occurring at ``ts``, day number ``day``) under each tag it matches."""
    kind = str(activity.type.value if hasattr(activity.type, "value") else activity.type)
    props = activity.properties or {}
    for t in tags:
        if t["type"] != kind:
            continue
        key = t["key"]
        if "where" in t:
            if not _matches(t["where"], props):
                continue
            bucket = profile["days"].setdefault(key, {})
            bucket[day] = bucket.get(day, 0) + 1
            profile["total"][key] = profile["total"].get(key, 0) + 1
            if ts > profile["last"].get(key, float("-inf")):
                profile["last"][key] = ts
        else:
            value = props.get(t["latest"])
            if value is None or not isinstance(value, str | int | float | bool):
                continue
            latest = profile.setdefault("latest", {})
            if ts >= (latest.get(key) or [float("-inf")])[0]:
                latest[key] = [ts, value]
