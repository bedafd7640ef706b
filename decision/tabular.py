"""Typed columns to a model matrix: learned on training rows, applied unchanged to new rows.

A :class:`ColumnSpec` says how one column becomes features:

- ``numeric``: optional ``clip`` then ``log1p`` (signed for negatives), standardized with the
  training mean and standard deviation (``standardize``), optionally its square (``name^2``);
- ``date``: age in days at ``now`` (``now - stamp``; future stamps count as 0 days unless ``clip``
  says otherwise), then as numeric under the column's own name;
- ``boolean``: 1/0;
- ``categorical``: one 0/1 column per level (``levels`` fixed, else the ``top_k`` most frequent in
  training), plus ``name=other`` (unseen or rare levels) and ``name=missing``;
- ``keyword``: one 0/1 column per keyword, a case-insensitive substring of the text (``name~kw``).

Missing is explicit: numeric, date and boolean columns get ``name_missing`` and the training
mean (0 after standardizing); the output never holds NaN. Input is any ``Mapping[str, array]``
(a :class:`hub.tables.Table`, or columns the engine pulled from contacts); cells are parsed with
:mod:`hub.cells`, so ``"3"``, ``3`` and ``3.0`` are the same.

>>> import numpy as np
>>> specs = [ColumnSpec("plan", "categorical", top_k=1), ColumnSpec("seats", "numeric")]
>>> f = TableFeaturizer(specs).fit({"plan": np.array(["pro", "pro", "free"]), "seats": np.array([1.0, 3.0, np.nan])})
>>> f.names_
['plan=pro', 'plan=other', 'plan=missing', 'seats', 'seats_missing']
>>> f.transform({"plan": np.array(["team"]), "seats": np.array([2.0])}).tolist()
[[0.0, 1.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hub.cells import as_strings, infer_kind, missing_mask, parse_column
from hub.errors import DataError
from hub.tables import Table, missing_column_message

log = logging.getLogger(__name__)

SPEC_TYPES = ("numeric", "categorical", "boolean", "date", "keyword")
DAY_US = 86_400 * 1_000_000
LIMIT = 1e12  # continuous outputs are bounded so their squares stay finite


@dataclass(frozen=True)
class ColumnSpec:
    """How one input column becomes model features (see the module docstring).

    >>> ColumnSpec("employees", "numeric", log1p=True, squared=True).name
    'employees'
    """

    name: str
    type: str
    log1p: bool = False
    clip: tuple[float, float] | None = None
    standardize: bool = True
    squared: bool = False
    top_k: int = 20
    levels: tuple[str, ...] | None = None
    keywords: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.type not in SPEC_TYPES:
            raise ValueError(f"column {self.name!r}: type {self.type!r} is not one of {', '.join(SPEC_TYPES)}")
        if self.clip is not None:
            lo, hi = (float(v) for v in self.clip)
            if not lo <= hi:
                raise ValueError(f"column {self.name!r}: clip low {lo} is above high {hi}")
            object.__setattr__(self, "clip", (lo, hi))
        if self.levels is not None:
            object.__setattr__(self, "levels", tuple(str(v) for v in self.levels))
        object.__setattr__(self, "keywords", tuple(str(k) for k in self.keywords))
        if self.type == "keyword" and not self.keywords:
            raise ValueError(f"column {self.name!r}: a keyword column needs keywords")
        if self.top_k < 1:
            raise ValueError(f"column {self.name!r}: top_k must be at least 1")
        misplaced = [
            option
            for option, applies in (
                ("log1p", self.type in ("numeric", "date") or not self.log1p),
                ("clip", self.type in ("numeric", "date") or self.clip is None),
                ("squared", self.type in ("numeric", "date") or not self.squared),
                ("levels", self.type == "categorical" or self.levels is None),
                ("keywords", self.type == "keyword" or not self.keywords),
            )
            if not applies
        ]
        if misplaced:
            raise ValueError(f"column {self.name!r}: {', '.join(misplaced)} do(es) not apply to a {self.type} column")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["clip"] = list(self.clip) if self.clip is not None else None
        out["levels"] = list(self.levels) if self.levels is not None else None
        out["keywords"] = list(self.keywords)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> ColumnSpec:
        """The spec of a ``to_dict`` (or hand-written config) mapping; unknown keys are refused."""
        data = dict(data)
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            known = ", ".join(f.name for f in fields(cls))
            raise ValueError(f"column spec {data.get('name')!r}: unknown key(s) {', '.join(unknown)}; known: {known}")
        if data.get("clip") is not None:
            data["clip"] = tuple(data["clip"])
        if data.get("levels") is not None:
            data["levels"] = tuple(data["levels"])
        data["keywords"] = tuple(data.get("keywords") or ())
        return cls(**data)


def infer_specs(
    table: Mapping[str, np.ndarray],
    exclude: Sequence[str] = (),
    *,
    notes: list[str] | None = None,
) -> list[ColumnSpec]:
    """A reasonable spec per column; skipped columns (ids, free text, constant) are explained in ``notes``.

    Numeric columns of only 0/1 are boolean; non-negative skewed ones get ``log1p``. Text cannot
    become keywords without keywords, so it is skipped; so are string columns whose values are
    nearly all distinct, and whole numbers rising row by row (identifiers, row numbers).

    >>> import numpy as np
    >>> [(s.name, s.type, s.log1p) for s in infer_specs({"n": np.array([0.0, 1, 2, 3, 500]), "won": np.array([0.0, 1, 1, 0, 1])})]
    [('n', 'numeric', True), ('won', 'boolean', False)]
    """
    notes = notes if notes is not None else []
    kinds = table.kinds if isinstance(table, Table) else {}
    specs = []
    for name in table:
        if name in exclude:
            continue
        values = table[name]
        kind = kinds.get(name) or _kind_of(values)
        if kind in ("categorical", "text"):
            strings = as_strings(values)
            present = strings.filter(pa.array(~missing_mask(strings)))
            distinct = pc.unique(present).to_numpy(zero_copy_only=False)
        else:
            parsed = _dates(values) if kind == "date" else _floats(values, kind)
            present = parsed[~(np.isnat(parsed) if kind == "date" else np.isnan(parsed))]
            distinct = np.unique(present)
        if len(present) == 0:
            _note(notes, f"{name}: skipped, every value is missing")
            continue
        if distinct.size < 2:
            _note(notes, f"{name}: skipped, one value only ({distinct[0]})")
            continue
        if kind == "numeric" and set(distinct.tolist()) <= {0.0, 1.0}:
            kind = "boolean"
        if kind == "numeric" and _counts_rows(present):
            _note(notes, f"{name}: skipped, distinct whole numbers rising row by row look like a row number or id")
            continue
        if kind == "numeric":
            specs.append(ColumnSpec(name, "numeric", log1p=bool(present.min() >= 0 and _skew(present) > 1.0)))
        elif kind in ("boolean", "date"):
            specs.append(ColumnSpec(name, kind))
        elif kind == "text":
            _note(notes, f"{name}: skipped, free text (give it a keyword spec with keywords to use it)")
        elif len(present) >= 20 and distinct.size > 0.5 * len(present):
            _note(notes, f"{name}: skipped, {distinct.size} distinct values in {len(present)} rows looks like an id")
        else:
            specs.append(ColumnSpec(name, "categorical"))
    return specs


def _counts_rows(x: np.ndarray) -> bool:
    """A row number or sequential id (a pandas index, customer ids in file order): 20 or more
    distinct whole numbers, each above the one before. As a model column it is a row counter."""
    return len(x) >= 20 and bool(np.all(x == np.floor(x)) and np.all(np.diff(x) > 0))


def _kind_of(values) -> str:
    """The kind of a column: from its dtype when typed, else inferred from its cells."""
    kind = np.asarray(values).dtype.kind if not isinstance(values, pa.Array | pa.ChunkedArray) else "O"
    if kind == "b":
        return "boolean"
    if kind in "fiu":
        return "numeric"
    return "date" if kind == "M" else infer_kind(values)


def _note(notes: list[str], text: str) -> None:
    log.info("infer_specs: %s", text)
    notes.append(text)


def _mean_sd(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation without overflow for values near the float limit."""
    if x.size == 0:
        return 0.0, 0.0
    top = float(np.abs(x).max())
    if top == 0:
        return 0.0, 0.0
    u = x / top
    return top * float(u.mean()), min(top * float(u.std()), float(np.finfo(np.float64).max))


