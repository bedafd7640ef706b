"""The connector contract: what every CRM or marketing-platform plugin implements.

A plugin hands its :class:`Connector` subclass to the hub through the
``hub_connector_types`` hook. The hub builds one instance per configured connector entry
(``connectors.<name>`` in hub.yaml), passing the instance name and the validated config.

Rules of the contract:
- Only hub domain models (``hub.models``) cross it; vendor types and names stay inside.
- ``pull_*`` yield pages; the hub commits a page and only then stores ``page.cursor``, so a
  crash re-reads at most one page. Cursors are opaque strings owned by the connector.
- A record that cannot be mapped goes to ``page.rejects`` with its id and reason; the rest
  of the page goes on.
- ``push`` returns exactly one :class:`PushResult` per request, in any order. Writes must be
  idempotent (set a value, add to a list), because delivery is at least once.
- Transient trouble for a whole call raises :class:`hub.errors.RetryableError`; auth,
  permission or spent limits raise :class:`hub.errors.FatalConnectorError`. A stream built from
  several sources may go on without one it has no permission for: it yields a page naming it
  in ``page.not_synced`` (why, and what to do) with that source's cursor where it was; the
  sync records the stream as ``warning`` and `hub status` shows why.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hub.errors import ConnectorError, FatalConnectorError, RetryableError
from hub.models import (
    ActionKind,
    Activity,
    CheckReport,
    Contact,
    Page,
    PushRequest,
    PushResult,
    SchemaItem,
    SchemaReport,
)
from hub.ratelimit import Limit, RateLimiter


class ConnectorSettings(BaseModel):
    """Base for a connector's own settings (``connectors.<name>.settings`` in hub.yaml).

    Secrets are declared as ``SecretStr``; unknown keys are errors.
    """

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Runtime:
    """Services the hub lends a connector. ``shared_url`` is the Redis every worker shares
    (None in embedded mode), for cluster-wide rate limits and token state."""

    shared_url: str | None = None

    def rate_limiter(self, key: str, limits: list[Limit]) -> RateLimiter:
        # a vendor counts calls Redis may have forgotten after a restart: cold_start
        return RateLimiter(limits, redis_url=self.shared_url, key=key, cold_start=True)


class Connector(ABC):
    #: Plugin type name used in hub.yaml (``type: hubspot``). Never changes.
    type_name: ClassVar[str]
    #: The pydantic model for ``settings``.
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    #: Largest number of push requests one ``push`` call takes (the vendor's batch size).
    max_push_batch: ClassVar[int] = 100
    #: Action kinds this connector can carry out.
    supported_actions: ClassVar[frozenset[ActionKind]] = frozenset(ActionKind)
    #: The ``Contact.properties`` keys it fills, when that list is fixed (config validation
    #: checks declared features against it); None: any property it is asked for through
    #: ``extra_properties`` (its ``check`` should say which of those the vendor lacks).
    known_properties: ClassVar[frozenset[str] | None] = None
    #: Set by the hub for one sync (under its lock) when the vendor said records were deleted
    #: (a webhook): a connector that looks for deletions only now and then (a costly list
    #: walk) looks in this sync.
    deletions_reported: bool = False

    @staticmethod
    def canonical_owner(owner: str) -> str:
        """An owner id as the vendor reads it back (config owner ids are put in this form, so a
        written owner compares equal to the one the next sync reads)."""
        return owner

    def __init__(
        self, name: str, settings: ConnectorSettings, field_mapping: dict[str, str], runtime: Runtime | None = None
    ):
        self.name = name
        self.settings = settings
        self.field_mapping = field_mapping
        self.runtime = runtime or Runtime()
        #: vendor property names the hub's declared features read (hub.yaml ``decision.features``):
        #: a connector with ``known_properties = None`` reads them into ``Contact.properties``
        self.extra_properties: tuple[str, ...] = ()

    @abstractmethod
    def check(self) -> CheckReport:
        """Verify credentials, permissions and reachability; never raises for a bad answer."""

    @abstractmethod
    def ensure_schema(self) -> SchemaReport:
        """Create the custom fields and lists the hub writes. Idempotent."""

    def schema_plan(self) -> list[SchemaItem] | None:
        """What the hub needs in the vendor's schema and the state of each, read without
        changing anything (`hub connectors setup --dry-run` shows it; setup reads it again after
        ``ensure_schema`` to verify). None: this connector cannot tell before it creates."""
        return None

    @abstractmethod
    def pull_contacts(self, cursor: str | None) -> Iterator[Page[Contact]]:
        """Yield pages of contacts changed since ``cursor`` (None: everything)."""

    @abstractmethod
    def pull_activities(self, cursor: str | None) -> Iterator[Page[Activity]]:
        """Yield pages of activities since ``cursor`` (None: as far back as the vendor keeps)."""

    @abstractmethod
    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        """Carry out at most ``max_push_batch`` actions; one result per request."""

    def stored_form(self, object_type: str, field: str, value: Any) -> Any:
        """Hub field ``field`` of ``value`` as the vendor holds it once written to a record of
        ``object_type`` (a number rounded to the field's places, text clipped or trimmed). The
        push diff compares this with what the CRM holds: a value kept in another form reads back
        changed, and a write without a new decision id would go out again every cycle. Numbers
        and text only (the diff compares datetimes as instants); ``value`` itself when the vendor
        keeps what it is given (the default) or would refuse it (the write reports why)."""
        return value

    def owners(self) -> dict[str, bool] | None:
        """The CRM's sales owners as ``{owner id: active}``, ids in ``canonical_owner`` form. Each
        completed sync reads them, so routing stops handing leads to an owner deactivated in the
        CRM at the next sync. None (the default): this connector has no owners to report."""
        return None

    def usage(self) -> dict[str, Any]:
        """API usage worth showing an operator (JSON-safe), e.g. ``{"share": 0.42, "api_limit":
        15000}`` for a daily budget or call counts; recorded after each sync and push and shown
        by `hub status`. Empty by default."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release sessions and pools."""


#: how long pushes wait when the connector refuses to work at all (auth, permissions) before
#: they try again: a person must act, and every try is a refused call on the vendor's books
BLOCKED_RETRY_SECONDS = 600.0


def results_of_error(push_ids: list[int], exc: ConnectorError) -> dict[int, PushResult]:
    """What an error raised while writing means for each push it stopped. A connector-wide
    refusal (auth, permissions, a spent daily limit) blocks the pushes without spending their
    attempts, so an outage longer than the back-off never turns queued writes into failures."""
    if isinstance(exc, FatalConnectorError):
        reason = f"{exc} (fix the connector; the pushes wait and are tried again every {BLOCKED_RETRY_SECONDS:.0f} s)"
        status, retry_after = "blocked", BLOCKED_RETRY_SECONDS
    elif isinstance(exc, RetryableError):
        status = "blocked" if exc.blocked else "retryable"
        reason, retry_after = str(exc), exc.retry_after
    else:
        status, reason, retry_after = "retryable", str(exc), None
    return {i: PushResult(push_id=i, status=status, reason=reason, retry_after=retry_after) for i in push_ids}
