"""`hub migrate` says what it did: on a new, empty database which tables it created and the
schema version; run again, that the store is up to date; on a store some versions behind, from
which version to which. It used to print "Store is at the latest schema." every time, so a
first run on a new database read the same as a no-op (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from alembic import command
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from hub.cli import app
from hub.store import Store
from hub.store.db import MIGRATIONS
from tests.conftest import hub_config
from tests.test_migrations import move


def _migrate(cfg) -> str:  # noqa: ANN001 - a path
    res = CliRunner().invoke(app, ["migrate", "-c", str(cfg)], terminal_width=200)
    assert res.exit_code == 0, res.output
    return " ".join(res.stdout.split())


def test_migrate_names_what_it_created_then_says_up_to_date(tmp_path, store_url, redis_url):
    cfg = hub_config(tmp_path, store_url, redis_url)
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    first = _migrate(cfg)
    created = re.search(r"Created the store's (\d+) tables .* at schema (\S+) \((\d+) migrations\)", first)
    assert created, first
    assert int(created.group(1)) >= 20 and created.group(2).rstrip(".") == head and int(created.group(3)) >= 19
    second = _migrate(cfg)
    assert f"already at the latest schema ({head}); nothing to do" in second, second
    assert "Created" not in second


def test_migrate_from_an_older_version_names_both(tmp_path, store_url, redis_url):
    cfg = hub_config(tmp_path, store_url, redis_url)
    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_revision(scripts.get_current_head())
    two_back = scripts.get_revision(head.down_revision).down_revision
    store = Store(store_url, auto_migrate=True)
    move(store, command.downgrade, two_back)
    store.dispose()
    said = _migrate(cfg)
    assert f"Upgraded the store at {store_url} from schema {two_back} to {head.revision} (2 migrations)" in said


def test_an_upgrade_by_one_migration_says_one_migration(tmp_path, store_url, redis_url):
    """It said "(1 migrations)"."""
    cfg = hub_config(tmp_path, store_url, redis_url)
    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_revision(scripts.get_current_head())
    store = Store(store_url, auto_migrate=True)
    move(store, command.downgrade, head.down_revision)
    store.dispose()
    said = _migrate(cfg)
    assert f"from schema {head.down_revision} to {head.revision} (1 migration)." in said, said
