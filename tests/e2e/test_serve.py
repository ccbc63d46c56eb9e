"""The real server: ``scim-ldap-bridge serve`` in a subprocess on a free loopback port, against slapd over
StartTLS with certificate verification, driven like Entra drives it, checked in the directory and in
the JSON logs it writes on stderr."""

from __future__ import annotations

import signal

from bridge.testing.slapd import SlapdInfo
from tests.conftest import TOKEN
from tests.e2e.conftest import Bridge
from tests.slapd_fixtures import Inspector, Subtree

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


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
