"""Pooled, bound ldap3 connections with TLS and failover, and the one place ldap3's exceptions are
translated (the result codes of the operations: :mod:`bridge.directory.ldap.results`).

A pool of at most ``pool_size`` connections is shared by the worker threads: a thread borrows one,
runs its operations and gives it back, so no request pays for a connect or a bind once the pool is
warm. The server fills the pool at start (:meth:`ConnectionPool.fill`), so it is warm before the first
request.

Outages cost as little as they can (issue 16):

- a new connection tries each server of ``ldap.urls`` once, in order, skipping those the background
  probe (:mod:`bridge.directory.ldap.watch`) holds down; when none is left the request fails at once
  (503), instead of in ldap3's ``ServerPool`` loop, which sleeps 10 s whatever the timeouts say;
- a pooled connection is checked before it is lent: one whose server closed it (a restart, a crash, an
  idle timeout) has something to read, and is replaced before any request is sent on it;
- a connection that fails mid-operation takes its server down (:mod:`bridge.directory.ldap.servers`),
  which drops every other connection to it at once; a read is then run again on a fresh connection,
  a write is not, since it may have been carried out (503; the client retries).

Nothing here logs or returns the password.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import select
import socket
import ssl
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ldap3 import Connection, Tls
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException, LDAPResponseTimeoutError

from bridge.config import LdapConfig, Secret
from bridge.directory.errors import DirectoryError, DirectoryUnavailable
from bridge.directory.ldap.servers import (
    BUSY,
    TIMEOUT,
    ServerState,
    close_quietly,
    dial,
    make_states,
    none_answers,
    why_failed,
)
from bridge.directory.ldap.watch import Watch

logger = logging.getLogger(__name__)

_ACQUIRE_TIMEOUT = 30.0
# Errors of the transport, after which the connection is dead and its server suspect. (EOF on a read
# shows in ldap3 as a response timeout, at once; a real timeout mixes in TimeoutError.)
_TRANSPORT = (LDAPCommunicationError, LDAPResponseTimeoutError)
T = TypeVar("T")


def _tls(config: LdapConfig, base_dir: str) -> Tls | None:
    if config.tls == "none":
        return None
    ca_file = None if config.ca_file is None else str(Path(base_dir) / config.ca_file)
    return Tls(
        validate=ssl.CERT_REQUIRED,
        version=ssl.PROTOCOL_TLS_CLIENT,
        ca_certs_file=ca_file,
    )


@dataclass(eq=False, slots=True)
class _Pooled:
    """A bound connection, the server it goes to (and its place in ``ldap.urls``), and that server's
    generation when it was opened."""

    conn: Connection
    state: ServerState
    rank: int
    generation: int
    aborted: bool = False  # its socket was shut down under a read, its server having stopped answering

    def trusted(self, states: list[ServerState]) -> bool:
        """Whether it may be lent again: its server has not failed since it was opened, no server before
        it in ``ldap.urls`` answers again (the first is the one to use, when it can be), and its socket is
        quiet. An idle LDAP connection receives nothing, unless the server closed it or is about to (a
        notice of disconnection); either way it must not carry a request."""
        if self.generation != self.state.generation:
            return False
        if any(state.problem is None for state in states[: self.rank]):
            return False
        sock = self.conn.socket
        if sock is None:
            return False
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return False
        try:
            poller = select.poll()
            poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)  # readable (data, EOF, a reset) or in error: not quiet
        except (OSError, ValueError):
            return False


class ConnectionPool:
    """At most ``pool_size`` bound connections, borrowed with :meth:`execute`."""

    def __init__(self, config: LdapConfig, password: Secret, base_dir: str = ".") -> None:
        self._config = config
        self._password = password
        self._states = make_states(config, _tls(config, base_dir), config.probe_timeout)
        self._watch = Watch(
            self._states,
            functools.partial(
                dial,
                config=config,
                password=password,
                open_timeout=config.probe_timeout,
                operation_timeout=config.probe_timeout,
            ),
            config.probe_interval,
            config.probe_timeout,
            base=config.user_base,
        )
        weakref.finalize(self, self._watch.stop)  # a pool dropped without close() stops its probes too
        for state in self._states:
            state.listeners.append(weakref.WeakMethod(self._server_failed))
        self._reading: dict[int, _Pooled] = {}  # connections lent to reads now, by id
        self._idle: queue.LifoQueue[_Pooled] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(config.pool_size)
        self._retired: set[int] = set()  # ids of borrowed connections to close rather than give back
        self.opened = 0  # connections opened (and bound) so far: binds are visible to benchmarks
        self.in_use = 0  # connections borrowed right now (for the metrics)
        self._counting = threading.Lock()
        self._closed = False

    @property
    def servers_down(self) -> int:
        """How many servers of ``ldap.urls`` are down now, for any reason (for the metrics)."""
        return sum(state.problem is not None for state in self._states)

    def fill(self) -> int:
        """Open and bind connections until ``pool_size`` are open; the number opened. The server runs it
        once at start, beside the requests: the first burst of an Entra cycle then waits on no bind, and
        a wrong bind password or an unreachable directory shows in the log at once (DirectoryUnavailable,
        after which the pool still opens connections on demand)."""
        self._watch.start()
        opened = 0
        while not self._closed and self._idle.qsize() + self.in_use < self._config.pool_size:
            pooled = self._open()
            if self._closed:
                close_quietly(pooled.conn)
                break
            self._idle.put(pooled)
            opened += 1
        return opened

    def ready(self) -> None:
        """Return when a directory server answers the bind DN now, else raise DirectoryUnavailable with
        the reason; within about ``ldap.probe_timeout`` (see :meth:`Watch.ready`)."""
        self._watch.start()
        self._watch.ready()

    def _dial(self, state: ServerState) -> Connection:
        """A new connection to ``state``'s server, bound as the bridge, within the configured timeouts."""
        return dial(
            state.server(),
            self._config,
            self._password,
            open_timeout=self._config.connect_timeout,
            operation_timeout=self._config.operation_timeout,
        )

    def _open(self) -> _Pooled:
        """A new bound connection to the first server, in order, that answers; servers the probe holds
        down are skipped, and when no server is left this fails at once. While one server answers, the
        others are left to the probe, which puts one back once it has caught up with what that one took
        meanwhile; when none answers, requests try those that merely refused a connection themselves."""
        up = [state for state in self._states if state.problem is None]
        tried = up or [state for state in self._states if state.tried_by_requests]
        if not tried:
            raise none_answers(self._states)
        failure: DirectoryUnavailable | None = None
        for state in tried:
            rank = self._states.index(state)
            try:
                conn = self._dial(state)
            except DirectoryUnavailable as exc:
                state.failed(exc.why, exc.reason)
                failure = exc
                continue
            state.answered()
            with self._counting:
                self.opened += 1
            logger.debug("ldap connection opened to %s", state.url)
            return _Pooled(conn, state, rank, state.generation)
        assert failure is not None
        raise failure if len(tried) == 1 else none_answers(self._states)

    def _take(self) -> _Pooled:
        """The most recently used pooled connection that can be trusted, or a new one. Those that cannot
        are closed here, before a request is sent on them: a write never meets a dead socket."""
        while True:
            try:
                pooled = self._idle.get_nowait()
            except queue.Empty:
                return self._open()
            if pooled.trusted(self._states):
                return pooled
            close_quietly(pooled.conn)

    @contextmanager
    def _borrow(self, *, idempotent: bool = False) -> Iterator[Connection]:
        """A bound connection; a failure of the transport discards it, takes its server down and raises
        _Broken. An ``idempotent`` borrower (a read) can be cut short when its server stops answering."""
        self._watch.start()
        if not any(state.tried_by_requests for state in self._states):
            raise none_answers(self._states)  # at once, without waiting for a connection slot
        if not self._slots.acquire(timeout=_ACQUIRE_TIMEOUT):
            raise DirectoryUnavailable("all directory connections are busy", BUSY)
        pooled: _Pooled | None = None
        with self._counting:
            self.in_use += 1
        try:
            pooled = self._take()
            if idempotent:
                with self._counting:
                    self._reading[id(pooled)] = pooled
                    # The probe may have found the server stalled after _take chose it and before this
                    # read was listed, when _server_failed could not cut it short: never start it then.
                    stalled = pooled.state.problem == TIMEOUT
                if stalled:
                    raise _Broken("the directory stopped answering during a read", TIMEOUT, transport=True)
            try:
                yield pooled.conn
            except LDAPException as exc:
                raise self._broken(pooled, exc) from exc
            except DirectoryError:
                pooled = self._answered(pooled)  # the directory answered: the connection is fine
                raise
            pooled = self._answered(pooled)
        finally:
            if pooled is not None:  # not handed back: broken, or the work raised mid-operation
                self._retired.discard(id(pooled.conn))
                close_quietly(pooled.conn)
            with self._counting:
                self.in_use -= 1
                if pooled is not None:
                    self._reading.pop(id(pooled), None)
            self._slots.release()

    def _answered(self, pooled: _Pooled) -> _Pooled | None:
        """The work on ``pooled`` got its answers: its server answers (an operation sent before a stall
        that ends is proof of it, before the probe looks again), and the connection goes back."""
        with self._counting:
            self._reading.pop(id(pooled), None)
        if pooled.state.problem is not None:
            pooled.state.answered()
        return self._give_back(pooled)

    def _server_failed(self, state: ServerState, why: str) -> None:
        """A server stopped answering in time: cut the reads waiting on it short, so that they fail over
        to the next server or answer 503 now, and give their threads back, instead of each waiting out
        its operation timeout. Writes are left to wait: what they sent may yet be carried out, and only
        its answer can tell."""
        if why != TIMEOUT:
            return  # a closed connection, a refused bind: the reads waiting on it find out by themselves
        with self._counting:
            waiting = [pooled for pooled in self._reading.values() if pooled.state is state]
        for pooled in waiting:
            pooled.aborted = True
            sock = pooled.conn.socket
            if sock is not None:
                with contextlib.suppress(OSError):  # the base class's: TLS state is the reader's to touch
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _broken(self, pooled: _Pooled, exc: LDAPException) -> _Broken:
        """The error of an operation that failed on ``pooled``; a transport failure takes the server down,
        which drops every other connection to it."""
        if not isinstance(exc, _TRANSPORT):  # ldap3 refused something itself: the server is not to blame
            return _Broken(f"the directory connection failed: {type(exc).__name__}", BUSY, transport=False)
        if pooled.aborted:  # cut short by _server_failed: the server is down already, for a timeout
            return _Broken("the directory stopped answering during a read", TIMEOUT, transport=True)
        why = why_failed(exc)
        pooled.state.failed(why, f"a connection failed: {type(exc).__name__}: {exc}")
        self._drop_stale()
        return _Broken(f"lost the directory connection: {type(exc).__name__}", why, transport=True)

    def _drop_stale(self) -> None:
        """Close the idle connections that can no longer be trusted, now rather than at their next turn."""
        kept: list[_Pooled] = []
        while True:
            try:
                pooled = self._idle.get_nowait()
            except queue.Empty:
                break
            if pooled.trusted(self._states):
                kept.append(pooled)
            else:
                close_quietly(pooled.conn)
        for pooled in reversed(kept):  # back in the same order: the most recently used on top
            self._idle.put(pooled)

    def _give_back(self, pooled: _Pooled) -> _Pooled | None:
        """Pool ``pooled`` again and return None, or return it to be closed when it was retired."""
        if id(pooled.conn) in self._retired or self._closed:
            return pooled
        self._idle.put(pooled)
        return None

    def retire(self, conn: Connection) -> None:
        """Close the borrowed ``conn`` when its work is done instead of pooling it: it holds state on the
        server that only closing frees (a sorted list kept for a virtual list view)."""
        self._retired.add(id(conn))

    def execute(self, work: Callable[[Connection], T], *, idempotent: bool = False) -> T:
        """Run ``work`` on a pooled connection. When the connection fails under it, ``idempotent`` work
        (reads) runs once more on a fresh connection, to the same server if it answers, else to the next;
        other work (writes) is not repeated, since what was sent may have been carried out: 503."""
        try:
            with self._borrow(idempotent=idempotent) as conn:
                return work(conn)
        except _Broken as exc:
            if not (idempotent and exc.transport):
                raise DirectoryUnavailable(exc.reason, exc.why) from exc
            logger.info("a directory connection failed during a read (%s); reading again", exc.why)
        try:
            with self._borrow(idempotent=idempotent) as conn:
                return work(conn)
        except _Broken as exc:
            raise DirectoryUnavailable(exc.reason, exc.why) from exc

    def on_each_server(self, work: Callable[[Connection], T]) -> list[tuple[str, T | None]]:
        """Each server's URL of ``ldap.urls``, in order, with ``work`` done on a connection of its own (None
        when it cannot be reached): for ``check-config --probe``, which looks at every server, not only the
        one in use."""
        results: list[tuple[str, T | None]] = []
        for state in self._states:
            try:
                conn = self._dial(state)
            except DirectoryUnavailable:
                results.append((state.url, None))
                continue
            try:
                results.append((state.url, work(conn)))
            except LDAPException:
                results.append((state.url, None))
            finally:
                close_quietly(conn)
        return results

    def close(self) -> None:
        """Stop the probes and unbind every idle connection."""
        self._closed = True
        self._watch.stop()
        while True:
            try:
                close_quietly(self._idle.get_nowait().conn)
            except queue.Empty:
                return


class _Broken(DirectoryUnavailable):
    """A connection failed mid-operation; ``transport`` tells whether the network or server did it."""

    def __init__(self, reason: str, why: str, *, transport: bool) -> None:
        super().__init__(reason, why)
        self.transport = transport
