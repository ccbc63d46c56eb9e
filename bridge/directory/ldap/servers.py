"""The directory servers of ``ldap.urls``: whether each answers, and the one way to open a bound connection.

Each server is up, or down for one of a few reasons. How it went down decides who may try it again:

- ``unreachable`` (the connection was refused or reset, TLS failed): finding that out again costs a
  round trip at most, so requests keep trying the server themselves, and the first one after the server
  is back gets through (a restart costs no request);
- ``timeout`` (no answer within the timeout: a stalled server, a port that drops packets) and
  ``bind refused``: finding that out again costs the timeout, or one more bad bind against an account
  that may lock, so requests skip the server and get 503 at once; the background probe
  (:mod:`bridge.directory.ldap.watch`) tries it again and puts it back when it answers.

Every failure bumps the server's ``generation``: pooled connections opened before it are not trusted
again, so a server's death drops all of its connections at once instead of one failed request each.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ldap3 import BASE, NONE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException

from bridge.config import LdapConfig, Secret
from bridge.directory.errors import DirectoryUnavailable

logger = logging.getLogger(__name__)

UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
BIND_REFUSED = "bind refused"
BUSY = "busy"
CATCHING_UP = "catching up"  # back after an outage, but behind a replica that served meanwhile
# Down in a way that costs a request a timeout (or a bad bind) to find again, or back but not yet
# holding what another server took meanwhile: left to the probe.
_LEFT_TO_THE_PROBE = (TIMEOUT, BIND_REFUSED, CATCHING_UP)
# Bind results that say the credentials or the account are wrong (invalidCredentials, insufficientAccess,
# unwillingToPerform: AD refusing a simple bind without TLS), not that the server is busy.
_CREDENTIALS = (49, 50, 53)


def why_failed(exc: BaseException) -> str:
    """The kind of an ldap3 communication failure: ``timeout`` when a socket waited its whole timeout
    (ldap3 mixes the socket's own exception class into its own), else ``unreachable`` (refused, reset,
    closed by the server, TLS failed)."""
    return TIMEOUT if isinstance(exc, TimeoutError) else UNREACHABLE


@dataclass(eq=False)
class ServerState:
    """One server of ``ldap.urls`` and what the bridge last learnt of it."""

    url: str
    tls: Tls | None
    connect_timeout: float  # for the pool's connections: ldap.connect_timeout
    probe_connect_timeout: float  # for the probe's: no more than its timeout
    problem: str | None = None  # why it is down (UNREACHABLE, TIMEOUT, BIND_REFUSED); None while it answers
    generation: int = 0  # bumped at each failure: connections opened before it are not trusted
    down_since: float = 0.0  # time.monotonic() of the failure that took it down
    # The naming context's contextCSN as the probe last read it, by serverID: how far this replica is.
    csn: dict[str, str] = field(default_factory=dict)
    # Told of each failure, with the reason: weak references to bound methods, so that a pool that is
    # dropped is not kept alive by the probe threads that hold its states.
    listeners: list[weakref.WeakMethod[Callable[[ServerState, str], None]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _waiting_for: str = field(default="", repr=False)  # the condition last logged by catching_up

    def server(self, *, probe: bool = False) -> Server:
        """A new ldap3 Server for one connection. ldap3 keeps a connection's state on its Server (the
        address in use; addresses that failed, skipped for 5 s): shared between threads it would race,
        and keep a server that is back unused for those 5 s."""
        return Server(
            self.url,
            use_ssl=self.url.lower().startswith("ldaps://"),
            tls=self.tls,
            get_info=NONE,
            connect_timeout=self.probe_connect_timeout if probe else self.connect_timeout,
        )

    @property
    def tried_by_requests(self) -> bool:
        """Whether a request may try to open a connection to it (see the module's docstring)."""
        return self.problem not in _LEFT_TO_THE_PROBE

    def failed(self, why: str, detail: str, *, probe: bool = False) -> None:
        """Take the server down for ``why``; ``detail`` (no secret in it) goes to the log once per outage.
        A server left to the probe stays so until the probe, or an answer, says otherwise: a request's
        connection that breaks meanwhile (``probe`` False) must not send every request to try it again."""
        with self._lock:
            was = self.problem
            if probe or was not in _LEFT_TO_THE_PROBE:
                self.problem = why
            self.generation += 1
            if was is None:
                self.down_since = time.monotonic()
        if was is None:
            logger.warning("directory server %s is down (%s): %s", self.url, why, detail)
        elif was != self.problem:
            logger.info("directory server %s is still down, now %s: %s", self.url, why, detail)
        for listener in self.listeners:
            method = listener()
            if method is not None:
                method(self, why)

    def answered(self) -> None:
        """The server answered a bind or a read: it is up."""
        with self._lock:
            was, self.problem = self.problem, None
        if was is not None:
            logger.warning(
                "directory server %s answers again, after %.1f s down",
                self.url,
                time.monotonic() - self.down_since,
            )

    def catching_up(self, until: str) -> None:
        """The server answers again but is not used ``until`` a condition holds (it has answered long enough
        for its peers to replicate from it, it holds what they took meanwhile: see the probe): requests
        stay on the others, so that no instance reads from it what it missed, nor writes there what the
        others cannot see yet. Logged once per condition."""
        with self._lock:
            was, self.problem = self.problem, CATCHING_UP
            logged, self._waiting_for = self._waiting_for, until
        if was != CATCHING_UP or logged != until:
            logger.warning("directory server %s answers again: not used until %s", self.url, until)


def behind(mine: dict[str, str], theirs: dict[str, str]) -> bool:
    """Whether a replica whose contextCSN is ``mine`` lacks a change that one at ``theirs`` holds: a CSN
    (``20261206075501.123456Z#000000#001#000000``) of some serverID newer there. CSNs of one serverID
    order as text."""
    return any(csn > mine.get(sid, "") for sid, csn in theirs.items())


def by_server_id(values: Sequence[str]) -> dict[str, str]:
    """The newest CSN of each serverID among contextCSN ``values``."""
    newest: dict[str, str] = {}
    for value in values:
        parts = value.split("#")
        if len(parts) == 4 and value > newest.get(parts[2], ""):
            newest[parts[2]] = value
    return newest


def naming_context(conn: Connection, base: str) -> str | None:
    """The root DSE's naming context that holds ``base`` ("" when none does); None when the server
    refuses the read."""
    conn.search("", "(objectClass=*)", BASE, attributes=["namingContexts"])
    if conn.result.get("result") != 0:
        return None
    contexts = _first_entry(conn).get("namingContexts", [])
    wanted = base.lower()
    return next((str(c) for c in contexts if c and wanted.endswith(str(c).lower())), "")


def context_csn(conn: Connection, suffix: str) -> dict[str, str] | None:
    """The contextCSN of naming context ``suffix`` by serverID: how far this replica is, empty where the
    server keeps none (no replication, or Active Directory); None when it refuses the read."""
    conn.search(suffix, "(objectClass=*)", BASE, attributes=["contextCSN"])
    if conn.result.get("result") != 0:
        return None
    values = _first_entry(conn).get("contextCSN", [])
    return by_server_id([str(v) for v in (values if isinstance(values, list) else [values])])


def _first_entry(conn: Connection) -> dict[str, Any]:
    found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    return dict(found[0]["attributes"]) if found else {}


def none_answers(states: Sequence[ServerState]) -> DirectoryUnavailable:
    """The error of a request that no server of ``states`` (the down ones) may serve: each with its
    reason, the first one's as ``why``."""
    listed = ", ".join(f"{state.url} ({state.problem or UNREACHABLE})" for state in states)
    why = next((state.problem for state in states if state.problem), UNREACHABLE)
    return DirectoryUnavailable(f"no directory server answers: {listed}", why)


def make_states(config: LdapConfig, tls: Tls | None, probe_timeout: float) -> list[ServerState]:
    """A state per URL of ``config``, in order, every server up until it fails."""
    probe_connect = min(config.connect_timeout, probe_timeout)
    return [ServerState(url, tls, config.connect_timeout, probe_connect) for url in config.urls]


def dial(
    server: Server, config: LdapConfig, password: Secret, *, open_timeout: float, operation_timeout: float
) -> Connection:
    """A connection to ``server``, upgraded with StartTLS when configured and bound as the bind DN. Opening
    it (connect, TLS, bind) may take ``open_timeout`` seconds, every later read ``operation_timeout``.
    Raises DirectoryUnavailable, whose ``why`` is one of this module's reasons and whose reason holds no
    password."""
    conn = Connection(
        server,
        user=config.bind_dn,
        password=password.reveal(),
        client_strategy=SYNC,
        auto_bind=False,
        raise_exceptions=False,
        receive_timeout=max(1, math.ceil(open_timeout)),  # ldap3 packs it as an int into SO_RCVTIMEO
        auto_referrals=False,
        return_empty_attributes=False,
    )
    try:
        conn.open()
        _limit(conn, open_timeout)  # the exact limit, fractions of a second included
        if config.tls == "starttls" and not conn.start_tls():
            raise DirectoryUnavailable("StartTLS failed: " + str(conn.result.get("description")))
        if not conn.bind():
            code = conn.result.get("result")
            raise DirectoryUnavailable(
                f"the directory refused the bind as {config.bind_dn} "
                f"({conn.result.get('description')}, code {code})",
                BIND_REFUSED if code in _CREDENTIALS else UNREACHABLE,
            )
        _limit(conn, operation_timeout)
    except LDAPException as exc:
        close_quietly(conn)
        why = why_failed(exc)
        raise DirectoryUnavailable(f"cannot reach {server.name}: {type(exc).__name__}: {exc}", why) from exc
    except DirectoryUnavailable:
        close_quietly(conn)
        raise
    return conn


def _limit(conn: Connection, seconds: float) -> None:
    """Let every read on ``conn`` wait at most ``seconds`` (ldap3 sets its receive timeout only when it
    opens the socket; StartTLS wraps the socket with the same timeout)."""
    if conn.socket is not None:
        conn.socket.settimeout(seconds)


def close_quietly(conn: Connection) -> None:
    try:
        conn.unbind()
    except (LDAPException, OSError):  # already broken; nothing left to release
        logger.debug("unbind of a broken connection failed", exc_info=True)
