"""`hub serve`: the API and console on uvicorn (uvloop and httptools when installed)."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from hub.config import config_path, load_settings


def app_from_config() -> FastAPI:
    """The app factory each uvicorn worker process calls; the config path comes via HUB_CONFIG."""
    from hub.api.app import create_app

    return create_app(load_settings())


def listen_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (as uvicorn binds it: SO_REUSEADDR), with what to
    do; None when it can. Asked before `hub serve` says it serves: uvicorn would fail after."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{host}:{port} is in use (another hub serve?): stop what listens there, or pass --port."
            return f"cannot listen on {host}:{port} ({exc.strerror}): fix api.host / api.port, or pass --host / --port."
    return None


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
