"""Read a user's table file (CSV or Parquet) into typed numpy columns, with errors that say what to fix.

- :func:`read_table` reads a whole file; :func:`iter_table` streams it in chunks of rows (a gigabyte
  CSV is never loaded whole), each chunk carrying ``bytes_read`` / ``bytes_total`` for a progress bar;
  :func:`count_rows` counts data rows.
- CSV (``.csv``, ``.tsv``, ``.txt``, ``.csv.gz``): the delimiter (``,`` ``;`` tab ``|``) is sniffed
  from the first lines; quoted fields may hold delimiters and newlines; UTF-8 with or without BOM,
  or UTF-16 with a BOM (Excel's "Unicode text"). In a semicolon-separated file a column written
  with decimal commas (``3,25``, ``1.234,5``) is numeric.
  Bytes that are not UTF-8 are read as cp1252 (latin-1 where cp1252 has no character), line by line,
  so a file mixing encodings keeps its UTF-8 lines; the first such line is logged and kept in
  :attr:`Table.notes`. A row with the wrong number of fields is skipped and noted, the rest is read.
- Parquet (``.parquet``, ``.pq``): typed columns are kept; text columns are inferred like CSV cells.
- Kinds and missing markers are those of :mod:`hub.cells`; ``types`` declares a column's kind and a
  cell that does not fit is a :class:`~hub.errors.DataError` naming the column, line and value.
  In :func:`iter_table` undeclared kinds are inferred from the first chunk and held for the rest.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "leads.csv"
>>> _ = path.write_text('id;"plan";seats\\n1;pro;3\\n2;free;NA\\n')
>>> table = read_table(path)
>>> table.kinds
{'id': 'numeric', 'plan': 'categorical', 'seats': 'numeric'}
>>> table.column("seats").tolist()
[3.0, nan]
"""

from __future__ import annotations

import bisect
import csv
import difflib
import io
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from hub.cells import KINDS, arrow_kind, from_arrow, infer_and_parse, parse_column
from hub.errors import DataError, NoRowsError
from hub.textfile import BLOCK_BYTES, DELIMITERS, Utf8Stream, decode_head, open_bytes, sniff_delimiter

log = logging.getLogger(__name__)

__all__ = [
    "CSV_SUFFIXES",
    "DELIMITERS",
    "KINDS",
    "PARQUET_SUFFIXES",
    "SkippedRows",
    "Table",
    "count_rows",
    "file_format",
    "file_size",
    "iter_table",
    "missing_column_message",
    "read_table",
    "require_unique",
    "sniff_delimiter",
]

CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_SNIFF_BYTES = 64 * 1024
_NOTED_ROWS = 10  # skipped rows noted one by one; past this only the total
_KEPT_TEXTS = 1000  # skipped rows whose text is kept for callers that list them (hub import)


@dataclass
class SkippedRows:
    """The rows of a CSV the reader could not split into the header's fields, as it meets them.

    ``at`` holds each one's 0-based data row in the file (in file order), ``fields`` its number of
    fields, ``texts`` the first ``_KEPT_TEXTS`` rows as written (cut at 80 characters);
    ``expected`` is the header's number of fields. A Table's rows leave these out, so
    :meth:`file_row` turns a Table's row index back into its row in the file.

    >>> s = SkippedRows(expected=2, at=[1, 2])
    >>> [s.file_row(i) for i in range(3)]
    [0, 3, 4]
    """

    expected: int = 0
    at: list[int] = field(default_factory=list)
    fields: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    #: the notes the reader wrote about them (also in Table.notes)
    notes: list[str] = field(default_factory=list)

    def file_row(self, row: int) -> int:
        """The 0-based data row in the file of the ``row``-th row that was read (0-based)."""
        k = bisect.bisect_right(self.at, row)
        while k < len(self.at) and self.at[k] <= row + k:
            k += 1
        return row + k

    def reason(self, i: int) -> str:
        """Why the ``i``-th skipped row was skipped, in words."""
        text = f": {self.texts[i]!r}" if i < len(self.texts) else ""
        return f"{self.fields[i]} fields where the header has {self.expected}{text}"


