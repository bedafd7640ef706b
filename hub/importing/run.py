"""``hub import``: contacts and events from a CSV or Parquet file into the store, chunk by chunk.

Rows become the same hub models a connector pulls (``hub/rows.py``) and go through the same
store functions, so an imported person resolves to the contact the CRMs already have (by the
``--source`` identity, else by normalized email) and an imported event is idempotent by
(source, id): importing a file twice changes nothing. Each chunk commits on its own; memory is
bounded by the chunk size, whatever the file's. Every cell is read as text and parsed here,
so one bad cell rejects its row (reported with its row number), not the file.

Imported contact records carry no ``updated_at`` unless mapped; the store merges identity
records newest last, so a CRM's values win over an undated import and the import fills gaps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from hub.importing.mapping import ImportOptions, contact_columns_for, event_columns_for, needed_columns
from hub.importing.reading import chunks, header
from hub.importing.report import ImportSummary, Progress
from hub.models import Activity, ActivityType, Contact, utcnow
from hub.pipeline.sync import unsubscribes
from hub.rows import activity_from_row, cells_key, contact_from_row
from hub.store import Store
from hub.store import activities as activity_store
from hub.store import contacts as contact_store
from hub.store.batch import among_keys
from hub.store.merge import merge_contacts
from hub.store.schema import activities, identities


# -- contacts -------------------------------------------------------------------------------
def import_contacts(
    store: Store,
    path: Path,
    opts: ImportOptions,
    progress: Progress | None = None,
    attribute: Callable[[list[int]], int] | None = None,
) -> ImportSummary:
    """``attribute``: as for :func:`import_events`, called with the ids of synced activities
    that were held for these people (their contact was not stored yet) and are stored now."""
    summary = ImportSummary(file=path.name, kind="contacts", source=opts.source)
    cols = contact_columns_for(header(path), opts, path.name)
    started = utcnow()  # every identity this run writes gets this synced_at: a repeat id is seen
    for chunk in chunks(path, needed_columns(cols), opts.chunk_rows):
        items: list[Contact] = []
        rows_of: dict[str, int] = {}
        match_of: dict[str, str] = {}
        for i, row in enumerate(chunk.rows):
            number = chunk.number(i)
            try:
                contact = contact_from_row(row, cols, opts.source)
            except ValueError as exc:
                summary.reject(number, _cell(row, cols.id or cols.email), str(exc))
                continue
            key = contact.identities[0].external_id
            if key in rows_of:
                summary.reject(number, key, f"duplicate id {key!r} (also row {rows_of[key]})")
                continue
            rows_of[key] = number
            items.append(contact)
            if opts.match and _cell(row, opts.match[1]):
                match_of[key] = str(_cell(row, opts.match[1])).strip()
        summary.read += len(chunk.rows)
        summary.split(chunk.split)
        with store.begin() as conn:
            items, new = _not_repeated(conn, items, started, opts.source, rows_of, summary)
            released = _store_contacts(conn, items, new, started, rows_of, summary)
            if opts.match and items:
                kept = {c.identities[0].external_id for c in items}
                _join_matched(conn, opts, {k: v for k, v in match_of.items() if k in kept}, new, started, summary)
        if released and attribute is not None:
            summary.outcomes += attribute(released)
        summary.chunks += 1
        summary.noted(chunk.notes)
        if progress:
            progress(summary.read, chunk.bytes_read, chunk.bytes_total)
    return summary.finished()


def _cell(row: dict[str, Any], column: str | None) -> str | None:
    value = row.get(column) if column else None
    return None if value is None else str(value)[:120]


def _not_repeated(
    conn: Connection,
    items: list[Contact],
    started: datetime,
    source: str,
    rows_of: dict[str, int],
    summary: ImportSummary,
) -> tuple[list[Contact], set[str]]:
    """Drop records whose id an earlier chunk of this file wrote (their synced_at is this run's
    start: no set of every id in memory); returns the rest and how many are new to the store."""
    keys = [c.identities[0].external_id for c in items]
    if not keys:
        return items, set()
    held = dict(
        conn.execute(
            select(identities.c.external_id, identities.c.synced_at).where(
                identities.c.connector == source, identities.c.external_id.in_(keys)
            )
        ).all()
    )
    repeated = {ext for ext, at in held.items() if contact_store.aware(at) == started}
    for key in sorted(repeated, key=rows_of.__getitem__):
        summary.reject(rows_of[key], key, f"duplicate id {key!r} (an earlier row has it too)")
    kept = [c for c in items if c.identities[0].external_id not in repeated]
    return kept, {c.identities[0].external_id for c in kept} - set(held)


def _store_contacts(
    conn: Connection,
    items: list[Contact],
    new: set[str],
    started: datetime,
    rows_of: dict[str, int],
    summary: ImportSummary,
) -> list[int]:
    """Store a chunk's records; returns the ids of held activities this inserted."""
    if not items:
        return []
    up = contact_store.upsert_contacts(conn, items, now=started)
    stored_new = len(new - {r.external_id for r in up.rejects})
    matched = max(0, stored_new - up.created - up.suppressed)  # new records that found their person
    summary.created += up.created
    summary.matched += matched
    summary.updated += up.updated - matched
    summary.unchanged += up.unchanged
    summary.suppressed += up.suppressed
    for r in up.rejects:
        summary.reject(rows_of.get(r.external_id, 0), r.external_id, r.reason)
    if up.opted_out:  # an opt-out flag is an unsubscribe outcome, as in a sync
        activity_store.insert_activities(conn, unsubscribes(conn, up.opted_out))
    # CRM activities held for these people (hub/store/held.py) are stored now
    return activity_store.release_held(conn, items).new_ids


