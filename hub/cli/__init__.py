"""The `hub` command: one module per command group, built into one Typer app in main.py.

Exit codes: 0 ok, 1 the work failed, 2 usage or configuration error (hub/cli/common.py).
"""

from hub.cli.main import app, main

__all__ = ["app", "main"]
