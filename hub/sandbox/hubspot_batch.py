"""HubSpot look-alike, batch endpoints: read, update, upsert, create, archive.

At most 100 inputs (50 for a read asking for ``propertiesWithHistory``); records not found answer 207 with per-record ``errors`` in HubSpot's shape,
while an unknown property or one invalid value refuses the whole batch with 400, as HubSpot does.
Batch create answers per record (207) only when every input carries an ``objectWriteTraceId``;
without them it is all or nothing too, an email a contact has being a 409 CONFLICT.
Two inputs that resolve to one record (the same id twice, or an old id next to the record it was
merged into) refuse the batch with 400 "Duplicate IDs found in batch input". Upsert needs an
``idProperty`` naming email or a ``hasUniqueValue`` property, and so does an update that gives
one; ``hs_object_id`` as ``idProperty`` is refused (an update names the record id without it).
A read takes record ids, or with ``idProperty`` the values of email or of a unique property
(batch read reference: "by record ID or ... by a custom unique value property"); a read keyed
by another property is refused as an upsert is (HubSpot's wording for a read is not recorded).
A mixin for ``HubSpotApp`` (hubspot_server.py), which provides rendering and record lookup.
"""

from __future__ import annotations

from typing import Any

from hub.sandbox.clock import iso_ms
from hub.sandbox.httpkit import HttpError, Request, Response
from hub.sandbox.hubspot_errors import err as _err
from hub.sandbox.hubspot_errors import invalid_message, invalid_values

#: inputs a batch read takes when it asks for ``propertiesWithHistory``
HISTORY_BATCH_MAX = 50


