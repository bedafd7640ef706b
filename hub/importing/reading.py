"""The file side of ``hub import``: its header, and its rows in chunks, every cell as text.

Reading is ``hub/tables.py``'s (CSV of any common delimiter, gzip, Parquet, streamed); cells are
declared text here so the importer parses each one and a bad cell rejects its row, not the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.errors import DataError, HubError
from hub.importing.mapping import MappingError
from hub.tables import iter_table


class EmptyFileError(HubError):
    """The file has no rows: nothing to import."""


@dataclass
class Chunk:
    first_row: int  # 0-based data row of rows[0]
    rows: list[dict[str, Any]]
    bytes_read: int | None
    bytes_total: int | None
    notes: list[str]  # the reader's notes so far: rows it could not split, bytes not UTF-8


def header(path: Path) -> list[str]:
    """The file's column names (reads its first rows only)."""
    try:
        chunks = iter_table(path, chunk_rows=1)
        try:
            return next(chunks).names
        finally:
            chunks.close()
    except DataError as exc:
        message = str(exc)
        if "but no rows" in message or "is empty" in message:
            raise EmptyFileError(message) from None
        raise MappingError(message) from None


def chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
    """Rows of ``columns`` as text (parsed per row later: a bad cell rejects its row only)."""
    types = dict.fromkeys(columns, "categorical")
    for table in iter_table(path, chunk_rows, columns, types=types):
        arrays = [table.column(c) for c in columns]
        rows = [dict(zip(columns, values, strict=True)) for values in zip(*arrays, strict=True)]
        yield Chunk(table.first_row, rows, table.bytes_read, table.bytes_total, list(table.notes))
