"""The bridge under systemd (issue #8, point 2), serving on loopback: graceful stop and reload of the
waitress server (in process, and ``scim-ldap-bridge serve`` in a subprocess, with one process and with
workers), as systemd sees it through its notify socket."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.config import ServerConfig
from bridge.http.connections import create_server
from bridge.ops.systemd import ReloadableApp, Service
from bridge.testing import wait_until_serving
from tests.conftest import OPENLDAP_MAP, REPO, TOKEN, TOKEN_HASH
from tests.notify_socket import NotifySocket, listening


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    """A datagram socket in the abstract namespace, the kind systemd itself hands out."""
    with listening() as sock:
        yield sock


# --- the accept loop, in process --------------------------------------------------------------------


class Gate:
    """A WSGI app answering its path; ``/slow`` waits until the test opens the gate."""

    def __init__(self, name: str = "gate") -> None:
        self.name = name
        self.entered = threading.Event()
        self.open = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            self.entered.set()
            self.open.wait(20)
        body = f"{self.name} {environ['PATH_INFO']}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


@dataclass
class Running:
    service: Service
    thread: threading.Thread
    port: int
    results: dict[str, Any] = field(default_factory=dict)

    def get(self, path: str, conn: http.client.HTTPConnection | None = None) -> tuple[int, str]:
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()

    def get_in_background(self, path: str) -> threading.Thread:
        def call() -> None:
            try:
                self.results[path] = self.get(path)
            except (OSError, http.client.HTTPException) as exc:
                self.results[path] = exc

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        return thread

    def stopped(self, timeout: float = 5.0) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


@pytest.fixture
def start() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def run(app: Any, environ: dict[str, str], **options: Any) -> Running:
        server = create_server(app, ServerConfig(threads=2), host="127.0.0.1", port=0)
        service = Service(server, environ=environ, **options)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        running = Running(service, thread, service.addresses[0][1])
        started.append(running)
        return running

    yield run
    for running in started:
        running.service.request_stop()
        running.service.request_stop()
        running.stopped()


def refused(port: int, timeout: float = 3.0) -> bool:
    """New connections to ``port`` are refused (within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:
            pass  # it sat in the backlog as the listener closed: try again, and expect a refusal
        time.sleep(0.02)
    return False


def test_ready_comes_once_the_socket_listens_then_watchdog_pings_at_the_interval(
    start: Callable[..., Running], notify_socket: NotifySocket
) -> None:
    environ = {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "200000"}  # a ping every 0.1 s
    running = start(Gate(), environ)
    ready = notify_socket.receive()
    assert ready == {"READY": "1", "STATUS": "serving"}
    assert running.get("/fast") == (200, "gate /fast")  # READY meant it: the socket answers
    began = time.monotonic()
    pings = [notify_socket.receive() for _ in range(4)]
    assert pings == [{"WATCHDOG": "1"}] * 4
    assert 0.2 <= time.monotonic() - began <= 2.0


def test_a_stop_refuses_new_connections_and_answers_the_requests_in_progress(
    start: Callable[..., Running], notify_socket: NotifySocket
) -> None:
    gate = Gate()
    running = start(gate, {"NOTIFY_SOCKET": notify_socket.address})
    notify_socket.receive()
    slow = running.get_in_background("/slow")
    assert gate.entered.wait(5)
    running.service.request_stop()  # what SIGTERM does
    assert notify_socket.receive_until("STOPPING")[-1]["STOPPING"] == "1"
    assert refused(running.port)
    assert running.thread.is_alive()  # still draining: the request is running
    gate.open.set()
    slow.join(5)
    assert running.results["/slow"] == (200, "gate /slow")
    assert running.stopped()


def test_a_stop_closes_idle_keep_alive_connections_at_once(start: Callable[..., Running]) -> None:
    running = start(Gate(), {})
    conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    assert running.get("/fast", conn) == (200, "gate /fast")  # HTTP/1.1: the connection stays open
    running.service.request_stop()
    assert running.stopped(3)
    assert conn.sock is not None and conn.sock.recv(1) == b""  # closed by the server


def test_a_connection_accepted_before_the_stop_still_gets_its_request_answered(
    start: Callable[..., Running], notify_socket: NotifySocket
) -> None:
    running = start(Gate(), {"NOTIFY_SOCKET": notify_socket.address})
    notify_socket.receive()
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as early:
        running.service.request_stop()
        notify_socket.receive_until("STOPPING")
        early.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b"".join(iter(lambda: early.recv(4096), b""))  # up to the close, once it is answered
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"gate /late")
    assert running.stopped()


