"""Forget a person: remove them from the store, optionally clearing what the hub wrote in CRMs.

Ordering, so that nothing is lost and nothing written after the clear:

1. In one transaction: every open push for the person is superseded (a pending decision
   must not land after the clear), and, with ``clear_crm``, one ``set_fields`` push per CRM
   record sets every hub field to empty. These hang off a ``forget`` decision, so they have
   the same queue, diff, retries and error reporting as any other write.
2. Those pushes are sent now (the same ``push_connector`` the workers run).
3. The person is deleted (contact, identities, emails, decisions, pushes, outcomes,
   activities) only if every clear push is done or skipped (the CRM had nothing to clear)
   and no other write for them is in flight. Otherwise nothing is deleted and the report
   says what is still open: run the command again (it is idempotent) once the CRM answers.
   Deleting first would drop the clear pushes with the contact, and the CRM would keep the
   hub's fields.

Synced activities held for their contact (hub/store/held.py) and API and Segment events held
for them (hub/store/anonymous.py) under their addresses or record ids are deleted with them,
each found by the key its store wrote it under (a long record id's is a hash). Then every other table is swept for what still names the person
(hub/forget_sweep.py): audit notes and other free text are redacted (the rows kept), held
events and held activities under their address or an alias of it are deleted, a sync cursor
naming their record is reset.

The CRM record itself stays (it is the CRM's). So that the next sync does not read the
person in again, step 1 also puts them on the suppression list (hub/store/suppressions.py):
one-way hashes of their emails and CRM record ids, which sync and the events API check. An
address with no contact is suppressed too (a request can come before the first sync).
``unsuppress`` lifts it for a person who consents again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, update

from hub.fields import HUB_FIELDS
from hub.forget_sweep import MIN_ID, Traces, sweep, traces_of
from hub.governance import approvals
from hub.models import ActionKind, Identity, normalize_email, utcnow
from hub.pipeline.context import HubContext
from hub.pipeline.push import push_connector
from hub.store import anonymous as anonymous_store
from hub.store import contacts as contact_store
from hub.store import held as held_store
from hub.store import pushes as push_store
from hub.store import suppressions as suppression_store
from hub.store.schema import (
    activities,
    contact_emails,
    contacts,
    decisions,
    identities,
    outcomes,
    pushes,
)
from hub.store.schema import approvals as approval_table

FORGET_POLICY = push_store.FORGET_POLICY
FORGOTTEN = "withdrawn: the person is being forgotten (hub forget)"
_PER_CONTACT = {
    "identities": identities,
    "emails": contact_emails,
    "decisions": decisions,
    "pushes": pushes,
    "activities": activities,
}


@dataclass
class ForgetReport:
    email: str
    found: bool = False
    contact_id: int | None = None
    deleted: dict[str, int] = field(default_factory=dict)
    #: connector -> clear pushes by state
    cleared: dict[str, dict[str, int]] = field(default_factory=dict)
    #: why nothing was deleted yet (empty when the person is gone)
    waiting: list[str] = field(default_factory=list)
    #: hashes added to the suppression list by this call (0 when already there)
    suppressed: int = 0
    #: rows of other tables that still named the person: deleted, reset or redacted
    swept: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.found and not self.waiting


def _contact_for(conn: Connection, email: str) -> int | None:
    normalized = normalize_email(email)
    if normalized is None:
        return None
    return conn.execute(select(contact_emails.c.contact_id).where(contact_emails.c.email == normalized)).scalar()


def _queue_clear(ctx: HubContext, conn: Connection, contact_id: int) -> None:
    """Step 1: stop pending writes and writes held for approval (no one may approve them now),
    and queue one clearing write per CRM record."""
    now = utcnow()
    held = conn.execute(
        select(approval_table.c.id, approval_table.c.push_id)
        .join(pushes, pushes.c.id == approval_table.c.push_id)
        .where(pushes.c.contact_id == contact_id, approval_table.c.state == "awaiting")
    ).all()
    if held:
        approvals.withdraw(conn, [r.id for r in held], [r.push_id for r in held], now, FORGOTTEN)
    conn.execute(
        update(pushes)
        .where(
            pushes.c.contact_id == contact_id,
            pushes.c.state == "pending",
            pushes.c.decision_id.not_in(_forget_decisions(contact_id)),
        )
        .values(state="superseded", updated_at=now)
    )
    empty = {"fields": {f.name: "" for f in HUB_FIELDS}}
    decision_id = conn.execute(_forget_decisions(contact_id)).scalar()
    if decision_id is None:
        decision_id = conn.execute(
            decisions.insert().values(
                contact_id=contact_id,
                request_key=f"forget-{contact_id}",
                policy=FORGET_POLICY,
                policy_version="1",
                propensity=1.0,
                arm=FORGET_POLICY,
                explanation="hub forget: clear the hub's fields before the person is removed",
                actions=[{"kind": ActionKind.SET_FIELDS.value, "connector": None, "payload": empty}],
                created_at=now,
            )
        ).inserted_primary_key[0]
    # a clear push already open or landed is kept; one superseded (a decide folded into it)
    # or failed is queued again, so a re-run always finishes the job
    settled = {
        (r.connector, r.external_id)
        for r in conn.execute(
            select(pushes.c.connector, pushes.c.external_id).where(
                pushes.c.decision_id == decision_id, pushes.c.state.in_(("pending", "sending", "done", "skipped"))
            )
        )
    }
    rows = []
    for ident in conn.execute(select(identities).where(identities.c.contact_id == contact_id)):
        entry = ctx.settings.connectors.get(ident.connector)
        if entry is None or not entry.enabled or ActionKind.SET_FIELDS not in entry.receives:
            continue
        if (ident.connector, ident.external_id) in settled:
            continue
        rows.append(
            {
                "decision_id": decision_id,
                "contact_id": contact_id,
                "connector": ident.connector,
                "object_type": ident.object_type,
                "external_id": ident.external_id,
                "kind": ActionKind.SET_FIELDS.value,
                "payload": empty,
            }
        )
    push_store.enqueue(conn, rows, now)


def _forget_decisions(contact_id: int):
    return select(decisions.c.id).where(decisions.c.contact_id == contact_id, decisions.c.policy == FORGET_POLICY)


def _clear_states(conn: Connection, contact_id: int) -> dict[str, dict[str, int]]:
    q = (
        select(pushes.c.connector, pushes.c.state, func.count())
        .where(pushes.c.decision_id.in_(_forget_decisions(contact_id)))
        .group_by(pushes.c.connector, pushes.c.state)
    )
    out: dict[str, dict[str, int]] = {}
    for connector, state, n in conn.execute(q):
        out.setdefault(connector, {})[state] = n
    return out


def forget(ctx: HubContext, email: str, *, clear_crm: bool = False) -> ForgetReport:
    """Remove the person with ``email`` from the store (see the module docstring for order)."""
    report = ForgetReport(email=email)
    if normalize_email(email) is None:
        return report
    with ctx.store.begin() as conn:
        contact_id = _contact_for(conn, email)
        report.suppressed = _suppress(conn, email, contact_id)
        if contact_id is None:  # no contact, but held events, notes or cursors may name the address
            held = _drop_held(conn, [], [email])
            report.swept = _plus(sweep(conn, traces_of(conn, email, None)), held)
            return report
        report.found, report.contact_id = True, contact_id
        if clear_crm:
            _queue_clear(ctx, conn, contact_id)
    return _remove(ctx, report, email, contact_id, clear_crm)


def forget_record(ctx: HubContext, record: Identity) -> ForgetReport:
    """Forget the person a CRM deleted for privacy (HubSpot's ``contact.privacyDeletion``):
    the same steps as :func:`forget`, found by the record id, with nothing to clear in the CRM
    (the record is gone there). A record the store never held is still put on the suppression
    list, and anything held under its id is deleted."""
    with ctx.store.connect() as conn:
        contact_id = contact_store.resolve_identity_ids(conn, [record]).get(record.key())
        email = None
        if contact_id is not None:
            email = conn.execute(select(contacts.c.primary_email).where(contacts.c.id == contact_id)).scalar()
    if email is not None:
        return forget(ctx, email)
    report = ForgetReport(email="")
    with ctx.store.begin() as conn:
        known = _identities_of(conn, contact_id) if contact_id is not None else []
        report.suppressed = suppression_store.suppress(conn, None, (), [record, *[i for i in known if i != record]])
        if contact_id is None:
            held = _drop_held(conn, [record], [])
            traces = Traces(record_ids={record.external_id} if len(record.external_id) >= MIN_ID else set())
            report.swept = _plus(sweep(conn, traces), held)
            return report
        report.found, report.contact_id = True, contact_id
    return _remove(ctx, report, None, contact_id, clear_crm=False)


def _remove(ctx: HubContext, report: ForgetReport, email: str | None, contact_id: int, clear_crm: bool) -> ForgetReport:
    """Steps 2 and 3: send the clearing writes, then delete the person once nothing is open."""
    if clear_crm:
        with ctx.store.connect() as conn:
            mine = conn.execute(
                select(pushes.c.connector, pushes.c.id).where(
                    pushes.c.decision_id.in_(_forget_decisions(contact_id)), pushes.c.state == "pending"
                )
            ).all()
        if mine:  # the person asked now: do not wait out a back-off from an earlier attempt
            with ctx.store.begin() as conn:
                conn.execute(
                    update(pushes).where(pushes.c.id.in_([i for _, i in mine])).values(next_attempt_at=utcnow())
                )
        by_connector: dict[str, list[int]] = {}
        for name, push_id in mine:
            by_connector.setdefault(name, []).append(push_id)
        for name, ids in sorted(by_connector.items()):  # step 2: send just these, now
            push_connector(ctx, name, only_ids=ids)
    with ctx.store.begin() as conn:
        report.cleared = _clear_states(conn, contact_id)
        for name, states in report.cleared.items():
            open_ = {s: n for s, n in states.items() if s not in ("done", "skipped")}
            if open_:
                report.waiting.append(f"{name}: clearing the hub's fields is not finished ({open_})")
        in_flight = conn.execute(
            select(func.count()).where(pushes.c.contact_id == contact_id, pushes.c.state == "sending")
        ).scalar()
        if in_flight and not report.waiting:
            report.waiting.append(f"{in_flight} write(s) for this person are being sent right now")
        if report.waiting:
            return report
        report.deleted = _counts(conn, contact_id)
        traces = traces_of(conn, email, contact_id)
        emails = [
            e for (e,) in conn.execute(select(contact_emails.c.email).where(contact_emails.c.contact_id == contact_id))
        ]
        asked = [e for e in (normalize_email(email),) if e]
        report.deleted |= _drop_held(conn, _identities_of(conn, contact_id), emails + asked, contact_id)
        contact_store.delete_contacts(conn, [contact_id])  # step 3
        report.swept = sweep(conn, traces)  # what other tables still say about them
    return report


def _drop_held(
    conn: Connection, records: list[Identity], emails: list[str], contact_id: int | None = None
) -> dict[str, int]:
    """Delete what waits for the person: events held under their addresses or records (with
    ``contact_id``, their visitor-id maps and stitched events too) and synced activities held
    for them. Each store module finds its rows by the key it wrote them under (a long record
    id's is a hash the sweep cannot match); returns the rows per table."""
    return {
        "anonymous_events": anonymous_store.forget(conn, records, emails, contact_id),
        "held_activities": held_store.forget(conn, [r.key() for r in records], emails),
    }


def _plus(counts: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Rows per table, both counts together (tables with none left out)."""
    return {t: n for t in {**counts, **more} if (n := counts.get(t, 0) + more.get(t, 0))}


def _suppress(conn: Connection, email: str, contact_id: int | None) -> int:
    """Put the person on the suppression list, in the same transaction as step 1."""
    emails: list[str] = []
    idents: list[Identity] = []
    if contact_id is not None:
        emails = list(
            conn.execute(select(contact_emails.c.email).where(contact_emails.c.contact_id == contact_id)).scalars()
        )
        idents = _identities_of(conn, contact_id)
    return suppression_store.suppress(conn, email, emails, idents)


def _identities_of(conn: Connection, contact_id: int) -> list[Identity]:
    return [
        Identity(connector=r.connector, object_type=r.object_type, external_id=r.external_id)
        for r in conn.execute(
            select(identities.c.connector, identities.c.object_type, identities.c.external_id).where(
                identities.c.contact_id == contact_id
            )
        )
    ]


def unsuppress(ctx: HubContext, email: str) -> int:
    """Lift the suppression of the person with ``email`` (they consented again); returns the
    hashes removed. Their CRM record comes back with its next change in the CRM: a sync only
    reads records changed since its cursor."""
    with ctx.store.begin() as conn:
        return suppression_store.unsuppress(conn, email)


def suppression_counts(ctx: HubContext) -> dict[str, int]:
    """People, email hashes and record-id hashes on the suppression list (no PII)."""
    with ctx.store.connect() as conn:
        return suppression_store.counts(conn)


def _counts(conn: Connection, contact_id: int) -> dict[str, int]:
    out = {"contacts": 1}
    for name, table in _PER_CONTACT.items():
        out[name] = conn.execute(select(func.count()).where(table.c.contact_id == contact_id)).scalar()
    out["outcomes"] = conn.execute(
        select(func.count()).where(
            outcomes.c.decision_id.in_(select(decisions.c.id).where(decisions.c.contact_id == contact_id))
        )
    ).scalar()
    return out
