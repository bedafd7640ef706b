"""Settings of one Salesforce connector entry (``connectors.<name>.settings`` in hub.yaml).

Four ways to log in, chosen by which keys are set, in this order of preference:

- **JWT bearer** (the default to use): ``username`` + ``consumer_key`` + ``privatekey`` (or
  ``privatekey_file``); the connected app holds the matching certificate.
- **Client credentials**: ``consumer_key`` + ``consumer_secret`` + a My Domain ``domain``
  (the app's "Run As" user is the one that acts).
- **Password** (deprecated): ``username`` + ``password`` + ``security_token`` through SOAP
  ``login()``, which is off by default in orgs created from Winter '26 and retired in Summer '27.
- **Session**: ``session_id`` + ``instance_url`` (cannot be renewed when it expires).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.connector import ConnectorSettings

PersonObject = Literal["Contact", "Lead"]
ActivityObject = Literal["Task", "Event", "Opportunity"]


class SalesforceSettings(ConnectorSettings):
    # -- auth -----------------------------------------------------------------------------
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_key: str | None = None
    consumer_secret: SecretStr | None = Field(None, description="connected app secret (client credentials)")
    privatekey: SecretStr | None = Field(None, description="PEM text of the connected app's key (JWT bearer)")
    privatekey_file: str | None = None
    session_id: SecretStr | None = None
    instance_url: str | None = None
    domain: str = Field(
        "login", description="'login', 'test' or the My Domain prefix (e.g. 'acme.my'; client credentials need it)"
    )
    api_version: str = "59.0"
    ca_bundle: str | None = Field(None, description="CA file to trust (a sandbox's self-signed cert)")
    timeout: float = Field(60.0, gt=0)

    # -- what to sync ---------------------------------------------------------------------
    objects: list[PersonObject] = Field(default_factory=lambda: ["Contact", "Lead"], min_length=1)
    activity_objects: list[ActivityObject] = Field(
        default_factory=lambda: ["Task", "Event", "Opportunity"],
        description="Opportunity: created, won and lost become the contact's outcome activities (its ContactId)",
    )
    overlap_seconds: float = Field(60.0, ge=0, description="re-read this much before the cursor; dupes are dropped")
    batch_size: int = Field(2000, ge=200, le=2000)
    org_timezone: str = Field(
        "UTC",
        description="IANA zone a bare local send hour is read in (Salesforce keeps no time zone per person); "
        "unset: the org's default time zone (Organization.TimeZoneSidKey), read once per process, "
        "UTC if the API user may not read it (no 'View Setup and Configuration')",
    )
    bulk_threshold: int | None = Field(
        10_000,
        ge=1,
        description="read a window over Bulk API 2.0 when a COUNT() finds at least this many rows (Salesforce "
        "designs Bulk queries for 10,000 rows or more); None: REST only",
    )
    bulk_check_hours: float = Field(
        24.0, ge=0, description="count a window's rows only on a first read or when the cursor is older than this"
    )
    bulk_poll_seconds: float = Field(2.0, ge=0, description="first wait between polls of a Bulk job (doubles to 30 s)")
    bulk_timeout_seconds: float = Field(3600.0, gt=0, description="give up on a Bulk job still running after this")
    bulk_page_records: int = Field(50_000, ge=1, le=1_000_000, description="maxRecords per Bulk results page")
    recycle_bin_days: float = Field(
        15.0, gt=0, description="a cursor older than this may have missed deletions: list live ids to reconcile"
    )

    # -- pushing --------------------------------------------------------------------------
    campaigns: dict[str, str] = Field(default_factory=dict, description="hub list name -> Campaign Id")
    create_campaigns: bool = Field(True, description="create a Campaign for an unmapped hub list")
    campaign_member_status: str | None = Field(
        None,
        description="None: each Campaign's default status; else a member status every target Campaign has "
        "(a new Campaign has Sent and Responded; adds to a Campaign without it fail, where Salesforce itself "
        "would silently use the default)",
    )
    allowed_owner_queues: list[str] = Field(default_factory=list, description="queue (Group) ids allowed as owner")
    push_budget_share: float = Field(
        0.9, gt=0, le=1, description="stop pushing above this share of the daily API limit"
    )
    budget_retry_after: float = Field(3600.0, gt=0)
    create_missing_fields: bool = Field(True, description="try the Metadata API for missing hub fields")

    @field_validator("org_timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not an IANA time zone (e.g. 'America/New_York')") from None
        return v

    @model_validator(mode="after")
    def _one_login(self) -> SalesforceSettings:
        mode = self.auth_mode()
        if mode is None:
            raise ValueError(
                "give username + consumer_key + privatekey (or privatekey_file) for the JWT bearer flow, "
                "or consumer_key + consumer_secret + a My Domain domain for client credentials; "
                "username + password + security_token (SOAP, deprecated) and session_id + instance_url also work"
            )
        if mode == "client_credentials" and self.domain in ("login", "test"):
            raise ValueError(
                "the client-credentials flow needs the org's My Domain in 'domain' (e.g. 'acme.my'), "
                "not 'login' or 'test'"
            )
        return self

    def auth_mode(self) -> Literal["jwt", "client_credentials", "password", "session"] | None:
        """Which login the settings describe: JWT, then client credentials, then password, then session."""
        if self.username and self.consumer_key and (self.privatekey or self.privatekey_file):
            return "jwt"
        if self.consumer_key and self.consumer_secret and not self.password:
            return "client_credentials"
        if self.username and self.password and self.security_token is not None:
            return "password"
        if self.session_id and self.instance_url:
            return "session"
        return None
