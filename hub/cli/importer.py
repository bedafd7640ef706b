"""`hub import contacts|events|segment FILE`: thin commands over hub/importing/ and hub/segment_import.py.

Mounted in hub/cli/main.py with ``app.add_typer(import_app, name="import")``. Exit codes: 0 imported
(bad rows are reported, the rest is imported), 1 every row was skipped or the file broke off
mid-way (what was read so far is kept), 2 a usage error (a mapped column the file lacks, an unknown hub field, no file,
an empty file). A header without rows imports 0 rows (exit 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.cli.common import err, out
from hub.errors import ConfigError, DataError, HubError

if TYPE_CHECKING:
    from hub.importing import ImportOptions, ImportSummary

import_app = typer.Typer(help="Import contacts or events from a CSV or Parquet file.", no_args_is_help=True)
SHOW_PROBLEMS = 20

FileArg = Annotated[Path, typer.Argument(help="CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet) file.")]
MapOpt = Annotated[str | None, typer.Option("--map", help="hub_field=column,... (e.g. first_name=fname,email=mail).")]
EventMapOpt = Annotated[
    str | None,
    typer.Option(
        "--map", help="key=column,... for contact, type, occurred_at, id, channel, properties_json (e.g. contact=mail)."
    ),
]
MappingOpt = Annotated[
    Path | None, typer.Option("--mapping", help="YAML: hub_field: column, plus properties: [...] and type_map: {...}.")
]
SourceOpt = Annotated[str, typer.Option("--source", help="Identity source the rows are stored under.")]
PropsOpt = Annotated[
    str | None,
    typer.Option("--properties", help="Columns kept as properties (comma list; '' for none). Default: all unmapped."),
]
ChunkOpt = Annotated[int, typer.Option("--chunk-rows", min=1, help="Rows per chunk (memory is bounded by it).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="Path to hub.yaml (default: $HUB_CONFIG or ./hub.yaml).")
]
StoreOpt = Annotated[str | None, typer.Option("--store-url", help="Import into this store instead of the config's.")]


def _options(
    map_: str | None, mapping: Path | None, source: str, properties: str | None, chunk_rows: int
) -> ImportOptions:
    from hub.importing import ImportOptions, load_mapping_file, parse_map  # the CLI starts without them

    opts = ImportOptions(mapping=parse_map(map_), source=source, chunk_rows=chunk_rows)
    if properties is not None:
        opts.properties = [p.strip() for p in properties.split(",") if p.strip()]
    if mapping is not None:
        load_mapping_file(mapping, opts)
    return opts


def _store(config: Path | None, store_url: str | None, source: str):  # noqa: ANN202 - (Store, DecisionSettings)
    """The store to import into, and the decision settings the new events are credited by (the
    config's; the defaults, so no declared outcomes, when only a store URL was given)."""
    from hub.config import DecisionSettings, load_settings
    from hub.importing import MappingError
    from hub.store import Store

    decision = DecisionSettings()
    if store_url is None or config is not None:
        settings = load_settings(config)
        if source in settings.connectors:
            # its identities are that connector's records: an import would overwrite them until its next sync
            raise MappingError(
                f"--source {source!r} is a configured connector; imported rows would overwrite its records. "
                "Use another name (the default is 'import'); people still match by email"
            )
        store_url = store_url or settings.store_url
        decision = settings.decision
    return Store(store_url), decision


JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def _json_hint(path: Path, kind: str) -> str:
    """What reads a JSON file: hub import segment for Segment-spec lines, else CSV or Parquet first."""
    plain = path.name.removesuffix(".gz")
    segment = f"`hub import segment {plain}`" + (f" (after `gunzip -k {path.name}`)" if plain != path.name else "")
    parquet = Path(plain).with_suffix(".parquet").name
    return (
        f"{path.name} is JSON; hub import {kind} reads CSV or Parquet. JSON lines of Segment-spec messages "
        f"(type, userId or anonymousId, event, timestamp) are read by {segment}; "
        'write other JSON as CSV or Parquet first, e.g. python -c "import pandas as pd; '
        f"pd.read_json('{path.name}', lines=True).to_parquet('{parquet}')\""
    )


def _run(kind: str, path: Path, opts: ImportOptions, config: Path | None, store_url: str | None, as_json: bool) -> None:
    from hub.importing import MappingError, import_contacts, import_events

    try:
        if not path.is_file():
            what = "a directory, not a file" if path.is_dir() else "no such file"
            raise MappingError(f"{path}: {what}. Check the path.")
        if path.name.lower().removesuffix(".gz").endswith(JSON_SUFFIXES):
            raise MappingError(_json_hint(path, kind))
        store, decision = _store(config, store_url, opts.source)
    except (MappingError, ConfigError) as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    except HubError as exc:  # the store is unreachable or not migrated
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(1) from None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=as_json,
    )
    task = progress.add_task(f"Importing {kind} from {path.name}", total=path.stat().st_size, rows=0)

    def tick(rows: int, done: int | None, total: int | None) -> None:
        progress.update(task, completed=done or 0, rows=rows, **({"total": total} if total else {}))

    try:
        with progress:
            from hub.pipeline.outcomes import attribute

            def credit(ids: list[int]) -> int:
                return attribute(store, decision, ids)

            if kind == "contacts":  # activities held for these people are stored now, credited too
                summary = import_contacts(store, path, opts, tick, credit)
            else:
                summary = import_events(store, path, opts, tick, credit)
    except MappingError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    except DataError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        err.print("The chunks before this point are imported; fix the file and run the import again.")
        raise typer.Exit(1) from None
    except HubError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(1) from None
    finally:
        store.dispose()
    _report(summary, as_json)
    if summary.read and summary.skipped == summary.read:  # as `hub push` when every push failed
        err.print("No row was imported: every row was skipped (the reasons are above).", style="red")
        raise typer.Exit(1)


