"""A table's outcome column as 0/1: which value is the positive one, and why.

Accepted: 0/1, true/false, yes/no (any case; the reader types these as boolean), or any column
with exactly two values. The positive value is the one given (``positive``), else 1 / true /
yes, else the rarer value (a conversion is the rarer outcome), ties broken by name. Rows with
no label are left out and counted.

>>> import numpy as np
>>> lab = binary_label(np.array(["won", "lost", "lost", None], dtype=object), "stage")
>>> lab.y.tolist(), lab.positive, lab.missing
([1, 0, 0], 'won', 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hub.errors import DataError

_TRUE = ("1", "true", "yes", "y", "t")
_FALSE = ("0", "false", "no", "n", "f")


@dataclass(frozen=True)
class BinaryLabel:
    y: np.ndarray  # 0/1 for the labelled rows
    rows: np.ndarray  # indices of the labelled rows in the table
    positive: str  # the value read as 1
    negative: str
    missing: int  # rows without a label, left out


def _text(v: object) -> str:
    if isinstance(v, float | np.floating):
        return f"{float(v):g}"
    return str(v)


def binary_label(values: np.ndarray, column: str, positive: str | None = None) -> BinaryLabel:
    """0/1 outcomes of ``values`` (a column named ``column``); DataError if not two-valued."""
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        x = values.astype(float)
        present = np.isfinite(x)
        text = np.array([_text(v) for v in np.unique(x[present])], dtype=object)
        codes = np.unique(x[present], return_inverse=True)[1]
    else:
        present = np.array([v is not None and str(v).strip() != "" for v in values], dtype=bool)
        stripped = np.array([str(v).strip() for v in values[present]], dtype=object)
        text, codes = np.unique(stripped, return_inverse=True)
    rows = np.flatnonzero(present)
    if len(text) != 2:
        shown = ", ".join(repr(str(t)) for t in text[:8]) + (", ..." if len(text) > 8 else "")
        what = "no values" if len(text) == 0 else f"{len(text)} value{'s' if len(text) > 1 else ''} ({shown})"
        raise DataError(
            f"label column {column!r} has {what} in {len(rows)} labelled rows; it needs exactly two "
            "(e.g. 0/1, yes/no, or two names such as won/lost). Pick another --label or recode it."
        )
    counts = np.bincount(codes, minlength=2)
    lowered = [str(t).lower() for t in text]
    if positive is not None:
        positive = positive.strip().lower()
        if lowered == ["0", "1"] and positive in (*_TRUE, *_FALSE):  # yes/no cells read as 1/0
            positive = "1" if positive in _TRUE else "0"
        if positive not in lowered:
            raise DataError(
                f"--positive {positive!r} is not a value of label column {column!r}; its values are "
                f"{text[0]!r} and {text[1]!r}."
            )
        pos = lowered.index(positive)
    elif any(t in _TRUE for t in lowered):
        pos = next(i for i, t in enumerate(lowered) if t in _TRUE)
    else:
        pos = int(np.argmin(counts))  # the rarer value; a tie keeps the first by name
    return BinaryLabel(
        (codes == pos).astype(int), rows, str(text[pos]), str(text[1 - pos]), int(len(values) - len(rows))
    )
