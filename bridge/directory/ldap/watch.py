"""The background probe of the directory servers, and the readiness answer it gives.

One daemon thread per server of ``ldap.urls``, started at the pool's first use and stopped when the pool
closes (or is dropped). While the server answers, the thread reads its root DSE every
``ldap.probe_interval`` seconds on a connection of its own, bound once, and allows ``ldap.probe_timeout``
for the answer: a stalled server or a port that swallows packets is found within about the sum of the
two, instead of by a request waiting out its operation timeout, and from then on requests get 503 at
once. A server that is down is dialled again (connect and bind) at the same interval, and put back as
soon as it answers; after a refused bind only every 10 s, so that a wrong password does not lock the
account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from ldap3 import Connection, Server
from ldap3.core.exceptions import LDAPException

from bridge.directory.errors import DirectoryUnavailable
from bridge.directory.ldap.servers import (
    BIND_REFUSED,
    BUSY,
    TIMEOUT,
    ServerState,
    behind,
    close_quietly,
    context_csn,
    naming_context,
    none_answers,
    why_failed,
)

_BIND_RETRY = 10.0  # seconds between binds after a refused one (AD locks an account after a few)

Dial = Callable[[Server], Connection]


class Probe:
    """The probe of one server: a connection of its own, and one check at a time."""

    def __init__(
        self,
        state: ServerState,
        dial: Dial,
        timeout: float,
        *,
        base: str = "",
        peers: Sequence[ServerState] = (),
    ) -> None:
        self.state = state
        self._dial = dial
        self._timeout = timeout
        self._base = base  # a DN in the naming context whose contextCSN tells how far a replica is
        self._peers = [peer for peer in peers if peer is not state]
        self.peer_probes: list[Probe] = []  # set by the Watch: to read the peers' progress afresh
        self._suffix: str | None = None  # that naming context, once read from the root DSE
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._started = 0.0  # time.monotonic() of the last check's start

    def check(self, since: float | None = None) -> bool:
        """Whether the server answers, updating its state; with ``since``, a check started after that
        time is taken as the answer, and one still waiting for the server after the probe's timeout
        counts as a timeout (readiness answers within the timeout, whatever the thread is doing)."""
        if not self._lock.acquire(timeout=self._timeout if since is not None else -1):
            return False
        try:
            if since is not None and self._started >= since:
                return self.state.problem is None
            self._started = time.monotonic()
            return self._check()
        finally:
            self._lock.release()

    def _check(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self._dial(self.state.server(probe=True))
            csn = self._context_csn(self._conn)  # one read: the server answers, and how far it is
        except DirectoryUnavailable as exc:
            self._fail(exc.why, exc.reason)
            return False
        except LDAPException as exc:
            self._fail(why_failed(exc), f"the probe's read failed: {type(exc).__name__}: {exc}")
            return False
        self.state.csn = csn
        if self.state.problem is not None:
            # Back after an outage: serve again only once it holds what the replicas that served meanwhile
            # took (a new or changed entry would be missing here, and a write here would lose to theirs),
            # as read now, not at their last check. A peer busy with its own check is not waited for long.
            asked = time.monotonic()
            for probe in self.peer_probes:
                if probe.state.problem is None:
                    probe.check(since=asked)
            ahead = next((p for p in self._peers if p.problem is None and behind(csn, p.csn)), None)
            if ahead is not None:
                self.state.catching_up(ahead.url)
                return False
        self.state.answered()
        return True

    def _context_csn(self, conn: Connection) -> dict[str, str]:
        """The contextCSN of the naming context holding the base, by serverID (see ``context_csn``).
        Raises DirectoryUnavailable when the server does not answer a read."""
        if self._suffix is None:
            self._suffix = naming_context(conn, self._base)
        csn = context_csn(conn, self._suffix) if self._suffix is not None else None
        if csn is None:
            raise DirectoryUnavailable(f"the probe's read: {conn.result.get('description')}", BUSY)
        return csn

    def _fail(self, why: str, detail: str) -> None:
        self.close()
        self.state.failed(why, detail, probe=True)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            close_quietly(conn)


class Watch:
    """The probes of every server, each on a daemon thread of its own once :meth:`start` ran."""

    def __init__(
        self, states: Sequence[ServerState], dial: Dial, interval: float, timeout: float, *, base: str = ""
    ) -> None:
        self._probes = [Probe(state, dial, timeout, base=base, peers=states) for state in states]
        for probe in self._probes:
            probe.peer_probes = [other for other in self._probes if other is not probe]
        self._interval = interval
        self._stop = threading.Event()
        self._started = False
        self._starting = threading.Lock()

    def start(self) -> None:
        """Start the threads, once; a stopped watch starts nothing."""
        if self._started:  # every borrow asks: no lock once they run
            return
        with self._starting:
            if self._started or self._stop.is_set():
                return
            self._started = True
        for n, probe in enumerate(self._probes):
            thread = threading.Thread(target=self._run, args=(probe,), name=f"ldap-probe-{n}", daemon=True)
            thread.start()

    def stop(self) -> None:
        """Let every thread end after its current check (at most the probe's timeout)."""
        self._stop.set()

    def _run(self, probe: Probe) -> None:
        try:
            while not self._stop.is_set():
                probe.check()
                self._stop.wait(_BIND_RETRY if probe.state.problem == BIND_REFUSED else self._interval)
        finally:
            probe.close()

    def ready(self) -> None:
        """Return when a server answers now, or raise DirectoryUnavailable with why none does. A server
        that timed out or refused the bind is not asked again (that is the threads' job): its state is
        the answer, so this takes at most the probe's timeout per server."""
        asked = time.monotonic()
        for probe in self._probes:
            if probe.state.tried_by_requests and probe.check(since=asked):
                return
        problems = [probe.state for probe in self._probes if probe.state.problem is not None]
        if not problems:  # a check still waiting on the server when the timeout passed
            raise DirectoryUnavailable("the directory did not answer the readiness check in time", TIMEOUT)
        raise none_answers(problems)
