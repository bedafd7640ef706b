"""Salesforce look-alike, sObject Collections: POST/PATCH/DELETE ``/composite/sobjects``.

At most 200 records and at most 10 type chunks (a new chunk starts each time the sObject type
changes along the list: {a1, a2, c1, a3} is three chunks), results in request order, per-record
errors (an update row whose id is not of its ``attributes`` type is MALFORMED_ID), ``allOrNone`` rollback, and ``Sforce-Auto-Assign`` passed through to Lead updates.
A mixin for ``SalesforceApp``.
"""

from __future__ import annotations

from typing import Any

from hub.sandbox.httpkit import HttpError, Request, Response
from hub.sandbox.salesforce_errors import sf_err as _sf_err
from hub.sandbox.salesforce_fields import JsonParserError
from hub.sandbox.salesforce_state import FIELDS, PREFIX, SfError

MAX_CHUNKS = 10
TOO_MANY_CHUNKS = "Cannot have more than 10 chunks in a single operation. Please rearrange the data to reduce chunking."
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
    "fields": [],
}


def _id_of(sobject: str, rid: str) -> bool:
    """Is ``rid`` a well-formed id of ``sobject`` (15 or 18 characters, its key prefix)? Salesforce
    reads a row's id as the type its ``attributes`` name; a row without a type is found by
    prefix here (what Salesforce answers to it is not confirmed)."""
    return len(rid) in (15, 18) and rid.isalnum() and rid[:3] == PREFIX[sobject]


