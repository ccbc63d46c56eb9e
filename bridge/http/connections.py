"""The HTTP server: each client connection accepted and served start to end by a thread of its own,
through waitress's request parser and response task; how many connections it holds, how long an idle or a
slow one may keep its place, and how many requests run at once.

A thread waiting in ``accept`` takes a connection, reads each request whole (waitress's
``HTTPRequestParser``, with its limits and its checks against request smuggling), takes one of
``server.threads`` places, runs the app through waitress's ``WSGITask`` (the environ, the response framing,
keep-alive), leaves its place and sends the response in one ``send``; then the request's access line
(:mod:`bridge.http.after`). waitress's own server reads requests in an I/O loop and hands each to a worker
thread, and the worker wakes the loop to send: two thread crossings a request, which cost a PATCH at
concurrency 1 a tenth of a millisecond and the mix about 15 % of its CPU (issue #22, bench/README.md).

A thread waiting for a slow client holds no place: places are taken only by requests read whole, so the
``threads`` bound what runs against the directory at once. Connections are bounded too:

- ``server.connection_limit``: past it no thread waits in ``accept``, and new connections wait in the
  kernel's queue until one closes;
- ``server.channel_timeout``: a connection idle that long (no request arriving, none being answered) is
  closed; also the longest a response may take to leave;
- ``server.read_timeout``: a request still arriving that long after its first byte is dropped, however
  steadily it trickles in (slowloris); and while every connection place is taken and others wait, one
  still arriving after ``channel_timeout`` is (:meth:`Server.shed_slow`).

``GET /healthz`` takes no place: it is answered while every place is busy (for example with a directory
that stopped answering); its handler asks nothing of the directory and returns at once. Nor does a request
the parser refuses, which waitress answers (400, 413, 431, 501) without the app.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from waitress.adjustments import Adjustments
from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import InternalServerError

from bridge.config import ServerConfig
from bridge.http.after import AFTER_RESPONSE

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
_RECEIVE_BYTES = 65_536
_ACCEPT_PAUSE = 0.1  # seconds a thread waits after accept() failed
_IDLE_THREADS = 2  # threads kept waiting in accept on each listening socket, room permitting
_QUEUE_SECONDS = 1.0  # the longest a stop waits for the connections already queued to be accepted
_ACCEPT_AGAIN = {errno.ECONNABORTED, errno.EPROTO, errno.EINTR, errno.EAGAIN}  # accept() again at once
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Task(WSGITask):  # type: ignore[misc]  # waitress has no type hints
    """waitress's task for a request, whose environ holds the list of what to run once the response is
    sent (:mod:`bridge.http.after`)."""

    def get_environment(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environment()
        environ.setdefault(AFTER_RESPONSE, [])
        return environ


class Listener:
    """A listening socket, as waitress's task reads it: the app, the settings, the port (``SERVER_PORT``)."""

    def __init__(self, sock: socket.socket, app: WsgiApp, adj: Adjustments) -> None:
        self.socket = sock
        self.application = app
        self.adj = adj
        address = sock.getsockname()
        self.effective_host = str(address[0])
        self.effective_port = int(address[1])
        self.server_name = adj.server_name


