"""Contacts and identity resolution.

A pulled record matches an existing contact by its external id, else by normalized email;
otherwise it becomes a new contact. The same person in two connectors is one contact with
two identities. Each identity keeps the record as its connector last reported it; the contact
row is the merge of its identity records (newest non-empty value wins; consent flags are
OR-ed, so an opt-out anywhere is an opt-out everywhere).

Upserts are idempotent: a record whose content hash (hub-written fields excluded, so echoes
of our own pushes do not count) is unchanged changes nothing and is not reported as changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from hub.models import Company, Consent, Contact, Identity, LiveSet, RecordError, normalize_email, utcnow
from hub.store.batch import among, among_keys
from hub.store.schema import contact_emails, contacts, identities

# Owner is compared on its own (against the owner we last pushed or saw), so the echo of an
# owner assignment is not a change but a salesperson's reassignment is.
_HASH_EXCLUDE = {"id", "crm_fields", "lists", "updated_at", "identities", "owner"}
_KEY = (identities.c.connector, identities.c.object_type, identities.c.external_id)


def record_hash(contact: Contact) -> str:
    data = contact.model_dump(mode="json", exclude=_HASH_EXCLUDE)
    data["emails"] = sorted(filter(None, (normalize_email(e) for e in contact.emails)))
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@dataclass
class UpsertResult:
    changed: set[int] = field(default_factory=set)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    #: records the store cannot hold (named field and reason); the rest of the page is stored
    rejects: list[RecordError] = field(default_factory=list)
    #: contacts whose email opt-out went from False to True, with when (an outcome to learn from)
    opted_out: dict[int, datetime] = field(default_factory=dict)
    #: records of forgotten people (on the suppression list), not stored
    suppressed: int = 0
    #: per contact that existed before this page, the watched columns (``upsert_contacts``'
    #: ``watch``) whose merged value changed: (before, after); declared field outcomes read these
    field_changes: dict[int, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    #: when each changed contact's record says it changed (the newest identity's updated_at)
    changed_when: dict[int, datetime] = field(default_factory=dict)


def _merge(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge identity records (oldest first) into contact columns."""
    row: dict[str, Any] = {"properties": {}, "email_opt_out": False, "do_not_contact": False}
    emails: list[str] = []
    newest: datetime | None = None
    for rec in records:
        c = Contact.model_validate(rec)
        for col, val in (
            ("first_name", c.first_name),
            ("last_name", c.last_name),
            ("company_name", c.company.name),
            ("industry", c.company.industry),
            ("employees", c.company.employees),
            ("annual_revenue", c.company.annual_revenue),
            ("country", c.company.country),
            ("timezone", c.company.timezone),
            ("job_title", c.job_title),
            ("role", c.role),
            ("lifecycle_stage", c.lifecycle_stage),
            ("owner", c.owner),
        ):
            if val not in (None, ""):
                row[col] = val
        row["properties"].update(c.properties)
        row["email_opt_out"] |= c.consent.email_opt_out
        row["do_not_contact"] |= c.consent.do_not_contact
        emails += [e for e in (normalize_email(x) for x in c.emails) if e and e not in emails]
        ts = aware(c.updated_at)
        if ts and (newest is None or ts > newest):
            newest = ts
    row["primary_email"] = emails[0] if emails else None
    row["updated_at"] = newest
    row["_emails"] = emails
    return row


_NEVER = datetime.min.replace(tzinfo=UTC)


def _sort_key(rec: dict[str, Any]) -> datetime:
    """When the record says it changed, as an instant: the stored text of records written before
    times were kept in UTC carries other offsets, and "…00.5Z" sorts before "…00Z" as text."""
    ts = rec.get("updated_at")
    return aware(datetime.fromisoformat(ts)) if ts else _NEVER


def _fill(newer: Any, older: Any) -> Any:
    """``newer`` with its empty values (and missing keys, nested) taken from ``older``."""
    if isinstance(newer, dict) and isinstance(older, dict):
        return {**older, **{k: _fill(v, older.get(k)) for k, v in newer.items()}}
    return older if newer is None or newer in ("", [], {}) else newer


