"""The bridge as a systemd service: the notify protocol, the watchdog, graceful stop and reload.

- :func:`notify` is sd_notify(3) in a few lines: one datagram of ``NAME=value`` lines to the AF_UNIX socket
  named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace); without it, nothing.
- :class:`Service` runs the server's accept loop (:mod:`bridge.http.connections`) itself, so that it can
  say ``READY=1`` once the socket listens, ping ``WATCHDOG=1`` from that loop (a wedged loop stops the
  pings and systemd restarts the bridge), reload on SIGHUP between two turns of the loop, and drain on
  SIGTERM: it takes the connections the kernel has already accepted and closes the listening socket (new
  connections are refused), answers every request received or being received (a silent new connection
  gets :data:`_FIRST_REQUEST_GRACE` to send one), closes idle keep-alive connections, and returns when no
  connection is left, or after :data:`DRAIN_SECONDS`, cutting off what still runs.
- :class:`ReloadableApp` is the WSGI app the server serves: a reload swaps the app inside it; each request
  finishes on the app it started on, and a replaced app's LDAP connections are closed after its last
  request.

Signal handlers only set a flag and wake the loop, which acts on it between two turns. Worker processes
(``server.processes`` > 1) speak the same protocol to their parent: :mod:`bridge.ops.workers`.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.http.connections import Connection, Server

logger = logging.getLogger(__name__)

# A request still running this long after SIGTERM is cut off. It covers the LDAP timeouts of one request
# (connect_timeout 5 s per server, operation_timeout 10 s) and stays inside the unit's TimeoutStopSec=40s.
DRAIN_SECONDS = 25.0
_LOOP_TURN = 1.0  # seconds one turn of the accept loop waits at most (a signal wakes it at once)
_DRAIN_TURN = 0.1  # seconds one turn of the loop waits for an event while draining
# A connection accepted just before the stop has not sent its request yet: it gets this long to do so.
_FIRST_REQUEST_GRACE = 2.0


def notify(*fields: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Send ``fields`` (``READY=1``, ``STATUS=...``) to the service manager in one datagram, as sd_notify(3)
    does; False when ``$NOTIFY_SOCKET`` is unset (not started by systemd) or the message did not go."""
    address = environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # the abstract namespace: no file, a leading NUL byte
    elif not address.startswith("/"):
        return False  # unset, or a vsock: address, which only a VM's service manager uses
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError as exc:
        logger.warning("cannot notify the service manager: %s", exc)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] = os.environ, pid: int | None = None) -> float | None:
    """Seconds between two ``WATCHDOG=1`` pings: half of ``$WATCHDOG_USEC``, as sd_watchdog_enabled(3)
    advises; None when the watchdog is off, or meant for another process (``$WATCHDOG_PID``)."""
    try:
        usec = int(environ.get("WATCHDOG_USEC", "0"))
        owner = int(environ.get("WATCHDOG_PID", "0"))
    except ValueError:
        return None
    if usec <= 0 or (owner and owner != (os.getpid() if pid is None else pid)):
        return None
    return usec / 2 / 1_000_000


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, as ``RELOADING=1`` takes it with ``MONOTONIC_USEC``."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


@dataclass(slots=True)
class _Generation:
    app: Callable[..., Iterable[bytes]]
    close: Callable[[], None]
    running: int = 0


