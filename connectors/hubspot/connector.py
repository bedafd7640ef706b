"""The HubSpot connector: contacts, activities and deals in, fields, lists and owners out."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from functools import partial
from typing import Any, ClassVar

from connectors.hubspot.actions import Writers
from connectors.hubspot.activities import ActivityCursor, email_event_pages, engagement_pages, form_pages
from connectors.hubspot.client import HubSpotClient, HubSpotRequestError, MissingScopes
from connectors.hubspot.config import HubSpotSettings
from connectors.hubspot.mapping import (
    ACCEPTED_TYPES,
    CONTACT_PROPERTIES,
    OBJECT_TYPE,
    contact_from_hubspot,
    deal_activities,
    email_event_activity,
    engagement_activity,
    form_activity,
    hub_properties,
    lacking_options,
    merged_ids,
    property_definition,
    read_only,
    stored_value,
)
from connectors.hubspot.objects import ContactCursor, ContactStream, archived_ids
from hub.connector import Connector, Runtime
from hub.errors import ConnectorError, RetryableError
from hub.fields import HUB_FIELDS
from hub.models import (
    Activity,
    CheckReport,
    Contact,
    Identity,
    IdentityMove,
    Page,
    PushRequest,
    PushResult,
    RecordError,
    SchemaItem,
    SchemaReport,
)

log = logging.getLogger(__name__)
REQUIRED_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",  # deals: the outcomes the engine works for
    "crm.schemas.contacts.write",
    "crm.lists.read",
    "crm.lists.write",
    "crm.objects.owners.read",
)
#: scopes of activity sources the sync goes on without (``pull_activities``): the check warns
OPTIONAL_SCOPES = {"content": "marketing email events", "forms": "form submissions"}


class HubSpotConnector(Connector):
    type_name = "hubspot"
    settings_model = HubSpotSettings
    max_push_batch: ClassVar[int] = 100

    def __init__(
        self, name: str, settings: HubSpotSettings, field_mapping: dict[str, str], runtime: Runtime | None = None
    ):
        super().__init__(name, settings, field_mapping, runtime)
        self.s = settings
        self.client = HubSpotClient(name, settings, self.runtime)
        self.writers = Writers(self.client, field_mapping, settings.list_prefix)
        self.properties = CONTACT_PROPERTIES + sorted(hub_properties(field_mapping))

    # -- health and schema -------------------------------------------------------------------
    def check(self) -> CheckReport:
        report = CheckReport(ok=True)
        try:
            details = self.client.account_details()
            report.details["portal"] = details.get("portalId")
            scopes = self.client.token_scopes()
            if scopes is None:
                report.details["scopes"] = "unknown (token introspection not available)"
            else:
                missing = [sc for sc in REQUIRED_SCOPES if sc not in scopes]
                if missing:
                    report.ok = False
                    report.problems.append(
                        f"the token lacks the scopes {', '.join(missing)}: add them to the app and reinstall it"
                    )
                absent = [sc for sc in OPTIONAL_SCOPES if sc not in scopes]
                if absent:  # a problem to fix, not a failure: the sync reads everything else
                    report.problems.append(
                        f"the token lacks the scopes {', '.join(absent)}: "
                        f"{' and '.join(OPTIONAL_SCOPES[sc] for sc in absent)} are not synced (the rest is);"
                        " add them to the HubSpot app and reinstall it"
                    )
            self.client.call("contacts.list", self.client.api.crm.contacts.basic_api.get_page, limit=1)
            report.details["owners"] = len(self.writers.owners())
            existing = self._existing_properties()
            missing = [p for p in hub_properties(self.field_mapping) if p not in existing]
            if missing:
                report.ok = False
                report.problems.append(
                    f"properties missing: {', '.join(sorted(missing))}; run `hub connectors setup {self.name}`"
                )
            for f in HUB_FIELDS:
                d = property_definition(f, self.s.property_group, self.field_mapping)
                if read_only(existing.get(d["name"], {})):
                    report.ok = False
                    report.problems.append(_read_only_note(d["name"], f.name))
                lacking = lacking_options(d, existing.get(d["name"], {}))
                if lacking:
                    report.ok = False
                    report.problems.append(
                        f"{d['name']} lacks the options {', '.join(lacking)}: HubSpot refuses a record with those values;"
                        f" run `hub connectors setup {self.name}` to add them"
                    )
            absent = [p for p in self.extra_properties if p not in existing]
            if absent:
                report.ok = False
                report.problems.append(
                    f"decision.features reads properties HubSpot does not have: {', '.join(sorted(absent))};"
                    " fix the property names in hub.yaml or create them in HubSpot"
                )
        except RetryableError as exc:  # unreachable or down: the token is not at fault
            report.ok = False
            report.problems.append(str(exc))
        except ConnectorError as exc:
            report.ok = False
            report.problems.append(f"{exc}; the token needs the scopes {', '.join(REQUIRED_SCOPES)}")
        except HubSpotRequestError as exc:
            report.ok = False
            report.problems.append(str(exc))
        return report

    def _existing_properties(self) -> dict[str, dict]:
        res = (
            self.client.call("properties.list", self.client.api.crm.properties.core_api.get_all, object_type="contacts")
            or {}
        )
        return {p["name"]: p for p in res.get("results") or []}

    def schema_plan(self) -> list[SchemaItem]:
        """The property group, each hub property (type/fieldType, options) and the schema scope."""
        try:
            return self._schema_plan()
        except HubSpotRequestError as exc:
            raise ConnectorError(f"HubSpot refused reading the schema: {exc}") from None

    def _schema_plan(self) -> list[SchemaItem]:
        items: list[SchemaItem] = []
        scopes = self.client.token_scopes()
        if scopes is not None:
            ok = "crm.schemas.contacts.write" in scopes
            items.append(
                SchemaItem(
                    kind="scope",
                    name="crm.schemas.contacts.write",
                    state="ok" if ok else "missing",
                    note="" if ok else "add this scope to the app and reinstall it; setup cannot create properties",
                    fixable=ok,
                )
            )
        groups_api = self.client.api.crm.properties.groups_api
        groups = self.client.call("groups.list", groups_api.get_all, object_type="contacts") or {}
        has_group = self.s.property_group in {g["name"] for g in groups.get("results") or []}
        items.append(
            SchemaItem(
                kind="group",
                name=self.s.property_group,
                spec="Decision Hub",
                state="ok" if has_group else "missing",
                note="" if has_group else "create",
            )
        )
        existing = self._existing_properties()
        for f in HUB_FIELDS:
            d = property_definition(f, self.s.property_group, self.field_mapping)
            spec = f"{d['type']}/{d['fieldType']}" + (
                f" ({', '.join(o['value'] for o in d['options'])})" if d.get("options") else ""
            )
            have = existing.get(d["name"])
            if have is None:
                items.append(SchemaItem(kind="property", name=d["name"], spec=spec, state="missing", note="create"))
            elif read_only(have):
                note = _read_only_note(d["name"], f.name)
                items.append(
                    SchemaItem(kind="property", name=d["name"], spec=spec, state="read-only", note=note, fixable=False)
                )
            elif have.get("type") not in ACCEPTED_TYPES[f.type]:
                items.append(
                    SchemaItem(
                        kind="property",
                        name=d["name"],
                        spec=spec,
                        state="mistyped",
                        note=f"is {have.get('type')}/{have.get('fieldType')}; delete it in HubSpot or map "
                        f"{f.name} to another property (field_mapping in hub.yaml)",
                        fixable=False,
                    )
                )
            elif lacking := lacking_options(d, have):
                items.append(
                    SchemaItem(
                        kind="property",
                        name=d["name"],
                        spec=spec,
                        state="incomplete",
                        note=f"lacks the options {', '.join(lacking)}; add them (HubSpot refuses the whole record "
                        "for a value that is not an option)",
                    )
                )
            else:
                items.append(SchemaItem(kind="property", name=d["name"], spec=spec, state="ok"))
        return items

    def ensure_schema(self) -> SchemaReport:
        report = SchemaReport()
        groups_api = self.client.api.crm.properties.groups_api
        groups = self.client.call("groups.list", groups_api.get_all, object_type="contacts") or {}
        if self.s.property_group not in {g["name"] for g in groups.get("results") or []}:
            try:
                self.client.call(
                    "groups.create",
                    groups_api.create,
                    object_type="contacts",
                    property_group_create={"name": self.s.property_group, "label": "Decision Hub"},
                )
            except HubSpotRequestError as exc:
                # 409: the group is there, made by a create whose answer was lost (a 504 retried)
                # or by another setup since the list was read
                if exc.status != 409:
                    raise
            report.created.append(f"group {self.s.property_group}")
        existing = self._existing_properties()
        core = self.client.api.crm.properties.core_api
        for f in HUB_FIELDS:
            definition = property_definition(f, self.s.property_group, self.field_mapping)
            have = existing.get(definition["name"])
            if have is not None:
                report.existing.append(definition["name"])
                if lacking_options(definition, have):  # a dropdown mapped in: add the hub's values
                    self._add_options(definition, have, report)
                continue
            try:
                self.client.call("properties.create", core.create, object_type="contacts", property_create=definition)
                report.created.append(definition["name"])
            except HubSpotRequestError as exc:
                if exc.status == 409:
                    report.existing.append(definition["name"])
                else:
                    report.problems.append(f"{definition['name']}: {exc.body.get('message') or exc}")
        return report

    def _add_options(self, definition: dict, have: dict, report: SchemaReport) -> None:
        """HubSpot replaces a property's options with those sent: send its own, then the hub's."""
        lacking = set(lacking_options(definition, have))
        options = [*(have.get("options") or []), *(o for o in definition["options"] if o["value"] in lacking)]
        try:
            self.client.call(
                "properties.update",
                self.client.api.crm.properties.core_api.update,
                object_type="contacts",
                property_name=definition["name"],
                property_update={
                    "options": [
                        {k: o[k] for k in ("label", "value", "displayOrder", "hidden") if k in o} for o in options
                    ]
                },
            )
            report.created.append(f"{definition['name']} options")
        except HubSpotRequestError as exc:
            report.problems.append(f"{definition['name']}: {exc.body.get('message') or exc}")

    # -- reading -----------------------------------------------------------------------------
    def pull_contacts(self, cursor: str | None) -> Iterator[Page[Contact]]:
        wanted = self.properties + [p for p in self.extra_properties if p not in self.properties]
        stream = ContactStream(
            self.client, wanted, self.s.page_size, self.s.search_page_size, self.s.lookback_seconds * 1000
        )
        cur = ContactCursor.load(cursor)
        for rows, nxt in stream.pages(cur):
            page = Page[Contact](cursor=nxt.dump())
            for row in rows:
                try:
                    page.items.append(contact_from_hubspot(self.name, row, self.field_mapping, self.extra_properties))
                except ValueError as exc:
                    page.rejects.append(RecordError(external_id=str(row.get("id", "?")), reason=str(exc)))
                survivor = Identity(connector=self.name, object_type=OBJECT_TYPE, external_id=str(row.get("id")))
                for m in merged_ids(row):
                    page.moved.append(
                        IdentityMove(source=survivor.model_copy(update={"external_id": m}), target=survivor)
                    )
                    self.writers.note_merge(m, survivor.external_id)  # pushes still keyed by m go to one input
            cur = nxt
            yield page
        now_ms = int(time.time() * 1000)
        # a deletion webhook asked for this sync: walk now, not when the walk is due
        every = 0 if self.deletions_reported else self.s.archived_walk_seconds * 1000
        gone, walked = archived_ids(self.client, self.s.page_size, cur, now_ms, every)
        if walked is not cur:
            yield Page[Contact](
                cursor=walked.dump(),
                deleted=[Identity(connector=self.name, object_type=OBJECT_TYPE, external_id=i) for i in gone],
            )

    def pull_activities(self, cursor: str | None) -> Iterator[Page[Activity]]:
        """Each source in turn. One the token lacks the scope for (403 MISSING_SCOPES) is left
        for this sync, its part of the cursor where it was, and named in ``not_synced``: a
        portal without marketing email still syncs the meetings, calls and deals."""
        cur = ActivityCursor.load(cursor)
        sources = [("marketing email events", self._email_events), ("form submissions", self._form_submissions)]
        sources += [(kind, partial(self._engagements, kind)) for kind in ("meetings", "calls", "deals")]
        for source, read in sources:
            try:
                for nxt, page in read(cur):
                    cur = nxt
                    yield page
            except MissingScopes as exc:
                scope = f"the {' and '.join(exc.scopes)} scope" if exc.scopes else "the scope they need"
                log.info("HubSpot %s: %s; going on without the %s", self.name, exc, source)
                why = (
                    f"the HubSpot token lacks {scope}; add {scope} to the HubSpot app and reinstall it"
                    " (the next sync then reads them from where they stopped)"
                )
                yield Page[Activity](cursor=cur.dump(), not_synced={source: why})

    def _email_events(self, cur: ActivityCursor) -> Iterator[tuple[ActivityCursor, Page[Activity]]]:
        for events, nxt in email_event_pages(self.client, cur):
            yield nxt, self._page(nxt, events, lambda e: [email_event_activity(self.name, e)], "id")

    def _form_submissions(self, cur: ActivityCursor) -> Iterator[tuple[ActivityCursor, Page[Activity]]]:
        for form_id, subs, nxt in form_pages(self.client, cur):
            yield nxt, self._page(nxt, subs, lambda s, f=form_id: [form_activity(self.name, f, s)], "conversionId")

    def _engagements(self, kind: str, cur: ActivityCursor) -> Iterator[tuple[ActivityCursor, Page[Activity]]]:
        mapper = deal_activities if kind == "deals" else partial(engagement_activity, kind=kind)
        for rows, nxt in engagement_pages(
            self.client, kind, cur, self.s.search_page_size, self.s.lookback_seconds * 1000
        ):
            yield nxt, self._page(nxt, rows, lambda r: mapper(self.name, record=r), "id")

    def _page(self, cur: ActivityCursor, rows: list, mapper, key: str) -> Page[Activity]:
        page = Page[Activity](cursor=cur.dump())
        for row in rows:
            try:
                page.items += mapper(row)
            except (ValueError, KeyError, TypeError) as exc:
                if "not tracked" not in str(exc):
                    page.rejects.append(RecordError(external_id=str(row.get(key, "?")), reason=str(exc)))
        return page

    # -- writing -----------------------------------------------------------------------------
    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        return self.writers.push(requests)

    def stored_form(self, object_type: str, field: str, value: Any) -> Any:
        """As HubSpot keeps it: text clipped at 65,536 characters, numbers and options trimmed."""
        return stored_value(field, value)

    def owners(self) -> dict[str, bool]:
        """Every owner, active or archived (a deactivated user's); the active ones also refresh
        the list pushes check assignments against."""
        archived = self.writers.read_owners(archived=True)
        active = self.writers.owners(fresh=True)
        return {**dict.fromkeys(archived, False), **dict.fromkeys(active, True)}

    def usage(self) -> dict[str, object]:
        return {"calls": dict(self.client.calls), "rate_limit_wait_seconds": round(self.client.rate_limit_waits, 3)}


def _read_only_note(prop: str, field: str) -> str:
    """Why a hub field cannot be written where it is mapped, and what a person does about it."""
    return (
        f"{prop} is read-only in HubSpot (HubSpot sets it itself and refuses every write to it);"
        f" map {field} to another property (field_mapping in hub.yaml)"
    )