def _newest_first(items: Sequence[Contact]) -> list[Contact]:
    """One record per identity: the newest copy (by ``updated_at``; a tie, the later one),
    its gaps filled from the older copies."""
    kept: dict[tuple[str, str, str], Contact] = {}
    for c in items:
        key = c.identities[0].key()
        prev = kept.get(key)
        if prev is None:
            kept[key] = c
            continue
        new, old = (c, prev) if (aware(c.updated_at) or _NEVER) >= (aware(prev.updated_at) or _NEVER) else (prev, c)
        kept[key] = Contact.model_validate(_fill(new.model_dump(mode="json"), old.model_dump(mode="json")))
    return list(kept.values())


def upsert_contacts(
    conn: Connection,
    items: Sequence[Contact],
    now: datetime | None = None,
    watch: Collection[str] = (),
    keep_newer: bool = False,
) -> UpsertResult:
    """Resolve and store one page of pulled contacts (each with exactly one identity).

    ``watch``: merged columns (or ``properties.<key>``) whose changes on known contacts are
    reported in ``field_changes`` (declared field outcomes); none by default, at no cost.

    ``keep_newer``: for a source whose records arrive out of order (Segment identifies: a
    library's retry, an import of history), a record older than the stored one (by
    ``updated_at``) only fills the stored record's empty fields. CRM syncs leave it off: they
    read records in modified order and a record's time only grows, so the newest read is the
    record; a time that went back (a restored record, a changed time format) must not freeze it."""
    now = now or utcnow()
    result = UpsertResult()
    if not items:
        return result
    items = _storable(items, result)
    items = _not_suppressed(conn, items, result)
    if not items:
        return result
    # one record per identity: the last copy in a page, or with keep_newer the newest
    items = _newest_first(items) if keep_newer else list({c.identities[0].key(): c for c in items}.values())
    keys = [c.identities[0].key() for c in items]
    existing = {
        (r.connector, r.object_type, r.external_id): r
        for r in conn.execute(select(identities).where(among_keys(conn, _KEY, keys)))
    }
    all_emails = {e for c in items for e in (normalize_email(x) for x in c.emails) if e}
    by_email = (
        dict(
            conn.execute(
                select(contact_emails.c.email, contact_emails.c.contact_id).where(
                    among(conn, contact_emails.c.email, all_emails)
                )
            ).all()
        )
        if all_emails
        else {}
    )
    fresh: set[int] = set()  # created in this page: an opt-out on arrival is not a new outcome
    ident_updates: list[dict[str, Any]] = []
    new_items: list[tuple[Identity, dict[str, Any], list[str]]] = []
    for contact in items:
        ident = contact.identities[0]
        rec = contact.model_dump(mode="json", exclude={"id", "identities"})
        h = record_hash(contact)
        old = existing.get(ident.key())
        ident_values = {
            "record": rec,
            "record_hash": h,
            "crm_fields": contact.crm_fields,
            "owner": contact.owner,
            "source_updated_at": aware(contact.updated_at),
            "synced_at": now,
        }
        if contact.lists is not None:
            ident_values["lists"] = sorted(contact.lists)
        stored_at = aware(old.source_updated_at) if old is not None and keep_newer else None
        if stored_at and contact.updated_at and aware(contact.updated_at) < stored_at:
            rec = _fill(old.record, rec)  # an older record: it only fills gaps
            h = record_hash(Contact.model_validate({**rec, "identities": contact.identities}))
            ident_values = {"record": rec, "record_hash": h, "synced_at": now}
        if old is not None:
            ident_updates.append({"_id": old.id, **ident_values})
            if old.record_hash == h and (contact.owner or None) == (old.owner or None):
                result.unchanged += 1
            else:
                result.updated += 1
                result.changed.add(old.contact_id)
            continue
        ident_values.setdefault("lists", sorted(contact.lists or []))
        emails = [e for e in (normalize_email(x) for x in contact.emails) if e]
        new_items.append((ident, ident_values, emails))
    _update_many(conn, identities, ident_updates)
    if new_items:
        _insert_new_identities(conn, new_items, by_email, now, result, fresh)
    changes: dict[int, dict[str, tuple[Any, Any]]] = {}
    flipped = refresh_contacts(conn, result.changed, now, watch, changes, result.changed_when)
    result.opted_out = {c: t for c, t in flipped.items() if c not in fresh}
    result.field_changes = {c: f for c, f in changes.items() if c not in fresh}
    return result