def _skew(x: np.ndarray) -> float:
    """Sample skewness (scale-free, so computed on values scaled to at most 1)."""
    top = float(np.abs(x).max())
    u = x / top if top > 0 else x
    sd = u.std()
    return float(((u - u.mean()) ** 3).mean() / sd**3) if sd > 1e-12 else 0.0


def _now_us(now: datetime | np.datetime64 | None) -> np.int64:
    if now is None:
        now = datetime.now(UTC)
    if isinstance(now, datetime):
        if now.tzinfo is not None:
            now = now.astimezone(UTC).replace(tzinfo=None)
        now = np.datetime64(now)
    return np.datetime64(now, "us").astype(np.int64)


class TableFeaturizer:
    """Columns -> float64 matrix, per the specs; ``fit`` learns levels, means and scales.

    Learned state: ``levels_`` (categorical levels), ``mean_`` / ``scale_`` (numeric, date and
    boolean), ``names_`` (output columns), ``numeric_columns_`` (indices of the continuous
    outputs, not one-hots, indicators or the spec's own squares: the ones a model may square).
    :attr:`version` hashes specs and state.
    """

    def __init__(self, specs: Sequence[ColumnSpec]):
        self.specs = list(specs)
        seen = set()
        for spec in self.specs:
            if spec.name in seen:
                raise ValueError(f"column {spec.name!r} has two specs; give each column one")
            seen.add(spec.name)

    # --- fitting --------------------------------------------------------------------------------

    def fit(self, columns: Mapping[str, np.ndarray], now=None) -> TableFeaturizer:
        """Learn levels, means and scales from training ``columns`` (dates aged at ``now``)."""
        self.levels_: dict[str, list[str]] = {}
        self.mean_: dict[str, float] = {}
        self.scale_: dict[str, float] = {}
        self._check(columns)
        now_us = _now_us(now)
        for spec in self.specs:
            values = columns[spec.name]
            if spec.type == "categorical":
                self.levels_[spec.name] = (
                    list(spec.levels) if spec.levels is not None else _top_levels(values, spec.top_k)
                )
            elif spec.type in ("numeric", "date", "boolean"):
                x = self._continuous(spec, values, now_us)
                mean, sd = _mean_sd(x[~np.isnan(x)])
                self.mean_[spec.name] = mean
                self.scale_[spec.name] = sd if spec.standardize and spec.type != "boolean" and sd > 1e-12 else 1.0
        self._set_names()
        return self

    def fit_transform(self, columns: Mapping[str, np.ndarray], now=None) -> np.ndarray:
        return self.fit(columns, now).transform(columns, now)

    def _set_names(self) -> None:
        names, numeric = [], []
        for spec in self.specs:
            n = spec.name
            if spec.type == "categorical":
                names += [f"{n}={level}" for level in self.levels_[n]] + [f"{n}=other", f"{n}=missing"]
            elif spec.type == "keyword":
                names += [f"{n}~{k}" for k in spec.keywords]
            elif spec.type == "boolean":
                names += [n, f"{n}_missing"]
            else:
                numeric.append(len(names))
                names += [n, f"{n}_missing"] + ([f"{n}^2"] if spec.squared else [])
        self.names_ = names
        self.numeric_columns_ = np.array(numeric, dtype=np.int64)

    # --- transforming ---------------------------------------------------------------------------

    def transform(self, columns: Mapping[str, np.ndarray], now=None) -> np.ndarray:
        """The (n_rows, len(names_)) float64 matrix of ``columns``; never NaN."""
        if not hasattr(self, "names_"):
            raise RuntimeError("TableFeaturizer.transform before fit (or from_dict)")
        n = self._check(columns)
        now_us = _now_us(now)
        out = np.zeros((n, len(self.names_)), order="F")  # filled column by column
        j = 0  # first output column of the current spec
        for spec in self.specs:
            values = columns[spec.name]
            if spec.type == "categorical":
                levels = self.levels_[spec.name]
                out[np.arange(n), j + _level_codes(values, levels)] = 1.0
                j += len(levels) + 2
            elif spec.type == "keyword":
                out[:, j : j + len(spec.keywords)] = _keywords(values, spec.keywords)
                j += len(spec.keywords)
            else:
                x = self._continuous(spec, values, now_us)
                missing = np.isnan(x)
                x = np.where(missing, self.mean_[spec.name], x)
                if spec.type != "boolean":
                    with np.errstate(over="ignore"):
                        x = (x - self.mean_[spec.name]) / self.scale_[spec.name] if spec.standardize else x
                    x = np.clip(x, -LIMIT, LIMIT)
                out[:, j], out[:, j + 1] = x, missing
                j += 2
                if spec.type != "boolean" and spec.squared:
                    out[:, j] = x * x
                    j += 1
        return np.ascontiguousarray(out)

    def _continuous(self, spec: ColumnSpec, values, now_us) -> np.ndarray:
        """Numeric, date (age in days) or boolean values as float64 with NaN missing, clipped and logged."""
        if spec.type == "boolean":
            return _floats(values, "boolean")
        if spec.type == "date":
            stamps = _dates(values)
            x = np.where(np.isnat(stamps), np.nan, (now_us - stamps.astype(np.int64)) / DAY_US)
            if spec.clip is None:
                x = np.where(x < 0, 0.0, x)
        else:
            x = _floats(values, "numeric")
        if spec.clip is not None:
            x = np.clip(x, *spec.clip)
        if spec.log1p:
            x = np.sign(x) * np.log1p(np.abs(x))
        return x

    def _check(self, columns: Mapping[str, np.ndarray]) -> int:
        names = list(columns)
        for spec in self.specs:
            if spec.name not in columns:
                source = getattr(columns, "source", "the input")
                raise DataError(missing_column_message(spec.name, names, source))
        lengths = {len(columns[s.name]) for s in self.specs} or {len(next(iter(columns.values()), []))}
        if len(lengths) > 1:
            raise DataError(f"input columns differ in length: {sorted(lengths)}")
        return lengths.pop()

    # --- identity and storage -------------------------------------------------------------------

    def to_dict(self) -> dict:
        """JSON-able specs and fitted state; :meth:`from_dict` gives back an identical featurizer."""
        out = {"specs": [s.to_dict() for s in self.specs]}
        if hasattr(self, "names_"):
            out["state"] = {"levels": self.levels_, "mean": self.mean_, "scale": self.scale_}
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> TableFeaturizer:
        featurizer = cls([ColumnSpec.from_dict(s) for s in data["specs"]])
        state = data.get("state")
        if state is not None:
            featurizer.levels_ = {k: list(v) for k, v in state["levels"].items()}
            featurizer.mean_ = {k: float(v) for k, v in state["mean"].items()}
            featurizer.scale_ = {k: float(v) for k, v in state["scale"].items()}
            featurizer._set_names()
        return featurizer

    @property
    def version(self) -> str:
        """A short hash of specs and fitted state: equal versions transform equal input equally."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- column helpers -----------------------------------------------------------------------------


def _floats(values, kind: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        x = arr.astype(np.float64)
        x[~np.isfinite(x)] = np.nan
        return np.where(np.isnan(x), np.nan, (x != 0).astype(np.float64)) if kind == "boolean" else x
    return parse_column(values, kind).values


def _dates(values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[us]")
    return parse_column(values, "date").values


def _encoded(values) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct present cells, each row's index into them, and the missing mask (no sorting)."""
    strings = as_strings(values)
    missing = missing_mask(strings)
    encoded = strings.fill_null("").dictionary_encode()
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False), missing