def _report(s: ImportSummary, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(s.as_dict()))
        return
    for note in s.notes:
        out.print(f"[yellow]{note}[/]", highlight=False)
    if s.read == 0:  # a file without a header stopped before: this one has a header and no rows
        out.print(f"Imported 0 rows: {s.file} has column names and no rows.", highlight=False, markup=False)
        return
    table = Table(title=f"{s.kind.capitalize()} from {s.file}", show_header=False)
    table.add_row("identity source", s.source)
    rows = [("rows read", s.read), ("created", s.created)]
    if s.kind == "contacts":
        rows += [("updated", s.updated), ("matched to existing people", s.matched)]
    rows += [("unchanged" if s.kind == "contacts" else "already imported", s.unchanged), ("skipped", s.skipped)]
    if s.kind == "events":
        if s.opportunities_opened:  # a won deal is an opportunity: hub/opportunities.py
            rows.append(("opportunity openings added for closed deals", s.opportunities_opened))
        rows.append(("outcomes credited to earlier decisions", s.outcomes))
    if s.suppressed:
        rows.append(("forgotten people, not stored", s.suppressed))
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    out.print(table)
    if s.problems:
        out.print("Skipped rows (row 1 is the first row after the header):")
        for p in s.problems[:SHOW_PROBLEMS]:
            ident = f" ({p.id})" if p.id else ""
            out.print(f"  row {p.row}{ident}: {p.reason}", highlight=False, markup=False)
        if s.skipped > SHOW_PROBLEMS:
            out.print(f"  ... and {s.skipped - SHOW_PROBLEMS:,} more; by reason:")
            for reason, n in s.reasons.most_common():
                out.print(f"    {n:,} × {reason}", highlight=False, markup=False)
            out.print("  (--json lists up to 1,000 rows)")


