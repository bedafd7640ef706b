"""The `api:` section of hub.yaml: API tokens, console users, webhook secrets.

Secrets are ``SecretStr`` and come from ``${ENV}`` references, like every other secret in
hub.yaml, so they are never printed by `hub config validate` or logged.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scope(StrEnum):
    DECIDE = "decide"
    EVENTS = "events"
    ADMIN = "admin"


class ApiToken(_Strict):
    """One bearer token; ``name`` is what logs and metrics show instead of the secret."""

    name: str = Field(min_length=1, max_length=60)
    token: SecretStr
    scopes: list[Scope] = Field(min_length=1)

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("a token needs at least 16 characters; generate one with `openssl rand -hex 24`")
        return v


class ConsoleUser(_Strict):
    """An admin console login. ``password_hash`` comes from `python -m hub.console.passwords`."""

    username: str = Field(min_length=1, max_length=60)
    password_hash: SecretStr

    @field_validator("password_hash")
    @classmethod
    def _format(cls, v: SecretStr) -> SecretStr:
        if not v.get_secret_value().startswith("pbkdf2_sha256$"):
            raise ValueError("not a password hash; make one with `python -m hub.console.passwords`")
        return v


class SegmentWriteKey(_Strict):
    """A Segment source's write key (sent as the HTTP Basic username); ``name`` is what logs show."""

    name: str = Field(min_length=1, max_length=60)
    key: SecretStr

    @field_validator("key")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("a write key needs at least 16 characters; generate one with `openssl rand -hex 24`")
        return v


class ApiSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(
        1, ge=1, le=64, description="uvicorn worker processes; keep 1 in embedded mode (its locks are per process)"
    )
    embedded: bool = Field(
        False, description="decide and sync inline in the API process instead of enqueueing Celery tasks"
    )
    policy_refresh_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="real-time decisions re-read the engine's newest model version and the kill switches at most"
        " this often per process (0: before every decision)",
    )
    batch_window_ms: float = Field(
        20.0,
        ge=0,
        le=100,
        description="a real-time decision waits at most this long for others to decide with it in one engine call,"
        " only while traffic makes companions likely (0: batch only requests already queued); hub/api/batcher.py",
    )
    batch_latency_ms: float = Field(
        12.0,
        ge=0,
        le=1000,
        description="the wait adapts so that 9 in 10 real-time decisions take at most this long from arrival to"
        " answer in the API process: longer on a fast machine (fewer engine calls, less CPU), shorter on a slow"
        " one (0: the wait is always batch_window_ms); hub/api/batcher.py",
    )
    batch_max: int = Field(32, ge=1, le=256, description="real-time decisions decided together at most")
    tokens: list[ApiToken] = Field(default_factory=list)
    users: list[ConsoleUser] = Field(default_factory=list)
    session_secret: SecretStr | None = Field(None, description="signs console session cookies; 32+ characters")
    session_max_age: int = Field(8 * 3600, ge=60, description="seconds a console login lasts at most")
    session_idle_timeout: int = Field(
        1800, ge=60, description="seconds without a request after which a console login ends"
    )
    secure_cookies: bool = Field(False, description="mark the session cookie Secure (serve over HTTPS)")
    public_url: str | None = Field(
        None, description="the URL the API is reached at from outside (HubSpot signs the URL it called)"
    )
    hubspot_client_secret: SecretStr | None = None
    salesforce_shared_secret: SecretStr | None = Field(
        None, description="the X-Hub-Webhook-Secret a Salesforce Flow or Apex callout sends"
    )
    salesforce_org_id: str | None = Field(
        None,
        description="the Salesforce org (15 or 18 characters) whose outbound messages (SOAP, no custom headers)"
        " are accepted by the OrganizationId they carry",
    )
    salesforce_outbound_secret: SecretStr | None = Field(
        None, description="when set, outbound messages must also carry it in the endpoint URL: ?secret=..."
    )
    webhook_max_age: int = Field(300, ge=1, description="seconds; older signed webhook timestamps are rejected")
    segment_write_keys: list[SegmentWriteKey] = Field(
        default_factory=list, description="write keys accepted by the Segment-spec endpoints (/v1/track, ...)"
    )
    redecide_on: list[str] = Field(
        default_factory=lambda: ["form_submit", "content_download", "page_view"],
        description="event types after which the contact is decided again",
    )

    @field_validator("salesforce_org_id")
    @classmethod
    def _org_id(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", v):
            raise ValueError(
                f"{v[:40]!r} is not a Salesforce org id: 15 or 18 letters and digits (Setup > Company Information)"
            )
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        """HubSpot signs the URL it called with this as its base: a value that is no http(s) URL
        made every signed webhook fail its check."""
        from urllib.parse import urlsplit

        if v is not None:
            parts = urlsplit(v)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{v!r} is not an http(s) URL such as https://hub.example.com")
        return v

    @field_validator("redecide_on")
    @classmethod
    def _event_types(cls, v: list[str]) -> list[str]:
        from hub.models import ActivityType

        known = {t.value for t in ActivityType}
        unknown = [t for t in v if t not in known]
        if unknown:  # a typo never matched an event, and nobody was decided again
            raise ValueError(f"unknown event type(s) {unknown}; use any of {', '.join(sorted(known))}")
        return v

    @field_validator("session_secret")
    @classmethod
    def _secret_length(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 32:
            raise ValueError("session_secret needs at least 32 characters; generate one with `openssl rand -hex 32`")
        return v

    @field_validator("tokens")
    @classmethod
    def _distinct_tokens(cls, v: list[ApiToken]) -> list[ApiToken]:
        """One secret is one caller: in two entries, the one listed last gave it its scopes."""
        seen: dict[str, str] = {}
        for t in v:
            secret = t.token.get_secret_value()
            if secret in seen:
                raise ValueError(
                    f"{seen[secret]!r} and {t.name!r} have the same token; give each its own (openssl rand -hex 24)"
                )
            seen[secret] = t.name
        return v
