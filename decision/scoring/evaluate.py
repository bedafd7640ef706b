"""Lead scoring on a user's own table: the hub's scorer against plain baselines on one split.

:func:`evaluate_table` is what ``hub score evaluate`` runs. The steps, and why:

1. The label column becomes 0/1 (:mod:`decision.scoring.labels`); rows without a label are left out.
2. Split: the given test table, else a split stratified by label with the seed
   (``train_share`` of rows train), so every run on the same file and seed is the same.
3. Leakage guard on the training rows (:mod:`decision.scoring.leakage`): a column that predicts
   the label almost perfectly on its own is left out with a warning, unless ``keep_leaky``.
4. Features: every other column, kinds inferred, through the shared
   :class:`decision.tabular.TableFeaturizer` fitted on the training rows (numeric standardized
   with a missing flag, categorical one-hot of the 20 most frequent values + other + missing).
5. The model is :class:`~decision.scoring.model.LeadScorer`, the code path that trains on CRM
   data (gradient boosting calibrated on held-out folds); the baselines are
   ``HistGradientBoostingClassifier(random_state=seed)`` with default settings and a logistic
   regression, on the same matrix.
6. Metrics on the test rows: ROC AUC, Brier, ECE over 10 equal-width bins, top-decile lift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from decision.scoring.labels import binary_label
from decision.scoring.leakage import leaky_columns
from decision.scoring.metrics import score_metrics
from decision.scoring.model import LeadScorer
from decision.tabular import TableFeaturizer, infer_specs
from hub.errors import DataError
from hub.tables import Table, missing_column_message, read_table, require_numbers

MIN_PER_CLASS = 20  # rows of each class needed before a split says anything


@dataclass(frozen=True)
class Scores:
    auc: float
    brier: float
    ece: float
    top_decile_lift: float

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray) -> Scores:
        m = score_metrics(y, p, bins="uniform")
        return cls(m.roc_auc, m.brier, m.ece, m.top_decile_lift)

    def as_dict(self) -> dict[str, float]:
        """The four figures; NaN (e.g. no positives in the test rows) as None, so the JSON stays valid."""
        out = {"auc": self.auc, "brier": self.brier, "ece": self.ece, "top_decile_lift": self.top_decile_lift}
        return {k: (None if math.isnan(v) else v) for k, v in out.items()}


@dataclass(frozen=True)
class TableEvaluation:
    model: Scores
    baselines: dict[str, Scores]
    n_train: int
    n_test: int
    positive_rate: float
    label: str
    positive: str
    calibration: str
    estimator: str
    features: list[str]
    n_features: int
    warnings: list[str] = field(default_factory=list)
    leaky: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "model": self.model.as_dict(),
            "baselines": {name: s.as_dict() for name, s in self.baselines.items()},
            "n_train": self.n_train,
            "n_test": self.n_test,
            "positive_rate": self.positive_rate,
            "label": self.label,
            "positive": self.positive,
            "calibration": self.calibration,
            "estimator": self.estimator,
            "features": self.features,
            "n_features": self.n_features,
            "leaky": self.leaky,
            "skipped": self.skipped,
            "warnings": self.warnings,
        }


def check_columns(table: Table, names: Sequence[str], what: str) -> None:
    """DataError naming a ``what`` column not in ``table``, with the closest names."""
    for name in names:
        if name not in table.names:
            raise DataError(f"{what}: " + missing_column_message(name, table.names, table.source))


def _labelled(table: Table, label: str, positive: str | None, warnings: list[str]):  # noqa: ANN202
    lab = binary_label(table.column(label), label, positive)
    if lab.missing:
        warnings.append(f"{lab.missing} rows of {table.source} have no {label!r} and were left out")
    return table.select(lab.rows), lab


def evaluate_table(
    table: Table,
    label: str,
    *,
    test: Table | None = None,
    drop: Sequence[str] = (),
    train_share: float = 0.7,
    seed: int = 0,
    positive: str | None = None,
    keep_leaky: bool = False,
) -> TableEvaluation:
    """Model and baselines on one split of ``table`` (or ``table`` -> ``test``); see the module docstring."""
    warnings: list[str] = []
    check_columns(table, [label], "--label")
    check_columns(table, drop, "--drop")
    if test is not None:
        check_columns(test, [label], "--label (test file)")
        missing = [c for c in table.names if c not in test.names and c not in drop and c != label]
        if missing:
            raise DataError(f"the test file {test.source} lacks training columns: {', '.join(missing)}")
    if not 0.0 < train_share < 1.0:
        raise DataError(f"--train-share must be between 0 and 1; got {train_share}")
    data, lab = _labelled(table, label, positive, warnings)
    y = lab.y
    if test is None:
        counts = np.bincount(y, minlength=2)
        if counts.min() < MIN_PER_CLASS:
            raise DataError(
                f"too few rows to split: label {label!r} has {counts[1]} {lab.positive!r} and {counts[0]} "
                f"{lab.negative!r} rows; need at least {MIN_PER_CLASS} of each."
            )
        rows = np.arange(len(y))
        tr, te = train_test_split(rows, train_size=train_share, stratify=y, random_state=seed)
        train, test_t, y_tr, y_te = data.select(np.sort(tr)), data.select(np.sort(te)), y[np.sort(tr)], y[np.sort(te)]
    else:
        test_t, test_lab = _labelled(test, label, lab.positive, warnings)
        train, y_tr, y_te = data, y, test_lab.y
        for name, part in (("training", y_tr), ("test", y_te)):
            if part.min() == part.max() or np.bincount(part, minlength=2).min() < 5:
                raise DataError(
                    f"too few rows: the {name} file has {part.sum()} positives of {len(part)} rows; need 5 of each class."
                )
    inputs = [c for c in train.names if c != label and c not in drop]
    leaky = [] if keep_leaky else leaky_columns({c: train.column(c) for c in inputs}, y_tr)
    warnings += [leak.message() for leak in leaky]
    inputs = [c for c in inputs if c not in {leak.column for leak in leaky}]
    notes: list[str] = []
    specs = infer_specs({c: train.column(c) for c in inputs}, notes=notes)
    if not specs:
        raise DataError(
            f"no usable feature columns left in {table.source} (label {label!r}; skipped: {'; '.join(notes) or '-'})."
        )
    featurizer = TableFeaturizer(specs).fit(train)
    X_tr, X_te = featurizer.transform(train), featurizer.transform(test_t)
    names = tuple(featurizer.names_)
    scorer = LeadScorer(min_positives=1, random_state=seed).fit(X_tr, y_tr, feature_names=names)
    hgb = HistGradientBoostingClassifier(random_state=seed).fit(X_tr, y_tr)
    logistic = LogisticRegression(max_iter=2000).fit(X_tr, y_tr)
    return TableEvaluation(
        model=Scores.of(y_te, scorer.predict_proba(X_te)[:, 1]),
        baselines={
            "hgb": Scores.of(y_te, hgb.predict_proba(X_te)[:, 1]),
            "logistic": Scores.of(y_te, logistic.predict_proba(X_te)[:, 1]),
        },
        n_train=len(y_tr),
        n_test=len(y_te),
        positive_rate=float(np.concatenate([y_tr, y_te]).mean()),
        label=label,
        positive=lab.positive,
        calibration=scorer.calibration_kind_,
        estimator=scorer.kind_,
        features=[s.name for s in specs],
        n_features=len(names),
        warnings=warnings,
        leaky=[leak.column for leak in leaky],
        skipped=notes,
    )


def load_table(path: str | Path, types: Mapping[str, str] | None = None) -> Table:
    """:func:`hub.tables.read_table`, refusing a numeric column with a stray cell
    (:func:`hub.tables.require_numbers`) instead of scoring it as categories."""
    table = read_table(path, types=types)
    require_numbers(table, "pass --types {name}=categorical if it really is a code", types)
    return table
