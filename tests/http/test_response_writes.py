"""How a response leaves the server (issue #22): the header and the body in one write, through waitress's
own task code, and a reload that closes an app only once the server is done with its body."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from bridge.config import ServerConfig
from bridge.http.connections import Connection, create_server
from bridge.ops.systemd import ReloadableApp


def _answer(body: bytes, length: str | None = None) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("Content-Type", "application/scim+json")]
        if length is not None:
            headers.append(("Content-Length", length))
        start_response("200 OK", headers)
        return [body]

    return app


def _records(app: Callable[..., Iterable[bytes]], request: bytes) -> list[bytes]:
    """What the server sends for ``request``, one item per write: the connection is a SOCK_SEQPACKET
    pair, which keeps each send a record of its own."""
    server = create_server(app, ServerConfig(threads=1), host="127.0.0.1", port=0)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        theirs.sendall(request)
        theirs.shutdown(socket.SHUT_WR)  # after the request, the client is done
        Connection(server, server.listeners[0], ours, ("127.0.0.1", 1)).serve()  # as its thread runs it
        theirs.setblocking(False)
        records = []
        while True:
            try:
                record = theirs.recv(65536)
            except BlockingIOError:
                return records
            if not record:
                return records
            records.append(record)
    finally:
        theirs.close()
        server.close()


BODY = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1"}'


def test_a_response_is_one_write_header_and_body() -> None:
    records = _records(_answer(BODY, str(len(BODY))), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(records) == 1
    head, _, body = records[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and f"Content-Length: {len(BODY)}".encode() in head
    assert body == BODY


def test_without_a_length_waitress_still_writes_the_body_its_own_way() -> None:
    # No Content-Length and an iterable waitress cannot measure: chunked, as waitress always did.
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"abc"

    records = _records(app, b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(records) == 1  # sent once the app is done, as every response
    assert b"Transfer-Encoding: chunked" in records[0] and records[0].endswith(b"3\r\nabc\r\n0\r\n\r\n")


def test_a_status_without_a_body_gets_the_header_alone() -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("204 No Content", [])
        return [b"dropped"]

    sent = b"".join(_records(app, b"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert sent.startswith(b"HTTP/1.1 204 No Content") and sent.endswith(b"\r\n\r\n")


def test_a_body_longer_than_announced_is_cut_as_waitress_cuts_it() -> None:
    sent = b"".join(_records(_answer(b"0123456789", "4"), b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert sent.endswith(b"\r\n\r\n0123")


@pytest.mark.parametrize("streamed", [False, True])
def test_a_replaced_app_is_closed_once_the_server_is_done_with_its_body(streamed: bool) -> None:
    closed: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return iter([b"streamed"]) if streamed else [b"whole"]

    reloadable = ReloadableApp(app, lambda: closed.append("old"))
    body = reloadable({}, lambda *args: None)
    reloadable.replace(_answer(b"new"), lambda: closed.append("new"))
    # A whole body needs nothing more of its app; a stream does, until the server closes it.
    assert closed == ([] if streamed else ["old"])
    assert b"".join(body) == (b"streamed" if streamed else b"whole")
    getattr(body, "close", lambda: None)()
    assert closed == ["old"]
