"""Everything the fake servers accepted or refused, so tests can check effects, not calls.

``entries`` has one row per changed value (old and new), ``calls`` counts requests per
endpoint, ``limits_exceeded`` counts every rate or quota refusal (benchmarks assert zero).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WriteEntry:
    seq: int
    at_ms: int
    system: str  # "hubspot" | "salesforce"
    endpoint: str
    object_type: str
    record_id: str
    kind: str  # "field" | "list_add" | "list_remove" | "owner" | "create" | "delete"
    field: str | None
    old: Any
    new: Any


@dataclass
class WriteLog:
    entries: list[WriteEntry] = field(default_factory=list)
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    limits_exceeded: Counter[tuple[str, str]] = field(default_factory=Counter)
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self,
        at_ms: int,
        system: str,
        endpoint: str,
        object_type: str,
        record_id: str,
        kind: str,
        field_name: str | None,
        old: Any,
        new: Any,
    ) -> None:
        with self._lock:
            self.entries.append(
                WriteEntry(
                    len(self.entries),
                    at_ms,
                    system,
                    endpoint,
                    object_type,
                    str(record_id),
                    kind,
                    field_name,
                    old,
                    new,
                )
            )

    def call(self, system: str, endpoint: str) -> None:
        with self._lock:
            self.calls[(system, endpoint)] += 1

    def limit(self, system: str, policy: str) -> None:
        with self._lock:
            self.limits_exceeded[(system, policy)] += 1

    def fault(self, system: str, kind: str) -> None:
        with self._lock:
            self.faults[(system, kind)] += 1

    def for_record(self, system: str, record_id: str) -> list[WriteEntry]:
        return [e for e in self.entries if e.system == system and e.record_id == str(record_id)]

    def total_limits_exceeded(self) -> int:
        return sum(self.limits_exceeded.values())