class _Body:
    """An app's response body that reports when the server is done with it (the server calls
    ``close()``, PEP 3333), so that the app it came from knows how many requests it still serves."""

    __slots__ = ("_body", "_done")

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class ReloadableApp:
    """A WSGI app whose inner app a reload replaces while requests run: each request stays on the app it
    started on, and a replaced app is closed (its LDAP connections unbound) once its last request ends."""

    def __init__(self, app: Callable[..., Iterable[bytes]], close: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._current = _Generation(app, close)
        self._retired: list[_Generation] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            generation = self._current
            generation.running += 1
        try:
            body = generation.app(environ, start_response)
        except BaseException:
            self._finished(generation)
            raise
        if type(body) is list:  # made whole (falcon's answer but for a stream): the app is done with it
            self._finished(generation)
            return body
        return _Body(body, lambda: self._finished(generation))

    def replace(self, app: Callable[..., Iterable[bytes]], close: Callable[[], None]) -> None:
        """Serve the next requests with ``app``; close the current one when its requests are done."""
        with self._lock:
            self._retired.append(self._current)
            self._current = _Generation(app, close)
        self._close_idle()

    def close(self) -> None:
        """Close every app, the current one included (when the server has stopped)."""
        with self._lock:
            generations, self._retired = [*self._retired, self._current], []
        for generation in generations:
            generation.close()

    def _finished(self, generation: _Generation) -> None:
        with self._lock:
            generation.running -= 1
            retired = bool(self._retired)
        if retired:  # only after a reload: none, nearly always
            self._close_idle()

    def _close_idle(self) -> None:
        with self._lock:
            idle = [g for g in self._retired if not g.running]
            self._retired = [g for g in self._retired if g.running]
        for generation in idle:  # outside the lock: unbinding takes a round trip per connection
            generation.close()


def _closable(connection: Connection, now: float) -> bool:
    """No request is being received, run or answered on this connection: it has answered before (an idle
    keep-alive connection), or it has sent nothing for a while."""
    if connection.reading:
        return False
    return bool(connection.answered or now - connection.opened >= _FIRST_REQUEST_GRACE)


class Service:
    """Runs the accept loop of a server made with :func:`bridge.http.connections.create_server` under
    systemd."""

    def __init__(
        self,
        server: Server,
        *,
        reload: Callable[[], None] | None = None,
        drain_seconds: float = DRAIN_SECONDS,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._server = server
        self._reloader = reload
        self._drain_seconds = drain_seconds
        self._environ = environ
        self._clock = clock
        self._interval = watchdog_interval(environ)
        self._next_ping = 0.0
        self._status = "serving"
        self._stop_requested = False
        self._forced = False
        self._reload_requested = False

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """(host, port) of each listening socket."""
        return self._server.addresses

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """A signal handler: drain and stop; a second call stops without waiting for requests."""
        self._forced = self._stop_requested
        self._stop_requested = True
        self._server.wake()

    def request_reload(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """A signal handler: reload the configuration at the next turn of the loop."""
        self._reload_requested = True
        self._server.wake()

    def run(self, status: str = "serving") -> None:
        """Serve until :meth:`request_stop`, then drain; ``status`` is the STATUS= line systemd shows."""
        self._status = status
        self._server.tend()  # threads waiting for connections, before READY
        notify("READY=1", f"STATUS={status}", environ=self._environ)
        timeout = _LOOP_TURN if self._interval is None else min(_LOOP_TURN, self._interval)
        try:
            while not self._stop_requested:
                self._turn(timeout)
                if self._reload_requested and not self._stop_requested:
                    self._reload_requested = False
                    self._reload()
            self._drain()
        finally:
            self._server.close()

    def _turn(self, timeout: float) -> None:
        ready, _, _ = select.select(self._server.waitables(), [], [], timeout)
        self._server.tend(ready)
        self._server.shed_slow()
        if self._interval is not None and self._clock() >= self._next_ping:
            notify("WATCHDOG=1", environ=self._environ)
            self._next_ping = self._clock() + self._interval

    def _reload(self) -> None:
        if self._reloader is None:
            logger.info("SIGHUP ignored: this server cannot reload")
            return
        notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", environ=self._environ)
        status = self._status
        try:
            self._reloader()
        except Exception as exc:
            logger.error("reload failed, still serving the previous configuration: %s", exc)
            status = f"{self._status}; the last reload failed (see the log)"
        notify("READY=1", f"STATUS={status}", environ=self._environ)

    def _drain(self) -> None:
        notify("STOPPING=1", "STATUS=stopping: answering the requests in progress", environ=self._environ)
        server = self._server
        # The connections the kernel has already accepted are served too, then new ones are refused; each
        # connection closes once it has answered.
        server.stop_accepting()
        deadline = self._clock() + self._drain_seconds
        while True:
            left = server.connections()
            if not left or self._forced or self._clock() >= deadline:
                break
            now = time.monotonic()
            for connection in left:
                if _closable(connection, now):
                    connection.stop_reading()
            self._turn(_DRAIN_TURN)
        if left:
            logger.warning("stopping with %d connection(s) still busy, their requests unanswered", len(left))
