"""The load driver's HTTP client (bench/http_client.py) against a scripted server on loopback: the requests
it writes, the responses it reads (whole, however they arrive), and those it refuses to guess at."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from bench.http_client import HttpConnection, ResponseError

HEADERS = {"Authorization": "Bearer t", "Content-Type": "application/scim+json"}


@dataclass
class Script:
    """What the server answers, in order: each answer is the pieces it sends (a short pause between
    them), and whether it then closes the connection."""

    answers: list[tuple[Sequence[bytes], bool]]
    requests: list[bytes] = field(default_factory=list)  # each request as received, head and body
    connections: int = 0


def _read_request(conn: socket.socket, pending: bytes) -> tuple[bytes, bytes] | None:
    while b"\r\n\r\n" not in pending:
        data = conn.recv(4096)
        if not data:
            return None
        pending += data
    head, _, rest = pending.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(4096)
    return head + b"\r\n\r\n" + rest[:length], rest[length:]


@contextmanager
def scripted(script: Script) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    answers = iter(script.answers)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            script.connections += 1
            with conn:
                pending = b""
                while (read := _read_request(conn, pending)) is not None:
                    request, pending = read
                    script.requests.append(request)
                    pieces, close = next(answers)
                    for n, piece in enumerate(pieces):
                        if n:
                            time.sleep(0.02)
                        conn.sendall(piece)
                    if close:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
        listener.close()
        thread.join(5)


def test_requests_are_written_whole_and_responses_read_by_length_however_they_arrive() -> None:
    body = b'{"id":"1"}'
    first = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/scim+json\r\nContent-Length: 10\r\n\r\n" + body
    )
    script = Script(
        [
            ([first[:9], first[9:40], first[40:-3], first[-3:]], False),  # the status line and body split
            ([b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n"], False),  # no body: nothing more read
            ([b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}"], False),
        ]
    )
    with scripted(script) as port:
        client = HttpConnection("127.0.0.1", port, headers=HEADERS)
        created = client.request("POST", "/scim/v2/Users", b'{"userName":"ann"}')
        patched = client.request("PATCH", "/scim/v2/Groups/g", b"{}")
        missing = client.request("GET", "/scim/v2/Users/x")
        client.close()
    assert (created.status, created.body, created.headers["content-type"]) == (
        201,
        body,
        "application/scim+json",
    )
    assert (patched.status, patched.body, patched.headers) == (204, b"", {"server": "x"})
    assert (missing.status, missing.body) == (404, b"{}")
    assert script.connections == 1  # kept alive
    assert script.requests == [
        b"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer t\r\n"
        b'Content-Type: application/scim+json\r\nContent-Length: 18\r\n\r\n{"userName":"ann"}' % port,
        b"PATCH /scim/v2/Groups/g HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer t\r\n"
        b"Content-Type: application/scim+json\r\nContent-Length: 2\r\n\r\n{}" % port,
        b"GET /scim/v2/Users/x HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer t\r\n"
        b"Content-Type: application/scim+json\r\n\r\n" % port,
    ]


def test_a_connection_the_server_closes_is_opened_again_for_the_next_request() -> None:
    script = Script(
        [
            ([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"], True),
            ([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"], False),
        ]
    )
    with scripted(script) as port:
        client = HttpConnection("127.0.0.1", port, headers=HEADERS)
        bodies = [client.request("GET", "/").body, client.request("GET", "/").body]
        client.close()
    assert bodies == [b"a", b"b"]
    assert script.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",  # no length: the body would be a guess
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
    ],
)
def test_a_response_framed_otherwise_is_refused_and_the_next_request_starts_afresh(answer: bytes) -> None:
    script = Script([([answer], False), ([b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], False)])
    with scripted(script) as port:
        client = HttpConnection("127.0.0.1", port, headers=HEADERS)
        with pytest.raises(ResponseError):
            client.request("GET", "/")
        after = client.request("GET", "/")
        client.close()
    assert after.body == b"ok"
    assert script.connections == 2


def test_a_response_cut_short_is_a_connection_error() -> None:
    script = Script([([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"], True)])
    with scripted(script) as port:
        client = HttpConnection("127.0.0.1", port, headers=HEADERS)
        with pytest.raises(ConnectionError):
            client.request("GET", "/")
