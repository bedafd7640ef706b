"""Settings of one warehouse connector entry (``connectors.<name>.settings`` in hub.yaml).

A contacts source (a table or a SELECT) read incrementally by an updated-at column, an
optional events source read by its time column, and an optional decisions table the hub
writes its decisions into. Any database with a SQLAlchemy dialect: PostgreSQL and SQLite
out of the box; Snowflake, BigQuery and Redshift through the ``warehouse-*`` extras.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.connector import ConnectorSettings
from hub.models import ActivityType
from hub.rows import CONTACT_FIELDS


class _Source(ConnectorSettings):
    table: str | None = Field(None, description="table name, optionally schema.table")
    query: str | None = Field(None, description="a SELECT; read as a subquery, so no trailing semicolon or ORDER BY")
    lookback_seconds: int = Field(
        3600, ge=0, description="re-read this much before the bookmark: rows committed late with older stamps"
    )
    page_size: int = Field(1000, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` or `query`")
        if self.query is not None:
            self.query = self.query.strip().rstrip(";").strip()
            if not self.query.lower().startswith(("select", "with")):
                raise ValueError("`query` must be a SELECT (or WITH ... SELECT) statement")
        return self

    @property
    def label(self) -> str:
        return f"table {self.table!r}" if self.table else "the query"


class ContactSource(_Source):
    id_column: str = "id"
    email_column: str | None = "email"
    updated_at_column: str = "updated_at"
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="hub field -> column (first_name, company.industry, ...); columns named like hub fields map by themselves",
    )
    properties: list[str] = Field(default_factory=list, description="extra columns kept as contact properties")

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k not in CONTACT_FIELDS]
        if bad:
            raise ValueError(f"not hub contact fields: {', '.join(bad)} (known: {', '.join(CONTACT_FIELDS)})")
        return v


class EventSource(_Source):
    id_column: str = "id"
    contact_column: str = "email"
    contact_key: Literal["email", "id"] = Field("email", description="what contact_column holds")
    contact_connector: str | None = Field(
        None, description="connector whose ids contact_column holds (contact_key: id); default this one"
    )
    type_column: str = "type"
    occurred_at_column: str = "occurred_at"
    cursor_column: str | None = Field(None, description="column to read incrementally by; default occurred_at_column")
    channel_column: str | None = None
    properties: list[str] = Field(default_factory=list, description="columns kept as activity properties")
    properties_json_column: str | None = Field(None, description="a column holding a JSON object of properties")
    type_map: dict[str, str] = Field(default_factory=dict, description="value in type_column -> hub activity type")

    @field_validator("type_map")
    @classmethod
    def _known_types(cls, v: dict[str, str]) -> dict[str, str]:
        known = {t.value for t in ActivityType}
        bad = sorted({t for t in v.values() if t not in known})
        if bad:
            raise ValueError(f"not hub activity types: {', '.join(bad)} (known: {', '.join(sorted(known))})")
        return v

    @property
    def cursor(self) -> str:
        return self.cursor_column or self.occurred_at_column


class WarehouseSettings(ConnectorSettings):
    url: SecretStr = Field(
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db (may hold a password)"
    )
    contacts: ContactSource
    events: EventSource | None = None
    decisions_table: str | None = Field(None, description="write decisions here (created by ensure_schema)")
    timeout_seconds: float = Field(30.0, gt=0, description="connect timeout where the driver takes one")

    @field_validator("url")
    @classmethod
    def _parses(cls, v: SecretStr) -> SecretStr:
        try:
            url = make_url(v.get_secret_value())
        except ArgumentError:
            # never echo the value: it may hold a password
            raise ValueError("not a SQLAlchemy URL (dialect+driver://user:password@host/database)") from None
        if "@" in (url.host or ""):  # the driver would print the password's tail as a host it cannot resolve
            raise ValueError("the user or password holds an '@': URL-encode it as %40 (the host is after the last @)")
        return v