class Connection:
    """One client connection and the thread that serves it. waitress's task writes the response through
    :meth:`write_soon`, which keeps it; it is sent in one ``send`` (header and body together) once the
    request has left its place, so a client slow to read holds no place."""

    def __init__(self, server: Server, listener: Listener, sock: socket.socket, addr: Any) -> None:
        self.owner, self.socket = server, sock
        self.server = listener  # what waitress's task calls its channel's server
        self.adj = server.adj
        self.addr = addr if isinstance(addr, tuple) and len(addr) >= 2 else ("", 0)
        self.opened = time.monotonic()
        self.answered = 0
        self.reading = False  # the first byte of a request has arrived, its answer is not sent yet
        self.arriving_since: float | None = None  # monotonic time of a request's first byte, until whole
        self.closed = False
        self._output: list[bytes] = []

    # --- what waitress's task asks of its channel --------------------------------------------------

    @property
    def connected(self) -> bool:
        return not self.closed

    def write_soon(self, data: Any) -> int:
        if isinstance(data, ReadOnlyFileBasedBuffer):  # wsgi.file_wrapper: the bridge sends none
            data = b"".join(data)
        if data:
            self._output.append(bytes(data))
        return len(data)

    def check_client_disconnected(self) -> bool:
        return False

    # --- the thread --------------------------------------------------------------------------------

    def serve(self) -> None:
        """Read, answer, again, until the client closes, a timeout or an error ends the connection, or
        the server stops."""
        try:
            pending = b""
            while not (self.owner.stopping and self.answered):
                request, pending = self._read(pending)
                if request is None or not self._answer(request):
                    break
                self.answered += 1
        except OSError:
            pass  # the client went away, or a timeout: the connection ends, as any other
        except Exception:  # a fault of the server's own: this connection ends, the others go on
            logger.exception("the connection from %s failed", self.addr[0])
        finally:
            self.close()

    def _read(self, pending: bytes) -> tuple[HTTPRequestParser | None, bytes]:
        """The next request whole, and what arrived after it; None when the client closed or took too long."""
        sock, adj, owner = self.socket, self.adj, self.owner
        request = HTTPRequestParser(adj)
        deadline: float | None = None
        sent_continue = False
        while True:
            if not pending:
                wait = owner.idle_seconds if deadline is None else deadline - time.monotonic()
                if wait <= 0:
                    return None, b""
                sock.settimeout(wait)
                pending = sock.recv(_RECEIVE_BYTES)
                if not pending:
                    return None, b""
            if deadline is None:
                self.reading = True
                self.arriving_since = time.monotonic()
                deadline = self.arriving_since + owner.read_seconds
            used = request.received(pending)
            pending = pending[used:]
            if request.expect_continue and request.headers_finished and not sent_continue:
                sent_continue = True
                sock.settimeout(owner.idle_seconds)
                sock.sendall(_CONTINUE)
            if request.completed:
                self.arriving_since = None
                if request.empty:  # blank lines between requests
                    request, deadline, sent_continue = HTTPRequestParser(adj), None, False
                    self.reading = False
                    continue
                return request, pending

    def _answer(self, request: HTTPRequestParser) -> bool:
        """Run the app for ``request`` and send its response; whether the connection stays open."""
        # /healthz, and a request the parser refused (answered without the app), take no place.
        placeless = request.error or (request.command == "GET" and request.path == HEALTH_PATH)
        try:
            if placeless:
                task = self._run(request)
            else:
                with self.owner.places:
                    task = self._run(request)
            try:
                self._send()
            finally:  # the access line of a request whose client left before its answer is written too
                self._after(task)
        finally:
            request.close()  # the body's buffer (a temporary file for a large one)
            self.reading = False
        return not task.close_on_finish

    def _run(self, request: HTTPRequestParser) -> Any:
        """waitress's task for ``request``, run: the response is in the output."""
        task = (ErrorTask if request.error else Task)(self, request)
        try:
            task.service()
        except Exception:
            # As waitress's own channel does: the app raised (the bridge's own errors are all answered
            # by falcon); a 500 if nothing was written yet, and the connection closed.
            logger.exception("Exception while serving %s", request.path)
            if task.wrote_header:
                task.close_on_finish = True
                return task
            self._output.clear()
            failed = HTTPRequestParser(self.adj)
            failed.error = InternalServerError("The server encountered an unexpected internal server error")
            failed.version = request.version
            task = ErrorTask(self, failed)
            task.service()
        return task

    @staticmethod
    def _after(task: Any) -> None:
        environ = getattr(task, "environ", None)
        for action in environ.get(AFTER_RESPONSE, ()) if environ else ():
            try:
                action()
            except Exception:
                logger.exception("after the response to %s", task.request.path)

    def _send(self) -> None:
        output, self._output = self._output, []
        if output:
            self.socket.settimeout(self.owner.idle_seconds)
            self.socket.sendall(output[0] if len(output) == 1 else b"".join(output))

    def stop_reading(self) -> None:
        """End a read in progress: the thread sees the client gone and closes the connection (an idle one
        at a stop, a slow request making way)."""
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        """Close the connection and leave the server's count (the thread's last act)."""
        self.closed = True
        with contextlib.suppress(OSError):
            self.socket.close()
        self.owner.forget(self)


