"""`hub serve`: the API and console on uvicorn (uvloop and httptools when installed)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from hub.config import config_path, load_settings


def app_from_config() -> FastAPI:
    """The app factory each uvicorn worker process calls; the config path comes via HUB_CONFIG."""
    from hub.api.app import create_app

    return create_app(load_settings())


class _OneWrite:
    """A transport that sends a response's status line and headers with its body, in one write.

    uvicorn writes the headers, then the body: two send() calls and, on TCP, two segments for
    the client to take in. A real-time decision's response has both in one step of its task, so
    the headers are held until the next write (the body) and go out joined with it, saving a
    system call and a wake-up per request. Any other write goes out at once; headers with no
    write after them in this turn of the loop go out at its end (``call_soon``) or on close."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):  # a header block
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is an optional extra of uvicorn
    HttpToolsProtocol = None


if HttpToolsProtocol is not None:

    class OneWriteProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol on a :class:`_OneWrite` transport (module level: worker
        processes unpickle it by name)."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(_OneWrite(transport, self.loop))  # type: ignore[arg-type]


def http_protocol() -> type[asyncio.Protocol] | str:
    """The protocol class `hub serve` gives uvicorn ("auto" without httptools)."""
    return "auto" if HttpToolsProtocol is None else OneWriteProtocol


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
        "http": http_protocol(),
    }
    if n == 1:
        from hub.api.app import create_app

        uvicorn.run(create_app(settings), **opts)
        return
    # worker processes re-read the same file; this sets it for them, it reads nothing else
    os.environ["HUB_CONFIG"] = str(config_path(config).resolve())
    uvicorn.run("hub.api.server:app_from_config", factory=True, workers=n, **opts)
