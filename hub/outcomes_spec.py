"""Declared outcomes (``decision.outcomes`` in hub.yaml): what counts as a result, and its worth.

An outcome has a ``name`` (a weight key in ``decision.objective``) and exactly one source:

- ``activity``: an activity type (``meeting``, ``opportunity_won``, ...), from any connector;
- ``event``: a custom event name, from ``POST /v1/events``, Segment ``track`` or an import
  (stored as a ``custom`` activity whose ``properties.name`` is the event name);
- ``field`` (+ optional ``to``): a CRM contact field changing, e.g. ``lifecycle_stage`` becoming
  ``customer``; detected when a sync re-merges the contact and recorded as a ``custom`` activity
  (``properties``: ``name`` = the outcome, ``field``, ``from``, ``to``) with a stable id.

``value`` is an expression (hub/expressions.py) over the activity's ``properties``, ``type`` and
``channel`` (default 1: a count); ``attribution_days`` is its window after a decision (default:
the decided action's). Built-in rewards are untouched: a declared outcome adds its own key
to an attributed activity's reward row, so with none declared every reward is as before.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.expressions import Expression, ExpressionError
from hub.models import Activity, ActivityType

log = logging.getLogger(__name__)

#: the built-in objective components (hub/config.py ObjectiveWeights' fields)
BUILTIN_COMPONENTS = frozenset({"open", "click", "form", "meeting", "opportunity", "revenue", "unsubscribe"})
#: contact fields a ``field`` outcome may watch (besides ``properties.<key>``)
WATCHABLE_FIELDS = frozenset(
    {"lifecycle_stage", "owner", "job_title", "role", "email_opt_out", "do_not_contact", "industry", "country"}
)
VALUE_NAMES = frozenset({"properties", "type", "channel"})
FIELD_SOURCE = "hub"
_NAME = r"^[a-z][a-z0-9_]{0,63}$"
_PROPERTY_FIELD = re.compile(r"^properties\.[A-Za-z0-9_]{1,100}$")


class DeclaredOutcome(BaseModel):
    """One entry of ``decision.outcomes``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_NAME, description="the weight key in decision.objective")
    activity: ActivityType | None = Field(None, description="source: an activity type")
    event: str | None = Field(None, min_length=1, max_length=100, description="source: a custom event name")
    field: str | None = Field(None, description="source: a contact field (or properties.<key>) that changes")
    to: str | None = Field(None, max_length=200, description="with field: only a change to this value counts")
    value: str = Field("1", description="expression over properties, type, channel; default 1 (a count)")
    attribution_days: float | None = Field(None, gt=0, le=180, description="default: the decided action's window")

    @field_validator("name")
    @classmethod
    def _not_builtin(cls, v: str) -> str:
        if v in BUILTIN_COMPONENTS or v in {t.value for t in ActivityType}:
            raise ValueError(f"{v!r} is a built-in objective component or activity type; choose another name")
        return v

    @field_validator("field")
    @classmethod
    def _watchable(cls, v: str | None) -> str | None:
        if v is not None and v not in WATCHABLE_FIELDS and not _PROPERTY_FIELD.match(v):
            raise ValueError(
                f"cannot watch {v!r}; use one of {', '.join(sorted(WATCHABLE_FIELDS))} or properties.<key>"
            )
        return v

    @field_validator("value")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            unknown = Expression(v).names - VALUE_NAMES - {"True", "False", "None"}
        except ExpressionError as exc:
            raise ValueError(str(exc)) from None
        if unknown:
            raise ValueError(f"unknown names {sorted(unknown)}; a value may use {', '.join(sorted(VALUE_NAMES))}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DeclaredOutcome:
        given = [k for k in ("activity", "event", "field") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one source (activity, event or field); got {given or 'none'}")
        if self.to is not None and self.field is None:
            raise ValueError("`to` only goes with a `field` source")
        if self.activity is ActivityType.CUSTOM:
            raise ValueError("for custom events give `event: <name>` instead of `activity: custom`")
        return self

    def matches(self, type_: str, properties: Mapping[str, Any]) -> bool:
        if self.activity is not None:
            return type_ == self.activity.value
        if type_ != ActivityType.CUSTOM.value:
            return False
        if self.event is not None:
            return properties.get("name") == self.event and "field" not in properties
        return properties.get("name") == self.name and properties.get("field") == self.field

    def value_of(self, type_: str, channel: str | None, properties: Mapping[str, Any]) -> float:
        """The outcome's worth for one activity; 0 (and a log line) if the expression is not a number."""
        if self.value == "1":
            return 1.0
        try:
            v = _compiled(self.value).value(_env(type_, channel, properties))
        except (ExpressionError, TypeError, ValueError) as exc:
            log.warning("outcome %s: value %r failed (%s); counted as 0", self.name, self.value, exc)
            return 0.0
        if isinstance(v, bool) or v is None:
            return float(bool(v))
        try:
            out = float(v)
        except (TypeError, ValueError):
            out = math.nan
        if not math.isfinite(out):
            log.warning("outcome %s: value %r is not a finite number (%r); counted as 0", self.name, self.value, v)
            return 0.0
        return out


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Expression:
    return Expression(source)


def _env(type_: str, channel: str | None, properties: Mapping[str, Any]) -> dict[str, Any]:
    return {"properties": dict(properties or {}), "type": type_, "channel": channel}


def objective_problems(decision: Any) -> list[tuple[str, str]]:
    """(key path, message) for duplicate outcome names and weights of undeclared names.

    Reads the raw ``decision`` section, so these are reported beside every other problem
    even when an outcome entry itself is invalid."""
    if not isinstance(decision, dict):
        return []
    outcomes, objective = decision.get("outcomes"), decision.get("objective")
    entries = outcomes if isinstance(outcomes, list) else []
    names = [o.get("name") if isinstance(o, dict) else None for o in entries]
    weight_keys = objective.keys() if isinstance(objective, dict) else ()
    problems = []
    for i, n in enumerate(names):
        if n is not None and n in names[:i]:
            problems.append((f"decision.outcomes[{i}].name", f"{n!r} is declared twice; outcome names must be unique"))
    for key in weight_keys:
        if key not in BUILTIN_COMPONENTS and key not in names:
            known = sorted(BUILTIN_COMPONENTS | {str(n) for n in names if n is not None})
            problems.append(
                (
                    f"decision.objective.{key}",
                    f"{key!r} is neither a built-in component nor a declared outcome; declare it under"
                    f" decision.outcomes or use one of {', '.join(known)}",
                )
            )
    return problems


def declared_rewards(
    declared: Sequence[DeclaredOutcome],
    type_: str,
    channel: str | None,
    properties: Mapping[str, Any],
) -> list[tuple[DeclaredOutcome, float]]:
    """The declared outcomes one activity is, with their values."""
    props = properties or {}
    return [(o, o.value_of(type_, channel, props)) for o in declared if o.matches(type_, props)]


def longest_window(declared: Sequence[DeclaredOutcome]) -> float | None:
    """The longest declared attribution window in days (None: none declared one)."""
    days = [o.attribution_days for o in declared if o.attribution_days is not None]
    return max(days) if days else None


def event_names(declared: Sequence[DeclaredOutcome]) -> list[str]:
    return sorted({o.event for o in declared if o.event is not None})


def field_change_activities(
    declared: Sequence[DeclaredOutcome],
    changes: Mapping[int, Mapping[str, tuple[Any, Any]]],
    when: Mapping[int, datetime],
) -> list[Activity]:
    """One activity per declared field outcome a contact's changes fulfil.

    The id hashes outcome, contact, new value and the record's time: the same change seen
    again (a page re-read after a crash) is the same activity, so it is stored once."""
    out = []
    for o in declared:
        if o.field is None:
            continue
        for cid, fields in changes.items():
            if o.field not in fields:
                continue
            old, new = fields[o.field]
            if new in (None, "") or (o.to is not None and str(new) != o.to):
                continue
            at = when[cid]
            key = f"{o.name}|{cid}|{new}|{at.isoformat()}"
            out.append(
                Activity(
                    contact_id=cid,
                    type=ActivityType.CUSTOM,
                    channel="crm",
                    occurred_at=at,
                    properties={"name": o.name, "field": o.field, "from": old, "to": new},
                    source=FIELD_SOURCE,
                    external_id=f"field:{hashlib.sha256(key.encode()).hexdigest()[:40]}",
                )
            )
    return out


def watched_fields(declared: Sequence[DeclaredOutcome]) -> set[str]:
    return {o.field for o in declared if o.field is not None}