class Server:
    """The listening sockets, the threads that accept and serve their connections, and the places of the
    requests running at once.

    A connection is accepted by the thread that serves it: idle threads wait in a blocking ``accept``,
    and the kernel gives each new connection to one of them, so neither a connection nor a request
    crosses to another thread. While there is room under ``server.connection_limit``, the accept loop of
    :class:`Service <bridge.ops.systemd.Service>` keeps :data:`_IDLE_THREADS` of them waiting on each
    listening socket; a thread whose connection ends waits again, unless ``server.threads`` others already
    do. At the limit none waits, and new connections wait in the kernel's queue until a connection ends
    and its thread accepts again. A stop serves what the kernel has queued, then shuts the listening
    sockets, which ends every ``accept``."""

    def __init__(
        self, app: WsgiApp, settings: ServerConfig, sockets: list[socket.socket], adj: Adjustments
    ) -> None:
        self.adj = adj
        self.listeners = [Listener(sock, app, adj) for sock in sockets]
        self.places = threading.BoundedSemaphore(settings.threads)
        self.limit = settings.connection_limit
        self.idle_seconds = float(settings.channel_timeout)
        self.read_seconds = float(settings.read_timeout)
        self.stopping = False
        self._most_idle = max(_IDLE_THREADS, settings.threads)
        self._lock = threading.Lock()
        self._connections: set[Connection] = set()
        self._idle = dict.fromkeys(self.listeners, 0)  # threads waiting in accept, by listening socket
        self._wake_read, self._wake_write = socket.socketpair()
        for end in (self._wake_read, self._wake_write):
            end.setblocking(False)

    # --- the accept loop's side -------------------------------------------------------------------

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of each listening socket."""
        return [(listener.effective_host, listener.effective_port) for listener in self.listeners]

    def waitables(self) -> list[Any]:
        """What the accept loop waits on between its turns."""
        return [self._wake_read]

    def tend(self, ready: Iterable[Any] = ()) -> None:
        """One turn of the accept loop: take its wake-ups, and start threads to wait in ``accept`` while
        fewer than :data:`_IDLE_THREADS` do on a listening socket and there is room under the limit."""
        if self._wake_read in ready:
            with contextlib.suppress(OSError):
                while self._wake_read.recv(4096):
                    pass
        for listener in self.listeners:
            while True:
                with self._lock:
                    if self.stopping or self._idle[listener] >= _IDLE_THREADS or self._count() >= self.limit:
                        break
                    self._idle[listener] += 1  # counted before it runs: the loop starts no more than needed
                if not self._start(listener):
                    break

    def stop_accepting(self) -> None:
        """Serve the connections the kernel has already queued (a stop answers them too), then shut the
        listening sockets: new connections are refused, and every thread waiting in ``accept`` ends."""
        self.stopping = True  # a thread ends after its connection, and none starts to wait
        deadline = time.monotonic() + _QUEUE_SECONDS
        for listener in self.listeners:
            while _queued(listener.socket) and time.monotonic() < deadline:
                with self._lock:
                    none_waits = self._idle[listener] == 0
                    if none_waits:
                        self._idle[listener] += 1
                if none_waits:
                    self._start(listener, self._serve_queued)  # every thread busy: one for the queued one
                time.sleep(0.005)  # the waiting threads take the queued connections
        for listener in self.listeners:
            with contextlib.suppress(OSError):
                listener.socket.shutdown(socket.SHUT_RDWR)  # ends the accepts waiting (EINVAL)
            with contextlib.suppress(OSError):
                listener.socket.close()

    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self._connections)

    def shed_slow(self) -> None:
        """While every place under the limit is taken and connections wait in the kernel's queue, drop
        the requests that have been arriving for ``channel_timeout`` seconds or more (read_timeout alone
        would let trickling clients hold every place that long)."""
        with self._lock:
            full = len(self._connections) >= self.limit
        if not full or not any(_queued(listener.socket) for listener in self.listeners):
            return
        now = time.monotonic()
        for connection in self.connections():
            since = connection.arriving_since
            if since is not None and now - since >= self.idle_seconds:
                connection.stop_reading()

    def wake(self) -> None:
        """Wake the accept loop (safe in a signal handler: one non-blocking send, no lock)."""
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")

    def close(self) -> None:
        """Close what is left: listeners, connections (their threads end), the wake-up socket."""
        if not self.stopping:
            self.stop_accepting()
        for connection in self.connections():
            with contextlib.suppress(OSError):
                connection.socket.shutdown(socket.SHUT_RDWR)
        for end in (self._wake_read, self._wake_write):
            end.close()

    # --- the threads' side ------------------------------------------------------------------------

    def _count(self) -> int:
        return len(self._connections) + sum(self._idle.values())

    def _start(self, listener: Listener, work: Callable[[Listener], None] | None = None) -> bool:
        """Start a thread, already counted idle on ``listener``, to accept and serve its connections."""
        target = work or self._accept_and_serve
        thread = threading.Thread(target=target, args=(listener,), name="scim-connection", daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:  # no more threads: fewer connections at once, no failure
            logger.warning("cannot start a thread for connections: %s", exc)
            with self._lock:
                self._idle[listener] -= 1
            return False
        return True

    def _accept_and_serve(self, listener: Listener) -> None:
        """A thread's life: accept a connection, serve it, accept again, until the server stops or enough
        other threads wait."""
        while (connection := self._accept(listener)) is not None:
            connection.serve()
            with self._lock:
                if self.stopping or self._count() >= self.limit or self._idle[listener] >= self._most_idle:
                    return
                self._idle[listener] += 1

    def _serve_queued(self, listener: Listener) -> None:
        """During a stop: accept one connection the kernel had queued (unless another thread took it
        first: then wait until the stop shuts the socket), and serve it."""
        connection = self._accept(listener, stopping=True)
        if connection is not None:
            connection.serve()

    def _accept(self, listener: Listener, stopping: bool = False) -> Connection | None:
        """The next connection on ``listener``, counted, and this thread no longer counted idle; None once
        the server stops (a thread started by the stop itself accepts one all the same)."""
        connection: Connection | None = None
        try:
            while connection is None and (stopping or not self.stopping):
                try:
                    sock, addr = listener.socket.accept()
                except OSError as exc:
                    if self.stopping:
                        return None  # the socket was shut (EINVAL) or closed
                    if exc.errno not in _ACCEPT_AGAIN:  # out of file descriptors, say: wait a little
                        logger.warning("cannot accept a connection: %s", exc)
                        time.sleep(_ACCEPT_PAUSE)
                    continue
                for level, option, value in self.adj.socket_options:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(level, option, value)
                connection = Connection(self, listener, sock, addr)  # during a stop too: it is served
        finally:
            with self._lock:
                self._idle[listener] -= 1
                if connection is not None:
                    self._connections.add(connection)  # in the same step: a stop sees it either way
                short = not self.stopping and self._idle[listener] < _IDLE_THREADS
        if connection is not None and short:
            self.wake()  # the accept loop starts another thread to wait
        return connection

    def forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)
        if self.stopping:  # the loop may be waiting for the last connection
            self.wake()


def _queued(sock: socket.socket) -> bool:
    """Whether a connection waits in the kernel's queue of the listening ``sock`` (one that another worker
    process has shut already holds none)."""
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return bool(listening and ready)


def _listening_sockets(adj: Adjustments) -> list[socket.socket]:
    """Bound and listening sockets for ``host`` and ``port``, as waitress binds them."""
    sockets = []
    try:
        for family, kind, proto, address in adj.listen:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(adj.backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def create_server(
    app: WsgiApp,
    settings: ServerConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    sockets: list[socket.socket] | None = None,
) -> Server:
    """A server for ``app`` on ``host`` and ``port``, or on the bound ``sockets`` (a parent of worker
    processes binds them), with the threads, connection limits and timeouts of ``settings``."""
    options: dict[str, Any] = {
        "ident": None,
        # waitress would drop X-Forwarded-* from every peer; the bridge's RequestId middleware believes them
        # from server.trusted_proxies only.
        "clear_untrusted_proxy_headers": False,
    }
    if sockets is None:
        options["host"] = settings.host if host is None else host
        options["port"] = settings.port if port is None else port
    else:
        options.update(sockets=sockets)
    adj = Adjustments(**options)
    bound = list(sockets) if sockets is not None else _listening_sockets(adj)
    for sock in bound:
        sock.setblocking(True)  # threads wait in accept(); a parent of workers never accepts on it
    return Server(app, settings, bound, adj)


__all__ = ["HEALTH_PATH", "Connection", "Server", "Task", "create_server"]
