"""Why a vendor call got no answer, in words an admin can act on.

urllib3 and requests wrap the socket's error two or three deep (``ConnectionError`` holding a
``MaxRetryError`` whose ``reason`` is a ``NewConnectionError`` caused by
``ConnectionRefusedError``), so their class names ("connection problem (MaxRetryError)") say
neither where nor why. :func:`unreachable` names the address and the innermost cause.
"""

from __future__ import annotations

import socket
import ssl

#: what cause() says when the server's certificate did not verify against the trusted CAs
UNTRUSTED = "its certificate is not trusted"

#: how long work waits for a vendor that gave no answer at all before it tries again. Nothing
#: sent is at fault when the host cannot be reached, so the connector raises its error as
#: ``blocked`` (hub.errors.RetryableError): queued pushes keep their attempts however long the
#: outage lasts, and go out within this long of its end.
RETRY_SECONDS = 60.0

#: innermost causes, most specific first (ConnectionRefusedError is an OSError too)
_CAUSES: tuple[tuple[type[BaseException], str], ...] = (
    (ssl.SSLCertVerificationError, UNTRUSTED),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (socket.gaierror, "host name not found"),
    (TimeoutError, "timed out"),
)


def cause(exc: BaseException) -> str:
    """The socket-level reason under ``exc``'s wrappers, else its class name."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        for kind, words in _CAUSES:
            if isinstance(e, kind):
                return words
        if "timeout" in type(e).__name__.lower():  # urllib3's ConnectTimeoutError, ReadTimeoutError
            return "timed out"
        nested = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        todo += [n for n in nested if isinstance(n, BaseException)]
    return type(exc).__name__


def unreachable(url: str, exc: BaseException) -> str:
    """``cannot connect to URL (why)``: the part of an error message that says where and why."""
    return f"cannot connect to {url} ({cause(exc)})"


def what_to_do(setting: str) -> str:
    """What an admin does about it, naming the connector ``setting`` that holds the address; the
    work is retried, so nothing queued is lost."""
    return f"check {setting} and that this machine can reach it (scheduled syncs and pushes retry by themselves)"
