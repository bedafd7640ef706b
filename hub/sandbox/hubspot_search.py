"""HubSpot CRM search semantics: filter groups, one sort, and the 10,000-result cap."""

from __future__ import annotations

from typing import Any

from hub.sandbox.clock import parse_datetime_ms

#: HubSpot's search guide, "Limits" (last modified 30 March 2026): five filterGroups, six filters
#: in each, 18 in all. Its August 2024 changelog announced 10 a group and 25 in all; the guide is
#: newer and stricter, and a caller within it works either way.
MAX_GROUPS, MAX_FILTERS, MAX_PER_GROUP = 5, 18, 6
SEARCH_CAP = 10_000
NUMERIC_TYPES = ("number", "datetime", "date")


def _coerce(value: Any, ptype: str) -> Any:
    if value is None or value == "":
        return None
    if ptype in ("datetime", "date"):
        try:
            return parse_datetime_ms(value)
        except ValueError:
            return None
    if ptype == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return str(value).lower()


def check_request(body: dict[str, Any]) -> str | None:
    """The first reason HubSpot would refuse this search body, or None."""
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS:
        return f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}."
    total = sum(len(g.get("filters") or []) for g in groups)
    if total > MAX_FILTERS or any(len(g.get("filters") or []) > MAX_PER_GROUP for g in groups):
        return f"Too many filters; at most {MAX_PER_GROUP} per group and {MAX_FILTERS} in total."
    if len(body.get("sorts") or []) > 1:
        return "Only one sort is allowed."
    limit = int(body.get("limit") or 10)
    if limit > 200 or limit < 0:
        return f"limit must be at most 200, got {limit}."
    return None


def matches(props: dict[str, Any], groups: list[dict[str, Any]], types: dict[str, str]) -> bool:
    if not groups:
        return True
    return any(all(_one(props, f, types) for f in (g.get("filters") or [])) for g in groups)


def _one(props: dict[str, Any], f: dict[str, Any], types: dict[str, str]) -> bool:
    name, op = f.get("propertyName"), str(f.get("operator", "EQ")).upper()
    ptype = types.get(name, "string")
    have = _coerce(props.get(name), ptype)
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if op in ("IN", "NOT_IN"):
        vals = {_coerce(v, ptype) for v in f.get("values") or []}
        return (have in vals) == (op == "IN")
    want = _coerce(f.get("value"), ptype)
    if op == "EQ":
        return have == want
    if op == "NEQ":
        return have != want
    if op == "CONTAINS_TOKEN":
        return have is not None and str(want).strip("*") in str(have)
    if op == "NOT_CONTAINS_TOKEN":
        return have is None or str(want).strip("*") not in str(have)
    if have is None or want is None:
        return False
    if op == "BETWEEN":
        high = _coerce(f.get("highValue"), ptype)
        return high is not None and want <= have <= high
    return {"GT": have > want, "GTE": have >= want, "LT": have < want, "LTE": have <= want}.get(op, False)


def sort_key(sorts: list[Any], types: dict[str, str]) -> tuple[str, bool]:
    """(property, descending) for HubSpot's one sort; default ascending record id."""
    if not sorts:
        return "hs_object_id", False
    s = sorts[0]
    if isinstance(s, str):
        return s.lstrip("-"), s.startswith("-")
    return s.get("propertyName", "hs_object_id"), str(s.get("direction", "ASCENDING")).upper() == "DESCENDING"


def sort_value(props: dict[str, Any], name: str, types: dict[str, str]) -> tuple[int, Any]:
    v = _coerce(props.get(name), "number" if name == "hs_object_id" else types.get(name, "string"))
    return (1, 0) if v is None else (0, v)
