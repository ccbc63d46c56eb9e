"""Pooled, bound ldap3 connections with TLS and failover, and the one place ldap3 errors are translated.

A pool of at most ``pool_size`` connections is shared by the worker threads: a thread borrows one,
runs its operations and gives it back, so no request pays for a connect or a bind once the pool is
warm. The server fills the pool at start (:meth:`ConnectionPool.fill`), so it is warm before the first
request. A connection that fails is thrown away; the next borrower opens a fresh one, which goes
through ldap3's ``ServerPool`` and so fails over to the next URL. Nothing here logs or returns the
password.
"""

from __future__ import annotations

import logging
import math
import queue
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from ldap3 import FIRST, NONE, SYNC, Connection, Server, ServerPool, Tls
from ldap3.core.exceptions import LDAPException

from bridge.config import LdapConfig, Secret
from bridge.directory.errors import (
    Changed,
    ConstraintViolation,
    DirectoryError,
    DirectoryUnavailable,
    EntryAlreadyExists,
    InsufficientAccess,
    NoSuchEntry,
    NotAllowed,
)

logger = logging.getLogger(__name__)

# RFC 4511 result codes, grouped by what they mean for a client of the bridge.
_RESULTS: dict[int, type[DirectoryError]] = {
    32: NoSuchEntry,  # noSuchObject
    68: EntryAlreadyExists,
    16: ConstraintViolation,  # noSuchAttribute
    17: ConstraintViolation,  # undefinedAttributeType
    18: ConstraintViolation,  # inappropriateMatching
    19: ConstraintViolation,  # constraintViolation (AD: password policy, value too long)
    20: ConstraintViolation,  # attributeOrValueExists
    21: ConstraintViolation,  # invalidAttributeSyntax
    64: ConstraintViolation,  # namingViolation
    65: ConstraintViolation,  # objectClassViolation
    67: ConstraintViolation,  # notAllowedOnRDN
    69: ConstraintViolation,  # objectClassModsProhibited
    50: InsufficientAccess,
    66: NotAllowed,  # notAllowedOnNonLeaf
    53: NotAllowed,  # unwillingToPerform
    3: DirectoryUnavailable,  # timeLimitExceeded
    51: DirectoryUnavailable,  # busy
    52: DirectoryUnavailable,  # unavailable
    122: Changed,  # assertionFailed (RFC 4528): the entry is not at the expected version
}

# Active Directory puts a Win32 error code in its diagnostic message; these are the ones a client can fix.
_AD_REASONS = {
    "0000052D": "the password does not meet the domain's length, complexity or history rules",
    "00000056": "the old password is not correct",
    "000020E6": "the value is too long for this attribute",
}

_ACQUIRE_TIMEOUT = 30.0
_EXHAUST_SECONDS = 10
T = TypeVar("T")


def raise_for_result(result: dict[str, Any], what: str) -> None:
    """Raise the DirectoryError that matches an ldap3 result dict, unless it is a success."""
    code = int(result.get("result", 80))
    if code == 0:
        return
    error = _RESULTS.get(code, DirectoryError)
    message = str(result.get("message") or "").strip()
    for marker, plain in _AD_REASONS.items():
        if marker in message:
            message = f"{plain} ({message})"
            break
    reason = f"{what}: {result.get('description', 'error')}" + (f" ({message})" if message else "")
    raise error(reason)


def _tls(config: LdapConfig, base_dir: str) -> Tls | None:
    if config.tls == "none":
        return None
    ca_file = None if config.ca_file is None else str(Path(base_dir) / config.ca_file)
    return Tls(
        validate=ssl.CERT_REQUIRED,
        version=ssl.PROTOCOL_TLS_CLIENT,
        ca_certs_file=ca_file,
    )


