"""Push writers: hub actions -> sObject Collections calls, one PushResult per request.

Field sets and owner changes for one record are merged into one row of a PATCH
``composite/sobjects`` call (≤200 rows, rows grouped by sObject type because Salesforce refuses a
request whose type changes more than 9 times along the list, allOrNone=false, ``Sforce-Auto-Assign: FALSE`` so
assignment rules cannot overwrite the owner we set). List membership is CampaignMember rows:
current members are read first, so adding twice or removing a non-member writes nothing.
Per-record errors land on their own actions; row locks and platform hiccups are retryable. A
row refused for a hub field the org lacks (INVALID_FIELD, a new org before `hub connectors
setup`) fails the pushes that set it, saying to run setup, and is sent again without it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.salesforce.client import (
    MAX_QUERY_BYTES,
    NO_SUCH_COLUMN,
    DailyLimitReached,
    FieldRefused,
    SalesforceClient,
    query_bytes,
)
from connectors.salesforce.config import SalesforceSettings
from connectors.salesforce.mapping import (
    RETRYABLE_CODES,
    active_users_soql,
    campaign_name,
    campaign_row,
    campaigns_soql,
    member_key,
    member_row,
    member_statuses_soql,
    members_soql,
    needs_local_zone,
    owner_fields,
    stored_sf_value,
    to_sf_value,
    update_row,
)
from connectors.salesforce.objects import IDENTITY_TO_OBJECT
from connectors.salesforce.zone import OrgZone
from hub.connector import results_of_error
from hub.errors import ConnectorError, RetryableError
from hub.models import ActionKind, PushRequest, PushResult

COLLECTION_MAX = 200
COLLECTION_MAX_CHUNKS = 10  # a new chunk starts wherever the sObject type changes along the list
MEMBER_CAMPAIGNS = 100  # Campaign ids per membership lookup (~2,700 bytes), leaving room for people
OWNER_CACHE_SECONDS = 600.0
USER_PREFIX, QUEUE_PREFIX = "005", "00G"
#: what a queue may own of what the hub writes (Object Reference: Lead's OwnerId refers to Group
#: and User; Contact's and Account's to User only, so Salesforce refuses a queue there)
QUEUE_OWNED = frozenset({"Lead"})


#: what a refusal for a converted Lead means to the hub: the Lead is read-only for good (it joins
#: no Campaign either), and the person lives on in the Contact the sync follows it to
CONVERTED_HINT = (
    ". The Lead was converted in Salesforce since the hub read it; the next sync follows it to "
    "the Contact it became, where later actions go"
)


def _failure(push_id: int, code: str, message: str) -> PushResult:
    status = "retryable" if code in RETRYABLE_CODES else "failed"
    hint = CONVERTED_HINT if code == "CANNOT_UPDATE_CONVERTED_LEAD" else ""
    return PushResult(push_id=push_id, status=status, reason=f"{code}: {message}{hint}")


def _errors_result(push_id: int, errors: list[dict[str, Any]]) -> PushResult:
    first = errors[0] if errors else {}
    return _failure(push_id, str(first.get("statusCode", "UNKNOWN")), str(first.get("message", "no message")))


def _inactive_owner_refused(row: _Row, errors: list[dict[str, Any]]) -> bool:
    """Was the row refused only for its owner being an inactive user?"""
    return bool(row.owner_pushes) and "OwnerId" in row.fields and _code(errors) == "INACTIVE_OWNER_OR_USER"


def _code(errors: list[dict[str, Any]]) -> str:
    return str((errors[0] if errors else {}).get("statusCode", "UNKNOWN"))


def chunks(items: list[Any], size: int = COLLECTION_MAX) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def fitting(values: list[str], soql: Callable[[list[str]], str], most: int = COLLECTION_MAX) -> list[list[str]]:
    """``values`` cut into runs of at most ``most`` whose lookup ``soql(run)`` Salesforce takes:
    within 16,384 bytes of URI and headers, or it answers 414 (an 80-character Japanese list
    name alone takes ~730 bytes as sent)."""
    parts: list[list[str]] = []
    for v in values:
        if parts and len(parts[-1]) < most and query_bytes(soql([*parts[-1], v])) <= MAX_QUERY_BYTES:
            parts[-1].append(v)
        else:
            parts.append([v])
    return parts


def typed_chunks(rows: list[_Row]) -> list[list[_Row]]:
    """Rows grouped by sObject type (stable), cut into requests of ≤200 rows and ≤10 type chunks."""
    parts: list[list[_Row]] = []
    type_chunks = 0
    for row in sorted(rows, key=lambda r: r.sobject):
        new_type = bool(parts) and parts[-1][-1].sobject != row.sobject
        if not parts or len(parts[-1]) >= COLLECTION_MAX or (new_type and type_chunks >= COLLECTION_MAX_CHUNKS):
            parts.append([row])
            type_chunks = 1
        else:
            parts[-1].append(row)
            type_chunks += new_type
    return parts


@dataclass
class _Row:
    """One record's writes in a batch: each push's own fields, merged in push order when sent."""

    sobject: str
    record_id: str
    values: dict[int, dict[str, Any]] = field(default_factory=dict)  # push_id -> the fields it sets
    owner_pushes: list[int] = field(default_factory=list)  # the push_ids that set OwnerId

    @property
    def push_ids(self) -> list[int]:
        return list(self.values)

    @property
    def fields(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for own in self.values.values():
            merged.update(own)
        return merged

    @property
    def setters(self) -> dict[str, list[int]]:
        """field -> the push_ids that set it."""
        out: dict[str, list[int]] = {}
        for pid, own in self.values.items():
            for name in own:
                out.setdefault(name, []).append(pid)
        return out

    def without(self, pushes: set[int] | list[int]) -> list[_Row]:
        """This row less ``pushes``, its fields rebuilt from the pushes kept (none left: [])."""
        kept = {pid: own for pid, own in self.values.items() if pid not in pushes}
        owners = [pid for pid in self.owner_pushes if pid not in pushes]
        return [_Row(self.sobject, self.record_id, kept, owners)] if kept else []


class PushWriter:
    """Carries out one batch of push requests against one org."""

    def __init__(
        self,
        client: SalesforceClient,
        settings: SalesforceSettings,
        sf_names: dict[str, str],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.settings = settings
        self.sf_names = sf_names
        self.clock = clock
        self.zone = OrgZone(client, settings)
        self._campaigns: dict[str, str] = dict(settings.campaigns)
        self._campaign_errors: dict[str, list[dict[str, Any]]] = {}
        self._fields_by_name: dict[str, tuple[Any, dict[str, dict[str, Any]]]] = {}
        self._active_users: dict[str, tuple[bool, float]] = {}

    # -- entry ----------------------------------------------------------------------------------
    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        self._check_budget()
        results: dict[int, PushResult] = {}
        try:
            self._push(requests, results)
        except ConnectorError as exc:  # what landed before the error keeps its result
            if isinstance(exc, DailyLimitReached):  # pushes wait for the allocation; they are not broken
                exc = RetryableError(str(exc), status=403, retry_after=self.settings.budget_retry_after, blocked=True)
            results.update(results_of_error([r.push_id for r in requests if r.push_id not in results], exc))
        missing = "Salesforce returned no result for this record"
        return [
            results.get(r.push_id) or PushResult(push_id=r.push_id, status="retryable", reason=missing)
            for r in requests
        ]

    def _push(self, requests: list[PushRequest], results: dict[int, PushResult]) -> None:
        """Fields and owners, then list memberships, each result into ``results`` as it comes."""
        rows: dict[str, _Row] = {}
        adds: list[PushRequest] = []
        removes: list[PushRequest] = []
        owners = [r for r in requests if r.action.kind is ActionKind.ASSIGN_OWNER]
        inactive = self._inactive_owners({str(r.action.payload.get("owner", "")) for r in owners})
        for req in requests:
            sobject = IDENTITY_TO_OBJECT.get(req.identity.object_type)
            if sobject is None:
                results[req.push_id] = _failure(req.push_id, "UNSUPPORTED", f"cannot write {req.identity.object_type}")
                continue
            kind = req.action.kind
            if kind is ActionKind.ADD_TO_LIST:
                adds.append(req)
            elif kind is ActionKind.REMOVE_FROM_LIST:
                removes.append(req)
            else:
                fields = self._fields(req, inactive, sobject)
                if isinstance(fields, PushResult):
                    results[req.push_id] = fields
                    continue
                row = rows.setdefault(req.identity.external_id, _Row(sobject, req.identity.external_id))
                row.values[req.push_id] = fields
                if kind is ActionKind.ASSIGN_OWNER:
                    row.owner_pushes.append(req.push_id)
        self._update(list(rows.values()), results)
        if adds or removes:
            self._membership(adds, removes, results)

    def _check_budget(self) -> None:
        """Pause pushing above the budget share of the daily allocation. Over it, the usage is
        read again first (one call per paused try, an hour apart): it is a rolling 24 hours,
        and what it was at the last call may have aged out since."""
        share = self.client.usage_share()
        if share is not None and share >= self.settings.push_budget_share:
            with contextlib.suppress(DailyLimitReached):  # all of it spent: still over the budget
                self.client.refresh_usage()
            share = self.client.usage_share()
        if share is not None and share >= self.settings.push_budget_share:
            raise RetryableError(
                f"Salesforce API usage is {self.client.api_used}/{self.client.api_limit} "
                f"({share:.0%}), above the push budget of {self.settings.push_budget_share:.0%}; pushing pauses.",
                retry_after=self.settings.budget_retry_after,
                blocked=True,
            )

    # -- field updates --------------------------------------------------------------------------
    def _described(self, sobject: str) -> dict[str, dict[str, Any]]:
        """The object's fields by name: indexed once per describe the client holds (it fetches
        one per session), not once per push."""
        desc = self.client.describe(sobject)
        held = self._fields_by_name.get(sobject)
        if held is None or held[0] is not desc:
            held = self._fields_by_name[sobject] = (desc, {f["name"]: f for f in desc.get("fields", [])})
        return held[1]

    def stored_form(self, sobject: str, hub_name: str, value: Any) -> Any:
        """``value`` as the mapped field of ``sobject`` keeps it (describe's type, scale and
        length); as it is for a field describe does not show (the write reports that)."""
        described = self._described(sobject).get(self.sf_names.get(hub_name, ""))
        return value if described is None else stored_sf_value(hub_name, value, described)

    def _fields(self, req: PushRequest, inactive: set[str], sobject: str) -> dict[str, Any] | PushResult:
        payload = req.action.payload
        if req.action.kind is ActionKind.ASSIGN_OWNER:
            owner = str(payload.get("owner") or "")
            if owner in inactive:
                return _failure(
                    req.push_id, "INACTIVE_OWNER_OR_USER", f"owner {owner!r} is not an active user or allowed queue"
                )
            if owner.startswith(QUEUE_PREFIX) and sobject not in QUEUE_OWNED:
                return _failure(
                    req.push_id, "INVALID_OWNER", f"queue {owner!r} cannot own a {sobject}: queues own Leads only"
                )
            return owner_fields(owner)
        out: dict[str, Any] = {}
        values = payload.get("fields") or {}
        described = self._described(sobject) if values else {}
        # only a bare local hour is placed in a zone: the org is asked for its own the first time
        zone = self.zone.zone() if any(needs_local_zone(k, v) for k, v in values.items()) else "UTC"
        for hub_name, value in values.items():
            sf_name = self.sf_names.get(hub_name)
            if sf_name is None:
                return _failure(
                    req.push_id, "UNKNOWN_FIELD", f"{hub_name!r} is not a hub field and has no field_mapping"
                )
            try:
                out[sf_name] = to_sf_value(hub_name, value, zone, described=described.get(sf_name))
            except ValueError as exc:
                return _failure(req.push_id, "INVALID_VALUE", str(exc))
        return out

    def _update(self, rows: list[_Row], results: dict[int, PushResult], again: bool = True) -> None:
        retry: list[_Row] = []
        resend: list[_Row] = []  # rows refused for a missing hub field, without it
        for part in typed_chunks(rows):
            body = {
                "allOrNone": False,
                "records": [update_row(r.sobject, r.record_id, r.fields) for r in part],
            }
            try:
                answer = self.client.rest(
                    "composite/sobjects", method="PATCH", json=body, headers={"Sforce-Auto-Assign": "FALSE"}
                )
            except FieldRefused as refused:  # nothing was written: drop the field, send the rest
                if refused.field not in self.sf_names.values() or not any(refused.field in r.setters for r in part):
                    raise
                errors = [{"statusCode": "INVALID_FIELD", "message": refused.said, "fields": [refused.field]}]
                for row in part:
                    gone = refused.field in row.setters
                    resend += self._field_gone(row, refused.field, errors, results) if gone else [row]
                continue
            for row, res in zip(part, answer or [], strict=False):
                errors = res.get("errors") or []
                if again and not res.get("success") and _inactive_owner_refused(row, errors):
                    retry += self._owner_gone(row, errors, results)
                    continue
                missing = None if res.get("success") else self._missing_field(row, errors)
                if missing:
                    resend += self._field_gone(row, missing, errors, results)
                    continue
                for pid in row.push_ids:
                    ok = res.get("success")
                    results[pid] = PushResult(push_id=pid, status="ok") if ok else self._refused(pid, row, errors)
        if retry:
            self._update(retry, results, again=False)
        if resend:  # each round drops a field from every row in it: the rounds end
            self._update(resend, results, again)

    def _missing_hub_field(self, errors: list[dict[str, Any]]) -> str | None:
        """The hub field ``errors`` name as not existing (INVALID_FIELD "No such column"), if any."""
        named = NO_SUCH_COLUMN.search(str((errors[0] if errors else {}).get("message", "")))
        name = named.group(1) if named and _code(errors) == "INVALID_FIELD" else None
        return name if name in self.sf_names.values() else None

    def _missing_field(self, row: _Row, errors: list[dict[str, Any]]) -> str | None:
        """The hub field a refused row named as not existing, when the row sets it."""
        name = self._missing_hub_field(errors)
        return name if name in row.setters else None

    def _field_gone(
        self, row: _Row, name: str, errors: list[dict[str, Any]], results: dict[int, PushResult]
    ) -> list[_Row]:
        """Salesforce refused the row for a hub field the org lacks (a new org before setup, or
        a field hidden by field-level security): fail the pushes that set it, saying what to
        do, and return the row's other writes (an owner, other fields) to send again without it."""
        gone = set(row.setters[name])
        for pid in gone:
            results[pid] = self._refused(pid, row, errors)
        return row.without(gone)

    def _refused(self, push_id: int, row: _Row, errors: list[dict[str, Any]]) -> PushResult:
        """A refused row's result; a hub field the org lacks (a new org before setup, or one
        hidden by field-level security) says what to do about it."""
        result = _errors_result(push_id, errors)
        name = self._missing_hub_field(errors)
        if name is None:
            return result
        hint = (
            f"{row.sobject}.{name} does not exist or is hidden from this user by field-level security; "
            "run `hub connectors setup` to create the hub's fields"
        )
        return PushResult(push_id=push_id, status=result.status, reason=f"{result.reason}. {hint}")

    def _owner_gone(self, row: _Row, errors: list[dict[str, Any]], results: dict[int, PushResult]) -> list[_Row]:
        """Salesforce refused the row's owner as inactive (deactivated since we read the users):
        remember it, fail the assignments, and return the row's field writes to send again
        without ``OwnerId``, so they do not fail with it."""
        owner = str(row.fields["OwnerId"])
        self._active_users[owner] = (False, self.clock())
        for pid in row.owner_pushes:
            results[pid] = _errors_result(pid, errors)
        return row.without(row.owner_pushes)

    def _inactive_owners(self, owners: set[str]) -> set[str]:
        """Owners we must not assign: not an active user, and not a queue the settings allow."""
        allowed_queues = set(self.settings.allowed_owner_queues)
        bad = {o for o in owners if not o.startswith(USER_PREFIX) and o not in allowed_queues}
        now = self.clock()
        unknown = sorted(
            o
            for o in owners - bad - allowed_queues
            if o not in self._active_users or self._active_users[o][1] < now - OWNER_CACHE_SECONDS
        )
        for part in fitting(unknown, active_users_soql):
            active = set()
            for batch in self.client.query_pages(active_users_soql(part)):
                active |= {r["Id"] for r in batch}
            for o in part:
                self._active_users[o] = (o in active or o[:15] in {a[:15] for a in active}, now)
        return bad | {o for o in owners - bad - allowed_queues if not self._active_users[o][0]}

    # -- list membership ------------------------------------------------------------------------
    def _campaign_ids(self, names: set[str], create: bool) -> dict[str, str]:
        """Hub list name -> Campaign Id: configured, found by name, or created on demand.
        A create Salesforce refuses is kept in ``_campaign_errors`` for the pushes of that list."""
        missing = sorted(n for n in names if n not in self._campaigns)
        if missing:
            by_name = {campaign_name(n).lower(): n for n in missing}  # SOQL = on Name ignores case
            for part in fitting(sorted({campaign_name(n) for n in missing}), campaigns_soql):
                for batch in self.client.query_pages(campaigns_soql(part)):
                    for r in batch:
                        name = by_name.get(str(r["Name"]).lower())
                        if name is not None:
                            self._campaigns.setdefault(name, r["Id"])
        to_create = sorted(n for n in names if n not in self._campaigns)
        if to_create and create and self.settings.create_campaigns:
            for part in chunks(to_create):
                body = {"allOrNone": False, "records": [campaign_row(n) for n in part]}
                answer = self.client.rest("composite/sobjects", method="POST", retry=False, json=body) or []
                for k, name in enumerate(part):
                    res = answer[k] if k < len(answer) else {"errors": [{"statusCode": "UNKNOWN", "message": ""}]}
                    if res.get("success"):
                        self._campaigns[name] = res["id"]
                    else:
                        self._campaign_errors[name] = res.get("errors") or []
        return {n: self._campaigns[n] for n in names if n in self._campaigns}

    def _with_status(
        self, creates: list[tuple[PushRequest, dict[str, Any]]], results: dict[int, PushResult]
    ) -> list[tuple[PushRequest, dict[str, Any]]]:
        """The member inserts whose Campaign has the configured status; the others fail, naming
        the setting to fix. Salesforce would not refuse them: it gives a member a Status its
        Campaign lacks the Campaign's default instead (Object Reference, CampaignMember, Usage),
        so the check is ours, against each Campaign's CampaignMemberStatus rows."""
        status = self.settings.campaign_member_status
        if not status or not creates:
            return creates
        having: set[str] = set()  # 15-character ids: a configured Campaign id may be either form
        for part in fitting(sorted({row["CampaignId"] for _, row in creates}), member_statuses_soql):
            for batch in self.client.query_pages(member_statuses_soql(part)):
                having |= {str(r["CampaignId"])[:15] for r in batch if r["Label"] == status}
        kept = []
        for req, row in creates:
            if str(row["CampaignId"])[:15] in having:
                kept.append((req, row))
                continue
            name = campaign_name(str(req.action.payload.get("list")))
            results[req.push_id] = _failure(
                req.push_id,
                "MEMBER_STATUS_MISSING",
                f"campaign_member_status {status!r} is not a member status of the Campaign {name!r}, and "
                "Salesforce would give the member the Campaign's default instead: add it to the Campaign's "
                "member statuses in Salesforce, or unset campaign_member_status to use each Campaign's default",
            )
        return kept

    def _members(self, campaign_ids: set[str], reqs: list[PushRequest]) -> dict[tuple[str, str], str]:
        """(campaign id, person id) -> CampaignMember id, for the people in ``reqs``."""
        found: dict[tuple[str, str], str] = {}
        people = sorted({r.identity.external_id for r in reqs})
        if not campaign_ids or not people:
            return found
        for camps in chunks(sorted(campaign_ids), MEMBER_CAMPAIGNS):
            for part in fitting(people, lambda p, c=camps: members_soql(c, p)):
                for batch in self.client.query_pages(members_soql(camps, part)):
                    for r in batch:
                        key = member_key(r)
                        if key:
                            found[key] = r["Id"]
        return found

    def _membership(self, adds: list[PushRequest], removes: list[PushRequest], results: dict[int, PushResult]) -> None:
        self._campaign_errors.clear()  # only this batch's refusals explain this batch's failures
        campaigns = self._campaign_ids({str(r.action.payload.get("list")) for r in adds}, create=True)
        campaigns |= self._campaign_ids({str(r.action.payload.get("list")) for r in removes}, create=False)
        members = self._members(set(campaigns.values()), adds + removes)
        creates: list[tuple[PushRequest, dict[str, Any]]] = []
        deletes: dict[str, list[int]] = {}
        for req in adds + removes:
            name = str(req.action.payload.get("list"))
            camp = campaigns.get(name)
            person = req.identity.external_id
            adding = req.action.kind is ActionKind.ADD_TO_LIST
            if camp is None and adding and name in self._campaign_errors:
                first = (self._campaign_errors[name] or [{}])[0]
                results[req.push_id] = _failure(
                    req.push_id,
                    str(first.get("statusCode", "UNKNOWN")),
                    f"Salesforce refused to create the Campaign for list {name!r}: "
                    f"{first.get('message') or 'no message'}",
                )
            elif camp is None:
                results[req.push_id] = (
                    _failure(
                        req.push_id,
                        "CAMPAIGN_NOT_FOUND",
                        f"no Campaign for list {name!r}; map it in settings.campaigns",
                    )
                    if adding
                    else PushResult(push_id=req.push_id, status="ok")  # no campaign: not a member
                )
            elif adding and (camp, person) not in members:
                row = member_row(camp, person, req.identity.object_type, self.settings.campaign_member_status)
                members[(camp, person)] = "pending"  # a second add in this batch is a no-op
                creates.append((req, row))
            elif not adding and (camp, person) in members and members[(camp, person)] != "pending":
                deletes.setdefault(members[(camp, person)], []).append(req.push_id)
            else:
                results[req.push_id] = PushResult(push_id=req.push_id, status="ok")
        for part in chunks(self._with_status(creates, results)):
            answer = self.client.rest(
                "composite/sobjects",
                method="POST",
                retry=False,
                json={"allOrNone": False, "records": [row for _, row in part]},
            )
            for (req, _), res in zip(part, answer or [], strict=False):
                code = ((res.get("errors") or [{}])[0]).get("statusCode")
                ok = res.get("success") or code == "DUPLICATE_VALUE"  # already a member: the add holds
                results[req.push_id] = (
                    PushResult(push_id=req.push_id, status="ok") if ok else _errors_result(req.push_id, res["errors"])
                )
        for part in chunks(list(deletes)):
            answer = self.client.rest(
                "composite/sobjects", method="DELETE", params={"ids": ",".join(part), "allOrNone": "false"}
            )
            for member_id, res in zip(part, answer or [], strict=False):
                code = ((res.get("errors") or [{}])[0]).get("statusCode")
                ok = res.get("success") or code in ("ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY")
                for pid in deletes[member_id]:
                    results[pid] = PushResult(push_id=pid, status="ok") if ok else _errors_result(pid, res["errors"])
