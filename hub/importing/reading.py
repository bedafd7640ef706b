"""The file side of ``hub import``: its header, and its rows in chunks, every cell as text.

Reading is ``hub/tables.py``'s (CSV of any common delimiter, gzip, Parquet, streamed); cells are
declared text here so the importer parses each one and a bad cell rejects its row, not the file.
A semicolon file's decimal commas are rewritten as decimal points first, so ``29,33`` is a number
to the importer as it is to ``hub/tables.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.cells import as_strings, decimal_comma, missing_mask
from hub.errors import DataError, NoRowsError
from hub.importing.mapping import MappingError
from hub.tables import SkippedRows, Table, iter_table


@dataclass
class Chunk:
    first_row: int  # 0-based data row of rows[0] among the rows read (the file's rows less those skipped)
    rows: list[dict[str, Any]]
    bytes_read: int | None
    bytes_total: int | None
    notes: list[str]  # the reader's notes so far (bytes not UTF-8); rows it could not split are `split`
    #: the rows as written where decimal commas were rewritten (for keys that hash cells as written)
    written: list[dict[str, Any]] | None = None
    #: the rows the reader could not split that this chunk reports: (1-based row in the file, reason)
    split: list[tuple[int, str]] | None = None
    skipped: SkippedRows | None = None

    def number(self, i: int) -> int:
        """The 1-based row in the file (after the header) of ``rows[i]``."""
        at = self.first_row + i
        return (self.skipped.file_row(at) if self.skipped is not None else at) + 1


def header(path: Path) -> list[str]:
    """The file's column names (reads its first rows only). A header without rows has them too: it
    is an import of 0 rows, checked against the mapping; a file without a header is a usage error."""
    try:
        chunks = iter_table(path, chunk_rows=1, log_skipped=False)  # chunks() lists them
        try:
            return next(chunks).names
        finally:
            chunks.close()
    except NoRowsError as exc:
        return exc.names
    except DataError as exc:
        raise MappingError(str(exc)) from None


def chunks(path: Path, columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
    """Rows of ``columns`` as text (parsed per row later: a bad cell rejects its row only)."""
    types = dict.fromkeys(columns, "categorical")
    comma_columns: set[str] = set()
    tables = iter_table(path, chunk_rows, columns, types=types, log_skipped=False)
    try:
        first = next(tables)
    except NoRowsError:  # a header alone: 0 rows
        return
    said = 0  # rows the reader could not split that a chunk reported already
    table = first
    for table in itertools.chain([first], tables):
        arrays = [table.column(c) for c in columns]
        rows = _rows(columns, arrays)
        points = [_decimal_points(table, c, comma_columns) for c in columns]
        written = None
        if any(p is not a for p, a in zip(points, arrays, strict=True)):
            rows, written = _rows(columns, points), rows
        split, said = _split(table.skipped, said)
        yield Chunk(
            table.first_row, rows, table.bytes_read, table.bytes_total, _notes(table), written, split, table.skipped
        )
    split, said = _split(table.skipped, said)
    if split:  # rows past the last chunk's that the reader could not split
        yield Chunk(0, [], table.bytes_read, table.bytes_total, _notes(table), None, split, table.skipped)


def _split(skipped: SkippedRows, said: int) -> tuple[list[tuple[int, str]], int]:
    """The skipped rows not reported yet, as (1-based row in the file, reason), and the new count."""
    return [(skipped.at[i] + 1, skipped.reason(i)) for i in range(said, len(skipped.at))], len(skipped.at)


def _notes(table: Table) -> list[str]:
    """The reader's notes but those on rows it could not split: the import lists those as skipped rows."""
    split = set(table.skipped.notes)
    return [n for n in table.notes if n not in split]


def _rows(columns: list[str], arrays: list) -> list[dict[str, Any]]:
    return [dict(zip(columns, values, strict=True)) for values in zip(*arrays, strict=True)]


def _decimal_points(table: Table, name: str, comma_columns: set[str]) -> Any:
    """A semicolon file's column of decimal-comma numbers (``29,33``, ``1.234,5``) with decimal
    points, else the column as it was. Once a column has shown a comma, a later chunk's ``1.200``
    is 1200 too: that file writes thousands so."""
    values = table.column(name)
    if not table.comma_decimals:
        return values
    strings = as_strings(values)
    rewritten = decimal_comma(strings, missing_mask(strings), require_comma=name not in comma_columns)
    if rewritten is None:
        return values
    comma_columns.add(name)
    return rewritten.to_numpy(zero_copy_only=False)
