"""`hub sync`'s table counts contacts added and contacts updated apart, as HubSpot's and
Hightouch's sync reports do: "changed" used to count the new contacts a second time."""

from __future__ import annotations

from datetime import UTC, datetime

from typer.testing import CliRunner

from hub.cli import app
from tests.conftest import hub_config
from tests.plugins.memory_crm import MemoryCRM


def _sync_row(path) -> dict[str, str]:
    res = CliRunner().invoke(app, ["sync", "-c", str(path)], terminal_width=200)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    header = next(ln for ln in lines if ln.lstrip().startswith("┃"))
    row = next(ln for ln in lines if ln.lstrip().startswith("│ crm"))
    cells = lambda ln, bar: [c.strip() for c in ln.strip().strip(bar).split(bar)]  # noqa: E731
    return dict(zip(cells(header, "┃"), cells(row, "│"), strict=True))


def test_sync_counts_new_contacts_as_added_and_only_changed_ones_as_updated(tmp_path, redis_url):
    path = hub_config(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}", redis_url)
    crm = MemoryCRM(redis_url, "memcrm")
    now = datetime.now(UTC).isoformat()
    for i in range(3):
        crm.put_contact(f"c{i}", email=f"p{i}@example.com", first_name=f"P{i}", updated_at=now)
    first = _sync_row(path)
    assert (first["added"], first["updated"]) == ("3", "0"), first
    crm.put_contact("c0", first_name="Renamed", updated_at=datetime.now(UTC).isoformat())
    crm.put_contact("c3", email="p3@example.com", updated_at=datetime.now(UTC).isoformat())
    second = _sync_row(path)
    assert (second["added"], second["updated"]) == ("1", "1"), second


def test_a_record_read_again_with_the_same_values_is_not_counted_updated(tmp_path, store_url, redis_url):
    """A CRM hands a record back with nothing changed but its modified time (a HubSpot lookback
    window, an echo of our own write, a touch): its upsert changes no stored value, so the sync
    counts it in neither column (SQLite and PostgreSQL)."""
    from typer.testing import CliRunner as Runner

    path = hub_config(tmp_path, store_url, redis_url)
    assert Runner().invoke(app, ["migrate", "-c", str(path)]).exit_code == 0
    crm = MemoryCRM(redis_url, "memcrm")
    crm.clear()
    for i in range(3):
        crm.put_contact(f"c{i}", email=f"p{i}@example.com", first_name=f"P{i}", updated_at="2026-12-01T00:00:00+00:00")
    assert _sync_row(path)["added"] == "3"
    crm.put_contact("c0", updated_at="2026-12-02T00:00:00+00:00")  # only its modified time moves
    crm.put_contact("c1", first_name="P1")  # the same value written again
    crm.put_contact("c2", next_best_action="email_nurture")  # a hub field (the echo of a push)
    again = _sync_row(path)
    assert (again["records"], again["added"], again["updated"]) == ("3", "0", "0"), again
    crm.put_contact("c1", first_name="Renamed")
    changed = _sync_row(path)
    assert (changed["records"], changed["updated"]) == ("1", "1"), changed
    crm.clear()
