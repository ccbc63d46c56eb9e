"""The HTTP server's connections: how many it holds, how long an idle or a slow one may keep its place, and
``/healthz`` answered without a worker thread.

waitress reads each request whole in its I/O loop and only then hands it to a worker thread, so an idle or a
slow connection costs no thread, but it does take one of ``server.connection_limit`` places; past the limit,
new connections wait in the kernel's queue. Two bounds free the places:

- ``server.channel_timeout``: waitress closes a connection idle that long (checked every second here, not
  every 30 s as by default);
- ``server.read_timeout``: a request still arriving that long after its first byte is dropped. waitress's
  idle timeout alone never ends a client that sends a byte every few seconds (slowloris).

``GET /healthz`` is answered in the I/O loop itself when it is the only request on its connection, so it is
answered while every worker thread is busy (for example with a directory that stopped answering); its
handler asks nothing of the directory and returns at once.

A response goes out in one ``send``: waitress writes the header and then the body, each flushed at once
(a system call and a TCP segment each); here the header waits for the body (issue #22, bench/README.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

import waitress
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from bridge.config import ServerConfig

HEALTH_PATH = "/healthz"
_MAINTENANCE_SECONDS = 1  # how often waitress looks for idle connections (its default is 30 s)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneWriteTask(WSGITask):  # type: ignore[misc]  # waitress has no type hints
    """waitress's task for a request, which sends the response header together with the body's first
    piece (the whole body, for the bridge's answers) when that piece fits the announced length."""

    wrote_header: bool = False  # waitress's own attribute, typed

    def write(self, data: bytes) -> None:
        if self.wrote_header or not data or not self.complete:
            super().write(data)
            return
        header = self.build_response_header()  # decides chunked_response, so built once, here
        self.wrote_header = True
        length = self.content_length
        if self.chunked_response or not self.has_body or length is None or len(data) > length:
            self.channel.write_soon(header)
            super().write(data)  # waitress's own rules for the body: cut, chunk or drop
            return
        self.content_bytes_written += len(data)
        self.channel.write_soon(header + data)


class Channel(HTTPChannel):  # type: ignore[misc]  # waitress has no type hints
    """waitress's connection, which also drops a request that takes more than ``read_timeout`` seconds
    to arrive, answers a lone ``GET /healthz`` in the I/O loop, and sends each response in one write."""

    task_class = OneWriteTask
    read_timeout: float = 30.0
    reading_since: float | None = None  # time.time() of the first byte of the request now arriving
    health_waiting = False  # a /healthz request for the I/O loop to answer after this read

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop_thread = threading.get_ident()  # waitress accepts in its I/O loop

    def received(self, data: bytes) -> bool:
        before = self.request
        done = bool(super().received(data))
        if self.request is None:
            self.reading_since = None
        elif self.request is not before:  # a new request began in this data
            self.reading_since = time.time()
        return done

    def readable(self) -> bool:
        # The loop asks every connection this at least once a second: the place to enforce the deadline,
        # but never while an answer is being made on this connection (a request pipelined behind it).
        if self.reading_since is not None and self._too_slow(time.time()):  # the clock read only then
            self.will_close = True  # closed on this turn of the loop (writable() says so)
            self.reading_since = None
        return bool(super().readable())

    def _too_slow(self, now: float) -> bool:
        since = self.reading_since
        return since is not None and not self.requests and now - since > self.read_timeout

    def handle_read(self) -> None:
        super().handle_read()
        while self.health_waiting:
            self.health_waiting = False
            self.service()

    def answers_health_here(self) -> bool:
        """Whether the request just read is a lone ``GET /healthz`` the I/O loop can answer itself: asked
        from the loop's own thread, with nothing queued before it or waiting to be sent on this connection."""
        if threading.get_ident() != self.loop_thread or len(self.requests) != 1 or self.total_outbufs_len:
            return False
        request = self.requests[0]
        return bool(not request.error and request.command == "GET" and request.path == HEALTH_PATH)


class Dispatcher(ThreadedTaskDispatcher):  # type: ignore[misc]
    """waitress's worker threads, but a ``/healthz`` read by the I/O loop stays there."""

    def add_task(self, task: Any) -> None:
        if isinstance(task, Channel) and task.answers_health_here():
            task.health_waiting = True
            return
        super().add_task(task)


def channel_class(read_timeout: float) -> type[Channel]:
    """The connection class of a server whose requests must arrive within ``read_timeout`` seconds."""
    return cast(type[Channel], type("BridgeChannel", (Channel,), {"read_timeout": float(read_timeout)}))


def create_server(app: WsgiApp, socket_map: dict[int, Any], settings: ServerConfig, **listen: Any) -> Any:
    """A waitress server for ``app`` on ``listen`` (host and port, or bound ``sockets``), its dispatchers
    in ``socket_map``, with the connection limits and timeouts of ``settings``."""
    dispatcher = Dispatcher()
    dispatcher.set_thread_count(settings.threads)
    try:
        server = waitress.create_server(
            app,
            map=socket_map,
            _dispatcher=dispatcher,  # waitress's own hook for a dispatcher of one's own
            threads=settings.threads,
            ident=None,
            connection_limit=settings.connection_limit,
            channel_timeout=settings.channel_timeout,
            cleanup_interval=_MAINTENANCE_SECONDS,
            # waitress would drop X-Forwarded-* from every peer; the bridge's RequestId middleware
            # believes them from server.trusted_proxies only.
            clear_untrusted_proxy_headers=False,
            **listen,
        )
    except OSError:
        dispatcher.shutdown(timeout=1)
        raise
    listeners = [d for d in socket_map.values() if isinstance(d, BaseWSGIServer)]
    kind = channel_class(settings.read_timeout)
    for listener in listeners:
        listener.channel_class = kind
    # waitress counts its own listening sockets and wake-up pipe against the limit: the limit set here is
    # of client connections.
    listeners[0].adj.connection_limit = settings.connection_limit + len(socket_map)
    return server


__all__ = ["HEALTH_PATH", "Channel", "Dispatcher", "OneWriteTask", "channel_class", "create_server"]
