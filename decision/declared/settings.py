"""``decision.features`` in hub.yaml: columns a team declares on top of the built-in schema.

Each entry names one column, where its raw value comes from (``source``) and how it becomes
model input (``type`` and transforms, applied by :mod:`decision.tabular`). Sources:

- ``field``: a contact field by hub name (:data:`CONTACT_FIELDS`, e.g. ``company.employees``);
- ``property`` (+ optional ``connector``): a custom CRM property, as the connector stores it in
  ``Contact.properties``; the connector is asked to read it (``Connector.extra_properties``);
- ``activity`` (+ ``days``, ``measure`` count|days_since, optional ``where``): an aggregate of one
  activity type kept in the contact's profile as activities are inserted;
- ``event`` + ``property``: the latest value of a property on an activity type (also kept in the
  profile);
- ``expression``: a value computed from the same names as rules (hub/expressions.py).

Errors carry the key path (``decision.features[2].source.field``); checks that need the
configured connectors are in :func:`connector_problems`.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.models import ActivityType

#: hub name -> (attribute path on Contact, kind of value)
CONTACT_FIELDS: dict[str, str] = {
    "email": "text",
    "first_name": "text",
    "last_name": "text",
    "job_title": "text",
    "role": "text",
    "lifecycle_stage": "text",
    "owner": "text",
    "updated_at": "date",
    "company.name": "text",
    "company.industry": "text",
    "company.employees": "number",
    "company.annual_revenue": "number",
    "company.country": "text",
    "company.timezone": "text",
    "consent.email_opt_out": "bool",
    "consent.do_not_contact": "bool",
}
ACTIVITY_TYPES = tuple(t.value for t in ActivityType)
Transform = Literal["log1p", "standardize", "squared"]
_NAME = r"^[a-z][a-z0-9_]{0,47}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Strict):
    """Keep only activities whose ``property`` contains (or equals) a value (case-insensitive)."""

    property: str = Field(min_length=1)
    contains: str | None = None
    equals: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Where:
        if (self.contains is None) == (self.equals is None):
            raise ValueError("give exactly one of `contains` or `equals`")
        return self


class Source(_Strict):
    """Exactly one of ``field``, ``property``, ``activity``, ``event``, ``expression``."""

    field: str | None = None
    property: str | None = None
    connector: str | None = Field(None, description="connector name or type that reads `property`")
    activity: str | None = None
    days: int | None = Field(None, ge=1, le=90, description="window of an activity aggregate (profiles keep 90)")
    measure: Literal["count", "days_since"] = "count"
    where: Where | None = None
    event: str | None = None
    expression: str | None = None

    @field_validator("field")
    @classmethod
    def _field(cls, v: str | None) -> str | None:
        if v is not None and v not in CONTACT_FIELDS and not v.startswith("properties."):
            raise ValueError(f"unknown hub field {v!r}; use one of {', '.join(CONTACT_FIELDS)} or properties.<name>")
        if v is not None and v == "properties.":
            raise ValueError("properties.<name> needs a property name")
        return v

    @field_validator("activity", "event")
    @classmethod
    def _type(cls, v: str | None) -> str | None:
        if v is not None and v not in ACTIVITY_TYPES:
            raise ValueError(f"unknown activity type {v!r}; use one of {', '.join(ACTIVITY_TYPES)}")
        return v

    @field_validator("expression")
    @classmethod
    def _expression(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from decision.context import EXPRESSION_NAMES
        from hub.expressions import Expression

        unknown = Expression(v).names - EXPRESSION_NAMES - {"True", "False", "None"}
        if unknown:
            raise ValueError(f"unknown names {sorted(unknown)}; use one of {', '.join(sorted(EXPRESSION_NAMES))}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        kinds = [k for k in ("field", "activity", "event", "expression") if getattr(self, k) is not None]
        if self.property is not None and self.event is None:
            kinds.append("property")
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of field, property, activity, event (with property) or expression;"
                f" got {kinds or 'none'}"
            )
        if self.event is not None and self.property is None:
            raise ValueError("an `event` source needs the `property` whose latest value it reads")
        if self.activity is None and (self.days is not None or self.where is not None):
            raise ValueError("`days` and `where` belong to an `activity` source")
        if self.activity is not None and self.days is None and self.measure == "count":
            raise ValueError("an activity count needs `days` (1-90)")
        if self.connector is not None and self.property is None:
            raise ValueError("`connector` goes with `property` (the CRM property that connector reads)")
        return self

    @builtins.property
    def kind(self) -> str:
        if self.event is not None:
            return "event"
        return next(k for k in ("field", "property", "activity", "expression") if getattr(self, k) is not None)

    def property_name(self) -> str | None:
        """The key in ``Contact.properties`` this source reads, if any."""
        if self.kind == "property":
            return self.property
        if self.kind == "field" and self.field and self.field.startswith("properties."):
            return self.field.split(".", 1)[1]
        return None


class FeatureDecl(_Strict):
    """One declared column (``decision.features[i]``)."""

    name: str = Field(pattern=_NAME, description="column name; the model column is `x_<name>` (+ level)")
    label: str | None = Field(None, description="words for explanations, e.g. 'ICP tier'")
    source: Source
    type: Literal["numeric", "categorical", "boolean", "date", "keyword"] = "numeric"
    transforms: list[Transform] = Field(default_factory=list)
    clip: tuple[float, float] | None = None
    top_k: int | None = Field(None, ge=1, le=100, description="categorical: keep the K most common levels")
    levels: list[str] | None = Field(None, description="categorical: the levels, in order (else learned)")
    keywords: list[str] | None = Field(None, description="keyword: one flag per word found in the text")

    @model_validator(mode="after")
    def _fits_type(self) -> FeatureDecl:
        numeric = self.type == "numeric"
        if self.transforms and not numeric:
            raise ValueError(f"transforms {self.transforms} apply to numeric columns, not {self.type}")
        if self.clip is not None and (not numeric or self.clip[0] >= self.clip[1]):
            raise ValueError("clip is [low, high] with low < high, on a numeric column")
        if self.type != "categorical" and (self.top_k is not None or self.levels is not None):
            raise ValueError("top_k and levels belong to a categorical column")
        if self.levels is not None and self.top_k is not None:
            raise ValueError("give levels or top_k, not both")
        if self.type == "keyword" and not self.keywords:
            raise ValueError("a keyword column needs `keywords`")
        if self.type != "keyword" and self.keywords is not None:
            raise ValueError("keywords belong to a keyword column")
        s = self.source
        if s.kind == "activity" and self.type not in ("numeric", "boolean"):
            raise ValueError("an activity aggregate is a number: type numeric (or boolean for 'any')")
        if s.kind == "field" and s.field in CONTACT_FIELDS:
            kind = CONTACT_FIELDS[s.field]
            if kind == "date" and self.type not in ("date",):
                raise ValueError(f"{s.field} is a date: use type date")
            if kind == "text" and self.type in ("numeric", "date"):
                raise ValueError(f"{s.field} is text: use categorical, keyword or boolean")
        return self

    @property
    def readable(self) -> str:
        return self.label or self.name.replace("_", " ")


def check_unique(decls: list[FeatureDecl]) -> list[FeatureDecl]:
    names = [d.name for d in decls]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"decision.features names must be unique; repeated: {dupes}")
    return decls


def declaration_hash(decls: list[FeatureDecl]) -> str:
    """A stable hash of what was declared (labels excluded: they change words, not columns)."""
    body = [d.model_dump(mode="json", exclude={"label"}) for d in decls]
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


def connector_problems(
    decls: list[FeatureDecl], connectors: dict[str, Any], types: dict[str, Any]
) -> list[tuple[str, str]]:
    """Config errors that need the configured connectors: a ``connector`` that matches no
    configured connector (by name or type), or a property that no configured connector can
    provide. ``connectors``: name -> entry with ``type``; ``types``: type -> Connector class.
    A class with ``known_properties = None`` may read any property (checked live by
    ``hub connectors list --check``)."""
    problems: list[tuple[str, str]] = []
    for i, d in enumerate(decls):
        prop = d.source.property_name()
        if prop is None:
            continue
        path = f"decision.features[{i}].source"
        if d.source.connector is not None:
            chosen = {n: e for n, e in connectors.items() if d.source.connector in (n, e.type)}
            if not chosen:
                problems.append(
                    (
                        f"{path}.connector",
                        f"no configured connector is named or typed {d.source.connector!r};"
                        f" configured: {', '.join(sorted(connectors)) or 'none'}",
                    )
                )
                continue
        else:
            chosen = connectors
        if not chosen:
            continue  # contacts come from the API or a test: nothing to check against
        if not any(_provides(types.get(e.type), prop) for e in chosen.values()):
            where = "property" if d.source.kind == "property" else "field"
            problems.append(
                (
                    f"{path}.{where}",
                    f"no configured connector provides the property {prop!r}; see each connector's"
                    " documented properties, or name a connector that reads custom properties",
                )
            )
    return problems


def _provides(cls: Any, prop: str) -> bool:
    if cls is None:
        return False
    known = getattr(cls, "known_properties", None)
    return known is None or prop in known


def readable_name(name: str) -> str:
    return re.sub(r"_+", " ", name).strip()
