"""The background probe of the directory servers, and the readiness answer it gives.

One daemon thread per server of ``ldap.urls``, started at the pool's first use and stopped when the pool
closes (or is dropped). While the server answers, the thread reads its root DSE every
``ldap.probe_interval`` seconds on a connection of its own, bound once, and allows ``ldap.probe_timeout``
for the answer: a stalled server or a port that swallows packets is found within about the sum of the
two, instead of by a request waiting out its operation timeout, and from then on requests get 503 at
once. A server that is down is dialled again (connect and bind) at the same interval, and put back as
soon as it answers; after a refused bind only every 10 s, so that a wrong password does not lock the
account.

A replica back from an outage, while another server serves, is used again only once it has answered for
``SETTLE`` seconds and holds every change the serving ones took (see :meth:`Probe._may_serve_again`).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
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
# Seconds a replica back from an outage answers before it serves again: time for its peers to pull from it
# again (OpenLDAP's syncrepl retries a provider it lost every `retry` seconds: 1 in the test pair).
SETTLE = 2.0
_REREAD = 0.02  # seconds between two reads of a returning replica's contextCSN, while it catches up

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
        self._back_since: float | None = None  # time.monotonic() it first answered after its outage

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
            self.state.csn = self._context_csn(self._conn)  # one read: the server answers, and how far it is
            if self.state.problem is not None and not self._may_serve_again(self._conn):
                return False
        except DirectoryUnavailable as exc:
            self._fail(exc.why, exc.reason)
            return False
        except LDAPException as exc:
            self._fail(why_failed(exc), f"the probe's read failed: {type(exc).__name__}: {exc}")
            return False
        self._back_since = None
        self.state.answered()
        return True

    def _may_serve_again(self, conn: Connection) -> bool:
        """Whether a server back from an outage may serve again. While another server serves, a replica
        (one with a contextCSN) must first have answered for ``SETTLE`` seconds: until its peers pull from
        it again, a write on it reaches no other server, and an instance that has not yet come back to it
        would miss that write (a 404 for a user just created). Then it must hold every change, of every
        serverID, that the serving ones held a moment ago: their contextCSN is read afresh, then its own,
        again until it reaches theirs, for at most the probe's timeout (compared at one instant, a write on
        a peer still in flight to it would hold it back as long as writes keep coming). A new or changed
        entry would be missing here, and a write here would lose to theirs. A peer busy with its own check
        is not waited for long. A server that does not replicate (no contextCSN), or that no other one
        stands in for, serves again at once."""
        now = time.monotonic()
        if self._back_since is None:
            self._back_since = now
        if not self.state.csn or not any(peer.problem is None for peer in self._peers):
            return True
        if now - self._back_since < SETTLE:
            self.state.catching_up(f"it has answered for {SETTLE:g} s, so that its peers replicate from it")
            return False
        for probe in self.peer_probes:
            if probe.state.problem is None:
                probe.check(since=now)
        # Its own, until it reaches theirs: a write on a peer just before, in flight to it, is no reason to
        # wait for the next check (under a steady load there would always be one).
        deadline = time.monotonic() + self._timeout
        while True:
            self.state.csn = mine = self._context_csn(conn)
            ahead = next((p for p in self._peers if p.problem is None and behind(mine, p.csn)), None)
            if ahead is None:
                return True
            if time.monotonic() >= deadline:
                self.state.catching_up(f"it holds every change {ahead.url} took meanwhile")
                return False
            time.sleep(_REREAD)

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
        self._back_since = None
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
        self._timeout = timeout
        self._stop = threading.Event()
        self._started = False
        self._starting = threading.Lock()
        self._threads: list[threading.Thread] = []

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
            self._threads.append(thread)
            thread.start()
        _STARTED.add(self)

    def stop(self) -> None:
        """Let every thread end after its current check (at most the probe's timeout)."""
        self._stop.set()

    def join(self) -> None:
        """Wait for the stopped threads to end their current check, at most the probe's timeout in all."""
        deadline = time.monotonic() + self._timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

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


_STARTED: weakref.WeakSet[Watch] = weakref.WeakSet()


@atexit.register
def _stop_before_exit() -> None:
    """Stop every probe and let its thread end its check before the process exits. A daemon thread still
    inside OpenSSL (a handshake, loading the CA store) while exit() runs OpenSSL's own cleanup corrupts the
    heap: a command that had already answered (init refused by the directory's certificate) then died of
    SIGSEGV or SIGABRT, about one run in 40."""
    for watch in list(_STARTED):
        watch.stop()
        watch.join()
