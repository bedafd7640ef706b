"""A logged table (hub/tables.py) checked and turned into the arrays offline evaluation needs.

Every problem is a :class:`~hub.errors.DataError` (CLI exit 2) that names the column, and the
row where one row is at fault: a column that is not in the file (with the closest names), an
action column with one value, a reward that is not a number (yes/no and true/false count as
1/0), a missing action or reward, a propensity outside (0, 1], a cost for an action that is not
in the log, an empty train or test split. Rows are numbered as data rows from 1 in their own file
(with --train and --test, the test file's rows from 1 again; the header is
line 1 of a CSV, so data row N is line N + 1).

Features are the declared columns (default: every column other than action, reward and
propensity), their kinds inferred by the shared reader and turned into a matrix by the shared
featurizer (decision/tabular.py) fitted on the train rows only.
"""

from __future__ import annotations

import bisect
import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from decision.tabular import TableFeaturizer, infer_specs
from hub.cells import as_strings, missing_mask, parse_column, parse_outcome
from hub.errors import DataError
from hub.offline.evaluate import LogArrays
from hub.reports.numbers import natural_key
from hub.tables import Table, missing_column_message, read_table, require_numbers

#: rows each split needs at least (the learner and the reward model are cross-fitted)
MIN_SPLIT_ROWS = 10


@dataclass(frozen=True)
class Columns:
    """The roles of the log's columns, as the user named them."""

    action: str
    reward: str
    propensity: str | None = None
    features: tuple[str, ...] | None = None


def parse_costs(items: Sequence[str]) -> dict[str, float]:
    """``["mail=0.04", ...]`` -> ``{"mail": 0.04}``; the action may itself contain ``=`` signs
    (the cost is after the last one)."""
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        try:
            cost = float(value)
        except ValueError:
            cost = float("nan")
        if not sep or not name.strip() or not np.isfinite(cost):
            raise DataError(f"--cost {item!r}: write ACTION=COST, e.g. --cost 'Neighbors=0.04'")
        out[name.strip()] = cost
    return out


@dataclass(frozen=True)
class _Rows:
    """Where the log's rows are: one file's, or the train file's followed by the test file's."""

    sources: tuple[str, ...]
    starts: tuple[int, ...] = (0,)

    def at(self, i: int) -> str:
        """Row ``i`` of the log (0-based) in words, in its own file: "row 5 (line 6) of test.csv"."""
        k = bisect.bisect_right(self.starts, i) - 1
        j = i - self.starts[k]
        return f"row {j + 1} (line {j + 2}) of {self.sources[k]}"


def _require(table: Table, names: Sequence[str]) -> None:
    for name in names:
        if name not in table:
            raise DataError(missing_column_message(name, table.names, table.source))


def _natural_codes(values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct actions in natural order (a2 before a10, as every listing writes them) and each
    row's index among them."""
    uniq, inverse = np.unique(values, return_inverse=True)
    order = sorted(range(len(uniq)), key=lambda j: natural_key(str(uniq[j])))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return [str(uniq[j]) for j in order], rank[inverse]


def _actions(table: Table, col: str, rows: _Rows) -> np.ndarray:
    strings = as_strings(table.column(col))
    missing = missing_mask(strings)
    if missing.any():
        raise DataError(
            f"action column {col!r} is empty at {rows.at(int(np.argmax(missing)))}; "
            "every logged decision needs its action"
        )
    return np.asarray(strings.to_numpy(zero_copy_only=False), dtype=object).astype(str)


def _as_rewards(values, col: str, rows: _Rows) -> np.ndarray:
    """A column the reader did not read as numbers or yes/no, read cell by cell
    (:func:`hub.cells.parse_outcome`); the first cell that is neither is named."""
    parsed = parse_outcome(values)
    if parsed.bad is not None:
        raise DataError(
            f"reward column {col!r} is not numeric (first: {parsed.bad.value!r} at {rows.at(parsed.bad.index)}); "
            "the reward must be a number per row (yes/no and true/false are read as 1/0)"
        )
    return parsed.values


def _rewards(table: Table, col: str, rows: _Rows) -> np.ndarray:
    if table.kinds.get(col) in ("numeric", "boolean"):
        r = np.asarray(table.column(col), dtype=float)
    else:
        r = _as_rewards(table.column(col), col, rows)
    bad = ~np.isfinite(r)
    if bad.any():
        raise DataError(
            f"reward column {col!r} is missing at {rows.at(int(np.argmax(bad)))}; "
            "drop rows whose outcome is not known yet"
        )
    return r


def _propensities(table: Table, col: str, rows: _Rows) -> np.ndarray:
    if table.kinds.get(col) != "numeric":
        bad = parse_column(table.column(col), "numeric").bad
        where = f"at {rows.at(bad.index)}: {bad.value!r}" if bad is not None else f"in {table.source}"
        raise DataError(f"propensity column {col!r} is not numeric {where}")
    p = np.asarray(table.column(col), dtype=float)
    bad = ~((p > 0) & (p <= 1))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"propensity column {col!r} holds {p[i]!r} at {rows.at(i)}; propensities are the "
            "logging policy's probability of the logged action, in (0, 1]"
        )
    return p


#: how to keep a column of numbers with a stray cell out of the features (the command has no --types)
LEAVE_OUT = "name the other context columns with --features to leave it out"


