"""The probe threads end before the process does (bridge/directory/ldap/watch.py). A daemon probe thread
still inside OpenSSL while exit() ran OpenSSL's cleanup corrupted the heap: ``init`` refused by the
directory's certificate answered its one line, then died of SIGSEGV or SIGABRT about one run in 40 (seen
as return code -11 in tests/integration/test_init.py). The exit hook stops every watch and waits for its
threads, at most the probe's timeout."""

from __future__ import annotations

import threading
import time

from ldap3 import Connection, Server

from bridge.directory.errors import DirectoryUnavailable
from bridge.directory.ldap.servers import ServerState
from bridge.directory.ldap.watch import Watch, _stop_before_exit

DIALLING = 0.5  # seconds the dial below takes: a TLS handshake in progress


def probe_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("ldap-probe-")]


def test_the_exit_hook_waits_for_a_probe_thread_in_the_middle_of_a_dial() -> None:
    dialling = threading.Event()

    def slow_dial(server: Server) -> Connection:
        dialling.set()
        time.sleep(DIALLING)
        raise DirectoryUnavailable("the handshake failed")

    state = ServerState("ldap://127.0.0.1:1", None, connect_timeout=1.0, probe_connect_timeout=1.0)
    watch = Watch([state], slow_dial, interval=60.0, timeout=5.0)
    watch.start()
    assert dialling.wait(5)
    assert probe_threads()  # in its dial now: exit() would run beside it
    _stop_before_exit()
    assert not probe_threads()
    assert state.problem is not None  # the check it was making ended, and was recorded


def test_the_exit_hook_waits_no_longer_than_the_probes_timeout() -> None:
    dialling, release = threading.Event(), threading.Event()

    def stuck_dial(server: Server) -> Connection:
        dialling.set()
        release.wait(30)
        raise DirectoryUnavailable("the server never answered")

    state = ServerState("ldap://127.0.0.1:1", None, connect_timeout=1.0, probe_connect_timeout=1.0)
    watch = Watch([state], stuck_dial, interval=60.0, timeout=0.2)
    watch.start()
    assert dialling.wait(5)
    began = time.monotonic()
    _stop_before_exit()
    waited = time.monotonic() - began
    release.set()
    assert 0.1 < waited < 5  # a bound, not a speed figure: it gave up instead of waiting 30 s