class ConnectionPool:
    """At most ``pool_size`` bound connections, borrowed with :meth:`connection`."""

    def __init__(self, config: LdapConfig, password: Secret, base_dir: str = ".") -> None:
        self._config = config
        self._password = password
        tls = _tls(config, base_dir)
        servers = [
            Server(
                url,
                use_ssl=url.lower().startswith("ldaps://"),
                tls=tls,
                get_info=NONE,
                connect_timeout=config.connect_timeout,
            )
            for url in config.urls
        ]
        # Try each URL once per connection attempt. With several, one that failed is skipped for 10 s, so
        # requests do not each wait for a dead server first; with one, there is nothing to skip to, and
        # skipping it would keep answering 503 for that long after the directory came back.
        exhaust: int | bool = _EXHAUST_SECONDS if len(servers) > 1 else False
        self._servers = ServerPool(servers, FIRST, active=1, exhaust=exhaust)
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(config.pool_size)
        self._retired: set[int] = set()  # ids of borrowed connections to close rather than give back
        self.opened = 0  # connections opened (and bound) so far: binds are visible to benchmarks
        self.in_use = 0  # connections borrowed right now (for the metrics)
        self._counting = threading.Lock()
        self._closed = False

    def fill(self) -> int:
        """Open and bind connections until ``pool_size`` are open; the number opened. The server runs it
        once at start, beside the requests: the first burst of an Entra cycle then waits on no bind, and
        a wrong bind password or an unreachable directory shows in the log at once (DirectoryUnavailable,
        after which the pool still opens connections on demand)."""
        opened = 0
        while not self._closed and self._idle.qsize() + self.in_use < self._config.pool_size:
            conn = self._open()
            if self._closed:
                _close_quietly(conn)
                break
            self._idle.put(conn)
            opened += 1
        return opened

    def _open(self) -> Connection:
        conn = Connection(
            self._servers,
            user=self._config.bind_dn,
            password=self._password.reveal(),
            client_strategy=SYNC,
            auto_bind=False,
            raise_exceptions=False,
            receive_timeout=max(1, math.ceil(self._config.operation_timeout)),  # ldap3 packs it as an int
            auto_referrals=False,
            return_empty_attributes=False,
        )
        try:
            conn.open()
            if self._config.tls == "starttls" and not conn.start_tls():
                raise DirectoryUnavailable("StartTLS failed: " + str(conn.result.get("description")))
            if not conn.bind():
                code = conn.result.get("result")
                raise DirectoryUnavailable(
                    f"the directory refused the bind as {self._config.bind_dn} "
                    f"({conn.result.get('description')}, code {code})"
                )
        except LDAPException as exc:
            _close_quietly(conn)
            raise DirectoryUnavailable(f"cannot reach the directory: {type(exc).__name__}: {exc}") from exc
        except DirectoryUnavailable:
            _close_quietly(conn)
            raise
        self.opened += 1
        logger.debug("ldap connection opened to %s", conn.server)
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[tuple[Connection, bool]]:
        """A bound connection and whether it was reused from the pool; a communication failure
        discards it and raises _Broken."""
        if not self._slots.acquire(timeout=_ACQUIRE_TIMEOUT):
            raise DirectoryUnavailable("all directory connections are busy")
        conn: Connection | None = None
        with self._counting:
            self.in_use += 1
        try:
            try:
                conn, reused = self._idle.get_nowait(), True
            except queue.Empty:
                conn, reused = self._open(), False
            try:
                yield conn, reused
            except LDAPException as exc:
                raise _Broken(reused, f"lost the directory connection: {type(exc).__name__}") from exc
            except DirectoryError:
                conn = self._give_back(conn)  # the directory answered: the connection is fine
                raise
            conn = self._give_back(conn)
        finally:
            if conn is not None:  # not handed back: broken, or the work raised mid-operation
                self._retired.discard(id(conn))
                _close_quietly(conn)
            with self._counting:
                self.in_use -= 1
            self._slots.release()

    def _give_back(self, conn: Connection) -> Connection | None:
        """Pool ``conn`` again and return None, or return it to be closed when it was retired."""
        if id(conn) in self._retired:
            return conn
        self._idle.put(conn)
        return None

    def retire(self, conn: Connection) -> None:
        """Close the borrowed ``conn`` when its work is done instead of pooling it: it holds state on the
        server that only closing frees (a sorted list kept for a virtual list view)."""
        self._retired.add(id(conn))

    def execute(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a pooled connection. When a connection taken from the pool turns out to be
        dead (the server restarted while it sat idle), run it once more on a fresh one."""
        try:
            with self._borrow() as (conn, _):
                return work(conn)
        except _Broken as exc:
            if not exc.reused:
                raise DirectoryUnavailable(exc.reason) from exc
            logger.info("a pooled directory connection was dead; retrying on a fresh one")
        try:
            with self._borrow() as (conn, _):
                return work(conn)
        except _Broken as exc:
            raise DirectoryUnavailable(exc.reason) from exc

    def close(self) -> None:
        """Unbind every idle connection."""
        self._closed = True
        while True:
            try:
                _close_quietly(self._idle.get_nowait())
            except queue.Empty:
                return


class _Broken(DirectoryUnavailable):
    """A connection failed mid-operation; ``reused`` tells whether it came from the pool."""

    def __init__(self, reused: bool, reason: str) -> None:
        super().__init__(reason)
        self.reused = reused


def _close_quietly(conn: Connection) -> None:
    try:
        conn.unbind()
    except LDAPException:  # already broken; nothing left to release
        logger.debug("unbind of a broken connection failed", exc_info=True)