def _join_matched(
    conn: Connection,
    opts: ImportOptions,
    match_of: dict[str, str],
    new: set[str],
    now: datetime,
    summary: ImportSummary,
) -> None:
    """Fold each row's record into the contact holding its ``--match-id`` connector id. Only a
    contact that holds nothing but this row's record is folded (it was made for the row); one
    that is another person by email is left alone and reported."""
    source, _ = opts.match or ("", "")

    def contact_ids(connector: str, ids) -> dict[str, int]:  # any object type: a lead or a contact
        q = select(identities.c.external_id, identities.c.contact_id).where(
            identities.c.connector == connector, identities.c.external_id.in_(set(ids))
        )
        return dict(conn.execute(q).all())

    targets = contact_ids(source, match_of.values())
    ours = contact_ids(opts.source, match_of)
    held = dict(
        conn.execute(
            select(identities.c.contact_id, func.count())
            .where(identities.c.contact_id.in_(set(ours.values())))
            .group_by(identities.c.contact_id)
        ).all()
    )
    for key, value in match_of.items():
        target, mine = targets.get(value), ours.get(key)
        if target is None or mine is None or target == mine:
            continue
        if held.get(mine, 0) > 1:
            summary.noted([f"{key}: {source} id {value} is another contact than its email's; not joined"])
            continue
        merge_contacts(conn, keep=target, drop=mine, now=now)
        if key in new:  # counted as created a moment ago; it joined a known person instead
            summary.created -= 1
            summary.matched += 1


# -- events ---------------------------------------------------------------------------------
def import_events(
    store: Store,
    path: Path,
    opts: ImportOptions,
    progress: Progress | None = None,
    attribute: Callable[[list[int]], int] | None = None,
) -> ImportSummary:
    """``attribute``: called with each chunk's new activity ids once they are committed, to
    credit them to the decisions before them (hub/pipeline/outcomes.py); returns the outcome
    rows written."""
    summary = ImportSummary(file=path.name, kind="events", source=opts.source)
    cols = event_columns_for(header(path), opts, path.name)
    first_new_id: int | None = None  # activities this run inserted have ids from here up
    custom: Counter[str] = Counter()  # event names that are no hub type, said once at the end
    repeats = _Repeats()  # keyless: the n-th row alike is the n-th such event, not the first again
    unknown = _Unknown()  # contact ids no stored person has, for the note that says why
    for chunk in chunks(path, needed_columns(cols), opts.chunk_rows):
        items: list[Activity] = []
        rows_of: dict[str, int] = {}
        # a keyless event's id -> the ids its rows had before (cells_key: one per way of writing it)
        before: dict[str, set[str]] = {}
        for i, row in enumerate(chunk.rows):
            number = chunk.number(i)
            try:
                activity = activity_from_row(row, cols, opts.source, opts.source)
            except ValueError as exc:
                summary.reject(number, _cell(row, cols.id), str(exc))
                continue
            if not cols.id:
                first = activity.external_id
                activity.external_id = repeats.numbered(first)
                if activity.external_id == first:  # a first occurrence may be stored under its old key
                    written = chunk.written[i] if chunk.written else row
                    before.setdefault(activity.external_id, set()).add(cells_key(written, cols))
            elif activity.external_id in rows_of:
                summary.reject(number, activity.external_id, f"duplicate id (also row {rows_of[activity.external_id]})")
                continue
            rows_of[activity.external_id] = number
            items.append(activity)
            if activity.type == ActivityType.CUSTOM:
                custom[str(activity.properties.get("name"))] += 1
        summary.read += len(chunk.rows)
        summary.split(chunk.split)
        with store.begin() as conn:
            keys = [a.external_id for a in items] + [k for old in before.values() for k in sorted(old)]
            held = (
                dict(
                    conn.execute(
                        select(activities.c.external_id, activities.c.id).where(
                            among_keys(
                                conn, (activities.c.source, activities.c.external_id), [(opts.source, k) for k in keys]
                            )
                        )
                    ).all()
                )
                if items
                else {}
            )
            new: list[Activity] = []
            for a in items:
                ext = _stored_as(a.external_id, held, before.get(a.external_id, set()))
                if ext is None:
                    new.append(a)
                elif cols.id and first_new_id is not None and held[ext] >= first_new_id:
                    summary.reject(rows_of[ext], ext, "duplicate id (an earlier row has it too)")
                else:
                    summary.unchanged += 1  # imported before: nothing to do
            result = activity_store.insert_activities(conn, new)
        if result.new_ids:
            low = min(result.new_ids)
            first_new_id = low if first_new_id is None else min(first_new_id, low)
            if attribute is not None:
                summary.outcomes += attribute(list(result.new_ids))
        summary.created += result.inserted
        summary.opportunities_opened += result.implied
        refs = {a.external_id: a.contact_ref for a in new if a.contact_ref is not None}
        for r in result.rejects:
            summary.reject(rows_of.get(r.external_id, 0), r.external_id, f"{cols.contact}: {r.reason}")
            if r.external_id in refs and r.reason.startswith(UNKNOWN):
                unknown.add(refs[r.external_id].external_id)
        summary.chunks += 1
        summary.noted(chunk.notes)
        if progress:
            progress(summary.read, chunk.bytes_read, chunk.bytes_total)
    if custom:
        summary.noted([_custom_note(custom)])
    if unknown.count and cols.contact_key == "id":
        with store.connect() as conn:
            summary.noted([unknown.note(conn, cols.contact_connector)])
    return summary.finished()