def _read(path: str | os.PathLike, needed: Sequence[str] | None) -> Table:
    table = read_table(path, columns=needed)
    require_numbers(table, LEAVE_OUT)
    return table


def _read_like(path: str | os.PathLike, kinds: dict[str, str]) -> Table:
    """The test file read with the train file's column kinds. A cell that misfits them is first
    checked as a stray cell of its own file, so it is not said to misfit a type "declared" by a
    user who declared none, with advice to declare it that this command has no option for."""
    try:
        return read_table(path, columns=list(kinds), types=kinds)
    except DataError:
        require_numbers(read_table(path, columns=list(kinds)), LEAVE_OUT)
        raise


def load_log(
    cols: Columns,
    *,
    log: str | os.PathLike | None = None,
    train: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    train_share: float = 0.7,
    propensity: float | None = None,
    costs: dict[str, float] | None = None,
    seed: int = 0,
) -> tuple[LogArrays, np.ndarray, np.ndarray, list[str]]:
    """Read the log (one file split at random by ``train_share``, or ``train`` and ``test``
    files) into arrays; returns ``(arrays, train rows, test rows, notes)``."""
    if propensity is not None and cols.propensity is not None:
        raise DataError("give either --propensity-col or --propensity, not both")
    if propensity is not None and not 0 < propensity <= 1:
        raise DataError(f"--propensity {propensity} is not in (0, 1]")
    if (train is None) != (test is None):
        raise DataError("give both --train and --test (or one --log file split by --train-share)")
    if log is None and train is None:
        raise DataError("give the logged decisions with --log FILE (or --train FILE --test FILE)")
    roles = [cols.action, cols.reward] + ([cols.propensity] if cols.propensity else [])
    needed = None if cols.features is None else list(dict.fromkeys([*roles, *cols.features]))
    if log is not None:
        if not 0 < train_share < 1:
            raise DataError(f"--train-share {train_share} must be between 0 and 1 (exclusive)")
        table = _read(log, needed)
        _require(table, needed or roles)
        n = table.n_rows
        perm = np.random.default_rng(seed).permutation(n)
        cut = int(round(train_share * n))
        tr, te = np.sort(perm[:cut]), np.sort(perm[cut:])
        sources = (table.source, table.source)
        rows = _Rows((table.source,))
    else:
        first = _read(train, needed)
        _require(first, needed or roles)
        kinds = {name: kind for name, kind in first.kinds.items() if needed is None or name in needed}
        second = _read_like(test, kinds)
        table = Table(
            {name: np.concatenate([first.column(name), second.column(name)]) for name in kinds},
            kinds,
            source=f"{first.source} + {second.source}",
        )
        tr = np.arange(first.n_rows)
        te = np.arange(first.n_rows, first.n_rows + second.n_rows)
        sources = (first.source, second.source)
        rows = _Rows(sources, (0, first.n_rows))
    action_values = _actions(table, cols.action, rows)
    names, a = _natural_codes(action_values)
    if len(names) < 2:
        raise DataError(
            f"action column {cols.action!r} in {table.source} has one value only ({names[0]!r}); "
            "offline evaluation compares actions, so the log must hold at least two"
        )
    r = _rewards(table, cols.reward, rows)
    cost = np.zeros(len(names))
    for name, c in (costs or {}).items():
        if name not in names:
            close = difflib.get_close_matches(name, names, n=2, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(x) for x in close)}?" if close else ""
            raise DataError(
                f"--cost names action {name!r}, not in column {cols.action!r}{hint} actions: {', '.join(names)}"
            )
        cost[names.index(name)] = c
    r = r - cost[a]
    if cols.propensity is not None:
        p, source = _propensities(table, cols.propensity, rows), f"column {cols.propensity}"
    elif propensity is not None:
        p, source = np.full(table.n_rows, float(propensity)), f"fixed {propensity}"
    else:
        p, source = None, "estimated"
    if min(len(tr), len(te)) < MIN_SPLIT_ROWS:
        which = "train" if len(tr) < MIN_SPLIT_ROWS else "test"
        state = "is empty" if min(len(tr), len(te)) == 0 else f"has too few rows (at least {MIN_SPLIT_ROWS} needed)"
        raise DataError(
            f"the {which} split {state}: {len(tr)} train rows, {len(te)} test rows from {sources[0]}; "
            "use a larger log or another --train-share"
        )
    exclude = [c for c in roles]
    features = table if cols.features is None else {name: table.column(name) for name in cols.features}
    notes: list[str] = []
    train_cols = {name: table.column(name)[tr] for name in features if name not in exclude}
    specs = infer_specs(Table(train_cols, {n: table.kinds[n] for n in train_cols}, source=table.source), notes=notes)
    if not specs:
        raise DataError(
            f"no usable feature columns in {table.source} ({'; '.join(notes) or 'none left'}); "
            "name them with --features"
        )
    featurizer = TableFeaturizer(specs).fit(train_cols)
    X = featurizer.transform({s.name: table.column(s.name) for s in specs})
    arrays = LogArrays(
        X=X,
        numeric_columns=[int(j) for j in featurizer.numeric_columns_],
        feature_names=list(featurizer.names_),
        actions=a.astype(np.intp),
        action_names=names,
        rewards=r,
        propensities=p,
        propensity_source=source,
        costs={name: float(cost[j]) for j, name in enumerate(names) if cost[j] != 0},
    )
    return arrays, tr, te, notes
