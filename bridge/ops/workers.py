"""``server.processes`` > 1: a parent that forks the workers serving its socket, and supervises them as
systemd supervises it, with the same notify protocol (:mod:`bridge.ops.systemd`) on both sides."""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Mapping
from types import FrameType

from bridge.ops.systemd import monotonic_usec, notify, watchdog_interval

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # prctl(2)


def _stop_with_parent(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when its parent dies (Linux ``PR_SET_PDEATHSIG``): a
    supervisor killed outright (SIGKILL, the OOM killer) must not leave workers serving its socket with
    nobody to stop them. A parent already gone before the call stops this worker at once."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        logger.warning("cannot ask to stop with the parent process: %s", os.strerror(ctypes.get_errno()))
    if os.getppid() != parent:
        os._exit(0)


class Workers:
    """``server.processes`` > 1: this process forks ``count`` workers that each run the whole bridge (its
    app, LDAP pool and waitress threads) on the listening socket it shares with them, and supervises them.

    Each worker is a :class:`Service` as in a single process, with its ``$NOTIFY_SOCKET`` pointed at a
    datagram socket of this process, so the protocol is the same on both sides: this process says
    ``READY=1`` to systemd once every worker has, pings the watchdog only while every worker pings it (a
    wedged worker stops the pings, and systemd restarts the service), relays SIGHUP to every worker (each
    reloads) and tells ``RELOADING=1`` then ``READY=1`` once all are done, and on SIGTERM or SIGINT
    relays SIGTERM, so every worker drains, and returns once all have exited. A worker that exits on its
    own stops the others, and this process then exits with its code (1 if it had none): systemd's
    ``Restart=`` starts everything again. The unit's ``KillMode=mixed`` sends systemd's SIGTERM to this
    process alone; workers ignore SIGINT, which a terminal sends the whole group, and hear it from here.
    """

    def __init__(
        self,
        count: int,
        work: Callable[[int, dict[str, str]], int],
        *,
        environ: Mapping[str, str] = os.environ,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._count, self._work = count, work
        self._environ, self._clock = environ, clock
        self._stop_requested = False
        self._reload_requested = False

    def request_stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self._stop_requested = True

    def request_reload(self, signum: int = 0, frame: FrameType | None = None) -> None:
        self._reload_requested = True

    def _spawn(self, index: int, sockets: list[socket.socket], name: str) -> int:
        parent = os.getpid()
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:  # the worker: never returns into the caller's stack
            _stop_with_parent(parent)
            # Until the worker's own handlers are in place (it has accepted nothing yet), a stop ends it
            # at once and cleanly, and a reload has nothing to reload.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            for sock in sockets:
                sock.close()
            env = {k: v for k, v in self._environ.items() if k != "WATCHDOG_PID"}
            env["NOTIFY_SOCKET"] = f"@{name}/{index}"
            code = self._work(index, env)
        except BaseException:
            logger.exception("worker %d failed", index)
        finally:
            logging.shutdown()
            os._exit(code)

    def run(self, status: str) -> int:
        """Start the workers, supervise them until they have all exited; the exit code."""
        name = f"scim-ldap-bridge/{os.getpid()}-{os.urandom(4).hex()}"
        sockets: list[socket.socket] = []
        for index in range(self._count):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            sock.bind(f"\0{name}/{index}")
            sockets.append(sock)
        children: dict[int, int] = {}
        failed = False
        try:
            for index in range(self._count):
                children[self._spawn(index, sockets, name)] = index
            logger.info("started %d worker processes: %s", len(children), ", ".join(map(str, children)))
        except OSError as exc:  # fork refused (a process limit): stop the workers already started
            logger.error("cannot start worker process %d of %d: %s", len(children) + 1, self._count, exc)
            self._stop_requested = failed = True
        try:
            code = self._supervise(children, sockets, status)
            return code or int(failed)
        finally:
            for sock in sockets:
                sock.close()

    def _supervise(self, children: dict[int, int], sockets: list[socket.socket], status: str) -> int:
        count = self._count
        ready, pinged = [False] * count, [False] * count
        statuses = [status] * count
        announced, reloading, stopping, code = False, False, False, 0
        interval = watchdog_interval(self._environ)
        next_ping = 0.0
        while children:
            readable, _, _ = select.select(sockets, [], [], 0.2)
            for sock in readable:
                index = sockets.index(sock)
                fields = dict(
                    line.split("=", 1) for line in sock.recv(4096).decode().split("\n") if "=" in line
                )
                ready[index] = ready[index] or fields.get("READY") == "1"
                pinged[index] = pinged[index] or fields.get("WATCHDOG") == "1"
                statuses[index] = fields.get("STATUS", statuses[index])
            if all(ready) and not stopping and (reloading or not announced):
                failed = next((s for s in statuses if "failed" in s), status)
                notify("READY=1", f"STATUS={failed if reloading else status}", environ=self._environ)
                announced, reloading = True, False
            if interval is not None and all(pinged) and self._clock() >= next_ping:
                notify("WATCHDOG=1", environ=self._environ)
                pinged, next_ping = [False] * count, self._clock() + interval
            if self._reload_requested and not stopping:
                self._reload_requested, reloading = False, True
                ready = [False] * count
                notify("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", environ=self._environ)
                for pid in children:
                    os.kill(pid, signal.SIGHUP)
            if self._stop_requested and not stopping:
                stopping = True
                notify(
                    "STOPPING=1", "STATUS=stopping: answering the requests in progress", environ=self._environ
                )
                for pid in children:
                    os.kill(pid, signal.SIGTERM)
            while children:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
                if not pid:
                    break
                index = children.pop(pid)
                exit_code = os.waitstatus_to_exitcode(wait_status)
                if not stopping:
                    logger.error(
                        "worker %d (pid %d) exited with %d: stopping the others", index, pid, exit_code
                    )
                    code, stopping = exit_code or 1, True
                    for other in children:
                        os.kill(other, signal.SIGTERM)
                elif exit_code:
                    code = code or exit_code
        return code