class SalesforceCollectionRoutes:
    """Handlers that need ``sf`` (the org state), ``limits``, ``check_create`` and ``_create``."""

    sf: Any
    limits: Any

    def _create(
        self, t: str, fields: dict[str, Any], endpoint: str, req: Request | None = None, fresh: set[str] | None = None
    ) -> str:
        raise NotImplementedError

    def check_create(
        self,
        t: str,
        fields: dict[str, Any],
        pending: set[tuple[str, str]] | None = None,
        req: Request | None = None,
        fresh: set[str] | None = None,
    ) -> None:
        raise NotImplementedError

    def check_edit_duplicates(self, t: str, rid: str, fields: dict[str, Any], req: Request) -> None:
        raise NotImplementedError

    def _deserialize(self, recs: list[Any], raw: bytes) -> list[Any]:
        """Salesforce reads every record before writing any: one value of the wrong JSON kind
        refuses the whole request (400 JSON_PARSER_ERROR), and so does a field the object lacks
        or field-level security hides (400 INVALID_FIELD "No such column"), whatever
        ``allOrNone`` says: neither can be read into an SObject."""
        out: list[Any] = []
        for rec in recs:
            if not isinstance(rec, dict):
                raise HttpError(_sf_err(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of SObject"))
            t = (rec.get("attributes") or {}).get("type")
            rid = rec.get("Id") or rec.get("id")
            if t not in FIELDS and rid:
                found = self.sf.find(str(rid))
                t = found[0] if found else None
            unknown = self.sf.unknown_field(t, rec) if t in FIELDS else None
            if unknown is not None:
                message = f"No such column '{unknown}' on sobject of type {t}"
                raise HttpError(_sf_err(400, "INVALID_FIELD", message))
            try:
                out.append(self.sf.coerce_fields(t, rec, raw) if t in FIELDS else rec)
            except JsonParserError as e:
                raise HttpError(_sf_err(400, "JSON_PARSER_ERROR", str(e))) from None
        return out

    # ---- sObject collections -------------------------------------------------------------
    def _too_many(self) -> Response:
        """More records or ids than one call takes, worded as Salesforce words it for inserts
        (jsforce users quote "EXCEEDED_ID_LIMIT: record limit reached. cannot submit more than
        200 records into this call"); deletes get the same words (GK: not seen in a transcript)."""
        limit = self.limits.collection_max
        return _sf_err(
            400, "EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {limit} records into this call"
        )

    def _records(self, req: Request) -> tuple[list[dict[str, Any]], bool]:
        body = req.json() or {}
        recs = body.get("records")
        if not isinstance(recs, list):
            raise HttpError(_sf_err(400, "JSON_PARSER_ERROR", "records is required"))
        if len(recs) > self.limits.collection_max:
            raise HttpError(self._too_many())
        types = [(r.get("attributes") or {}).get("type") if isinstance(r, dict) else None for r in recs]
        chunks = sum(1 for i, t in enumerate(types) if i == 0 or t != types[i - 1])
        if chunks > MAX_CHUNKS:
            # Salesforce processes a mixed list chunk by chunk and refuses the whole request past 10.
            raise HttpError(_sf_err(400, "INVALID_BATCH_REQUEST", TOO_MANY_CHUNKS))
        return self._deserialize(recs, req.body or b""), bool(body.get("allOrNone", False))

    def _collection(self, items: list[Any], all_or_none: bool, op) -> Response:  # noqa: ANN001
        if all_or_none:
            # Validate everything first; nothing is written unless every record would succeed.
            results = [op(x, True) for x in items]
            if any(not r["success"] for r in results):
                rolled = {"success": False, "errors": [ROLLED_BACK]}
                return Response(200, [r if not r["success"] else dict(rolled, id=r["id"]) for r in results])
        return Response(200, [op(x, False) for x in items])

    def collection_create(self, req: Request) -> Response:
        recs, aon = self._records(req)
        pending: set[tuple[str, str]] = set()  # memberships the pre-pass has seen in this batch
        fresh: set[str] = set()  # ids made by this request: duplicate rules compare with the database only

        def op(rec: dict[str, Any], dry: bool) -> dict[str, Any]:
            t = (rec.get("attributes") or {}).get("type", "")
            try:
                if t not in FIELDS:
                    raise SfError("INVALID_TYPE", f"sObject type '{t}' is not supported.")
                if dry:
                    self.check_create(t, {k: v for k, v in rec.items() if k != "attributes"}, pending, req)
                    return {"id": None, "success": True, "errors": []}
                return {
                    "id": self._create(t, rec, f"POST {req.route}", req, fresh),
                    "success": True,
                    "errors": [],
                }
            except SfError as e:
                return {"success": False, "errors": [e.as_dict()]}

        return self._collection(recs, aon, op)

    def collection_update(self, req: Request) -> Response:
        recs, aon = self._records(req)
        header = req.header("sforce-auto-assign")

        def op(rec: dict[str, Any], dry: bool) -> dict[str, Any]:
            rid = str(rec.get("Id") or rec.get("id") or "")
            sent = (rec.get("attributes") or {}).get("type")
            try:
                if rid and sent in FIELDS and not _id_of(sent, rid):
                    raise SfError("MALFORMED_ID", f"{sent} ID: id value of incorrect type: {rid}", ["Id"])
                found = self.sf.find(rid) if rid else None
                if not found:
                    raise SfError(
                        "INVALID_CROSS_REFERENCE_KEY" if rid else "MISSING_ARGUMENT",
                        "invalid cross reference id" if rid else "Id not specified in an update call",
                    )
                t, r = found
                fields = {k: v for k, v in rec.items() if k not in ("attributes", "Id", "id")}
                self.sf.check_update(t, r, fields)
                self.check_edit_duplicates(t, r["Id"], fields, req)  # after validation, as Salesforce orders them
                if not dry:
                    self.sf.update(t, r["Id"], fields, f"PATCH {req.route}", auto_assign=header, checked=True)
                return {"id": r["Id"], "success": True, "errors": []}
            except SfError as e:
                return {"id": rid or None, "success": False, "errors": [e.as_dict()]}

        return self._collection(recs, aon, op)

    def collection_delete(self, req: Request) -> Response:
        ids = req.args("ids")
        if len(ids) > self.limits.collection_max:
            return self._too_many()
        aon = (req.arg("allOrNone") or "false").lower() == "true"

        def op(rid: str, dry: bool) -> dict[str, Any]:
            found = self.sf.find(rid)
            try:
                if not found:
                    raise SfError("ENTITY_IS_DELETED", "entity is deleted")
                if dry:
                    self.sf.check_delete(*found)
                else:
                    self.sf.delete(found[0], found[1]["Id"], f"DELETE {req.route}")
                return {"id": rid, "success": True, "errors": []}
            except SfError as e:
                return {"id": rid, "success": False, "errors": [e.as_dict()]}

        return self._collection(ids, aon, op)
