"""A test-only CRM connector plugin whose CRM lives in Redis.

Registered through pluggy (``plugins: [tests.plugins.memory_crm]`` in hub.yaml), never
imported by the code under test. Its state is in Redis so a test process and real Celery
worker processes see one CRM. It records every effect — a write that changed the record —
and every delivery, so tests can count "landed once" exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import Field, SecretStr

from hub.connector import Connector, ConnectorSettings
from hub.errors import RetryableError
from hub.hookspecs import hookimpl
from hub.models import (
    ActionKind,
    Activity,
    ActivityType,
    CheckReport,
    Company,
    Consent,
    Contact,
    Identity,
    Page,
    PushRequest,
    PushResult,
    RecordError,
    SchemaReport,
)

HUB_FIELDS = ("next_best_action", "reason", "lead_score")


class MemoryCRMSettings(ConnectorSettings):
    redis_url: str
    api_token: SecretStr | None = None
    namespace: str = "memcrm"
    page_size: int = Field(50, ge=1)
    push_delay: float = Field(0.0, ge=0, description="seconds per record, to make a batch slow")
    stored_form_delay: float = Field(
        0.0,
        ge=0,
        description="seconds the push diff's first stored-form question takes (a slow schema read, kept after)",
    )
    max_batch: int = Field(100, ge=1)


class MemoryCRM:
    """The fake CRM's state, shared by the connector, tests and worker processes."""

    def __init__(self, redis_url: str, namespace: str):
        self.r = redis.Redis.from_url(redis_url, decode_responses=True)
        self.ns = namespace

    def k(self, name: str) -> str:
        return f"{self.ns}:{name}"

    def _touch(self, pipe: Any, external_id: str) -> None:
        seq = self.r.incr(self.k("seq"))
        pipe.zadd(self.k("modified"), {external_id: seq})

    def put_contact(self, external_id: str, **fields: Any) -> None:
        raw = self.r.hget(self.k("contacts"), external_id)
        rec = json.loads(raw) if raw else {"id": external_id, "lists": [], "owner": None}
        rec.update(fields)
        pipe = self.r.pipeline()
        pipe.hset(self.k("contacts"), external_id, json.dumps(rec))
        self._touch(pipe, external_id)
        pipe.execute()

    def put_new_contacts(self, records: dict[str, dict[str, Any]]) -> None:
        """Bulk-create contacts that do not exist yet (benchmarks seed millions this way)."""
        last = self.r.incrby(self.k("seq"), len(records))
        first = last - len(records) + 1
        pipe = self.r.pipeline(transaction=False)
        for seq, (ext, fields) in enumerate(records.items(), start=first):
            pipe.hset(self.k("contacts"), ext, json.dumps({"id": ext, "lists": [], "owner": None, **fields}))
            pipe.zadd(self.k("modified"), {ext: seq})
        pipe.execute()

    def put_raw(self, external_id: str, raw: str) -> None:
        pipe = self.r.pipeline()
        pipe.hset(self.k("contacts"), external_id, raw)
        self._touch(pipe, external_id)
        pipe.execute()

    def add_activity(
        self, external_id: str, contact_id: str | None, type_: str, when: datetime, email: str | None = None
    ) -> None:
        """``email``: the activity names its person by address only (a form fill, an e-mail
        event: HubSpot's find their contact this way), not by ``contact_id``."""
        seq = self.r.incr(self.k("aseq"))
        row = {"id": external_id, "contact": contact_id, "type": type_, "at": when.isoformat()}
        if email is not None:
            row["email"] = email
        self.r.zadd(self.k("activities"), {json.dumps(row): seq})

    def contact(self, external_id: str) -> dict[str, Any]:
        return json.loads(self.r.hget(self.k("contacts"), external_id))

    def effects(self) -> list[dict[str, Any]]:
        return [json.loads(e) for e in self.r.lrange(self.k("effects"), 0, -1)]

    def deliveries(self) -> int:
        return int(self.r.get(self.k("deliveries")) or 0)

    def overlaps(self) -> int:
        return int(self.r.get(self.k("overlaps")) or 0)

    def set_fault(self, name: str, value: Any) -> None:
        self.r.hset(self.k("faults"), name, json.dumps(value))

    def fault(self, name: str, default: Any = None) -> Any:
        v = self.r.hget(self.k("faults"), name)
        return json.loads(v) if v is not None else default

    def clear(self) -> None:
        keys = list(self.r.scan_iter(f"{self.ns}:*"))
        if keys:
            self.r.delete(*keys)

    # -- applying a write: the effect is logged only if the record changes --------
    def apply(self, req: PushRequest) -> str | None:
        raw = self.r.hget(self.k("contacts"), req.identity.external_id)
        if raw is None:
            return "record not found"
        rec = json.loads(raw)
        kind, payload = req.action.kind, req.action.payload
        changes = []
        if kind is ActionKind.SET_FIELDS:
            for f, v in payload["fields"].items():
                if rec.get(f) != v:
                    changes.append({"field": f, "old": rec.get(f), "new": v})
                    rec[f] = v
        elif kind is ActionKind.ADD_TO_LIST and payload["list"] not in rec["lists"]:
            rec["lists"].append(payload["list"])
            changes.append({"field": "lists", "old": None, "new": payload["list"]})
        elif kind is ActionKind.REMOVE_FROM_LIST and payload["list"] in rec["lists"]:
            rec["lists"].remove(payload["list"])
            changes.append({"field": "lists", "old": payload["list"], "new": None})
        elif kind is ActionKind.ASSIGN_OWNER and rec.get("owner") != payload["owner"]:
            changes.append({"field": "owner", "old": rec.get("owner"), "new": payload["owner"]})
            rec["owner"] = payload["owner"]
        pipe = self.r.pipeline()
        pipe.incr(self.k("deliveries"))
        if changes:
            pipe.hset(self.k("contacts"), req.identity.external_id, json.dumps(rec))
            self._touch(pipe, req.identity.external_id)
            for c in changes:
                pipe.rpush(
                    self.k("effects"),
                    json.dumps({"push_id": req.push_id, "record": req.identity.external_id, "kind": kind.value, **c}),
                )
        pipe.execute()
        return None