def _top_levels(values, top_k: int) -> list[str]:
    """The ``top_k`` most frequent present levels, ties broken by name (so the result is stable)."""
    uniques, index, missing = _encoded(values)
    counts = np.bincount(index[~missing], minlength=len(uniques))
    order = sorted(range(len(uniques)), key=lambda i: (-counts[i], uniques[i]))
    return [uniques[i] for i in order[:top_k] if counts[i] > 0]


def _level_codes(values, levels: list[str]) -> np.ndarray:
    """Per row: the level's position, ``len(levels)`` for other, ``len(levels) + 1`` for missing."""
    uniques, index, missing = _encoded(values)
    position = {level: i for i, level in enumerate(levels)}
    code = np.array([position.get(u, len(levels)) for u in uniques], dtype=np.int64)[index]
    code[missing] = len(levels) + 1
    return code


def _keywords(values, keywords: Sequence[str]) -> np.ndarray:
    strings = pc.utf8_lower(as_strings(values).fill_null(""))
    out = np.zeros((len(strings), len(keywords)))
    for j, keyword in enumerate(keywords):
        hit = pc.match_substring(strings, keyword.lower())
        out[:, j] = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=np.float64)
    return out


__all__ = ["ColumnSpec", "TableFeaturizer", "infer_specs"]
