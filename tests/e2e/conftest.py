"""The real server for end-to-end tests: ``scim-ldap-bridge serve`` in a subprocess on a free loopback
port, against the session slapd over StartTLS with certificate verification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.testing import wait_until_serving
from bridge.testing.slapd import SlapdInfo, find_free_port
from tests.conftest import OPENLDAP_MAP, TOKEN, TOKEN_HASH
from tests.slapd_fixtures import Subtree


@dataclass
class Bridge:
    url: str
    process: subprocess.Popen[str]
    stderr_path: Path

    def call(
        self, method: str, path: str, body: Any = None, token: str = TOKEN
    ) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/scim+json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None, dict(error.headers)

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stderr_path.read_text().splitlines() if line.strip()]

    def access_lines(self, request_id: str, wait: float = 5.0) -> list[dict[str, Any]]:
        """The access lines of the request ``request_id``. The bridge writes one just after it has sent
        the response, so this waits up to ``wait`` seconds for it; ``wait=0`` takes what is there (to
        check that the bridge never saw a request, once its answer came from elsewhere)."""
        deadline = time.monotonic() + wait
        while True:
            found = [
                line
                for line in self.log_lines()
                if line["logger"] == "bridge.access" and line.get("request_id") == request_id
            ]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.01)


@pytest.fixture
def bridge(slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path) -> Iterator[Bridge]:
    """The bridge serving the test's subtree with the shipped map (users and groups)."""
    yield from serve(slapd, ldap_subtree, tmp_path)


def serve(
    slapd: SlapdInfo,
    ldap_subtree: Subtree,
    tmp_path: Path,
    processes: int = 1,
    map_path: Path = OPENLDAP_MAP,
) -> Iterator[Bridge]:
    """``serve`` with ``processes`` (server.processes) and the attribute map ``map_path`` over the test's
    subtree, until the test is done; with several, it is yielded once every worker serves."""
    assert slapd.ca_file, "the session slapd must offer TLS"
    ldap = {
        "urls": [f"ldap://127.0.0.1:{find_free_port()}", slapd.url],  # the first is dead: failover
        "tls": "starttls",
        "ca_file": slapd.ca_file,
        "bind_dn": slapd.bind_dn,
        "user_base": ldap_subtree.user_base,
        "group_base": ldap_subtree.group_base,
        "connect_timeout": 2,
    }
    yield from serve_with(tmp_path, ldap, slapd.password, map_path, processes=processes)


def serve_with(
    tmp_path: Path,
    ldap: dict[str, Any],
    password: str,
    map_path: Path,
    *,
    processes: int = 1,
    server: dict[str, Any] | None = None,
    auth: dict[str, Any] | None = None,
    sections: dict[str, Any] | None = None,
) -> Iterator[Bridge]:
    """``serve`` with the config's ``ldap`` section (the bind password goes to a file beside the config),
    the attribute map ``map_path``, more ``server`` and ``auth`` keys and whole other ``sections``
    (``safety``, ``deprovisioning``: they replace the defaults), until the test is done."""
    port = find_free_port()
    (tmp_path / "bind-password").write_text(password + "\n")
    config = {
        "server": {"host": "127.0.0.1", "port": port, "threads": 4, "processes": processes, **(server or {})},
        "auth": {"token_hashes": [TOKEN_HASH], **(auth or {})},
        "ldap": {**ldap, "bind_password_file": "bind-password"},
        "map": str(map_path),
        "deprovisioning": {"on_deactivate": "disable", "on_delete": "delete"},
        **(sections or {}),
    }
    config_path = tmp_path / "bridge.yaml"
    config_path.write_text(yaml.safe_dump(config))
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--config", str(config_path)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
    try:
        wait_until_serving(port, process, stderr_path, processes=processes)
        yield Bridge(f"http://127.0.0.1:{port}/scim/v2", process, stderr_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