class MemoryCRMConnector(Connector):
    type_name = "memory_crm"
    settings_model = MemoryCRMSettings

    def __init__(self, name: str, settings: MemoryCRMSettings, field_mapping: dict[str, str], runtime=None):
        super().__init__(name, settings, field_mapping, runtime)
        self.s = settings
        self.max_push_batch = settings.max_batch
        self.crm = MemoryCRM(settings.redis_url, settings.namespace)
        self._schema_read = False  # stored_form_delay: the first read of the schema is the slow one

    def check(self) -> CheckReport:
        ok = bool(self.crm.r.ping())
        return CheckReport(ok=ok, details={"contacts": self.crm.r.hlen(self.crm.k("contacts"))})

    def ensure_schema(self) -> SchemaReport:
        return SchemaReport(existing=list(HUB_FIELDS))

    def _guard(self) -> None:
        if self.crm.r.incr(self.crm.k("pull_active")) > 1:
            self.crm.r.incr(self.crm.k("overlaps"))
        time.sleep(float(self.crm.fault("pull_delay", 0.0)))

    def pull_contacts(self, cursor: str | None) -> Iterator[Page[Contact]]:
        self._guard()
        try:
            after = int(cursor or 0)
            while True:
                ids = self.crm.r.zrangebyscore(
                    self.crm.k("modified"), f"({after}", "+inf", start=0, num=self.s.page_size, withscores=True
                )
                if not ids:
                    return
                raws = self.crm.r.hmget(self.crm.k("contacts"), [i for i, _ in ids])
                page = Page[Contact](cursor=str(int(ids[-1][1])))
                for (ext, _), raw in zip(ids, raws, strict=True):
                    try:
                        page.items.append(self._map(ext, json.loads(raw)))
                    except (ValueError, KeyError, TypeError) as exc:
                        page.rejects.append(RecordError(external_id=ext, reason=f"{type(exc).__name__}: {exc}"))
                yield page
                after = int(ids[-1][1])
        finally:
            self.crm.r.decr(self.crm.k("pull_active"))

    def _map(self, ext: str, rec: dict[str, Any]) -> Contact:
        if not isinstance(rec, dict):
            raise ValueError("record is not an object")
        updated = datetime.fromisoformat(rec["updated_at"]) if rec.get("updated_at") else None
        return Contact(
            identities=[Identity(connector=self.name, external_id=ext)],
            emails=[rec["email"]] if rec.get("email") else [],
            first_name=rec.get("first_name"),
            last_name=rec.get("last_name"),
            company=Company(name=rec.get("company"), industry=rec.get("industry"), employees=rec.get("employees")),
            lifecycle_stage=rec.get("stage"),
            owner=rec.get("owner"),
            consent=Consent(email_opt_out=bool(rec.get("opt_out", False))),
            crm_fields={f: rec[f] for f in HUB_FIELDS if f in rec},
            lists=list(rec.get("lists", [])),
            updated_at=updated,
        )

    def pull_activities(self, cursor: str | None) -> Iterator[Page[Activity]]:
        after = int(cursor or 0)
        fail_after = self.crm.fault("activities_fail_after_pages")  # then one 503, as a flaky API
        pages = 0
        while True:
            if fail_after is not None and pages >= fail_after:
                self.crm.r.hdel(self.crm.k("faults"), "activities_fail_after_pages")
                raise RetryableError("sandbox says 503 (activities page)")
            pages += 1
            rows = self.crm.r.zrangebyscore(
                self.crm.k("activities"), f"({after}", "+inf", start=0, num=self.s.page_size, withscores=True
            )
            if not rows:
                return
            time.sleep(float(self.crm.fault("activities_page_delay", 0.0)))  # a slow API: time to kill a sync
            page = Page[Activity](cursor=str(int(rows[-1][1])))
            for raw, _ in rows:
                a = json.loads(raw)
                page.items.append(
                    Activity(
                        contact_ref=Identity(connector=self.name, external_id=a["contact"]) if a["contact"] else None,
                        contact_email=a.get("email"),
                        type=ActivityType(a["type"]),
                        occurred_at=datetime.fromisoformat(a["at"]).astimezone(UTC),
                        source=self.name,
                        external_id=a["id"],
                    )
                )
            yield page
            after = int(rows[-1][1])

    def stored_form(self, object_type: str, field: str, value: Any) -> Any:
        if self.s.stored_form_delay and not self._schema_read:
            time.sleep(self.s.stored_form_delay)
        self._schema_read = True
        return value

    def push(self, requests: list[PushRequest]) -> list[PushResult]:
        flaky = int(self.crm.r.decr(self.crm.k("flaky_left"))) if self.crm.r.exists(self.crm.k("flaky_left")) else -1
        if flaky >= 0:
            raise RetryableError("sandbox says 503", status=503, retry_after=0.0)
        failing = set(self.crm.fault("fail_records", []))
        out = []
        for req in requests:
            if req.identity.external_id in failing:
                out.append(
                    PushResult(push_id=req.push_id, status="failed", reason="INVALID_FIELD: rejected by the CRM")
                )
                continue
            if self.s.push_delay:
                time.sleep(self.s.push_delay)
            problem = self.crm.apply(req)
            out.append(PushResult(push_id=req.push_id, status="failed" if problem else "ok", reason=problem))
        return out


@hookimpl
def hub_connector_types() -> list[type]:
    return [MemoryCRMConnector]
