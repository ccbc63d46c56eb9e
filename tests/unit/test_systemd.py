"""The bridge under systemd (issue #8, point 2), the parts that serve nothing: sd_notify over a real
AF_UNIX datagram socket (a path and the abstract namespace), the watchdog interval, a worker that cannot
be started, and the units in systemd/ (``systemd-analyze verify`` and ``security``). The waitress server
and ``scim-ldap-bridge serve`` are tested in tests/integration/test_systemd_serve.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.ops.systemd import DRAIN_SECONDS, notify, watchdog_interval
from bridge.ops.workers import Workers
from tests.conftest import REPO
from tests.notify_socket import NotifySocket, listening

UNITS = REPO / "systemd"
SERVICE_UNIT = UNITS / "scim-ldap-bridge.service"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "systemd-analyze"


# --- a service manager's notify socket, played by the test ----------------------------------------------


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    """A datagram socket in the abstract namespace, the kind systemd itself hands out."""
    with listening() as sock:
        yield sock


def test_notify_sends_one_datagram_of_fields_to_a_socket_path() -> None:
    folder = tempfile.mkdtemp(prefix="notify-")  # short: an AF_UNIX path holds at most 107 bytes
    try:
        path = os.path.join(folder, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(5)
            assert notify("READY=1", "STATUS=serving SCIM", environ={"NOTIFY_SOCKET": path}) is True
            assert sock.recv(4096) == b"READY=1\nSTATUS=serving SCIM"
    finally:
        shutil.rmtree(folder)


def test_notify_reaches_a_socket_in_the_abstract_namespace(notify_socket: NotifySocket) -> None:
    assert notify("WATCHDOG=1", environ={"NOTIFY_SOCKET": notify_socket.address}) is True
    assert notify_socket.receive() == {"WATCHDOG": "1"}


@pytest.mark.parametrize("environ", [{}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "vsock:2:1234"}])
def test_notify_is_a_no_op_without_a_notify_socket(environ: dict[str, str]) -> None:
    assert notify("READY=1", environ=environ) is False


def test_notify_to_a_socket_nobody_listens_on_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    environ = {"NOTIFY_SOCKET": f"@scim-ldap-bridge-test/nobody-{uuid.uuid4().hex}"}
    assert notify("READY=1", environ=environ) is False
    assert "cannot notify the service manager" in caplog.text


@pytest.mark.parametrize(
    ("environ", "interval"),
    [
        ({"WATCHDOG_USEC": "30000000"}, 15.0),  # WatchdogSec=30s: a ping every 15 s
        ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "4242"}, 0.1),  # meant for this process
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_the_watchdog_pings_at_half_of_watchdog_usec(environ: dict[str, str], interval: float | None) -> None:
    assert watchdog_interval(environ, pid=4242) == interval


# --- the units ------------------------------------------------------------------------------------------


def unit_settings(path: Path) -> dict[str, list[str]]:
    """Each ``Key=value`` of a unit file, every value of a repeated key."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if re.match(r"^[A-Za-z]+=", line):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_every_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # The units name /usr/bin/scim-ldap-bridge, which the package installs; here it is this checkout's.
    units = sorted(UNITS.glob("scim-ldap-bridge*"))
    assert {unit.name for unit in units} >= {
        "scim-ldap-bridge.service",
        "scim-ldap-bridge-sweep.service",
        "scim-ldap-bridge-sweep.timer",
    }
    for unit in units:
        text = unit.read_text().replace("/usr/bin/scim-ldap-bridge", f"{sys.executable} -m bridge")
        (tmp_path / unit.name).write_text(text)
    verify = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *(str(tmp_path / unit.name) for unit in units)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert verify.returncode == 0 and "scim-ldap-bridge" not in verify.stderr, verify.stderr


def test_the_service_is_notify_with_a_watchdog_checks_its_config_and_loads_the_bind_password() -> None:
    unit = unit_settings(SERVICE_UNIT)
    config = "--config /etc/scim-ldap-bridge/bridge.yaml"
    assert unit["Type"] == ["notify"] and unit["NotifyAccess"] == ["main"] and unit["WatchdogSec"]
    assert unit["ExecStartPre"] == [f"/usr/bin/scim-ldap-bridge check-config {config}"]
    assert unit["ExecStart"] == [f"/usr/bin/scim-ldap-bridge serve {config}"]
    assert unit["ExecReload"] == ["kill -HUP $MAINPID"]
    assert unit["KillMode"] == ["mixed"]  # workers (server.processes) hear SIGTERM once, from their parent
    assert unit["LoadCredential"] == ["bind-password:/etc/scim-ldap-bridge/bind-password"]
    assert unit["User"] == unit["Group"] == ["scim-ldap-bridge"]
    # systemd kills what is still running after TimeoutStopSec: the drain must end well before.
    assert int(unit["TimeoutStopSec"][0].removesuffix("s")) >= DRAIN_SECONDS + 10
    for setting in (
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "PrivateUsers=yes",
    ):
        key, value = setting.split("=", 1)
        assert value in unit[key], setting


def test_the_sweep_service_runs_as_the_same_user_with_the_same_paths_and_hardening() -> None:
    lifecycle = {"Type", "NotifyAccess", "WatchdogSec", "ExecStartPre", "ExecStart", "ExecReload"}
    lifecycle |= {"TimeoutStopSec", "KillMode", "Restart", "RestartSec", "RestartPreventExitStatus"}
    lifecycle |= {"WantedBy"}
    lifecycle |= {"Description", "Documentation", "StartLimitIntervalSec", "StartLimitBurst"}
    service = {k: v for k, v in unit_settings(SERVICE_UNIT).items() if k not in lifecycle}
    sweep_unit = UNITS / "scim-ldap-bridge-sweep.service"
    sweep = {k: v for k, v in unit_settings(sweep_unit).items() if k not in lifecycle}
    assert sweep == service
    assert unit_settings(sweep_unit)["ExecStart"] == [
        "/usr/bin/scim-ldap-bridge sweep --config /etc/scim-ldap-bridge/bridge.yaml"
    ]


def test_the_readme_reports_the_exposure_score_systemd_analyze_gives_the_service() -> None:
    security = subprocess.run(
        [SYSTEMD_ANALYZE, "security", "--offline=yes", str(SERVICE_UNIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    overall = r"Overall exposure level for scim-ldap-bridge\.service: (\d+\.\d) (\w+)"
    found = re.search(overall, security.stdout)
    assert found, security.stdout + security.stderr
    score, verdict = found.groups()
    install = (REPO / "docs" / "install.md").read_text()
    assert f"exposure level **{score} {verdict}**" in install


def test_a_worker_that_cannot_be_started_stops_the_ones_that_were_and_fails() -> None:
    """fork refused for the second worker (a process limit): the first is stopped, the exit code is 1."""
    started: list[int] = []

    class Refused(Workers):
        def _spawn(self, index: int, sockets: list[socket.socket], name: str) -> int:
            if index:
                raise BlockingIOError("fork: Resource temporarily unavailable")
            pid = os.fork()
            if pid == 0:  # a worker that waits for its SIGTERM
                signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
                time.sleep(30)
                os._exit(3)
            started.append(pid)
            return pid

    assert Refused(2, lambda index, environ: 0, environ={}).run(status="serving") == 1
    (pid,) = started
    assert not Path(f"/proc/{pid}").exists()  # reaped