class HubSpotBatchRoutes:
    """Handlers that need ``hs``, ``world`` and the app's record helpers."""

    hs: Any
    world: Any

    def _contacts_only(self, req: Request) -> None:
        raise NotImplementedError

    def _body(self, req: Request) -> dict[str, Any]:
        raise NotImplementedError

    def _render(
        self, rec: dict[str, Any], props: list[str] | None, assoc: list[str] | None = None, kind: str = "contacts"
    ) -> dict[str, Any]:
        raise NotImplementedError

    def _by_email(self, email: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def _create(self, props: dict[str, Any], endpoint: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        raise NotImplementedError

    # ---- batch ---------------------------------------------------------------------------
    def _inputs(self, req: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self._contacts_only(req)
        body = self._body(req)
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise HttpError(_err(400, "Invalid input JSON: inputs is required", "VALIDATION_ERROR"))
        if len(inputs) > 100:
            # the limit is HubSpot's (≤100 inputs, anchors: batch); its status, wording and
            # subCategory for a bigger batch are not recorded anywhere we found: ours
            raise HttpError(
                _err(
                    400,
                    f"Batch input size {len(inputs)} exceeds the limit of 100",
                    "VALIDATION_ERROR",
                    subCategory="BATCH_TOO_LARGE",
                )
            )
        return body, inputs

    def _batch_response(self, started: str, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> Response:
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": iso_ms(self.world.clock.now_ms()),
            "links": {},  # HubSpot sends it; the SDK's BatchResponse...WithErrors model requires it
        }
        if errors:
            # each error as the docs' example shows it (and the SDK's StandardError requires)
            body["errors"] = [{"errors": [], "links": {}, **e} for e in errors]
            body["numErrors"] = len(errors)
            return Response(207, body)
        return Response(200, body)

    def batch_read(self, req: Request) -> Response:
        body, inputs = self._inputs(req)
        if body.get("propertiesWithHistory") and len(inputs) > HISTORY_BATCH_MAX:
            # HubSpot's body as seen live (activepieces/activepieces#9359): with histories asked
            # for, a batch read takes at most 50 inputs, not 100
            return _err(
                400,
                f"The maximum number of inputs supported in a batch request for property histories is "
                f"{HISTORY_BATCH_MAX}. Please reduce the number of items and try again",
                "VALIDATION_ERROR",
            )
        started = iso_ms(self.world.clock.now_ms())
        props = body.get("properties") or None
        results, missing = [], []
        id_prop = body.get("idProperty")
        if id_prop in ("hs_object_id", ""):
            id_prop = None  # the record id, as without idProperty
        refused = self._upsert_key(id_prop) if id_prop else None
        if refused is not None:  # a value that many records may share cannot name one
            return refused
        for inp in inputs:
            oid = str(inp.get("id"))
            rec = self._target({"id": oid, "idProperty": id_prop})
            if rec is None:
                missing.append(oid)
            else:
                results.append(self._render(rec, props))
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            ]
            if missing
            else []
        )
        return self._batch_response(started, results, errors)

    def batch_update(self, req: Request) -> Response:
        _, inputs = self._inputs(req)
        started = iso_ms(self.world.clock.now_ms())
        for inp in inputs:  # by a unique property, or by record id without idProperty
            refused = self._upsert_key(inp["idProperty"]) if inp.get("idProperty") else None
            if refused is not None:
                return refused
        recs = [self._target(inp) for inp in inputs]
        dup = _duplicates([r["id"] if r else str(inp.get("id")) for r, inp in zip(recs, inputs, strict=True)])
        if dup is not None:
            return dup
        refused = self._refuse_values([inp.get("properties") or {} for inp in inputs])
        if refused is not None:  # one bad value refuses the whole batch: nothing is written
            return refused
        results, errors, missing = [], [], []
        for inp, rec in zip(inputs, recs, strict=True):
            oid = str(inp.get("id"))
            props = inp.get("properties") or {}
            if rec is None:
                missing.append(oid)
                continue
            self.hs.set_properties(rec["id"], props, f"POST {req.route}")
            results.append(_traced(self._render(rec, list(props)), inp))
        if missing:
            errors.append(
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted "
                    "or not exist. Check that ids are valid.",
                    "context": {"ids": missing},
                }
            )
        return self._batch_response(started, results, errors)

    def batch_upsert(self, req: Request) -> Response:
        _, inputs = self._inputs(req)
        started = iso_ms(self.world.clock.now_ms())
        for inp in inputs:
            refused = self._upsert_key(inp.get("idProperty"))
            if refused is not None:
                return refused
        keys = [(inp["idProperty"], _key(inp["idProperty"], inp.get("id"))) for inp in inputs]
        dup = _duplicates([f"{p}={k}" for p, k in keys], [k for _, k in keys])
        if dup is not None:
            return dup
        recs = [self._by_email(k) if p == "email" else self._by_unique(p, k) for p, k in keys]
        writes = [
            dict(inp.get("properties") or {}) if rec else {id_prop: key, **(inp.get("properties") or {})}
            for inp, rec, (id_prop, key) in zip(inputs, recs, keys, strict=True)
        ]
        # HubSpot documents per-record answers for batch create only (error-handling guide,
        # "Multi-status errors"): a bad value refuses the whole upsert, as it does an update.
        # Not confirmed live for upsert; this is the stricter of the two readings.
        refused = self._refuse_values(writes)
        if refused is not None:
            return refused
        results, errors = [], []
        for inp, rec, props, (_, key) in zip(inputs, recs, writes, keys, strict=True):
            if rec is not None:
                self.hs.set_properties(rec["id"], props, f"POST {req.route}")
                results.append(_traced(dict(self._render(rec, list(props)), new=False), inp))
                continue
            new, err = self._create(props, f"POST {req.route}")
            if err:
                errors.append(dict(err, context={"ids": [key]}))
            else:
                results.append(_traced(dict(self._render(new, list(props)), new=True), inp))
        return self._batch_response(started, results, errors)

    def _refuse_values(self, writes: list[dict[str, Any]]) -> Response | None:
        """HubSpot's 400 naming every property value in ``writes`` it will not store (unknown,
        read-only or invalid), or None. Single-record and batch writes share it, as HubSpot
        answers both with one body: "Property values were not valid", naming the property and
        not the record."""
        refused = [(k, code, msg, props[k]) for props in writes for k, code, msg in self.hs.invalid(props)]
        return invalid_values(refused, self.hs.portal_id) if refused else None

    def _target(self, inp: dict[str, Any]) -> dict[str, Any] | None:
        """The live record an update input names: by record id (following merges) or by idProperty."""
        key, id_prop = str(inp.get("id")), inp.get("idProperty")
        if not id_prop:
            return self.hs.live(key)
        return self._by_email(key) if id_prop == "email" else self._by_unique(id_prop, key)

    def _upsert_key(self, id_prop: Any) -> Response | None:
        """None when ``id_prop`` can key an upsert (email, or a property with unique values), else
        HubSpot's 400. hs_object_id is refused too: it is the record id, not a unique property
        (segmentio/action-destinations PR #3957 quotes HubSpot's answer)."""
        if not id_prop:
            # HubSpot requires it (its docs: "the name of a unique property"); this wording is ours
            return _err(400, "idProperty is required: name email or a property with unique values", "VALIDATION_ERROR")
        if id_prop == "email" or (self.hs.properties.get(id_prop) or {}).get("hasUniqueValue"):
            return None
        return _err(
            400,
            f"Unable to perform update/upsert by non-unique 0-1 property {id_prop} in portal ID {self.hs.portal_id}",
            "VALIDATION_ERROR",
        )

    def _by_unique(self, prop: str, value: str) -> dict[str, Any] | None:
        for r in self.hs.records.values():
            if not r["archived"] and str(r["properties"].get(prop) or "") == value:
                return r
        return None

    def batch_create(self, req: Request) -> Response:
        """Per-record answers (207, each error keyed by ``context.objectWriteTraceId``) only when
        every input carries a distinct ``objectWriteTraceId``, which is how HubSpot's guide says
        to turn them on; otherwise one bad input refuses the call and nothing is created. The
        answer to trace ids on some inputs only, or repeated, is not documented: here it is the
        all-or-nothing one."""
        _, inputs = self._inputs(req)
        started = iso_ms(self.world.clock.now_ms())
        traces = [str(inp.get("objectWriteTraceId") or "") for inp in inputs]
        writes = [dict(inp.get("properties") or {}) for inp in inputs]
        if not all(traces) or len(set(traces)) < len(traces):
            refused = self._refuse_values(writes) or self._conflict(writes)
            if refused is not None:
                return refused
        results, errors = [], []
        for props, trace in zip(writes, traces, strict=True):
            bad = [(k, code, msg, props[k]) for k, code, msg in self.hs.invalid(props)]
            existing = self._by_email(str(props["email"])) if props.get("email") else None
            if bad:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": invalid_message(bad, self.hs.portal_id),
                        "context": {"objectWriteTraceId": [trace]},
                    }
                )
            elif existing is not None:
                # as amp-labs/connectors recorded it (batch/create err-partial-success.json)
                errors.append(
                    {
                        "status": "error",
                        "category": "CONFLICT",
                        "message": f"Contact already exists. Existing ID: {existing['id']}",
                        "context": {"objectWriteTraceId": [trace], "existingId": [existing["id"]]},
                    }
                )
            else:
                new, _ = self._create(props, f"POST {req.route}")
                results.append(self._render(new, list(props)))
        resp = self._batch_response(started, results, errors)
        if resp.status == 200:
            resp.status = 201
        return resp

    def _conflict(self, writes: list[dict[str, Any]]) -> Response | None:
        """HubSpot's 409 for a batch create naming an email a contact has, naming the first
        such contact only (HubSpot/hubspot-api-python#51), or None. Two inputs with one new
        email are refused too, with no id to name: the bare "Contact already exists" of
        amp-labs/connectors' recorded err-conflict.json (which case that recording was is not
        known)."""
        seen: set[str] = set()
        for props in writes:
            email = str(props.get("email") or "").strip().lower()
            if not email:
                continue
            existing = self._by_email(email)
            if existing is not None:
                return _err(409, f"Contact already exists. Existing ID: {existing['id']}", "CONFLICT")
            if email in seen:
                return _err(409, "Contact already exists", "CONFLICT")
            seen.add(email)
        return None

    def batch_archive(self, req: Request) -> Response:
        _, inputs = self._inputs(req)
        for inp in inputs:
            rec = self.hs.live(str(inp.get("id")))
            if rec is not None:
                self.hs.archive(rec["id"], f"POST {req.route}")
        return Response(204)


def _key(id_prop: str, value: Any) -> str:
    """An upsert key as HubSpot compares it: emails without case or surrounding blanks."""
    return str(value).strip().lower() if id_prop == "email" else str(value)


def _duplicates(resolved: list[str], shown: list[str] | None = None) -> Response | None:
    """HubSpot's 400 when two inputs land on one record, naming it; else None. The message is
    HubSpot's as recorded in rudderlabs/rudder-transformer and amp-labs/connectors fixtures."""
    shown = shown or resolved
    seen: set[str] = set()
    dups: list[str] = []
    for key, name in zip(resolved, shown, strict=True):
        if key in seen and name not in dups:
            dups.append(name)
        seen.add(key)
    if not dups:
        return None
    return _err(
        400,
        f"Duplicate IDs found in batch input: [{', '.join(dups)}]. IDs must be unique",
        "VALIDATION_ERROR",
        context={"ids": dups},
    )


def _traced(result: dict[str, Any], inp: dict[str, Any]) -> dict[str, Any]:
    """A result carries its input's ``objectWriteTraceId`` back, as HubSpot's batch responses do."""
    if inp.get("objectWriteTraceId") is not None:
        result["objectWriteTraceId"] = str(inp["objectWriteTraceId"])
    return result
