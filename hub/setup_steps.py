"""What `hub config validate` says is still to do once the file is valid: migrate the store, set
up each CRM's fields, or nothing. Read from the store only (never a CRM), so validate stays fast;
a store that does not answer is said to be unread, not guessed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hub.config import Settings
from hub.errors import StoreError
from hub.store.db import is_current, normalize_url
from hub.store.queries import last_checks

SETUP = (
    "[bold]hub connectors setup{c}[/] to create the fields the hub writes in each CRM (pushes fail until they "
    "exist), then [bold]hub connectors list --check{c}[/]"
)


def next_steps(settings: Settings, c: str) -> str:
    """The line validate prints for a hub with enabled connectors; ``c``: the `` -c path`` to repeat."""
    url = make_url(normalize_url(settings.store_url))
    shown = url.render_as_string(hide_password=True)
    path = url.database or ""
    if url.get_backend_name() == "sqlite" and path != ":memory:" and not Path(path).exists():
        return f"Next: [bold]hub migrate{c}[/], then {SETUP.format(c=c)}."  # opening it would create it
    try:
        migrated, passed = _read(url)
    except StoreError as exc:
        return f"Checked the file only: {exc}. Fix that, then validate again."
    except (SQLAlchemyError, OSError) as exc:  # the store did not answer (as db.check_current words it)
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__]
        return (
            f"Checked the file only: the store at {shown} did not answer ({why[0]}), so whether it is migrated and "
            "set up is unknown. Start it or fix store_url, then validate again to see what is left to do."
        )
    if not migrated:
        return f"Next: [bold]hub migrate{c}[/], then {SETUP.format(c=c)}."
    failing = [n for n in settings.enabled_connectors() if not passed.get(n)]
    if failing:
        return f"The store is migrated. Next: {SETUP.format(c=c)} ({', '.join(failing)} not passed yet)."
    return "The store is migrated and each enabled connector passed its last check: nothing left to set up."


def _read(url) -> tuple[bool, dict[str, bool]]:  # noqa: ANN001 - a sqlalchemy URL
    """Whether the store is at the latest schema, and each connector's last check result."""
    args = {"connect_timeout": 3} if url.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, connect_args=args)
    try:
        if not is_current(engine):
            return False, {}
        with engine.connect() as conn:
            return True, {name: bool(chk["ok"]) for name, chk in last_checks(conn).items()}
    finally:
        engine.dispose()