class Table(Mapping[str, np.ndarray]):
    """Ordered column name -> numpy array, with each column's kind (see :mod:`hub.cells`).

    A Table is a ``Mapping``, so anything that takes ``Mapping[str, np.ndarray]`` takes a Table.
    ``first_row`` is the 0-based data row of this chunk's first row in its file; ``header_lines``
    the lines before the data (0 for Parquet); ``comma_decimals`` whether its numbers may be
    written with decimal commas (a semicolon-separated CSV). :meth:`where` turns a row index into words.

    >>> t = Table({"x": np.array([1.0, 2.0, 3.0])}, {"x": "numeric"})
    >>> t.n_rows, t.select([2, 0]).column("x").tolist()
    (3, [3.0, 1.0])
    """

    def __init__(
        self,
        columns: Mapping[str, np.ndarray],
        kinds: Mapping[str, str],
        *,
        source: str = "table",
        first_row: int = 0,
        header_lines: int = 1,
        notes: Sequence[str] = (),
        bytes_read: int | None = None,
        bytes_total: int | None = None,
        comma_decimals: bool = False,
        skipped: SkippedRows | None = None,
    ):
        self._columns = dict(columns)
        self.kinds = {name: kinds[name] for name in self._columns}
        lengths = {len(v) for v in self._columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns of {source} differ in length: {sorted(lengths)}")
        self.n_rows = lengths.pop() if lengths else 0
        self.source = source
        self.first_row = first_row
        self.header_lines = header_lines
        self.notes = list(notes)  # rows skipped and bytes transcoded so far in the file
        self.bytes_read = bytes_read
        self.bytes_total = bytes_total
        self.comma_decimals = comma_decimals
        #: rows the reader could not split so far (shared with the reader: it grows as it reads)
        self.skipped = skipped if skipped is not None else SkippedRows()

    @property
    def names(self) -> list[str]:
        return list(self._columns)

    def column(self, name: str) -> np.ndarray:
        """The column ``name``; a missing name is a DataError with the closest names."""
        try:
            return self._columns[name]
        except KeyError:
            raise DataError(missing_column_message(name, self.names, self.source)) from None

    def __getitem__(self, name: str) -> np.ndarray:
        return self.column(name)

    def __iter__(self):
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        cols = ", ".join(f"{n}:{k}" for n, k in self.kinds.items())
        return f"Table({self.source}, {self.n_rows} rows, {cols})"

    def where(self, row: int) -> str:
        """Where row ``row`` of this table is in its file: "line 7" (CSV) or "row 6" (Parquet).

        Lines count one per row, so they are exact unless an earlier cell holds a line break.
        """
        return _where(self.header_lines, self.file_row(row))

    def file_row(self, row: int) -> int:
        """The 0-based data row in the file of row ``row`` of this table (rows the reader could
        not split are in the file, not in the table)."""
        return self.skipped.file_row(self.first_row + row)

    def select(self, rows) -> Table:
        """The rows at ``rows`` (indices or a boolean mask), as a new Table."""
        rows = np.asarray(rows)
        return Table(
            {n: v[rows] for n, v in self._columns.items()},
            self.kinds,
            source=self.source,
            header_lines=self.header_lines,
            notes=self.notes,
            comma_decimals=self.comma_decimals,
        )


def missing_column_message(name: str, names: Sequence[str], source: str) -> str:
    """ "column 'reward' not in data.csv; did you mean 'rewards'? columns: ..." """
    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    if not close:
        lowered = {n.lower(): n for n in names}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    return f"column {name!r} not in {source}{hint} columns: {shown}"


def require_unique(table: Table, column: str) -> None:
    """Raise DataError if ``column`` repeats a value, naming the value and its (file) lines.

    >>> require_unique(Table({"id": np.array(["a", "b", "a"], dtype=object)}, {"id": "categorical"}), "id")
    Traceback (most recent call last):
    ...
    hub.errors.DataError: column 'id' in table must be unique but 'a' appears 2 times (line 2, line 4); ...
    """
    values = table.column(column)
    present = ~_missing(values)
    keys = values[present]
    if table.kinds.get(column) in ("categorical", "text"):
        keys = keys.astype(str)
    uniques, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    dup = np.flatnonzero(counts > 1)
    if dup.size == 0:
        return
    first = dup[np.argmin([np.flatnonzero(inverse == d)[0] for d in dup])]
    rows = np.flatnonzero(present)[np.flatnonzero(inverse == first)]
    lines = ", ".join(table.where(r) for r in rows[:10])
    raise DataError(
        f"column {column!r} in {table.source} must be unique but {_show(uniques[first])} appears "
        f"{counts[first]} times ({lines}); {dup.size} value(s) repeat in all. "
        "Remove the duplicate rows or pick another id column."
    )


#: a column whose present cells (at least 20) are this share numbers holds numbers with stray cells
NUMERIC_SHARE = 0.95


def require_numbers(table: Table, way_out: str, declared: Mapping[str, str] | None = None) -> None:
    """Raise DataError for a column of numbers but for a few cells (``12``, ``7``, ``n/a?``), naming
    the first stray cell: read as it is, every number would quietly become a category level.
    ``way_out`` says how to keep such a column anyway (``{name}`` is the column); columns in
    ``declared`` are as the user declared them.
    """
    for name, kind in table.kinds.items():
        if kind != "categorical" or name in (declared or {}):
            continue
        values = table.column(name)
        present = np.array([v is not None for v in values], dtype=bool)
        parsed = parse_column(values, "numeric")
        if parsed.bad is None or present.sum() < 20:
            continue
        if np.isfinite(parsed.values[present]).mean() >= NUMERIC_SHARE:
            raise DataError(
                f"column {name!r} in {table.source} holds numbers, but {table.where(parsed.bad.index)} has "
                f"{parsed.bad.value!r}. Fix the cell, or {way_out.format(name=name)}."
            )


def _show(value) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return repr(int(value))
    return repr(value.item() if isinstance(value, np.generic) else value)


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "M":
        return np.isnat(values)
    if values.dtype.kind == "O":
        return np.array([v is None for v in values], dtype=bool)
    return np.zeros(len(values), dtype=bool)


def file_format(path: str | os.PathLike) -> str:
    """'csv' or 'parquet' from the file name; anything else is a DataError."""
    name = Path(path).name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    raise DataError(
        f"{Path(path).name}: unsupported file type; use CSV ({', '.join(CSV_SUFFIXES)}) "
        f"or Parquet ({', '.join(PARQUET_SUFFIXES)})"
    )


def read_table(
    path: str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    types: Mapping[str, str] | None = None,
) -> Table:
    """Read the whole file at ``path`` (only ``columns`` if given, in that order), kinds inferred
    over all rows unless declared in ``types`` (column -> numeric/boolean/date/categorical/text)."""
    reader = _open(path, columns, types)
    batches = list(reader.batches())
    data = pa.Table.from_batches(batches, schema=reader.schema)
    if data.num_rows == 0:
        raise reader.no_rows()
    return reader.convert(data, first_row=0, kinds=dict(reader.types))


def iter_table(
    path: str | os.PathLike,
    chunk_rows: int = 50_000,
    columns: Sequence[str] | None = None,
    *,
    types: Mapping[str, str] | None = None,
    log_skipped: bool = True,
) -> Iterator[Table]:
    """Yield the file as Tables of at most ``chunk_rows`` rows, streaming (constant memory).

    Undeclared kinds are inferred from the first chunk and kept; a later cell that does not fit
    is a DataError that names it (declare the column's kind in ``types`` to read it as text).
    Each chunk has ``bytes_read`` (of the file on disk) and ``bytes_total`` for a progress bar,
    and ``skipped``, the rows the reader could not split so far (logged unless ``log_skipped``
    is False: a caller that lists them itself).
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    reader = _open(path, columns, types)
    reader.log_skipped = log_skipped
    kinds = dict(reader.types)
    buffered: list[pa.RecordBatch] = []
    n_buffered = 0
    first_row = 0
    for batch in reader.batches():
        buffered.append(batch)
        n_buffered += batch.num_rows
        while n_buffered >= chunk_rows:
            data = pa.Table.from_batches(buffered, schema=reader.schema)
            chunk, rest = data.slice(0, chunk_rows), data.slice(chunk_rows)
            table = reader.convert(chunk, first_row=first_row, kinds=kinds)
            kinds = dict(table.kinds)
            first_row += chunk_rows
            buffered, n_buffered = rest.to_batches(), rest.num_rows
            yield table
    if n_buffered or first_row == 0:
        data = pa.Table.from_batches(buffered, schema=reader.schema)
        if first_row == 0 and data.num_rows == 0:
            raise reader.no_rows()
        yield reader.convert(data, first_row=first_row, kinds=kinds)


def count_rows(path: str | os.PathLike) -> int:
    """Number of data rows (streams a CSV once; Parquet reads its footer)."""
    reader = _open(path, None, None, only_first=True)
    if reader.format == "parquet":
        return reader.rows
    return sum(batch.num_rows for batch in reader.batches())


def file_size(path: str | os.PathLike) -> int:
    """Bytes on disk: the total for a progress bar fed by ``Table.bytes_read``."""
    return os.path.getsize(path)


class _Reader:
    """One open file: its header, declared kinds, arrow batches and conversion to Tables."""

    def __init__(self, path: Path, columns, types, only_first: bool = False):
        self.path = path
        self.source = path.name
        self.total = os.path.getsize(path)
        self.notes: list[str] = []
        self.skipped_rows = 0
        self.skipped = SkippedRows()
        #: log each skipped row (off where the caller lists them itself, as hub import does)
        self.log_skipped = True
        self.format = file_format(path)
        if self.format == "parquet":
            try:
                self._parquet = pq.ParquetFile(path)
            except (pa.ArrowInvalid, OSError) as error:
                raise DataError(f"{self.source} is not a readable Parquet file ({error})") from None
            self.names = list(self._parquet.schema_arrow.names)
            self.rows = self._parquet.metadata.num_rows
            self.header_lines = 0
            if not self.names:
                raise DataError(f"{self.source} has no columns")
        else:
            self._open_csv_header()
        _check_duplicates(self.names, self.source)
        self.skipped.expected = len(self.names)
        self.columns = list(columns) if columns is not None else list(self.names)
        if only_first:
            self.columns = self.columns[:1]
        for name in self.columns:
            if name not in self.names:
                raise DataError(missing_column_message(name, self.names, self.source))
        _check_duplicates(self.columns, "the columns asked for")
        self.types = dict(types or {})
        for name, kind in self.types.items():
            if kind not in KINDS:
                raise DataError(f"type {kind!r} for column {name!r} is not one of {', '.join(KINDS)}")
            if name not in self.names:
                raise DataError(missing_column_message(name, self.names, self.source))
        self.types = {n: k for n, k in self.types.items() if n in self.columns}

    def _open_csv_header(self) -> None:
        raw, _ = open_bytes(self.path)
        try:
            head = raw.read(_SNIFF_BYTES)
        except (OSError, EOFError) as error:
            raise DataError(f"{self.source} cannot be read ({error}); is it a complete, valid file?") from None
        finally:
            raw.close()
        text = decode_head(head)
        if not text.strip():
            raise DataError(f"{self.source} is empty: expected a header line with column names, then rows")
        preferred = "\t" if ".tsv" in self.source.lower() else ","
        self.delimiter = sniff_delimiter(text, preferred)
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        try:
            header = next((row for row in rows if any(cell.strip() for cell in row)), None)
        except csv.Error as error:
            raise DataError(f"{self.source}: the header line cannot be read ({error})") from None
        if header is None:
            raise DataError(f"{self.source} has no header line with column names in its first {_SNIFF_BYTES:,} bytes")
        # Lines before the data: blank lines and a header that may span lines inside quotes.
        self.header_lines = rows.line_num
        self.names = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
        if len(self.names) == 1 and _space_aligned(text):
            csv_name = Path(self.source.removesuffix(".gz")).with_suffix(".csv").name
            raise DataError(
                f"{self.source} looks separated by spaces (its header {header[0].strip()!r} is one column here); "
                "hub reads columns separated by commas, semicolons, tabs or |. Write it as CSV first, e.g. "
                f"sed -E 's/^ +//; s/ +/,/g' {self.source} > {csv_name}"
            )

    @property
    def schema(self) -> pa.Schema:
        if self.format == "parquet":
            return pa.schema([self._parquet.schema_arrow.field(n) for n in self.columns])
        return pa.schema([pa.field(n, pa.string()) for n in self.columns])

    def batches(self) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            rows, total_rows = 0, max(self._parquet.metadata.num_rows, 1)
            for batch in self._parquet.iter_batches(batch_size=65_536, columns=self.columns):
                rows += batch.num_rows
                self.bytes_read = self.total * rows // total_rows  # progress by rows: no byte position
                yield batch
            return
        raw, position = open_bytes(self.path)
        stream = Utf8Stream(raw, self.source, position)
        # One thread: the stream is read in order anyway, and skipped rows then get their line number.
        read_options = pcsv.ReadOptions(
            column_names=self.names, skip_rows=self.header_lines, block_size=BLOCK_BYTES, use_threads=False
        )
        parse_options = pcsv.ParseOptions(
            delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=self._bad_row
        )
        convert_options = pcsv.ConvertOptions(
            column_types={n: pa.string() for n in self.names},
            include_columns=self.columns,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        try:
            with pcsv.open_csv(stream, read_options, parse_options, convert_options) as reader:
                for batch in reader:
                    self.bytes_read = stream.bytes_read()
                    yield batch
        except pa.ArrowInvalid as error:
            raise DataError(f"{self.source} cannot be read as CSV: {error}") from None
        except (OSError, EOFError) as error:  # a truncated or corrupt .gz
            raise DataError(f"{self.source} cannot be read ({error}); is it a complete, valid file?") from None
        finally:
            stream.close()
        if self.skipped_rows > _NOTED_ROWS:
            note = f"{self.source}: skipped {self.skipped_rows} rows with the wrong number of fields in all"
            if self.log_skipped:
                log.warning(note)
            self.notes.append(note)
            self.skipped.notes.append(note)
        if stream.first_bad_line is not None:
            self.notes.append(
                f"{self.source} is not all UTF-8 (first at line {stream.first_bad_line}); "
                "those bytes were read as cp1252/latin-1"
            )

    def no_rows(self) -> DataError:
        """The error for a file with a header and no readable row."""
        if self.skipped_rows:
            return DataError(
                f"no row of {self.source} has the header's {len(self.names)} fields "
                f"({', '.join(self.names)}); all {self.skipped_rows} were skipped, e.g. {self.notes[0]}. "
                "Check the delimiter and trailing delimiters."
            )
        return NoRowsError(f"{self.source} has columns ({', '.join(self.names)}) but no rows", list(self.names))

    def _bad_row(self, row) -> str:
        """Skip a row with the wrong number of fields; the first few are noted one by one."""
        self.skipped_rows += 1
        # arrow numbers rows from the file's first, header included (one thread: never None)
        at = row.number - self.header_lines - 1 if row.number is not None else None
        if at is not None:
            self.skipped.at.append(at)
            self.skipped.fields.append(row.actual_columns)
            if len(self.skipped.texts) < _KEPT_TEXTS:
                self.skipped.texts.append(row.text[:80])
        where = f"line {row.number}" if row.number is not None else "a row"
        if self.skipped_rows <= _NOTED_ROWS:
            note = (
                f"{self.source}: skipped {where} with {row.actual_columns} fields "
                f"(expected {row.expected_columns}): {row.text[:80]!r}"
            )
            if self.log_skipped:
                log.warning(note)
            self.notes.append(note)
            self.skipped.notes.append(note)
        return "skip"

    def convert(self, data: pa.Table, *, first_row: int, kinds: dict[str, str]) -> Table:
        """Arrow columns to a Table; a cell that misfits a declared or held kind is a DataError."""
        columns, out_kinds = {}, {}
        comma_decimals = self.format == "csv" and self.delimiter == ";"
        for name in self.columns:
            column = data.column(name)
            kind = kinds.get(name)
            typed = arrow_kind(column.type)
            if typed is not None and kind in (None, typed):
                columns[name], out_kinds[name] = from_arrow(column, typed), typed
                continue
            kind, parsed = infer_and_parse(column, kind, comma_decimals=comma_decimals)
            if parsed.bad is not None:
                how = "declared" if name in self.types else "inferred from the first rows"
                raise DataError(
                    f"column {name!r} in {self.source} cannot be read as {kind} ({how}): "
                    f"{_where(self.header_lines, self.skipped.file_row(first_row + parsed.bad.index))} has {parsed.bad.value!r}. "
                    f"Fix the cell, or declare the column's type (e.g. {name}: categorical)."
                )
            columns[name], out_kinds[name] = parsed.values, kind
        return Table(
            columns,
            out_kinds,
            source=self.source,
            first_row=first_row,
            header_lines=self.header_lines,
            notes=self.notes,
            bytes_read=getattr(self, "bytes_read", self.total),
            bytes_total=self.total,
            comma_decimals=comma_decimals,
            skipped=self.skipped,
        )


def _space_aligned(text: str) -> bool:
    """Whether the first lines are columns aligned by runs of spaces (a fixed-width or
    whitespace-separated export): each splits on whitespace into the same 2+ fields, and some
    line starts with a space or holds two in a row. One column of words ("Ann Lee") is not."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    widths = {len(line.split()) for line in lines}
    aligned = any(line.startswith(" ") or "  " in line for line in lines)
    return len(lines) > 1 and len(widths) == 1 and widths.pop() > 1 and aligned


def _where(header_lines: int, row: int) -> str:
    """Data row ``row`` (0-based in the file) in words: its line in a CSV, its row number in Parquet."""
    return f"line {header_lines + row + 1}" if header_lines else f"row {row + 1}"


def _check_duplicates(names: Sequence[str], source: str) -> None:
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
    repeated = {n: pos for n, pos in seen.items() if len(pos) > 1}
    if repeated:
        shown = "; ".join(f"{n!r} at positions {', '.join(map(str, p))}" for n, p in repeated.items())
        raise DataError(f"{source} has duplicate column names: {shown}. Rename them so each is unique.")


def _open(path, columns, types, only_first: bool = False) -> _Reader:
    path = Path(path)
    file_format(path)
    if not path.exists():
        raise DataError(f"{path}: no such file. Check the path.")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty: expected a header line with column names, then rows")
    return _Reader(path, columns, types, only_first)
