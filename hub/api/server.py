"""`hub serve`: the API and console on uvicorn."""

from __future__ import annotations

from pathlib import Path

import uvicorn

from hub.config import load_settings


def serve(config: Path | None, host: str | None, port: int | None, log_level: str = "warning") -> None:
    """Validate the config (failing fast), build the app and run it until stopped."""
    from hub.api.app import create_app

    settings = load_settings(config)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.api.host,
        port=port or settings.api.port,
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=True,
    )
