"""``scim-ldap-bridge demo``, the README's first command: what it prints works, and SIGTERM ends it all."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bridge.testing.samba import ports_free
from bridge.testing.slapd import find_free_port

NAMES = ("Tenant URL", "Secret Token", "LDAP URL", "LDAP bind DN", "LDAP password", "User base", "Group base")


def _read_lines(process: subprocess.Popen[str], until: str, timeout: float = 20) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the demo exited early: {lines}")
        lines.append(line.rstrip("\n"))
        if line.startswith(until):
            return lines
    raise AssertionError(f"the demo printed no {until!r} in time: {lines}")


def _slapd_pids(url: str) -> list[int]:
    """Live slapd processes listening on ``url``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().split()[2]
            except OSError:
                continue
            if "slapd" in cmdline and url in cmdline and state != "Z":
                pids.append(int(entry.name))
    return pids


@pytest.mark.parametrize("directory", ["openldap", pytest.param("ad", marks=pytest.mark.samba)])
def test_the_demo_prints_working_settings_and_stops_cleanly_on_sigterm(
    directory: str, request: pytest.FixtureRequest
) -> None:
    """``make demo`` and ``make demo DIRECTORY=ad``: the lines, a working curl and ldapsearch, and a clean
    stop."""
    if directory == "ad":
        request.getfixturevalue("samba_ports")  # the session DC steps aside: AD's ports are fixed
    port = find_free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "demo", "--port", str(port), "--directory", directory],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        lines = _read_lines(process, "Ctrl-C")
        values = dict(line.split(": ", 1) for line in lines if line.split(": ", 1)[0] in NAMES)
        assert list(values) == list(NAMES), lines  # each on its own line, in this order
        assert values["Tenant URL"] == f"http://127.0.0.1:{port}/scim/v2"
        assert re.fullmatch(r"ldaps?://127\.0\.0\.1:\d+", values["LDAP URL"])

        # The printed curl creates a user; the printed ldapsearch shows its entry.
        curl = next(line.strip() for line in lines if line.strip().startswith("curl "))
        argv = shlex.split(curl)
        headers = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-H"]
        body = argv[argv.index("-d") + 1].encode()
        request = urllib.request.Request(argv[argv.index("-X") + 2], data=body, method="POST")
        for header in headers:
            name, _, value = header.partition(": ")
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=10) as response:
            created = json.loads(response.read())
            assert response.status == 201
        ldapsearch = next(line.strip() for line in lines if "ldapsearch " in line)
        shown = subprocess.run(ldapsearch, shell=True, capture_output=True, text=True, check=True).stdout  # noqa: S602
        if directory == "ad":
            assert "userAccountControl: 512" in shown and "sAMAccountName: alice" in shown, shown
        else:
            assert f"entryUUID: {created['id']}" in shown and "objectClass: inetOrgPerson" in shown

        if directory == "ad":
            assert not ports_free(), "the demo's DC should be listening"
        else:
            assert _slapd_pids(values["LDAP URL"] + "/"), "the demo's slapd should be running"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        time.sleep(0.2)
        if directory == "ad":
            assert ports_free(), "SIGTERM must stop the demo's DC too"
        else:
            assert not _slapd_pids(values["LDAP URL"] + "/"), "SIGTERM must stop the demo's slapd too"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
