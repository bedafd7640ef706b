"""What an import did: counts, and the rows it skipped with their numbers and reasons."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

KEEP_PROBLEMS = 1000  # rows reported one by one; the rest are counted by reason
KEEP_NOTES = 50

#: (rows done, bytes read, bytes in the file)
Progress = Callable[[int, int | None, int | None], None]


@dataclass
class RowProblem:
    row: int  # 1 = the first row after the header
    id: str | None
    reason: str


@dataclass
class ImportSummary:
    file: str
    kind: str
    source: str
    read: int = 0
    created: int = 0
    updated: int = 0
    matched: int = 0  # new records that resolved to a person the store already had
    unchanged: int = 0
    skipped: int = 0
    suppressed: int = 0
    #: outcome rows the new events (for contacts: activities held for them) added to the decisions before them
    outcomes: int = 0
    #: events: openings added for won / lost rows no opening accounts for (hub/opportunities.py)
    opportunities_opened: int = 0
    chunks: int = 0
    reasons: Counter = field(default_factory=Counter)
    problems: list[RowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def reject(self, row: int, ident: str | None, reason: str) -> None:
        self.skipped += 1
        self.reasons[_category(reason)] += 1
        if len(self.problems) < KEEP_PROBLEMS:
            # the id itself may be what is wrong: capped so the report stays readable
            self.problems.append(RowProblem(row, None if ident is None else ident[:120], reason))

    def split(self, rows: list[tuple[int, str]] | None) -> None:
        """Count and list the rows the reader could not split into the header's fields."""
        for row, reason in rows or ():
            self.read += 1
            self.reject(row, None, reason)

    def noted(self, notes: list[str]) -> None:
        """Keep the reader's notes (the first KEEP_NOTES; a malformed file can have one per row)."""
        for note in notes:
            if note not in self.notes and len(self.notes) < KEEP_NOTES:
                self.notes.append(note)

    def finished(self) -> ImportSummary:
        """The summary with its skipped rows in file order (the reader refuses some rows before
        the store refuses others of the same chunk)."""
        self.problems.sort(key=lambda p: p.row)
        return self

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = dict(self.reasons)
        return data


def _category(reason: str) -> str:
    """ "email: 'x' is not an email" -> "email: … is not an email", to count rows by reason."""
    return re.sub(r"row \d+", "row N", re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason))