def _update_many(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """UPDATE ... WHERE id = :_id for many rows in one round trip per distinct set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(r)), []).append(r)
    for group in groups.values():
        conn.execute(update(table).where(table.c.id == bindparam("_id")), group)


def _insert_new_identities(
    conn: Connection,
    new_items: list[tuple[Identity, dict[str, Any], list[str]]],
    by_email: dict[str, int],
    now: datetime,
    result: UpsertResult,
    fresh: set[int],
) -> None:
    """Attach each new identity to the contact owning one of its emails (stored, or created
    earlier in this page), else to a new contact; all contacts and identities in bulk."""
    owner_of: dict[str, int | None] = dict(by_email)  # email -> contact id, or None for "new #k"
    slot_of: dict[str, int] = {}  # email -> index of a contact created in this page
    targets: list[int | tuple[str, int]] = []
    n_new = 0
    for _, _, emails in new_items:
        target: int | tuple[str, int] | None = None
        for e in emails:
            if owner_of.get(e) is not None:
                target = owner_of[e]
                break
            if e in slot_of:
                target = ("new", slot_of[e])
                break
        if target is None:
            target = ("new", n_new)
            n_new += 1
            result.created += 1
        else:
            result.updated += 1
        for e in emails:
            if e not in owner_of and e not in slot_of:
                if isinstance(target, tuple):
                    slot_of[e] = target[1]
                else:
                    owner_of[e] = target
        targets.append(target)
    created: list[int] = []
    if n_new:
        blank = {
            "created_at": now,
            "changed_at": now,
            "properties": {},
            "email_opt_out": False,
            "do_not_contact": False,
        }
        created = list(conn.execute(insert(contacts).returning(contacts.c.id), [blank] * n_new).scalars())
        fresh.update(created)
    rows = []
    for (ident, values, _), target in zip(new_items, targets, strict=True):
        contact_id = created[target[1]] if isinstance(target, tuple) else target
        rows.append(
            {
                "contact_id": contact_id,
                "connector": ident.connector,
                "object_type": ident.object_type,
                "external_id": ident.external_id,
                **values,
            }
        )
        result.changed.add(contact_id)
    conn.execute(insert(identities), rows)


def _not_suppressed(conn: Connection, items: list[Contact], result: UpsertResult) -> list[Contact]:
    """Drop records whose email or record id belongs to a forgotten person (counted only)."""
    from hub.store.suppressions import digests_of, suppressed

    if not items:
        return items
    per_item = [digests_of(c) for c in items]
    hit = suppressed(conn, set().union(*per_item))
    if not hit:
        return items
    keep = [c for c, ds in zip(items, per_item, strict=True) if not ds & hit]
    result.suppressed += len(items) - len(keep)
    return keep


def _storable(items: Sequence[Contact], result: UpsertResult) -> list[Contact]:
    """Drop (into ``result.rejects``) records the store cannot hold, naming record and field."""
    from hub.store.limits import contact_problems

    keep = []
    for c in items:
        if len(c.identities) != 1:
            ref = c.identities[0].external_id if c.identities else "?"
            result.rejects.append(RecordError(external_id=ref, reason="a pulled record needs exactly one identity"))
            continue
        problems = contact_problems(c)
        if problems:
            # the whole id, so callers can match the reject to their record (an importer's row);
            # whoever prints it caps its length
            reason = "; ".join(f"{f} {why}" for f, why in problems)
            result.rejects.append(RecordError(external_id=c.identities[0].external_id, reason=reason))
            continue
        keep.append(c)
    return keep


def _diff(before: Any, row: dict[str, Any], watch: Collection[str]) -> dict[str, tuple[Any, Any]]:
    out = {}
    for name in watch:
        if name.startswith("properties."):
            key = name.removeprefix("properties.")
            old, new = (before.properties or {}).get(key), (row.get("properties") or {}).get(key)
        else:
            old, new = getattr(before, name), row.get(name)
        if old != new:
            out[name] = (old, new)
    return out


def refresh_contacts(
    conn: Connection,
    contact_ids: Iterable[int],
    now: datetime,
    watch: Collection[str] = (),
    changes: dict[int, dict[str, tuple[Any, Any]]] | None = None,
    when: dict[int, datetime] | None = None,
) -> dict[int, datetime]:
    """Re-merge contacts from their identities; returns the ones that just opted out. With
    ``watch``, fills ``changes`` with the watched columns that changed (and ``when``)."""
    ids = sorted(set(contact_ids))
    flipped: dict[int, datetime] = {}
    if not ids:
        return flipped
    plain = [c for c in watch if not c.startswith("properties.")]
    cols = [
        contacts.c.id,
        contacts.c.email_opt_out,
        contacts.c.consent_hold,
        *(contacts.c[c] for c in plain if c not in ("email_opt_out", "consent_hold")),
    ]
    if len(plain) < len(watch):
        cols.append(contacts.c.properties)
    before = {r.id: r for r in conn.execute(select(*cols).where(among(conn, contacts.c.id, ids)))}
    was_out = {i: r.email_opt_out for i, r in before.items()}
    recs: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for cid, rec in conn.execute(
        select(identities.c.contact_id, identities.c.record).where(among(conn, identities.c.contact_id, ids))
    ):
        recs[cid].append(rec)
    owned = {}
    for email, cid in conn.execute(
        select(contact_emails.c.email, contact_emails.c.contact_id).where(among(conn, contact_emails.c.contact_id, ids))
    ):
        owned.setdefault(cid, set()).add(email)
    updates: list[dict[str, Any]] = []
    claims: list[tuple[int, str]] = []
    for cid in ids:
        if not recs[cid]:
            continue
        row = _merge(sorted(recs[cid], key=_sort_key))
        hold = before[cid].consent_hold if cid in before else None
        if hold:  # an opt-out said through a record merged away (hub/store/merge.py) stays said
            row["email_opt_out"] |= bool(hold.get("email_opt_out"))
            row["do_not_contact"] |= bool(hold.get("do_not_contact"))
        emails = row.pop("_emails")
        updates.append({"_id": cid, "changed_at": now, **row})
        if watch and changes is not None and cid in before:
            diff = _diff(before[cid], row, watch)
            if diff:
                changes[cid] = diff
                if when is not None:
                    when[cid] = aware(row.get("updated_at")) or now
        if row["email_opt_out"] and was_out.get(cid) is False:
            flipped[cid] = row.get("updated_at") or now
        claims += [(cid, e) for e in emails if e not in owned.get(cid, set())]
    _update_many(conn, contacts, updates)
    if claims:
        # an email belongs to the first contact that claims it (stored first, then in id order)
        taken = set(
            conn.execute(
                select(contact_emails.c.email).where(among(conn, contact_emails.c.email, {e for _, e in claims}))
            ).scalars()
        )
        rows = []
        for cid, e in claims:
            if e not in taken:
                taken.add(e)
                rows.append({"email": e, "contact_id": cid})
        if rows:
            conn.execute(insert(contact_emails), rows)
    return flipped


def remove_identities(conn: Connection, gone: Sequence[Identity], now: datetime | None = None) -> UpsertResult:
    """Forget archived or merged-away records; a contact left with no identity is deleted."""
    result = UpsertResult()
    if not gone:
        return result
    keys = [i.key() for i in gone]
    rows = conn.execute(select(identities.c.id, identities.c.contact_id).where(among_keys(conn, _KEY, keys))).all()
    if not rows:
        return result
    conn.execute(delete(identities).where(among(conn, identities.c.id, [r.id for r in rows])))
    affected = {r.contact_id for r in rows}
    still = set(
        conn.execute(select(identities.c.contact_id).where(among(conn, identities.c.contact_id, affected))).scalars()
    )
    orphans = affected - still
    if orphans:
        delete_contacts(conn, orphans)
        result.deleted = len(orphans)
    if still:
        refresh_contacts(conn, still, now or utcnow())
        result.changed |= still
    return result


def reconcile_identities(conn: Connection, live: LiveSet, now: datetime | None = None) -> UpsertResult:
    """Remove the identities of ``live``'s connector and object type that ``live`` lacks."""
    held = conn.execute(
        select(identities.c.external_id).where(
            identities.c.connector == live.connector, identities.c.object_type == live.object_type
        )
    ).scalars()
    present = set(live.external_ids)
    gone = [
        Identity(connector=live.connector, object_type=live.object_type, external_id=x)
        for x in held
        if x not in present
    ]
    return remove_identities(conn, gone, now)


def delete_contacts(conn: Connection, ids: Iterable[int]) -> None:
    """Delete contacts and everything hanging off them (explicit, so SQLite without FK cascade is safe)."""
    from hub.store.schema import (
        activities,
        approvals,
        contact_profiles,
        decision_features,
        decisions,
        outcomes,
        pushes,
    )

    ids = list(ids)
    dec_ids = select(decisions.c.id).where(among(conn, decisions.c.contact_id, ids))
    conn.execute(delete(approvals).where(among(conn, approvals.c.contact_id, ids)))
    conn.execute(delete(outcomes).where(outcomes.c.decision_id.in_(dec_ids)))
    conn.execute(delete(decision_features).where(decision_features.c.decision_id.in_(dec_ids)))
    conn.execute(delete(contact_profiles).where(among(conn, contact_profiles.c.contact_id, ids)))
    conn.execute(delete(pushes).where(among(conn, pushes.c.contact_id, ids)))
    conn.execute(delete(decisions).where(among(conn, decisions.c.contact_id, ids)))
    conn.execute(delete(activities).where(among(conn, activities.c.contact_id, ids)))
    conn.execute(delete(contact_emails).where(among(conn, contact_emails.c.contact_id, ids)))
    conn.execute(delete(identities).where(among(conn, identities.c.contact_id, ids)))
    conn.execute(delete(contacts).where(among(conn, contacts.c.id, ids)))


def _row_to_contact(row: Any, idents: list[Identity], emails: list[str]) -> Contact:
    return Contact(
        id=row.id,
        identities=idents,
        emails=emails,
        first_name=row.first_name,
        last_name=row.last_name,
        company=Company(
            name=row.company_name,
            industry=row.industry,
            employees=row.employees,
            annual_revenue=row.annual_revenue,
            country=row.country,
            timezone=row.timezone,
        ),
        job_title=row.job_title,
        role=row.role,
        lifecycle_stage=row.lifecycle_stage,
        owner=row.owner,
        consent=Consent(email_opt_out=row.email_opt_out, do_not_contact=row.do_not_contact),
        properties=row.properties or {},
        updated_at=aware(row.updated_at),
    )


def load_contacts(conn: Connection, ids: Iterable[int]) -> list[Contact]:
    ids = sorted(set(ids))
    if not ids:
        return []
    idents: dict[int, list[Identity]] = {}
    for r in conn.execute(
        select(identities.c.contact_id, identities.c.connector, identities.c.object_type, identities.c.external_id)
        .where(among(conn, identities.c.contact_id, ids))
        .order_by(identities.c.id)
    ):
        idents.setdefault(r.contact_id, []).append(
            Identity(connector=r.connector, object_type=r.object_type, external_id=r.external_id)
        )
    emails: dict[int, list[str]] = {}
    for email, cid in conn.execute(
        select(contact_emails.c.email, contact_emails.c.contact_id).where(among(conn, contact_emails.c.contact_id, ids))
    ):
        emails.setdefault(cid, []).append(email)
    rows = conn.execute(select(contacts).where(among(conn, contacts.c.id, ids)).order_by(contacts.c.id)).all()
    out = []
    for r in rows:
        em = sorted(emails.get(r.id, []), key=lambda e: (e != r.primary_email, e))
        out.append(_row_to_contact(r, idents.get(r.id, []), em))
    return out


def resolve_identity_ids(conn: Connection, refs: Sequence[Identity]) -> dict[tuple[str, str, str], int]:
    if not refs:
        return {}
    keys = list({r.key() for r in refs})
    return {
        (r.connector, r.object_type, r.external_id): r.contact_id
        for r in conn.execute(
            select(
                identities.c.connector, identities.c.object_type, identities.c.external_id, identities.c.contact_id
            ).where(among_keys(conn, _KEY, keys))
        )
    }


def resolve_emails(conn: Connection, emails: Sequence[str]) -> dict[str, int]:
    """Normalized email -> contact id, for activities that only know an address."""
    wanted = {e for e in (normalize_email(x) for x in emails) if e}
    if not wanted:
        return {}
    q = select(contact_emails.c.email, contact_emails.c.contact_id).where(among(conn, contact_emails.c.email, wanted))
    return {e: cid for e, cid in conn.execute(q)}
