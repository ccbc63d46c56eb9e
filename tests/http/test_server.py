"""The HTTP server (bridge/http/connections.py): a thread per connection over waitress's parser and task,
on loopback, with its accept loop run by ``Service`` as ``serve`` runs it. Keep-alive and pipelining,
``Expect: 100-continue``, refused requests, the connection limit, the idle and read timeouts, the places of
``server.threads`` (and ``/healthz`` outside them), an app that raises, and the work left until after a
response."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.config import ServerConfig
from bridge.http.after import AFTER_RESPONSE
from bridge.http.connections import HEALTH_PATH, Server, create_server
from bridge.ops.systemd import Service


class App:
    """Answers ``<method> <path> <body>``; ``/slow...`` waits for the test's gate, ``/boom`` raises, and
    ``.../after`` leaves work until after its response."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.after_ran = threading.Event()
        self.after_may_run = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path.startswith("/slow"):
            self.entered.set()
            self.gate.wait(20)
        if path == "/boom":
            raise RuntimeError("the app failed")
        if path.endswith("/after"):
            environ[AFTER_RESPONSE].append(self._after)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = f"{environ['REQUEST_METHOD']} {path} ".encode() + environ["wsgi.input"].read(length)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def _after(self) -> None:
        self.after_may_run.wait(10)
        self.after_ran.set()


@dataclass
class Running:
    server: Server
    service: Service
    thread: threading.Thread


@contextmanager
def running(app: App, sockets: list[socket.socket] | None = None, **settings: Any) -> Iterator[Running]:
    """The server for ``app`` on loopback (or on ``sockets``), its accept loop run by ``Service`` in a
    thread; stopped at the end, the app's gates open."""
    listen: dict[str, Any] = {"sockets": sockets} if sockets is not None else {"host": "127.0.0.1", "port": 0}
    server = create_server(app, ServerConfig(**settings), **listen)
    service = Service(server, environ={})
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield Running(server, service, thread)
    finally:
        app.gate.set()
        app.after_may_run.set()
        service.request_stop()
        service.request_stop()
        thread.join(5)


@contextmanager
def serving(app: App, **settings: Any) -> Iterator[Server]:
    with running(app, **settings) as run:
        yield run.server


