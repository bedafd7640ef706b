"""`hub.cli.common.table`: tables that fit the terminal without losing their short columns."""

from __future__ import annotations

from rich.console import Console

from hub.cli.common import table


def test_a_long_cell_is_cut_and_the_short_columns_stay_whole():
    """`hub pushes list` with a long last error printed the id, kind, state and attempts columns
    zero characters wide (rich shrinks every no-wrap column by the same amount), so the id that
    `hub pushes retry ID` needs could not be read (found by walk2)."""
    console = Console(width=100, record=True)
    t = table("id", "connector", "kind", "state", "attempts", "last error")
    t.add_row("1692", "salesforce", "set_fields", "failed", "8", "x" * 180)
    console.print(t)
    lines = console.export_text().splitlines()
    rows = [line for line in lines if "1692" in line]
    assert len(rows) == 1
    row = rows[0]
    assert max(len(line) for line in lines) <= 100
    assert all(cell in row for cell in ("salesforce", "set_fields", "failed", " 8 ")), row
    assert "x…" in row
