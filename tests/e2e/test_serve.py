"""The real server: ``scim-ldap-bridge serve`` in a subprocess on a free loopback port, against slapd over
StartTLS with certificate verification, driven like Entra drives it, checked in the directory and in
the JSON logs it writes on stderr."""

from __future__ import annotations

import http.client
import json
import signal
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.testing.slapd import SlapdInfo
from tests.conftest import TOKEN
from tests.e2e.conftest import Bridge, serve
from tests.http.test_observe import ok_operations
from tests.slapd_fixtures import Inspector, Subtree

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


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
    assert modify["attributes"] == ["pwdAccountLockedTime", "scimDisabledAt", "title"]
    assert modify["dn"].lower() == dn.lower()


@pytest.fixture
def workers(slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path) -> Iterator[Bridge]:
    """The bridge with two worker processes (``server.processes: 2``)."""
    yield from serve(slapd, ldap_subtree, tmp_path, processes=2)


def directory_operations(bridge: Bridge) -> float:
    """LDAP operations done so far, by every worker (/metrics sums them)."""
    with urllib.request.urlopen(bridge.url.removesuffix("/scim/v2") + "/metrics", timeout=10) as response:
        return ok_operations(response.read().decode())


class Worker:
    """A keep-alive connection to the bridge, which stays with the worker that accepted it."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.conn = http.client.HTTPConnection(urllib.parse.urlsplit(bridge.url).netloc, timeout=10)
        self.pid = self.call("GET", "/ServiceProviderConfig")[2]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, int]:
        """Status, JSON body, and the pid of the worker that answered (from its access line)."""
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
        data = json.dumps(body) if body is not None else None
        self.conn.request(method, "/scim/v2" + path, body=data, headers=headers)
        response = self.conn.getresponse()
        raw, rid = response.read(), response.getheader("X-Request-ID")
        (line,) = self.bridge.access_lines(rid)
        return response.status, json.loads(raw) if raw else None, line["pid"]


def test_two_workers_write_from_the_entry_either_one_saw(workers: Bridge, inspector: Inspector) -> None:
    """Entra's PATCH after a POST is one LDAP operation even when another worker took the POST: the workers
    share the entries they saw (``bridge.recent.SharedEntries``); with a table of its own, a worker would
    first search for a user the other one created."""
    by_pid: dict[int, Worker] = {}
    opened = []
    while len(by_pid) < 2 and len(opened) < 60:  # new connections, until each worker has accepted one
        opened.append(Worker(workers))
        by_pid.setdefault(opened[-1].pid, opened[-1])
    assert len(by_pid) == 2
    first, second = by_pid.values()
    created = []
    for n in range(8):
        creator, patcher = (first, second) if n % 2 else (second, first)
        status, user, pid = creator.call("POST", "/Users", {"userName": f"w{n:02}", "active": "True"})
        assert status == 201 and pid == creator.pid, user
        created.append((user["id"], patcher))
    before = directory_operations(workers)
    for n, (user_id, patcher) in enumerate(created):
        patch = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "title", "value": f"T{n}"}]}
        status, patched, pid = patcher.call("PATCH", f"/Users/{user_id}", patch)
        assert status == 200 and patched["title"] == f"T{n}" and pid == patcher.pid
    assert directory_operations(workers) - before == len(created)  # one modify each, nothing read first
    for n, (user_id, _) in enumerate(created):
        ((_, entry),) = inspector.find(f"(entryUUID={user_id})")
        assert entry["title"] == [f"T{n}"]
    # Each worker filled its pool (ldap.pool_size, less what a request had opened first) beside the requests.
    deadline = time.monotonic() + 10
    filled: list[dict[str, Any]] = []
    while len(filled) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        filled = [line for line in workers.log_lines() if "directory connections" in line["message"]]
    assert {line["pid"] for line in filled} == set(by_pid), filled
    assert {line["message"] for line in filled} <= {f"opened {n} directory connections" for n in range(5, 9)}
    for worker in opened:
        worker.conn.close()
