"""The tiny HTTP layer both fake vendors share: routing, fault injection, TLS, threads.

Standard library only (``ThreadingHTTPServer``), so the sandbox needs nothing beyond the
product's own dependencies. Vendor-specific shapes live in the two server modules.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Faults:
    """Run-time switchable failures. Rates are probabilities per request."""

    error_rate: float = 0.0  # answer 500, 502 or 503
    burst_429: int = 0  # the next N requests get the vendor's 429
    # the next request starts a window this long in which every request gets the vendor's 429:
    # a rolling limit filled by someone else, refusing by time, not by count
    throttle_s: float = 0.0
    latency_s: float = 0.0  # added before answering
    drop_rate: float = 0.0  # close the socket without an answer
    malformed_rate: float = 0.0  # probability per record of a malformed record in responses
    # the next requests get these statuses, in order, before the vendor sees them (nothing is
    # applied): a lock (423), a migration (477), a gateway or outage (502, 503, 504, 524)
    statuses: list[int] = field(default_factory=list)
    # the next requests are applied, then answered with these statuses instead: a gateway that
    # timed out on an answer the vendor had already made (504, 524). A retry writes again.
    lost: list[int] = field(default_factory=list)
    # the statuses and lost queues take only requests whose "METHOD /path" this regex finds
    match: str = ""
    retry_after_s: int = 30  # what a 477 (migration in progress) tells the client to wait
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _throttled_until: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def set(self, **values: Any) -> None:
        """Change switches at run time, e.g. ``faults.set(error_rate=0.2)``."""
        with self._lock:
            for k, v in values.items():
                if k.startswith("_") or not hasattr(self, k):
                    raise AttributeError(f"unknown fault switch {k!r}")
                setattr(self, k, list(v) if isinstance(v, list | tuple) else v)
            if "seed" in values:
                self._rng.seed(values["seed"])

    def clear(self) -> None:
        self.set(
            error_rate=0.0,
            burst_429=0,
            throttle_s=0.0,
            latency_s=0.0,
            drop_rate=0.0,
            malformed_rate=0.0,
            statuses=[],
            lost=[],
            match="",
        )
        self._throttled_until = 0.0

    def queued(self, method: str, path: str) -> tuple[int | None, int | None]:
        """(status to answer instead of the vendor, status to answer after it) for this request,
        from the ``statuses`` and ``lost`` queues; at most one of the two is set."""
        with self._lock:
            if self.match and not re.search(self.match, f"{method} {path}"):
                return None, None
            if self.statuses:
                return self.statuses.pop(0), None
            if self.lost:
                return None, self.lost.pop(0)
            return None, None

    def draw(self) -> str | None:
        """Which fault (if any) hits this request: 'drop', 'error', '429' or None."""
        with self._lock:
            if self.drop_rate and self._rng.random() < self.drop_rate:
                return "drop"
            if self.burst_429 > 0:
                self.burst_429 -= 1
                return "429"
            now = time.monotonic()
            if self.throttle_s > 0:
                self._throttled_until, self.throttle_s = now + self.throttle_s, 0.0
            if now < self._throttled_until:
                return "429"
            if self.error_rate and self._rng.random() < self.error_rate:
                return "error"
            return None

    def error_status(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def malformed(self) -> bool:
        with self._lock:
            return bool(self.malformed_rate) and self._rng.random() < self.malformed_rate


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    route: str = ""
    target: str = ""  # the request-target as sent (path and query, still encoded)

    def arg(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default

    def args(self, name: str) -> list[str]:
        out: list[str] = []
        for v in self.query.get(name, []):
            out.extend(x for x in v.split(",") if x)
        return out

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json;charset=utf-8"


class HttpError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[[Request], Response]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        rx = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern.rstrip("/"))
        self.routes.append((method, re.compile(f"^{rx}/?$"), pattern, handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], str] | None:
        for m, rx, pattern, h in self.routes:
            if m == method:
                mt = rx.match(path)
                if mt:
                    return h, {k: unquote(v) for k, v in mt.groupdict().items()}, pattern
        return None


class App:
    """A vendor: routes plus hooks for auth-free faults. Subclasses fill ``router``."""

    system = "app"

    def __init__(self, faults: Faults | None = None) -> None:
        self.router = Router()
        self.faults = faults or Faults()
        self.server_errors: list[str] = []  # tracebacks of unexpected handler failures

    def fault_429(self, req: Request) -> Response:
        return Response(429, {"message": "Too many requests"})

    def fault_error(self, status: int) -> Response:
        return Response(status, {"message": "Internal error"})

    def fault_status(self, status: int) -> Response:
        """The vendor's (or its gateway's) answer with ``status``, for the ``statuses`` and
        ``lost`` fault queues."""
        return self.fault_error(status)

    def not_found(self, req: Request) -> Response:
        return Response(404, {"message": f"No route for {req.method} {req.path}"})

    def dispatch(self, req: Request) -> Response:
        found = self.router.match(req.method, req.path)
        if not found:
            return self.not_found(req)
        handler, req.params, req.route = found
        try:
            return handler(req)
        except HttpError as e:
            return e.response
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            # Unparseable input (bad JSON, a non-numeric limit...) is the caller's error.
            return self.bad_request(f"{type(e).__name__}: {e}")
        except Exception:  # noqa: BLE001 - a bug here must still answer, and be visible
            self.server_errors.append(traceback.format_exc())
            return self.fault_error(500)

    def bad_request(self, message: str) -> Response:
        return Response(400, {"message": message})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    app: App

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed ACKs
        # add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # quiet: tests and the demo read the write log instead

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        req = Request(
            self.command,
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
            target=self.path,
        )
        app = self.server.app  # type: ignore[attr-defined]
        instead, lost = app.faults.queued(req.method, req.path)
        fault = "status" if instead else app.faults.draw()
        if app.faults.latency_s:
            time.sleep(app.faults.latency_s)
        if fault == "drop":
            app.log.fault(app.system, "drop")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if instead:
            app.log.fault(app.system, str(instead))
            resp = app.fault_status(instead)
        elif fault == "429":
            app.log.fault(app.system, "429")
            resp = app.fault_429(req)
        elif fault == "error":
            app.log.fault(app.system, "error")
            resp = app.fault_error(app.faults.error_status())
        else:
            resp = app.dispatch(req)
            if lost:  # applied; the answer is lost on the way back
                app.log.fault(app.system, f"lost {lost}")
                resp = app.fault_status(lost)
        data = (
            resp.raw
            if resp.raw is not None
            else (b"" if resp.body is None and resp.status == 204 else json.dumps(resp.body).encode())
        )
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ServerThread:
    """Serve ``app`` on 127.0.0.1 in a background thread, plain or with TLS."""

    def __init__(self, app: App, port: int = 0, ssl_context: ssl.SSLContext | None = None):
        handler = type("Handler", (_Handler,), {})
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.httpd.app = app  # type: ignore[attr-defined]
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name=app.system, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
