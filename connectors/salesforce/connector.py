"""The Salesforce connector: the hub contract wired to the client, reader, mapper and writers.

Converted leads: Contacts are always read before Leads in a sync, and a converted Lead is
emitted as moved to its ConvertedContactId. When the Contact carries the Lead's email the store
has already attached it to the Lead's hub contact; when it has another email, the store folds
the Lead's hub contact (history, decisions, emails) into the Contact's (hub/store/merge.py).
Either way one person stays one contact. If Contacts are not synced, the Lead goes as deleted.

Big windows (a first sync, a long gap) are read through Bulk API 2.0 query jobs when a COUNT()
finds at least ``bulk_threshold`` rows; small increments stay on REST (bulk.py).

Merged records: the losers of a merge are deleted with ``MasterRecordId`` set; each becomes an
identity move to the master (the store folds the two hub contacts), never a deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.salesforce.actions import COLLECTION_MAX, QUEUE_PREFIX, USER_PREFIX, PushWriter
from connectors.salesforce.bulk import read_window_bulk
from connectors.salesforce.client import BulkRefused, DailyLimitReached, SalesforceClient
from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.cursor import ObjectCursor, StreamCursor
from connectors.salesforce.mapping import (
    USERS_SOQL,
    count_soql,
    id18,
    is_gone,
    last_whole_second,
    parse_sf_datetime,
    record_id,
    record_to_activities,
    record_to_contact,
    sf_field_names,
    user_soql,
    users_active,
)
from connectors.salesforce.objects import (
    ACTIVITY_OBJECTS,
    IDENTITY_TO_OBJECT,
    OPTIONAL_FIELDS,
    PERSON_OBJECTS,
    PREFIX_TO_IDENTITY,
    SObject,
)
from connectors.salesforce.reader import read_window
from connectors.salesforce.schema import audit_fields, ensure_fields, object_access, plan_fields
from connectors.salesforce.zone import OrgZone
from hub.connector import Connector, Runtime
from hub.errors import FatalConnectorError, HubError
from hub.models import (
    Activity,
    CheckReport,
    Contact,
    Identity,
    IdentityMove,
    LiveSet,
    Page,
    PushRequest,
    PushResult,
    RecordError,
    SchemaItem,
    SchemaReport,
)

log = logging.getLogger(__name__)


class SalesforceConnector(Connector):
    type_name: ClassVar[str] = "salesforce"

    @staticmethod
    def canonical_owner(owner: str) -> str:
        """A user or queue id in the 18-character form the API reads back: a 15-character id
        written as the owner read back as 18 characters, so the write was never seen to land
        (re-pushed every sync) and the owner's open leads were never counted."""
        return id18(owner) if owner.startswith((USER_PREFIX, QUEUE_PREFIX)) else owner

    settings_model = SalesforceSettings
    max_push_batch: ClassVar[int] = COLLECTION_MAX
    #: what record_to_contact keeps in Contact.properties (custom fields are not read yet)
    known_properties: ClassVar[frozenset[str] | None] = frozenset({"lead_status", "lead_source", "account_id"})

    def __init__(
        self,
        name: str,
        settings: SalesforceSettings,
        field_mapping: dict[str, str],
        runtime: Runtime | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        super().__init__(name, settings, field_mapping, runtime)
        self.s = settings
        self.clock = clock
        self.client = SalesforceClient(settings)
        self.sf_names = sf_field_names(field_mapping)
        self.writer = PushWriter(self.client, settings, self.sf_names)

    # -- contract -------------------------------------------------------------------------------
    def check(self) -> CheckReport:
        try:
            details: dict[str, Any] = {"api_version": self.s.api_version, "auth": self.s.auth_mode()}
            access, problems = object_access(self.client, self.person_objects())
            details["instance"] = self.client.sf.sf_instance
            details["objects"] = access
            if self.s.username:
                users = [r for b in self.client.query_pages(user_soql(self.s.username)) for r in b]
                user = users[0] if users else None
                details["user"] = {k: v for k, v in user.items() if k != "attributes"} if user else None
                if user is not None and not user.get("IsActive", True):
                    problems.append(f"user {self.s.username!r} is inactive")
            for sobject in self.person_objects():
                audit = audit_fields(self.client.describe(sobject), self.sf_names)
                setup = f"run `hub connectors setup {self.name}`"
                problems += [
                    f"{sobject}.{n} is missing or hidden by field-level security; {setup}" for n in audit.missing
                ]
                problems += [f"{sobject}.{n} {why}" for n, why in audit.mistyped.items()]
                problems += [f"{sobject}.{n} {why}" for n, why in audit.limited.items()]
                problems += [f"{sobject}.{n} is read-only for this user; {setup}" for n in audit.read_only]
            zone, why = self._zone()
            details["time_zone"] = zone
            details["usage"] = self.usage()
            return CheckReport(ok=not problems, details=details, problems=problems + ([why] if why else []))
        except HubError as exc:
            return CheckReport(ok=False, details={"api_version": self.s.api_version}, problems=[str(exc)])

    def _zone(self) -> tuple[str | None, str | None]:
        """Where a bare local send hour lands, and why it is UTC when it must be; an optional
        read, so a call that fails is named and the rest of the check stands."""
        try:
            return OrgZone(self.client, self.s).read()
        except HubError as exc:
            return None, f"the org's time zone was not read ({exc}); a bare local send hour waits for it"

    def ensure_schema(self) -> SchemaReport:
        return ensure_fields(
            self.client, self.person_objects(), self.sf_names, self.s.create_missing_fields, self.s.username
        )

    def schema_plan(self) -> list[SchemaItem]:
        return plan_fields(self.client, self.person_objects(), self.sf_names, self.s.username)

    def pull_contacts(self, cursor: str | None) -> Iterator[Page[Contact]]:
        state = StreamCursor.loads(cursor)
        end = last_whole_second(self.clock())
        for sobject in self.person_objects():
            obj = PERSON_OBJECTS[sobject]
            audit = audit_fields(self.client.describe(sobject), self.sf_names)
            present = audit.readable()
            fields = list(obj.fields) + sorted(present)
            end_ms = int(end.timestamp() * 1000)
            last_read = state.get(sobject).read_ms
            if last_read is not None and (
                end_ms - last_read > self.s.recycle_bin_days * 86_400_000 or self._bin_let_go(obj, last_read, end)
            ):
                yield Page[Contact](cursor=state.dumps(), live=self._live_set(obj))
            for rows, ocursor in self._read(obj, fields, state.get(sobject), end):
                state.objects[sobject] = ocursor
                page = Page[Contact](cursor=state.dumps())
                for rec in rows:
                    self._person_row(obj, rec, present, page)
                yield page
            # read to the end: deletions up to now were seen, so the Recycle Bin horizon moves
            state.objects[sobject] = replace(state.get(sobject), read_ms=end_ms)
            yield Page[Contact](cursor=state.dumps())

    def _read(
        self, obj: SObject, fields: list[str], cursor: ObjectCursor, end: datetime
    ) -> Iterator[tuple[list[dict[str, Any]], ObjectCursor]]:
        """The window's rows over Bulk API 2.0 when it is big, else (or if Bulk refuses the job,
        which happens before any row is read) over REST."""
        if self._big_window(obj, cursor, end):
            try:
                yield from read_window_bulk(self.client, obj, fields, cursor, end, self._overlap_ms())
                return
            except BulkRefused as exc:
                log.warning("%s: Bulk API 2.0 refused the query job (%s); reading over REST", obj.name, exc)
        yield from read_window(self.client, obj, fields, cursor, end, self._overlap_ms())

    def _big_window(self, obj: SObject, cursor: ObjectCursor, end: datetime) -> bool:
        """Count the window (one call) on a first read or after a long gap; frequent syncs skip it."""
        threshold = self.s.bulk_threshold
        if threshold is None:
            return False
        end_ms = int(end.timestamp() * 1000)
        if cursor.since_ms is not None and end_ms - cursor.since_ms < self.s.bulk_check_hours * 3_600_000:
            return False
        soql = count_soql(obj.name, obj.cursor_field, cursor.since_ms, self._overlap_ms(), end)
        rows = self.client.count(soql, include_deleted=obj.include_deleted)
        if rows >= threshold:
            log.info("%s: %d rows to read; using a Bulk API 2.0 query job", obj.name, rows)
        return rows >= threshold

    def _bin_let_go(self, obj: SObject, since_ms: int, end: datetime) -> bool:
        """Has the Recycle Bin let go of a deletion made after ``since_ms``? A full bin (5,000
        records a user license) deletes its oldest records for good after two hours, not 15 days
        (SOAP API guide, emptyRecycleBin()), and queryAll then no longer shows them.
        ``/sobjects/{T}/deleted`` answers, with any window, ``earliestDateAvailable``: when the
        last record deleted for good had been deleted (SOAP GetDeletedResult). One call; its
        window is the last five minutes, so few ids come with it. If Salesforce will not answer
        (an object it does not replicate), the 15-day horizon alone decides."""
        start = datetime.fromtimestamp(end.timestamp() - 300, UTC)
        try:
            answer = self.client.call(lambda sf: getattr(sf, obj.name).deleted(start, end))
        except DailyLimitReached:
            raise
        except FatalConnectorError as exc:
            log.warning("%s: cannot read when the Recycle Bin last let go of a record (%s)", obj.name, exc)
            return False
        try:
            earliest = parse_sf_datetime(answer.get("earliestDateAvailable") if isinstance(answer, dict) else None)
        except ValueError as exc:
            log.warning("%s: Salesforce's earliestDateAvailable is unreadable (%s)", obj.name, exc)
            return False
        return earliest.timestamp() * 1000 > since_ms

    def _live_set(self, obj: SObject) -> LiveSet:
        """Deleted rows leave the Recycle Bin after about 15 days; past that, queryAll no longer
        shows them, so the whole list of live ids is what tells deletions apart."""
        log.info("%s cursor is older than the Recycle Bin keeps deletions; reconciling live ids", obj.name)
        ids = [
            rec[obj.key]
            for batch in self.client.query_pages(f"SELECT {obj.key} FROM {obj.name}")
            for rec in batch
            if isinstance(rec, dict) and isinstance(rec.get(obj.key), str)
        ]
        return LiveSet(connector=self.name, object_type=obj.identity_type, external_ids=ids)

    def _person_row(self, obj: SObject, rec: Any, hub_fields: dict[str, str], page: Page[Contact]) -> None:
        try:
            if is_gone(rec):
                ident = Identity(connector=self.name, object_type=obj.identity_type, external_id=record_id(rec))
                became = rec.get("ConvertedContactId") if rec.get("IsConverted") and not rec.get("IsDeleted") else None
                master = rec.get("MasterRecordId") if rec.get("IsDeleted") else None
                if isinstance(master, str) and master and master != ident.external_id:
                    target = Identity(connector=self.name, object_type=obj.identity_type, external_id=master)
                    page.moved.append(IdentityMove(source=ident, target=target))
                elif isinstance(became, str) and became:
                    target = Identity(
                        connector=self.name, object_type=PERSON_OBJECTS["Contact"].identity_type, external_id=became
                    )
                    page.moved.append(IdentityMove(source=ident, target=target))
                else:
                    page.deleted.append(ident)
                return
            page.items.append(record_to_contact(self.name, obj.identity_type, rec, hub_fields))
        except (ValueError, TypeError, AttributeError) as exc:
            page.rejects.append(RecordError(external_id=_id_of(rec), reason=f"{obj.name}: {exc}"))

    def pull_activities(self, cursor: str | None) -> Iterator[Page[Activity]]:
        state = StreamCursor.loads(cursor)
        end = last_whole_second(self.clock())
        prefixes = {
            p: t
            for p, t in PREFIX_TO_IDENTITY.items()
            if t in {PERSON_OBJECTS[o].identity_type for o in self.person_objects()}
        }
        for sobject in self.s.activity_objects:
            obj = ACTIVITY_OBJECTS[sobject]
            names = {f["name"] for f in self.client.describe(sobject).get("fields", [])}
            fields = list(obj.fields) + [f for f in OPTIONAL_FIELDS.get(sobject, ()) if f in names]
            for rows, ocursor in self._read(obj, fields, state.get(sobject), end):
                state.objects[sobject] = ocursor
                page = Page[Activity](cursor=state.dumps())
                for rec in rows:
                    if isinstance(rec, dict) and rec.get("IsDeleted") is True:
                        continue  # deleted in the CRM; archived ones (IsDeleted false) are history
                    try:
                        page.items.extend(record_to_activities(self.name, sobject, rec, prefixes))
                    except (ValueError, TypeError, AttributeError) as exc:
                        page.rejects.append(RecordError(external_id=_id_of(rec), reason=f"{sobject}: {exc}"))
                yield page

    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        return self.writer.push(requests)

    def stored_form(self, object_type: str, field: str, value: Any) -> Any:
        """As the org's field keeps it: rounded to its scale, clipped to its length, trimmed."""
        sobject = IDENTITY_TO_OBJECT.get(object_type)
        return value if sobject is None else self.writer.stored_form(sobject, field, value)

    def owners(self) -> dict[str, bool]:
        """Every user with ``IsActive`` (Salesforce refuses an inactive one as owner with
        INACTIVE_OWNER_OR_USER), plus the queues the settings allow as owners, as active."""
        out = dict.fromkeys(map(self.canonical_owner, self.settings.allowed_owner_queues), True)
        for batch in self.client.query_pages(USERS_SOQL):
            for rec in batch:
                uid, active = users_active(rec)
                out[self.canonical_owner(uid)] = active
        return out

    def close(self) -> None:
        self.client.close()

    # -- extras ---------------------------------------------------------------------------------
    def usage(self) -> dict[str, Any]:
        """API budget for ``hub status``: org-wide daily usage (from Sforce-Limit-Info) and this process's calls."""
        share = self.client.usage_share()
        return {
            "api_used": self.client.api_used,
            "api_limit": self.client.api_limit,
            "share": share,
            "push_pause_share": self.s.push_budget_share,
            "push_paused": share is not None and share >= self.s.push_budget_share,
            "calls": self.client.calls,
            "logins": self.client.logins,
        }

    def person_objects(self) -> list[str]:
        """Configured person objects, Contacts first (so a conversion's Contact lands before its Lead goes)."""
        return sorted(set(self.s.objects), key=lambda o: (o != "Contact", o))

    def _overlap_ms(self) -> int:
        return int(self.s.overlap_seconds * 1000)


def _id_of(rec: Any) -> str:
    rid = rec.get("Id") if isinstance(rec, dict) else None
    return rid if isinstance(rid, str) and rid else "<no Id>"