@import_app.command("contacts")
def contacts(
    file: FileArg,
    map_: MapOpt = None,
    mapping: MappingOpt = None,
    id_col: Annotated[
        str | None, typer.Option("--id-col", help="Column with the record id (default: the normalized email).")
    ] = None,
    match_id: Annotated[
        str | None,
        typer.Option("--match-id", help="CONNECTOR=COLUMN: rows join the person holding that connector's id."),
    ] = None,
    source: SourceOpt = "import",
    properties: PropsOpt = None,
    chunk_rows: ChunkOpt = 5_000,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    store_url: StoreOpt = None,
) -> None:
    """Import people: they resolve to contacts the CRMs already have by email (or --source id)."""
    from hub.importing import MappingError

    try:
        opts = _options(map_, mapping, source, properties, chunk_rows)
    except MappingError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    if id_col:
        opts.mapping["id"] = id_col
    if match_id:
        connector, sep, column = match_id.partition("=")
        if not sep or not connector.strip() or not column.strip():
            err.print(f"--match-id {match_id!r} is not CONNECTOR=COLUMN", style="red", markup=False)
            raise typer.Exit(2)
        opts.match = (connector.strip(), column.strip())
    _run("contacts", file, opts, config, store_url, as_json)


@import_app.command("events")
def events(
    file: FileArg,
    map_: EventMapOpt = None,
    mapping: MappingOpt = None,
    contact_key: Annotated[
        str, typer.Option("--contact-key", help="What the contact column holds: email or id.")
    ] = "email",
    contact_source: Annotated[
        str | None,
        typer.Option(
            "--contact-source", help="With --contact-key id: the connector (or import source) those ids are of."
        ),
    ] = None,
    event_type: Annotated[
        str | None,
        typer.Option(
            "--type",
            help="Every row's event type, for a file of one kind without a type column "
            "(a hub type such as opportunity_won, or a custom name such as purchase).",
        ),
    ] = None,
    source: SourceOpt = "import",
    properties: PropsOpt = None,
    chunk_rows: ChunkOpt = 5_000,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    store_url: StoreOpt = None,
) -> None:
    """Import events as activities (idempotent: the same file twice adds nothing)."""
    from hub.importing import MappingError

    if contact_key not in ("email", "id"):
        err.print(f"--contact-key must be email or id, not {contact_key!r}", style="red", markup=False)
        raise typer.Exit(2)
    try:
        opts = _options(map_, mapping, source, properties, chunk_rows)
    except MappingError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(2) from None
    opts.contact_key, opts.contact_source = contact_key, contact_source
    opts.event_type = event_type.strip() if event_type and event_type.strip() else None
    _run("events", file, opts, config, store_url, as_json)


@import_app.command("segment")
def segment(
    file: Annotated[Path, typer.Argument(help="JSON lines: one Segment message (with `type`) per line.")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Path to hub.yaml.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Segment-spec JSON lines (a Segment export or replay), stored as `POST /v1/batch` would.

    Idempotent by messageId; declared outcomes among them are attributed to the decisions before them."""
    from hub.config import load_settings
    from hub.pipeline.context import HubContext
    from hub.segment_import import import_file

    if not file.is_file():
        err.print(f"{file}: no such file. Check the path.", style="red", highlight=False, markup=False)
        raise typer.Exit(2)
    try:
        ctx = HubContext.build(load_settings(config), embedded=True)
    except HubError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err) as bar:
            task = bar.add_task(file.name, total=file.stat().st_size)
            report = import_file(ctx, file, lambda n: bar.advance(task, n))
    finally:
        ctx.close()
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    elif not report.lines:  # JSON lines have no header: an export of no messages is valid
        out.print(f"Imported 0 messages: {file.name} has none.", highlight=False, markup=False)
    else:
        table = Table("result", "messages")
        for status, n in sorted(report.counts.items()):
            table.add_row(status, f"{n:,}")
        table.add_row("skipped", f"{len(report.rejects):,}")
        out.print(table)
        for line, mid, reason in report.rejects[:20]:
            out.print(f"line {line} (messageId {mid!r}): {reason}")
        if len(report.rejects) > 20:
            out.print(f"... and {len(report.rejects) - 20} more (--json lists them all)")
    if report.lines and len(report.rejects) == report.lines:  # as hub import contacts/events
        err.print("No line was imported: every line was skipped (the reasons are above).", style="red")
        raise typer.Exit(1)