class Client:
    """A raw connection to the server, reading responses off one buffer (pipelined ones arrive together)."""

    def __init__(self, server: Server, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(server.addresses[0], timeout=timeout)
        self._file = self.sock.makefile("rb")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers (lower-case names), body (by its Content-Length)."""
        status = int(self._file.readline().split()[1])
        headers = {}
        while (line := self._file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, self._file.read(int(headers.get("content-length", 0)))

    def body(self) -> bytes:
        return self.response()[2]

    def waits(self, seconds: float = 0.5) -> bool:
        """Nothing arrives within ``seconds``."""
        self.sock.settimeout(seconds)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(5)
        return False

    def close(self) -> None:
        self._file.close()
        self.sock.close()


def closed_by_server(client: Client, within: float) -> bool:
    client.sock.settimeout(within)
    try:
        return client.sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_requests_on_one_connection_are_answered_in_order_pipelined_or_not() -> None:
    app = App()
    with serving(app) as server, Client(server) as sock:
        sock.send(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.body() == b"GET /one "
        sock.send(
            b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            b"\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n"  # a blank line between, as RFC 9112 2.2 allows
        )
        assert sock.body() == b"POST /two abc"
        assert sock.body() == b"GET /three "


def test_a_chunked_request_body_is_read_whole() -> None:
    with serving(App()) as server, Client(server) as sock:
        sock.send(b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.send(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        assert sock.body() == b"POST /c abcde"


def test_expect_100_continue_is_answered_before_the_body_is_sent() -> None:
    with serving(App()) as server, Client(server) as sock:
        sock.send(b"PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert sock.sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"  # the body is not sent yet
        sock.send(b"data")
        assert sock.response()[:1] == (200,)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        (b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n", 431),
    ],
    ids=["two-lengths", "gzip-coded", "space-in-name", "huge-header"],
)
def test_a_request_waitress_refuses_is_answered_and_its_connection_closed(
    request_bytes: bytes, status: int
) -> None:
    with serving(App()) as server, Client(server) as sock:
        sock.send(request_bytes)
        answer, headers, _ = sock.response()
        assert answer == status and headers["connection"] == "close"
        assert closed_by_server(sock, 2)


def test_an_app_that_raises_gets_a_500_and_the_server_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with serving(App()) as server:
        with Client(server) as sock:
            sock.send(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = sock.response()
            assert status == 500 and headers["connection"] == "close"
            assert b"the app failed" not in body and b"Traceback" not in body  # no traceback to a client
        assert "Exception while serving /boom" in caplog.text
        with Client(server) as sock:
            sock.send(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.body() == b"GET /fine "


def test_an_idle_connection_is_closed_after_the_channel_timeout() -> None:
    with serving(App(), channel_timeout=1) as server, Client(server) as sock:
        sock.send(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.response()
        began = time.monotonic()
        assert closed_by_server(sock, 5)
        assert 0.8 <= time.monotonic() - began <= 3


def test_a_request_trickling_in_is_dropped_at_the_read_timeout_however_steady() -> None:
    # Each byte comes well within the idle timeout; the whole request does not come within read_timeout.
    with serving(App(), channel_timeout=10, read_timeout=1) as server, Client(server) as sock:
        began = time.monotonic()
        closed = False
        for byte in b"GET /slowloris HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100:
            try:
                sock.send(bytes([byte]))
            except OSError:
                closed = True
                break
            if time.monotonic() - began > 4:
                break
            time.sleep(0.05)
        assert closed or closed_by_server(sock, 2)
        assert time.monotonic() - began <= 4


def test_past_the_connection_limit_a_new_connection_waits_until_one_closes() -> None:
    with serving(App(), connection_limit=2) as server:
        first, second = Client(server), Client(server)
        for client in (first, second):
            client.send(b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.body() == b"GET /held "
        with Client(server) as third:  # the kernel completes the handshake; the server does not accept
            third.send(b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
            assert third.waits()
            first.close()
            assert third.body() == b"GET /third "
        second.close()


def test_requests_beyond_the_threads_wait_for_a_place_but_healthz_does_not() -> None:
    app = App()
    with serving(app, threads=1) as server:
        slow, other, health = Client(server), Client(server), Client(server)
        slow.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        assert app.entered.wait(5)  # the one place is taken
        other.send(b"GET /waits HTTP/1.1\r\nHost: x\r\n\r\n")
        health.send(f"GET {HEALTH_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert health.body() == f"GET {HEALTH_PATH} ".encode()  # answered meanwhile
        with Client(server) as bad:  # and so is a request the parser refuses, which the app never sees
            bad.send(b"GET /x HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n")
            assert bad.response()[0] == 400
        assert other.waits()
        app.gate.set()
        assert slow.body() == b"GET /slow "
        assert other.body() == b"GET /waits "
        for sock in (slow, other, health):
            sock.close()


def test_work_left_until_after_the_response_runs_once_it_is_sent() -> None:
    app = App()
    with serving(app) as server, Client(server) as sock:
        sock.send(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.body() == b"GET /after "  # while the work still waits
        assert not app.after_ran.is_set()
        app.after_may_run.set()
        assert app.after_ran.wait(5)
        sock.send(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")  # the connection goes on
        assert sock.body() == b"GET /next "


def test_a_client_gone_before_its_answer_leaves_the_server_serving() -> None:
    app = App()
    with serving(app, threads=1) as server:
        with Client(server) as sock:
            sock.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert app.entered.wait(5)
        app.gate.set()  # its answer goes to a closed connection
        with Client(server) as sock:
            sock.send(b"GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.body() == b"GET /fine "
        deadline = time.monotonic() + 5
        while server.connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connections() == []  # no thread left behind


def test_work_left_until_after_the_response_runs_even_when_the_client_left_before_it() -> None:
    app = App()
    with serving(app) as server:
        client = Client(server)
        client.send(b"GET /slow/after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert app.entered.wait(5)
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset: the answer cannot be sent
        app.after_may_run.set()
        app.gate.set()
        assert app.after_ran.wait(5)  # the access line of a request is written whatever became of its answer


def test_a_stop_answers_a_connection_still_queued_in_the_kernel_when_every_thread_is_busy() -> None:
    app = App()
    with running(app, connection_limit=1) as run:
        with Client(run.server) as busy, Client(run.server) as queued:
            busy.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            assert app.entered.wait(5)
            queued.send(b"GET /queued HTTP/1.1\r\nHost: x\r\n\r\n")  # past the limit: in the kernel's queue
            assert queued.waits()
            run.service.request_stop()
            time.sleep(0.3)
            app.gate.set()
            assert busy.body() == b"GET /slow "
            assert queued.body() == b"GET /queued "
        run.thread.join(5)
        assert not run.thread.is_alive()


def _trickle(server: Server, stop: threading.Event) -> Client:
    """A connection sending a request's first line and then a header byte every 0.2 s, never ending it."""
    client = Client(server)
    client.send(b"GET /slowloris HTTP/1.1\r\nHost: x\r\nX-Slow: ")

    def drip() -> None:
        while not stop.wait(0.2):
            try:
                client.sock.send(b"a")
            except OSError:
                return

    threading.Thread(target=drip, daemon=True).start()
    return client


def test_with_every_place_taken_a_request_arriving_past_the_idle_timeout_makes_way() -> None:
    stop = threading.Event()
    with serving(App(), connection_limit=2, channel_timeout=1, read_timeout=30) as server:
        slow = [_trickle(server, stop) for _ in range(2)]
        try:
            began = time.monotonic()
            with Client(server, timeout=10) as waiting:  # in the kernel's queue: both places are held
                waiting.send(b"GET /waiting HTTP/1.1\r\nHost: x\r\n\r\n")
                assert waiting.body() == b"GET /waiting "
            assert time.monotonic() - began < 5  # not the 30 s of read_timeout
            assert any(closed_by_server(client, 0.5) for client in slow)
        finally:
            stop.set()
            for client in slow:
                client.close()


def test_with_places_to_spare_a_trickling_request_keeps_its_connection_past_the_idle_timeout() -> None:
    stop = threading.Event()
    with serving(App(), connection_limit=5, channel_timeout=1, read_timeout=30) as server:
        slow = _trickle(server, stop)
        try:
            time.sleep(2.5)  # more than twice channel_timeout, far less than read_timeout
            assert not closed_by_server(slow, 0.3)
        finally:
            stop.set()
            slow.close()


def test_every_listening_socket_is_served_ipv4_and_ipv6() -> None:
    """A parent of worker processes hands its bound sockets over; a host name may resolve to both families:
    each socket gets threads of its own waiting in accept."""
    four = socket.create_server(("127.0.0.1", 0))
    six = socket.create_server(("::1", 0), family=socket.AF_INET6)
    with running(App(), sockets=[four, six]) as run:
        for family, address in ((socket.AF_INET, four.getsockname()), (socket.AF_INET6, six.getsockname())):
            with socket.socket(family) as sock:
                sock.settimeout(5)
                sock.connect(address)
                sock.sendall(b"GET /either HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b"".join(iter(lambda: sock.recv(4096), b""))
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"GET /either "), family
        run.service.request_stop()
        run.thread.join(5)
        assert not run.thread.is_alive()