def test_a_request_running_past_the_drain_time_is_cut_off(
    start: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    running = start(gate, {}, drain_seconds=0.3)
    slow = running.get_in_background("/slow")
    assert gate.entered.wait(5)
    running.service.request_stop()
    assert running.stopped(4)
    slow.join(5)
    assert isinstance(running.results["/slow"], (OSError, http.client.HTTPException))  # no answer
    assert "stopping with 1 connection(s) still busy" in caplog.text
    gate.open.set()


def test_a_second_stop_does_not_wait_for_the_requests(start: Callable[..., Running]) -> None:
    gate = Gate()
    running = start(gate, {}, drain_seconds=60)
    running.get_in_background("/slow")
    assert gate.entered.wait(5)
    running.service.request_stop()
    running.service.request_stop()  # a second SIGTERM or Ctrl-C
    assert running.stopped(4)
    gate.open.set()


def test_a_reload_tells_systemd_and_a_failed_one_keeps_serving(
    start: Callable[..., Running], notify_socket: NotifySocket
) -> None:
    calls: list[str] = []

    def reload() -> None:
        calls.append("reload")
        if len(calls) == 2:
            raise ValueError("bridge.yaml: 1 problem(s)")

    running = start(Gate(), {"NOTIFY_SOCKET": notify_socket.address}, reload=reload)
    notify_socket.receive()
    running.service.request_reload()  # what SIGHUP does
    reloading, ready = notify_socket.receive_until("READY")
    assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
    assert ready == {"READY": "1", "STATUS": "serving"}
    running.service.request_reload()
    failed = notify_socket.receive_until("READY")[-1]
    assert failed["STATUS"] == "serving; the last reload failed (see the log)"
    assert calls == ["reload", "reload"]
    assert running.get("/fast") == (200, "gate /fast")


def test_a_replaced_app_finishes_its_requests_then_is_closed(start: Callable[..., Running]) -> None:
    closed: list[str] = []
    old, new = Gate("old"), Gate("new")
    app = ReloadableApp(old, lambda: closed.append("old"))
    running = start(app, {})
    slow = running.get_in_background("/slow")
    assert old.entered.wait(5)
    app.replace(new, lambda: closed.append("new"))
    assert running.get("/fast") == (200, "new /fast")  # the next request is the new app's
    assert closed == []  # the old app still serves /slow
    old.open.set()
    slow.join(5)
    assert running.results["/slow"] == (200, "old /slow")
    assert closed == ["old"]
    app.close()
    assert closed == ["old", "new"]


def test_an_app_that_raises_still_counts_its_request_as_finished() -> None:
    closed: list[str] = []

    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raise RuntimeError("boom")

    app = ReloadableApp(broken, lambda: closed.append("broken"))
    with pytest.raises(RuntimeError):
        app({}, lambda *args: None)
    app.replace(Gate(), lambda: None)
    assert closed == ["broken"]


# --- scim-ldap-bridge serve, as systemd runs it ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str, token: str = TOKEN) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    return conn.getresponse().status


def _children(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-worker-processes"])
def test_serve_says_ready_reloads_on_sighup_and_answers_in_flight_requests_on_sigterm(
    tmp_path: Path, notify_socket: NotifySocket, processes: int
) -> None:
    """The same protocol with one process and with workers (server.processes): systemd sees one service."""
    # A directory that accepts the TCP connection and never answers: a request to it is in flight until
    # the bridge's operation timeout (2 s) and ends as 503.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = _free_port()
        (tmp_path / "bind-password").write_text("secret\n")
        config = {
            "server": {"host": "127.0.0.1", "port": port, "threads": 2, "processes": processes},
            "auth": {"token_hashes": [TOKEN_HASH]},
            "ldap": {
                "urls": [f"ldap://127.0.0.1:{silent.getsockname()[1]}"],
                "tls": "none",
                "bind_dn": "cn=admin,dc=example,dc=org",
                "bind_password_file": "bind-password",
                "user_base": "ou=people,dc=example,dc=org",
                "connect_timeout": 1,
                "operation_timeout": 2,
            },
            "map": str(OPENLDAP_MAP),
        }
        config_path = tmp_path / "bridge.yaml"
        config_path.write_text(yaml.safe_dump(config))
        stderr_path = tmp_path / "stderr.log"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "NOTIFY_SOCKET": notify_socket.address,
            "WATCHDOG_USEC": "1000000",
        }
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "serve", "--config", str(config_path)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )
        try:
            ready = notify_socket.receive(timeout=20)
            status = f"serving SCIM on http://127.0.0.1:{port}/scim/v2"
            status += f" with {processes} processes" if processes > 1 else ""
            assert ready == {"READY": "1", "STATUS": status}
            if processes > 1:
                assert len(_children(process.pid)) == processes
            assert _get(port, "/scim/v2/ServiceProviderConfig") == 200
            assert notify_socket.receive_until("WATCHDOG")[-1] == {"WATCHDOG": "1"}

            # SIGHUP: a new token replaces the old one, without a restart.
            config["auth"]["token_hashes"] = ["sha256:" + "1" * 64]
            config_path.write_text(yaml.safe_dump(config))
            process.send_signal(signal.SIGHUP)
            assert notify_socket.receive_until("READY")[-1]["READY"] == "1"
            for _ in range(4 * processes):  # new connections, which every worker takes turns to accept
                assert _get(port, "/scim/v2/ServiceProviderConfig") == 401
            # A reload of a broken config keeps the running one.
            config_path.write_text("server: [\n")
            process.send_signal(signal.SIGHUP)
            assert "failed" in notify_socket.receive_until("READY")[-1]["STATUS"]
            assert _get(port, "/scim/v2/ServiceProviderConfig") == 401
            config["auth"]["token_hashes"] = [TOKEN_HASH]
            config_path.write_text(yaml.safe_dump(config))
            process.send_signal(signal.SIGHUP)
            notify_socket.receive_until("READY")
            assert _get(port, "/scim/v2/ServiceProviderConfig") == 200

            # SIGTERM while a request waits on the directory: it is answered, then the bridge exits 0.
            answer: list[int] = []
            waiting = threading.Thread(target=lambda: answer.append(_get(port, "/scim/v2/Users")))
            waiting.start()
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert notify_socket.receive_until("STOPPING")[-1]["STOPPING"] == "1"
            waiting.join(20)
            assert answer == [503]
            assert process.wait(timeout=20) == 0
            assert not _children(process.pid)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    log = stderr_path.read_text()
    assert "reload failed, still serving the previous configuration" in log
    assert '"message": "stopped"' in log


