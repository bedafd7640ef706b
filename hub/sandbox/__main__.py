"""``python -m hub.sandbox``: `hub sandbox serve` by another name (one way to serve a world, on
the wall clock, printing how to point a hub at it); the same options."""

from __future__ import annotations

import typer


def main(argv: list[str] | None = None) -> None:
    from hub.cli.sandbox import sandbox_app

    typer.main.get_command(sandbox_app).main(argv, prog_name="python -m hub.sandbox", standalone_mode=True)


if __name__ == "__main__":
    main()
