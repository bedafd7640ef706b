"""One versioned spec of declared columns: fitted once, then used by every reader alike.

:class:`DeclaredSpec` pairs the declaration (hub.yaml) with the learned state of
:class:`decision.tabular.TableFeaturizer` (levels, means, scales) and a reference sample of
the fitted rows (drift monitoring). Its :attr:`version` hashes declaration and state, so the
bandit, the opt-out model, explanations, replays and scoring read identical columns, and a
changed declaration or refit is a new engine model (the old one stays in the store).

>>> from decision.declared.settings import FeatureDecl
>>> from hub.models import Contact
>>> tier = FeatureDecl.model_validate(
...     {"name": "tier", "label": "ICP tier", "source": {"property": "icp_tier"}, "type": "categorical"})
>>> people = [Contact(properties={"icp_tier": t}) for t in ("A", "A", "B")]
>>> spec = DeclaredSpec([tier]).fit(people, [None] * 3, datetime(2026, 1, 1))
>>> spec.names
['x_tier=A', 'x_tier=B', 'x_tier=other', 'x_tier=missing']
>>> spec.phrase("x_tier=A", 1.0)
'ICP tier is A'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from decision.declared.aggregates import tags_of
from decision.declared.extract import raw_columns
from decision.declared.settings import FeatureDecl, declaration_hash
from decision.tabular import ColumnSpec, TableFeaturizer
from hub.errors import DecisionError
from hub.models import Contact

PREFIX = "x_"
#: rows of the fitted matrix kept for drift checks
REFERENCE_ROWS = 2_000
DEFAULT_TOP_K = 10


def column_spec(d: FeatureDecl) -> ColumnSpec:
    name = PREFIX + d.name
    if d.type == "numeric":
        return ColumnSpec(
            name,
            "numeric",
            log1p="log1p" in d.transforms,
            clip=d.clip,
            standardize="standardize" in d.transforms,
            squared="squared" in d.transforms,
        )
    if d.type == "categorical":
        levels = tuple(d.levels) if d.levels is not None else None
        return ColumnSpec(name, "categorical", top_k=d.top_k or DEFAULT_TOP_K, levels=levels)
    if d.type == "keyword":
        return ColumnSpec(name, "keyword", keywords=tuple(d.keywords or ()))
    if d.type == "date":
        return ColumnSpec(name, "date", standardize=False)
    return ColumnSpec(name, "boolean")


class DeclaredSpec:
    """Declared columns; :meth:`fit` (or :meth:`from_state`) before :meth:`transform`."""

    def __init__(self, decls: Sequence[FeatureDecl]):
        self.decls = list(decls)
        self.declaration = declaration_hash(self.decls)
        self.tags = tags_of(self.decls)
        self.featurizer = TableFeaturizer([column_spec(d) for d in self.decls])
        self.reference_: np.ndarray | None = None
        self._by_column = {PREFIX + d.name: d for d in self.decls}

    @property
    def fitted(self) -> bool:
        return hasattr(self.featurizer, "names_")

    # -- fitting and storage -----------------------------------------------------------------

    def fit(
        self, contacts: Sequence[Contact], profiles: Sequence[Mapping[str, Any] | None], now: datetime
    ) -> DeclaredSpec:
        cols = self.columns(contacts, profiles, now)
        X = self.featurizer.fit_transform(cols, now)
        rng = np.random.default_rng(0)
        keep = rng.permutation(len(X))[:REFERENCE_ROWS] if len(X) > REFERENCE_ROWS else np.arange(len(X))
        self.reference_ = X[np.sort(keep)]
        return self

    def state(self) -> dict[str, Any]:
        if not self.fitted:
            raise DecisionError("the declared features are not fitted yet")
        ref = self.reference_ if self.reference_ is not None else np.zeros((0, len(self.names)))
        return {"declaration": self.declaration, "featurizer": self.featurizer.to_dict(), "reference": ref.tolist()}

    @classmethod
    def from_state(cls, decls: Sequence[FeatureDecl], state: Mapping[str, Any]) -> DeclaredSpec:
        spec = cls(decls)
        if state.get("declaration") != spec.declaration:
            raise DecisionError(
                f"stored declared-feature state is for declaration {state.get('declaration')}, not {spec.declaration}"
            )
        spec.featurizer = TableFeaturizer.from_dict(state["featurizer"])
        spec.reference_ = np.asarray(state.get("reference") or np.zeros((0, len(spec.names))), dtype=float)
        return spec

    # -- identity ----------------------------------------------------------------------------

    @property
    def version(self) -> str:
        """``d-<hash of declaration and fitted state>``."""
        body = f"{self.declaration}|{self.featurizer.version}"
        return "d-" + hashlib.sha256(body.encode()).hexdigest()[:12]

    @property
    def names(self) -> list[str]:
        if not self.fitted:
            raise DecisionError("the declared features are not fitted yet")
        return list(self.featurizer.names_)

    def squared_columns(self) -> list[int]:
        """Continuous outputs the bandit may square (not those already squared by the spec)."""
        names = self.names
        own = {PREFIX + d.name for d in self.decls if "squared" in d.transforms}
        return [int(j) for j in self.featurizer.numeric_columns_ if not names[j].endswith("^2") and names[j] not in own]

    # -- reading -----------------------------------------------------------------------------

    def columns(
        self, contacts: Sequence[Contact], profiles: Sequence[Mapping[str, Any] | None], now: datetime
    ) -> dict[str, np.ndarray]:
        raw = raw_columns(self.decls, contacts, profiles, now)
        return {PREFIX + k: v for k, v in raw.items()}

    def transform(
        self, contacts: Sequence[Contact], profiles: Sequence[Mapping[str, Any] | None], now: datetime
    ) -> tuple[np.ndarray, np.ndarray]:
        """(X, raw): model input and the same columns in readable units (counts, days, 0/1)."""
        cols = self.columns(contacts, profiles, now)
        if not self.decls:  # nothing declared: no columns, one row per contact all the same
            return np.zeros((len(contacts), 0)), np.zeros((len(contacts), 0))
        X = self.featurizer.transform(cols, now)
        return X, self.readable(cols, X, now)

    def readable(self, cols: Mapping[str, np.ndarray], X: np.ndarray, now: datetime) -> np.ndarray:
        """Numbers as given (days for dates), indicators as 0/1: the values explanations show."""
        raw = X.copy()
        names = self.names
        index = {n: j for j, n in enumerate(names)}
        for spec in self.featurizer.specs:
            if spec.type not in ("numeric", "date"):
                continue
            plain = ColumnSpec(spec.name, spec.type, standardize=False)
            x = TableFeaturizer([plain]).fit(cols, now).transform(cols, now)[:, 0]
            missing = X[:, index[f"{spec.name}_missing"]] > 0
            x = np.where(missing, np.nan, x)
            raw[:, index[spec.name]] = x
            if f"{spec.name}^2" in index:
                raw[:, index[f"{spec.name}^2"]] = x * x
        return raw

    # -- words -------------------------------------------------------------------------------

    def decl_of(self, column: str) -> FeatureDecl | None:
        base = column[len(PREFIX) :] if column.startswith(PREFIX) else column
        for sep in ("=", "~", "^"):
            base = base.split(sep, 1)[0]
        base = base.removesuffix("_missing")
        return self._by_column.get(PREFIX + base)

    def phrase(self, column: str, value: float) -> str:
        """Readable words for one declared output column and its readable value."""
        d = self.decl_of(column)
        if d is None:
            return f"{column} = {value:g}"
        label = d.readable
        if "=" in column:
            level = column.split("=", 1)[1]
            if level == "missing":
                return f"{label} unknown" if value else f"{label} known"
            if level == "other":
                return f"{label} is another value" if value else f"{label} is a listed value"
            return f"{label} is {level}" if value else f"{label} is not {level}"
        if "~" in column:
            word = column.split("~", 1)[1]
            return f"{label} mentions {word!r}" if value else f"{label} does not mention {word!r}"
        if column.endswith("_missing"):
            return f"{label} unknown" if value else f"{label} known"
        if np.isnan(value):
            return f"{label} unknown"
        if column.endswith("^2"):
            return f"{label} (squared) {value:g}"
        if d.type == "boolean":
            return f"{label}: {'yes' if value >= 0.5 else 'no'}"
        if d.type == "date":
            return f"{label} {value:.0f} days ago"
        return f"{label} {value:g}"
