"""`hub push` and `hub run` print each failure cause once, grouped as the console's Queues page
groups failed pushes (hub/governance/pushes.py normalize_error)."""

from __future__ import annotations

from hub.cli.pipeline import _push_problems
from hub.pipeline.push import PushSummary

LOCK = "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or 1 records: "


def test_one_cause_over_many_records_is_one_line_as_on_the_queues_page(capsys):
    """Counted by the exact text, a Salesforce error naming its record printed a line per record."""
    summary = PushSummary("sf", failed=3)
    summary.failures.update({LOCK + "003A000001AbCdEFGH": 2, LOCK + "003A000001XyZwVUTS": 1})
    assert _push_problems([summary]) is True  # nothing written, something failed
    said = capsys.readouterr().err
    causes = [line for line in said.splitlines() if " × sf: " in line]
    folded = "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record or <n> records: <id>"
    assert causes == [f"  3 × sf: {folded}"], said


def test_a_folded_status_code_still_gets_its_hint(capsys):
    summary = PushSummary("hs", failed=2)
    summary.failures.update({"HTTP 401 Unauthorized for contact 17": 1, "HTTP 401 Unauthorized for contact 18": 1})
    _push_problems([summary])
    said = capsys.readouterr().err
    assert "2 × hs: HTTP 401 Unauthorized for contact <n> — the credentials are refused" in said, said
