"""The real server: ``scim-ldap-bridge serve`` in a subprocess on a free loopback port, against slapd over
StartTLS with certificate verification, driven like Entra drives it, checked in the directory and in
the JSON logs it writes on stderr."""

from __future__ import annotations

import json
import os
import signal
import socket
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

from bridge.testing.slapd import SlapdInfo, find_free_port
from tests.conftest import OPENLDAP_MAP, TOKEN, TOKEN_HASH
from tests.slapd_fixtures import Inspector, Subtree

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


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


def _wait_for_port(port: int, process: subprocess.Popen[str], stderr: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the bridge exited with {process.returncode}: {stderr.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"the bridge did not listen on {port}: {stderr.read_text()}")


@pytest.fixture
def bridge(slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path) -> Iterator[Bridge]:
    assert slapd.ca_file, "the session slapd must offer TLS"
    port = find_free_port()
    (tmp_path / "bind-password").write_text(slapd.password + "\n")
    config = {
        "server": {"host": "127.0.0.1", "port": port, "threads": 4},
        "auth": {"token_hashes": [TOKEN_HASH]},
        "ldap": {
            "urls": [f"ldap://127.0.0.1:{find_free_port()}", slapd.url],  # the first is dead: failover
            "tls": "starttls",
            "ca_file": slapd.ca_file,
            "bind_dn": slapd.bind_dn,
            "bind_password_file": "bind-password",
            "user_base": ldap_subtree.user_base,
            "connect_timeout": 2,
        },
        "map": str(OPENLDAP_MAP),
        "deprovisioning": {"on_deactivate": "disable", "on_delete": "delete"},
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
        _wait_for_port(port, process, stderr_path)
        yield Bridge(f"http://127.0.0.1:{port}/scim/v2", process, stderr_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_entra_user_lifecycle_through_the_real_server_lands_in_slapd_and_in_the_logs(
    bridge: Bridge, slapd: SlapdInfo, ldap_subtree: Subtree, inspector: Inspector
) -> None:
    # Test Connection: a random GUID on the matching attribute is 200 and an empty list [D1].
    status, body, headers = bridge.call(
        "GET", "/Users?filter=userName+eq+%2269f3c1a2-4b5e-4f60-8a71-92b3c4d5e6f7%22"
    )
    assert status == 200 and body["totalResults"] == 0 and body["Resources"] == []
    assert headers["Content-Type"] == "application/scim+json"
    assert bridge.call("GET", "/Users", token="wrong")[0] == 401

    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "7d1c",
        "userName": "eve@contoso.com",
        "active": "True",
        "displayName": "Eve Example",
        "name": {"givenName": "Eve", "familyName": "Example", "formatted": "Eve Example"},
        "emails": [{"primary": True, "type": "work", "value": "eve@contoso.com"}],
        "password": "Never-Logged-1!",
    }
    status, created, headers = bridge.call("POST", "/Users", user)
    assert status == 201, created
    user_id = created["id"]
    assert headers["Location"] == f"{bridge.url}/Users/{user_id}"
    dn = f"uid=eve@contoso.com,{ldap_subtree.user_base}"
    assert inspector.entry(dn) is not None

    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "title", "value": "Auditor"},
            {"op": "Replace", "path": "active", "value": "False"},
        ],
    }
    status, patched, _ = bridge.call("PATCH", f"/Users/{user_id}", patch)
    assert status == 200 and patched["active"] is False and patched["title"] == "Auditor"
    entry = inspector.entry(dn)
    assert entry is not None and entry["pwdaccountlockedtime"] == ["000001010000Z"]
    assert bridge.call("PATCH", f"/Users/{user_id}", patch)[0] == 200  # identical again: no write

    status, got, _ = bridge.call("GET", f"/Users/{user_id}")
    assert status == 200 and got["active"] is False
    assert bridge.call("DELETE", f"/Users/{user_id}")[0] == 204
    assert inspector.entry(dn) is None
    assert bridge.call("GET", f"/Users/{user_id}")[0] == 404

    bridge.process.send_signal(signal.SIGTERM)
    assert bridge.process.wait(timeout=10) == 0

    lines = bridge.log_lines()
    text = bridge.stderr_path.read_text()
    assert TOKEN not in text and "Never-Logged-1!" not in text and slapd.password + "\n" not in text
    access = [line for line in lines if line["logger"] == "bridge.access"]
    assert [(line["method"], line["status"]) for line in access] == [
        ("GET", 200),
        ("GET", 401),
        ("POST", 201),
        ("PATCH", 200),
        ("PATCH", 200),
        ("GET", 200),
        ("DELETE", 204),
        ("GET", 404),
    ]
    assert all(line["request_id"] != "-" and line["ms"] >= 0 for line in access)
    assert access[2]["route"] == "/scim/v2/Users" and access[3]["route"] == "/scim/v2/Users/{user_id}"
    audit = [(line["op"], line["outcome"]) for line in lines if line["logger"] == "bridge.audit"]
    assert audit == [("add", "ok"), ("modify", "ok"), ("delete", "ok")], audit
    modify = next(line for line in lines if line["logger"] == "bridge.audit" and line["op"] == "modify")
    assert modify["attributes"] == ["pwdAccountLockedTime", "title"] and modify["dn"].lower() == dn.lower()
