"""Settings of the HubSpot connector (``connectors.<name>.settings`` in hub.yaml)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.connector import ConnectorSettings


class OAuthSettings(ConnectorSettings):
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr


class HubSpotSettings(ConnectorSettings):
    """The rate limit starts safe for every HubSpot tier and follows the limit HubSpot reports."""

    access_token: SecretStr | None = Field(None, description="private-app token")
    oauth: OAuthSettings | None = Field(
        None, description="OAuth app: client id, secret and the install's refresh token"
    )
    base_url: str = "https://api.hubapi.com"
    requests_per_ten_seconds: int | None = Field(
        None,
        ge=1,
        description="a cap on calls per 10 s; by default the limit follows HubSpot's X-HubSpot-RateLimit-Max "
        "header (less 5%), starting at 95 (Free/Starter and public OAuth apps get 100-110)",
    )
    search_requests_per_second: int = Field(4, ge=1, description="search has its own limit")
    page_size: int = Field(100, ge=1, le=100, description="list endpoint page size (max 100)")
    search_page_size: int = Field(200, ge=1, le=200, description="search page size (max 200)")
    lookback_seconds: int = Field(
        300, ge=0, description="re-read this much before the bookmark: records indexed late by search are not missed"
    )
    portal_timezone: str = Field(
        "UTC",
        description="IANA zone a bare local send hour is read in when written to a datetime property, and where "
        "HubSpot's daily API limit resets at midnight; unset: the account's own zone, read once per process "
        "(UTC if its details cannot be read)",
    )
    archived_walk_seconds: int = Field(
        3600, ge=0, description="walk the archived-contact list (deletions) at most this often; 0: every sync"
    )
    property_group: str = "decision_hub"
    list_prefix: str = Field("", description="prefix for the names of lists the hub creates")
    max_retries: int = Field(6, ge=0)
    gateway_wait_seconds: float = Field(
        3.0,
        ge=0,
        description="the least pause after a 502/504 (plus up to half again as jitter; the exponential backoff "
        "once longer): HubSpot says to pause 'a few seconds' when its processing limits answer so",
    )
    timeout_seconds: float = Field(30.0, gt=0)

    @field_validator("portal_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. 'America/New_York')") from None
        return v

    @model_validator(mode="after")
    def _one_auth(self) -> HubSpotSettings:
        if (self.access_token is None) == (self.oauth is None):
            raise ValueError("give exactly one of access_token (private app) or oauth")
        return self
