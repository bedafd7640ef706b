"""Cells to typed columns: the parsing rules shared by the table reader and the featurizer.

A column of text cells is read as one *kind*:

- ``numeric``: float64, NaN where missing;
- ``boolean``: float64 1.0 / 0.0, NaN where missing (true/false, yes/no, y/n, t/f, 1/0, any case);
- ``date``: ``datetime64[us]`` in UTC, NaT where missing (ISO dates and datetimes; a zone suffix
  such as ``Z`` or ``+02:00`` is converted to UTC, a stamp without one is taken as UTC);
- ``categorical``: object array of ``str``, ``None`` where missing;
- ``text``: like categorical, for free text: a median length over 40 characters, or mostly
  distinct cells of five or more words.

Missing cells are empty, ``NA``, ``N/A``, ``NaN``, ``null`` or ``None`` (any case, spaces
trimmed); ``unknown`` is a real level. All work is pyarrow compute over the whole column.

>>> parse_column(["1", " 2.5", "NA", ""], "numeric").values.tolist()
[1.0, 2.5, nan, nan]
>>> infer_kind(["yes", "No", "", "Y"])
'boolean'
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("numeric", "boolean", "date", "categorical", "text")
MISSING = ("", "na", "n/a", "nan", "null", "none")
TRUE = ("true", "yes", "y", "t", "1")
FALSE = ("false", "no", "n", "f", "0")
TEXT_MEDIAN_LENGTH = 40
TEXT_MEDIAN_WORDS = 5

_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
_ZONE = r"(Z|[+-]\d{2}:?\d{2})$"
_LEADING_ZERO = r"^[+-]?0\d"
_SAMPLE = 1000
_DECIMAL_COMMA = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"


@dataclass(frozen=True)
class BadCell:
    """The first cell of a column that does not fit a kind: its 0-based index and its text."""

    index: int
    value: str


@dataclass(frozen=True)
class Parsed:
    """A parsed column: ``values`` (see the module docstring) and the first misfit, if any."""

    values: np.ndarray
    bad: BadCell | None = None


def as_strings(values) -> pa.Array:
    """Any column (list, numpy array, pyarrow array) as a pyarrow string array, trimmed.

    Numbers print as arrow does (``1.0`` as ``"1"``, so it is the same level as ``"1"``), booleans
    as ``true``/``false``, stamps as ISO text; ``None``/NaN/NaT become null.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        arr = np.asarray(values)
        if arr.dtype.kind == "O":
            try:
                values = pa.array(arr, type=pa.string(), from_pandas=True)
            except (pa.ArrowTypeError, pa.ArrowInvalid):  # mixed objects: their text
                values = pa.array([_text(v) for v in arr.tolist()], type=pa.string())
        elif arr.dtype.kind == "S":
            values = pa.array([_text(v) for v in arr.tolist()], type=pa.string())
        elif arr.dtype.kind == "U":
            values = pa.array(arr.tolist(), type=pa.string())
        else:
            values = pa.array(arr, from_pandas=True)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        try:
            values = pc.cast(values, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # binary that is not UTF-8, nested types
            values = pa.array([_text(v) for v in values.to_pylist()], type=pa.string())
    return pc.utf8_trim_whitespace(values.cast(pa.string()))


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def missing_mask(strings: pa.Array) -> np.ndarray:
    """True where a (trimmed) cell is null or one of the missing markers."""
    hit = pc.is_in(pc.ascii_lower(strings), value_set=pa.array(MISSING))  # markers are ASCII
    return np.asarray(pc.or_kleene(hit, pc.is_null(strings)).fill_null(True).to_numpy(zero_copy_only=False))


def _first_bad(strings: pa.Array, fits: np.ndarray, missing: np.ndarray) -> BadCell | None:
    bad = np.flatnonzero(~fits & ~missing)
    return BadCell(int(bad[0]), strings[int(bad[0])].as_py()) if bad.size else None


def _bools(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _present(strings: pa.Array, missing: np.ndarray) -> pa.Array:
    return strings.filter(pa.array(~missing)) if missing.any() else strings


def _casts(strings: pa.Array, type_: pa.DataType) -> bool:
    """Whether the first cells cast: a failing cast reads the whole column, so look first."""
    try:
        pc.cast(strings.slice(0, _SAMPLE), type_)
        return True
    except pa.ArrowInvalid:
        return False


def parse_numeric(strings: pa.Array, missing: np.ndarray) -> Parsed:
    out = np.full(len(strings), np.nan)
    present = _present(strings, missing)
    try:  # fast path: every present cell is a number
        if not _casts(present, pa.float64()):
            raise pa.ArrowInvalid("not all numbers")
        out[~missing] = pc.cast(present, pa.float64()).to_numpy(zero_copy_only=False)
        fits = np.ones(len(strings), dtype=bool)
    except pa.ArrowInvalid:
        fits = _bools(pc.match_substring_regex(strings, _NUMBER))
        ok = fits & ~missing
        if ok.any():
            out[ok] = pc.cast(strings.filter(pa.array(ok)), pa.float64()).to_numpy(zero_copy_only=False)
    out[~np.isfinite(out)] = np.nan  # inf, and numbers past the float range, count as missing
    return Parsed(out, _first_bad(strings, fits, missing))


def parse_boolean(strings: pa.Array, missing: np.ndarray) -> Parsed:
    lower = pc.ascii_lower(strings)
    yes = _bools(pc.is_in(lower, value_set=pa.array(TRUE)))
    no = _bools(pc.is_in(lower, value_set=pa.array(FALSE)))
    out = np.where(yes, 1.0, np.where(no, 0.0, np.nan))
    return Parsed(out, _first_bad(strings, yes | no, missing))


def _cast_dates(strings: pa.Array) -> np.ndarray:
    """ISO strings to datetime64[us] UTC; stamps with a zone are converted, others taken as UTC."""
    naive, zoned = pa.timestamp("us"), pa.timestamp("us", tz="UTC")
    if _casts(strings, naive):  # fast paths: all without a zone, or all with one
        with contextlib.suppress(pa.ArrowInvalid):
            return pc.cast(strings, naive).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    elif _casts(strings, zoned):
        with contextlib.suppress(pa.ArrowInvalid):
            utc = pc.cast(strings, zoned)
            return utc.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    zoned = _bools(pc.match_substring_regex(strings, _ZONE))
    out = np.full(len(strings), np.datetime64("NaT"), dtype="datetime64[us]")
    if (~zoned).any():
        naive = pc.cast(strings.filter(pa.array(~zoned)), pa.timestamp("us"))
        out[~zoned] = naive.to_numpy(zero_copy_only=False)
    if zoned.any():
        utc = pc.cast(strings.filter(pa.array(zoned)), pa.timestamp("us", tz="UTC"))
        out[zoned] = utc.cast(pa.int64()).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    return out


def parse_date(strings: pa.Array, missing: np.ndarray) -> Parsed:
    out = np.full(len(strings), np.datetime64("NaT"), dtype="datetime64[us]")
    present = _present(strings, missing)
    if _casts(present, pa.timestamp("us")) or _casts(present, pa.timestamp("us", tz="UTC")):
        with contextlib.suppress(pa.ArrowInvalid):  # fast path: every present cell is a date
            out[~missing] = _cast_dates(present)
            return Parsed(out)
    fits = _bools(pc.match_substring_regex(strings, _DATE))
    ok = fits & ~missing
    if ok.any():
        picked = strings.filter(pa.array(ok))
        try:
            out[ok] = _cast_dates(picked)
        except pa.ArrowInvalid:
            # A well-formed but impossible date (2024-02-30): find which, one distinct value at a time.
            uniques, inverse = np.unique(picked.to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
            parsed = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[us]")
            for i, text in enumerate(uniques):
                with contextlib.suppress(pa.ArrowInvalid):
                    parsed[i] = _cast_dates(pa.array([text]))[0]
            out[ok] = parsed[inverse]
            fits = fits.copy()
            fits[np.flatnonzero(ok)[np.isnat(parsed[inverse])]] = False
    return Parsed(out, _first_bad(strings, fits, missing))


def parse_strings(strings: pa.Array, missing: np.ndarray) -> Parsed:
    out = np.asarray(strings.to_numpy(zero_copy_only=False), dtype=object)
    out[missing] = None
    return Parsed(out)


_PARSERS = {
    "numeric": parse_numeric,
    "boolean": parse_boolean,
    "date": parse_date,
    "categorical": parse_strings,
    "text": parse_strings,
}


def parse_column(values, kind: str) -> Parsed:
    """Read ``values`` as ``kind``; cells that do not fit become missing and the first is reported."""
    if kind not in _PARSERS:
        raise ValueError(f"unknown column kind {kind!r}; use one of {', '.join(KINDS)}")
    strings = as_strings(values)
    return _PARSERS[kind](strings, missing_mask(strings))


def parse_outcome(values) -> Parsed:
    """An outcome (reward) column read cell by cell: a number, or yes/no, true/false (any case)
    as 1/0. One stray cell among yes/no is that cell's problem, not the column's.

    >>> p = parse_outcome(["yes", "No", "2.5", "maybe", ""])
    >>> p.values.tolist()[:3], p.bad
    ([1.0, 0.0, 2.5], BadCell(index=3, value='maybe'))
    """
    strings = as_strings(values)
    missing = missing_mask(strings)
    numbers = parse_numeric(strings, missing)
    flags = parse_boolean(strings, missing)
    out = np.where(np.isnan(numbers.values), flags.values, numbers.values)
    return Parsed(out, _first_bad(strings, ~np.isnan(out), missing))


def infer_kind(values, missing: np.ndarray | None = None) -> str:
    """The narrowest kind every non-missing cell fits: boolean, numeric, date, then text or categorical.

    A column of only 0 and 1 is boolean; numbers written with a leading zero (``02134``) are codes,
    so categorical. An all-missing column is categorical.
    """
    strings = values if isinstance(values, pa.Array) else as_strings(values)
    if missing is None:
        missing = missing_mask(strings)
    if missing.all():
        return "categorical"
    present = _present(strings, missing)
    sample = present.slice(0, _SAMPLE)
    no_missing = np.zeros(len(sample), dtype=bool)
    for kind in ("boolean", "numeric", "date"):
        if _PARSERS[kind](sample, no_missing).bad is None and _PARSERS[kind](strings, missing).bad is None:
            if kind == "numeric" and pc.any(pc.match_substring_regex(strings, _LEADING_ZERO)).as_py():
                return "categorical"  # zip codes, account numbers: "02134" is a code, not 2134
            return kind
    return "text" if _is_free_text(present) else "categorical"


def _is_free_text(present: pa.Array) -> bool:
    """Long cells (median over 40 characters), or mostly distinct sentences (median 5+ words)."""
    if np.median(pc.utf8_length(present).to_numpy(zero_copy_only=False)) > TEXT_MEDIAN_LENGTH:
        return True
    words = pc.count_substring(present, " ").to_numpy(zero_copy_only=False) + 1
    return bool(np.median(words) >= TEXT_MEDIAN_WORDS and len(pc.unique(present)) > 0.5 * len(present))


def decimal_comma(strings: pa.Array, missing: np.ndarray, *, require_comma: bool = True) -> pa.Array | None:
    """Numbers written the European way (``3,25``, ``1.234,5``) as ``3.25``, ``1234.5``.

    Only when every present cell is such a number and (unless ``require_comma`` is False: the
    column already showed one) one has a comma; else None.

    >>> decimal_comma(pa.array(["1.234,5", "3,25", "7"]), np.zeros(3, dtype=bool)).to_pylist()
    ['1234.5', '3.25', '7']
    """
    present = _present(strings, missing)
    if len(present) == 0 or (require_comma and not pc.any(pc.match_substring(present, ",")).as_py()):
        return None
    if not pc.all(pc.match_substring_regex(present, _DECIMAL_COMMA)).as_py():
        return None
    return pc.replace_substring(pc.replace_substring(strings, ".", ""), ",", ".")


def infer_and_parse(values, kind: str | None = None, *, comma_decimals: bool = False) -> tuple[str, Parsed]:
    """Infer the kind (unless given) and parse, sharing the string conversion.

    ``comma_decimals`` (for semicolon-separated files) reads ``3,25`` as 3.25 when the whole column
    is written that way.
    """
    strings = as_strings(values)
    missing = missing_mask(strings)
    if comma_decimals and kind in (None, "numeric"):
        rewritten = decimal_comma(strings, missing)
        strings = strings if rewritten is None else rewritten
    if kind is None:
        kind = infer_kind(strings, missing)
    return kind, _PARSERS[kind](strings, missing)


def arrow_kind(type_: pa.DataType) -> str | None:
    """The kind of an already typed (Parquet) column, or None when its cells must be parsed as text."""
    if pa.types.is_boolean(type_):
        return "boolean"
    if pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_):
        return "numeric"
    if pa.types.is_timestamp(type_) or pa.types.is_date(type_):
        return "date"
    return None


def from_arrow(column: pa.Array | pa.ChunkedArray, kind: str) -> np.ndarray:
    """A typed arrow column (see :func:`arrow_kind`) as the numpy values of ``kind``."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if kind == "date":
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        return column.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    out = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    out[~np.isfinite(out)] = np.nan
    return out
