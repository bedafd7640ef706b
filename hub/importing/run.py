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
        for r in result.rejects:
            summary.reject(rows_of.get(r.external_id, 0), r.external_id, f"{cols.contact}: {r.reason}")
        summary.chunks += 1
        summary.noted(chunk.notes)
        if progress:
            progress(summary.read, chunk.bytes_read, chunk.bytes_total)
    if custom:
        summary.noted([_custom_note(custom)])
    return summary.finished()


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
