"""The `hub` command: one module per command group, built into one Typer app in main.py.

Exit codes: 0 ok, 1 the work failed, 2 usage or configuration error (hub/cli/common.py).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    """`from hub.cli import app, main` loads main.py on first use, not when the package is imported:
    `python -m hub.cli.main` imports this package first, and an eager import here made runpy warn
    that hub.cli.main was already in sys.modules (and run it as a second copy)."""
    if name in __all__:
        module = importlib.import_module("hub.cli.main")
        # importing the submodule bound `hub.cli.main` to it; bind the names to the app and function
        globals().update(app=module.app, main=module.main)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
