"""The load driver's HTTP/1.1 client: one keep-alive connection, each request written as bytes and each
response read by its ``Content-Length``.

``http.client`` parses every response header with the ``email`` package: about 0.09 ms of the client's CPU
a request more than this client on the benchmark machine, all of it inside each latency measured at
concurrency 1 (0.17 ms of a PATCH's p50, bench/README.md). A load driver measures the server, so this one
does only what the bridge's answers need: a status line, header lines, a body of ``Content-Length`` bytes
(none for a 204 or a 304, nor after a HEAD), and ``Connection: close``. A response it cannot read that way
(chunked, or without a length) is an error, not a guess.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

_RECEIVE_BYTES = 65_536
_BODYLESS = {204, 304}


class ResponseError(Exception):
    """A response this client does not read: malformed, or framed otherwise than by Content-Length."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


class HttpConnection:
    """One connection to ``host``:``port``, opened at the first request and again after the server closed
    it; ``headers`` are sent with every request (``Host`` is added)."""

    def __init__(self, host: str, port: int, *, headers: Mapping[str, str], timeout: float = 60.0) -> None:
        self._address, self._timeout = (host, port), timeout
        fixed = {"Host": f"{host}:{port}", **headers}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._socket: socket.socket | None = None
        self._pending = b""

    def request(self, method: str, target: str, body: bytes | None = None) -> Response:
        """Send one request and read its response; on any failure the connection is closed (the next request
        opens another) and the error raised."""
        length = "" if body is None else f"Content-Length: {len(body)}\r\n"
        head = f"{method} {target} HTTP/1.1\r\n{self._fixed}{length}\r\n".encode("latin-1")
        try:
            sock = self._socket or self._connect()
            sock.sendall(head + body if body else head)
            response = self._response(method)
        except BaseException:
            self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
        self._socket, self._pending = None, b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self._address, timeout=self._timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request leaves in one segment anyway
        self._socket, self._pending = sock, b""
        return sock

    def _response(self, method: str) -> Response:
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        status = rest[:3]
        if not version.startswith("HTTP/1.") or not status.isdigit():
            raise ResponseError(f"not an HTTP/1.x status line: {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise ResponseError(f"not a header line: {line!r}")
            headers[name.lower()] = value.strip(" \t")
        code = int(status)
        if method == "HEAD" or code in _BODYLESS:
            return Response(code, headers, b"")
        if "transfer-encoding" in headers or not headers.get("content-length", "").isdigit():
            raise ResponseError(f"a {code} response framed otherwise than by Content-Length: {headers}")
        return Response(code, headers, self._exactly(int(headers["content-length"])))

    def _until(self, marker: bytes) -> bytes:
        while (end := self._pending.find(marker)) < 0:
            self._pending += self._receive()
        found, self._pending = self._pending[:end], self._pending[end + len(marker) :]
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self._pending) < size:
            self._pending += self._receive()
        found, self._pending = self._pending[:size], self._pending[size:]
        return found

    def _receive(self) -> bytes:
        assert self._socket is not None
        data = self._socket.recv(_RECEIVE_BYTES)
        if not data:
            raise ConnectionError("the server closed the connection before its response was whole")
        return data
