"""`hub serve` sends a response's headers and body in one write (one system call, one segment)."""

from __future__ import annotations

import asyncio

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from hub.api.server import OneWriteProtocol, _OneWrite

REQUEST = b"POST /v1/decisions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"


class Recording(asyncio.Transport):
    """Just enough of a socket transport to see what the protocol writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name, default=None):  # noqa: ANN001, ANN201
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def app(scope, receive, send):  # noqa: ANN001, ANN201 - what hub/api/hotpath.py sends
    await receive()
    body = b'{"action":"wait"}'
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


async def serve_two(keep_alive: bool) -> Recording:
    config = Config(app, http=OneWriteProtocol, lifespan="off", server_header=False, date_header=False)
    config.load()
    protocol = OneWriteProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    transport = Recording()
    protocol.connection_made(transport)
    close = b"" if keep_alive else b"connection: close\r\n"
    for _ in range(2):
        protocol.data_received(REQUEST.replace(b"host: x\r\n", b"host: x\r\n" + close))
        for _ in range(20):  # the request's task, then the flush scheduled by its writes
            await asyncio.sleep(0)
        if transport.closed:
            break
    return transport


@pytest.mark.parametrize("keep_alive", [True, False])
def test_headers_and_body_go_out_in_one_write(keep_alive):
    transport = asyncio.run(serve_two(keep_alive))
    assert len(transport.writes) == (2 if keep_alive else 1)  # one per response, not two
    for w in transport.writes:
        head, body = w.split(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: 17" in head
        assert body == b'{"action":"wait"}'
    assert transport.closed is not keep_alive  # connection: close closes after the flush


def test_only_headers_wait_and_close_sends_them_first():
    async def run() -> tuple[Recording, list[list[bytes]]]:
        t = Recording()
        w = _OneWrite(t, asyncio.get_running_loop())
        seen = []
        w.write(b"0\r\n\r\n")  # not a header block (a chunked body's end): sent at once
        seen.append(list(t.writes))
        w.write(b"HTTP/1.1 200 OK\r\na: b\r\n\r\n")  # held for the body
        seen.append(list(t.writes))
        await asyncio.sleep(0)  # no body in this turn: the headers go out alone
        seen.append(list(t.writes))
        w.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        w.close()  # sends the held headers, then closes
        w.write(b"x")
        await asyncio.sleep(0)
        return t, seen

    t, seen = asyncio.run(run())
    assert seen == [[b"0\r\n\r\n"]] * 2 + [[b"0\r\n\r\n", b"HTTP/1.1 200 OK\r\na: b\r\n\r\n"]]
    assert t.writes[2:] == [b"HTTP/1.1 400 Bad Request\r\n\r\n", b"x"] and t.closed
