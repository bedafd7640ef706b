"""`hub serve`: the API and console on uvicorn (uvloop and httptools when installed)."""

from __future__ import annotations

import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from hub.config import config_path, load_settings


def app_from_config() -> FastAPI:
    """The app factory each uvicorn worker process calls; the config path comes via HUB_CONFIG."""
    from hub.api.app import create_app

    return create_app(load_settings())


def serve(
    config: Path | None, host: str | None, port: int | None, workers: int | None = None, log_level: str = "warning"
) -> None:
    """Validate the config first (so a bad one fails here, not in each worker), then serve."""
    settings = load_settings(config)
    n = workers or settings.api.workers
    opts = {
        "host": host or settings.api.host,
        "port": port or settings.api.port,
        "log_level": log_level,
        "access_log": False,
        "server_header": False,
        "proxy_headers": True,
    }
    if n == 1:
        from hub.api.app import create_app

        uvicorn.run(create_app(settings), **opts)
        return
    # worker processes re-read the same file; this sets it for them, it reads nothing else
    os.environ["HUB_CONFIG"] = str(config_path(config).resolve())
    uvicorn.run("hub.api.server:app_from_config", factory=True, workers=n, **opts)