#: the store's reason for an activity whose contact it does not hold (hub/store/activities.py)
UNKNOWN = "no contact known for "


class _Unknown:
    """Contact ids that named no stored person: counted, and the first few kept to compare with
    the ids the source does hold (a file writing ``0001`` for the ``1`` of another)."""

    KEEP = 200

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []

    def add(self, ref: str) -> None:
        self.count += 1
        if len(self.first) < self.KEEP:
            self.first.append(ref)

    def note(self, conn: Connection, connector: str) -> str:
        """Why these ids found nobody, as far as the store can tell, and what to do."""
        rows = f"{self.count:,} rows name" if self.count > 1 else "One row names"
        held = select(identities.c.external_id).where(identities.c.connector == connector)
        padded = {r.lstrip("0"): r for r in self.first if r.isdigit() and r.startswith("0") and r.strip("0")}
        if padded:
            found = list(conn.execute(held.where(identities.c.external_id.in_(list(padded))).limit(3)).scalars())
            if found:
                pairs = ", ".join(f"{padded[f]!r} for {f!r}" for f in found)
                return (
                    f"{rows} a contact id that source {connector!r} does not hold, though it holds the same "
                    f"number without leading zeros ({pairs}): the files write ids differently. Strip the zeros "
                    "from this file's ids (or write them in the contacts file alike) and import it again."
                )
        elsewhere = list(
            conn.execute(
                select(identities.c.connector)
                .where(identities.c.connector != connector, identities.c.external_id.in_(self.first))
                .distinct()
                .limit(3)
            ).scalars()
        )
        if elsewhere:
            return (
                f"{rows} a contact id that source {connector!r} does not hold, and "
                f"{' and '.join(map(repr, elsewhere))} holds such ids (e.g. {self.first[0]!r}): name the source "
                f"the column's ids come from with --contact-source {elsewhere[0]} and import the file again."
            )
        sample = list(conn.execute(held.limit(3)).scalars())
        if sample:
            shown = ", ".join(repr(x) for x in sample)
            return (
                f"{rows} a contact id that source {connector!r} does not hold (e.g. {self.first[0]!r}; "
                f"its ids look like {shown}). Import those people first, or name the source whose ids "
                "the column holds with --contact-source."
            )
        sources = list(conn.execute(select(identities.c.connector).distinct().limit(5)).scalars())
        where = f"ids are held by {', '.join(map(repr, sources))}" if sources else "the store holds no one yet"
        return (
            f"{rows} a contact id, and source {connector!r} holds none ({where}): name the source "
            "whose ids the column holds with --contact-source, or import the people first "
            "(hub import contacts FILE --id-col COLUMN)."
        )


class _Repeats:
    """Numbers identical rows of a keyless file: the first keeps its content key, the n-th is
    ``key:n``. Two purchases alike on one day are two events, and a re-export (in any order)
    numbers them alike, so importing it again adds nothing. Holds 64 bits of each key seen
    (about 60 bytes an event), since a row's twin may be in any later chunk."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.count: dict[str, int] = {}  # only keys seen more than once

    def numbered(self, key: str) -> str:
        digest = int(key[3:19], 16)  # "ev:" then hex
        if digest not in self.seen:
            self.seen.add(digest)
            return key
        n = self.count[key] = self.count.get(key, 1) + 1
        return f"{key}:{n}"


def _stored_as(ext: str, stored: dict[str, int], before: set[str]) -> str | None:
    """The id an event is stored under: its own, or one its rows had before (a keyless event
    imported before December 2026, :func:`hub.rows.cells_key`); None when it is new."""
    if ext in stored:
        return ext
    return min(before & stored.keys(), default=None)


def _custom_note(names: Counter[str]) -> str:
    """Which event names were kept as ``custom`` (no hub type), so a misspelled type is seen."""
    top = ", ".join(f"{n!r} × {c:,}" for n, c in names.most_common(5))
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return (
        f"Rows whose type is no hub activity type are custom events (rows read): {top}{more}. A declared "
        "`event:` outcome matches them by name; type_map in --mapping renames them to hub types."
    )
