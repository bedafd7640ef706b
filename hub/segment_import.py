"""Import events from a file of Segment-spec messages (one JSON object per line, each with its
``type``), e.g. a warehouse export: the same parsing, storing and outcome attribution as
``POST /v1/batch``, idempotent by ``messageId``, without re-deciding anyone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.api.dispatch import InlineDispatcher
from hub.models import utcnow
from hub.pipeline.context import HubContext
from hub.segment import MAX_MESSAGE_BYTES, BodyError, Message, MessageError, parse_json, parse_message
from hub.segment_store import store_messages


@dataclass
class ImportReport:
    lines: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    #: (line number, messageId or None, reason) of every line not imported
    rejects: list[tuple[int, str | None, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "counts": self.counts,
            "rejects": [{"line": n, "messageId": m, "reason": r} for n, m, r in self.rejects],
        }


CHUNK = 500  # messages per transaction


def import_file(ctx: HubContext, path: Path, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Store every good line, CHUNK messages per transaction; a bad one is kept in the report
    with its line number and reason, which the CLI prints (a log line too said each twice)."""
    report = ImportReport()
    dispatch = InlineDispatcher(ctx)  # attribute outcomes inline: an import has no workers to wait for
    chunk: list[tuple[int, str | None, Message]] = []

    def reject(n: int, mid: str | None, exc: Exception) -> None:
        report.rejects.append((n, mid, str(exc)))

    def flush() -> None:
        results = store_messages(ctx, dispatch, [m for _, _, m in chunk], redecide=False)
        for (n, mid, _), r in zip(chunk, results, strict=True):
            if isinstance(r, MessageError):
                reject(n, mid, r)
            else:
                report.counts[r.status] = report.counts.get(r.status, 0) + 1
        chunk.clear()

    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if progress:
                progress(len(raw))
            if not raw.strip():
                continue
            report.lines += 1
            mid = None
            try:
                if len(raw) > MAX_MESSAGE_BYTES + 1:
                    raise MessageError(f"the line is over {MAX_MESSAGE_BYTES // 1024} KB, Segment's message limit")
                msg = parse_json(raw)
                mid = msg.get("messageId") if isinstance(msg, dict) and isinstance(msg.get("messageId"), str) else None
                chunk.append((n, mid, parse_message(msg, None, utcnow(), exported=True)))
            except (BodyError, MessageError) as exc:
                reject(n, mid, exc)
            if len(chunk) >= CHUNK:
                flush()
    if chunk:
        flush()
    report.rejects.sort()
    return report