def _start_workers(tmp_path: Path, environ: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``serve`` with two worker processes, in a session of its own, once both serve."""
    port = _free_port()
    (tmp_path / "bind-password").write_text("secret\n")
    config = {
        "server": {"host": "127.0.0.1", "port": port, "threads": 2, "processes": 2},
        "auth": {"token_hashes": [TOKEN_HASH]},
        "ldap": {
            "urls": [f"ldap://127.0.0.1:{_free_port()}"],  # nothing listens: no request here needs it
            "tls": "none",
            "bind_dn": "cn=admin,dc=example,dc=org",
            "bind_password_file": "bind-password",
            "user_base": "ou=people,dc=example,dc=org",
        },
        "map": str(OPENLDAP_MAP),
    }
    (tmp_path / "bridge.yaml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve", "--config", str(tmp_path / "bridge.yaml")],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "stderr.log").open("w"),
        env={**os.environ, "PYTHONPATH": str(REPO), **environ},
        start_new_session=True,
    )
    wait_until_serving(port, process, tmp_path / "stderr.log", processes=2)
    return process, port


def test_a_worker_that_dies_stops_the_others_and_the_service_fails_for_systemd_to_restart(
    tmp_path: Path,
) -> None:
    process, _ = _start_workers(tmp_path, {})
    try:
        first, second = _children(process.pid)
        os.kill(first, signal.SIGKILL)
        assert process.wait(timeout=20) != 0
        assert not Path(f"/proc/{second}").exists() or not _children(process.pid)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert "stopping the others" in (tmp_path / "stderr.log").read_text()


def test_ctrl_c_to_the_whole_group_stops_the_workers_gracefully(tmp_path: Path) -> None:
    process, _ = _start_workers(tmp_path, {})
    try:
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does: every process of the group
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log = (tmp_path / "stderr.log").read_text()
    assert log.count('"message": "stopped"') == 3  # two workers drained, then the parent
    assert "with 0 connection" not in log and "still busy" not in log


def test_every_scrape_of_metrics_counts_the_requests_of_every_worker(tmp_path: Path) -> None:
    """Whichever worker answers /metrics, it reports the sum over all of them (new connections land on
    either worker; a scrape that saw one worker's share alone would show fewer)."""
    process, port = _start_workers(tmp_path, {})
    try:
        before = _scrape_count(port)
        for _ in range(40):
            assert _get(port, "/scim/v2/ServiceProviderConfig") == 200
        counts = {_scrape_count(port) for _ in range(8)}
        assert counts == {before + 40}, counts
        text = _scrape(port)
        assert "scim_bridge_breaker_tripped 0.0" in text
        assert re.search(r"^scim_bridge_ldap_connections_in_use 0\.0$", text, re.MULTILINE), text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert not list(Path(tempfile.gettempdir()).glob(f"scim-ldap-bridge-metrics-{process.pid}-*"))


def _scrape(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    return conn.getresponse().read().decode()


def _scrape_count(port: int) -> float:
    found = re.search(
        r'^scim_bridge_http_requests_total\{method="GET",route="/scim/v2/ServiceProviderConfig",'
        r'status="200"\} (\S+)$',
        _scrape(port),
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_a_wedged_worker_stops_the_watchdog_pings(tmp_path: Path, notify_socket: NotifySocket) -> None:
    """Every worker pings its parent; the parent pings systemd only while all of them do."""
    environ = {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "400000"}
    process, _ = _start_workers(tmp_path, environ)
    try:
        notify_socket.receive_until("READY")
        assert notify_socket.receive_until("WATCHDOG")[-1] == {"WATCHDOG": "1"}
        first, _ = _children(process.pid)
        os.kill(first, signal.SIGSTOP)  # wedged: alive, but its loop no longer turns
        time.sleep(0.5)  # pings already on their way
        with contextlib.suppress(TimeoutError):
            while True:
                notify_socket.receive(timeout=0.2)
        with pytest.raises(TimeoutError):
            notify_socket.receive(timeout=1.0)  # more than two intervals without a ping
        os.kill(first, signal.SIGCONT)
        assert notify_socket.receive_until("WATCHDOG")[-1] == {"WATCHDOG": "1"}
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_workers_stop_when_their_parent_is_killed_outright(tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) to the supervisor leaves no worker serving the port."""
    process, port = _start_workers(tmp_path, {})
    workers = _children(process.pid)
    try:
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
        assert refused(port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert (tmp_path / "stderr.log").read_text().count('"message": "stopped"') == 2  # each drained


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
