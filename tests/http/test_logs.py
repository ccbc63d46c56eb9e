"""Logs through the app: an access line per request, an audit line per directory write, the request id
only while its request runs, and never a secret (bridge/logs.py; the line format itself is checked in
tests/unit/test_logs.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.config import LoggingConfig
from bridge.directory.memory import InMemoryDirectory
from bridge.logs import setup_logging
from bridge.mapping.model import ResourceMap
from tests.conftest import SCIM, TOKEN, ScimClient, make_settings
from tests.log_capture import Lines, captured_logs

PASSWORD = "Corr3ct-Horse-Battery"


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Everything logged, through ``setup_logging`` at DEBUG, as parsed JSON lines (tests/log_capture.py)."""
    with captured_logs() as lines:
        yield lines


def test_a_line_logged_after_a_request_does_not_carry_its_id(log_lines: Lines, client: ScimClient) -> None:
    """The request id lives as long as its request: a worker thread's next line outside a request
    is not attributed to the request it served last."""
    client.simulate_get(f"{SCIM}/Users", headers={"X-Request-ID": "req-done"})
    logging.getLogger("bridge.service").info("between requests")
    lines = log_lines()
    assert (lines[-2]["logger"], lines[-2]["request_id"]) == ("bridge.access", "req-done")
    assert (lines[-1]["message"], lines[-1]["request_id"]) == ("between requests", "-")


# --- through the app -----------------------------------------------------------------------------


def test_each_request_writes_one_access_line_with_method_route_template_status_and_duration(
    log_lines: Lines, client: ScimClient
) -> None:
    """The route template, never the id or the query string (which may hold personal data)."""
    created = client.post_user({"userName": "ann@contoso.com"})
    client.simulate_get(f"{SCIM}/Users/{created.json['id']}", headers={"X-Request-ID": "abc-123"})
    client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "ann@contoso.com"'})
    client.simulate_get(f"{SCIM}/Users", headers={"Authorization": "Bearer wrong"})
    access = [line for line in log_lines() if line["logger"] == "bridge.access"]
    assert [(line["method"], line["route"], line["status"]) for line in access] == [
        ("POST", f"{SCIM}/Users", 201),
        ("GET", f"{SCIM}/Users/{{user_id}}", 200),
        ("GET", f"{SCIM}/Users", 200),
        ("GET", "(no route)", 401),
    ]
    assert all(isinstance(line["ms"], float | int) and line["ms"] >= 0 for line in access)
    assert access[1]["request_id"] == "abc-123"
    text = json.dumps(access)
    assert created.json["id"] not in text
    assert "ann@contoso.com" not in text


def test_each_directory_write_writes_one_audit_line_with_op_dn_attribute_names_and_outcome(
    log_lines: Lines, client: ScimClient
) -> None:
    """Operation, DN, attribute names, outcome, and the request id that caused it (docs/architecture.md,
    One request)."""
    created = client.simulate_post(
        f"{SCIM}/Users",
        json={"userName": "bo@contoso.com", "title": "Chef"},
        headers={"X-Request-ID": "req-add"},
    )
    client.patch_user(created.json["id"], {"op": "replace", "path": "title", "value": "Sous-chef"})
    client.patch_user(created.json["id"], {"op": "replace", "path": "title", "value": "Sous-chef"})
    client.patch_user(created.json["id"], {"op": "replace", "path": "userName", "value": "b@contoso.com"})
    client.simulate_delete(f"{SCIM}/Users/{created.json['id']}")
    audit = [line for line in log_lines() if line["logger"] == "bridge.audit"]
    dn = "uid=bo@contoso.com,ou=people,dc=example,dc=org"
    renamed = "uid=b@contoso.com,ou=people,dc=example,dc=org"
    assert [(line["op"], line["dn"], line["attributes"], line["outcome"]) for line in audit] == [
        ("add", dn, ["cn", "objectClass", "sn", "title", "uid"], "ok"),
        ("modify", dn, ["title"], "ok"),
        ("move", dn, ["uid"], "ok"),
        ("delete", renamed, [], "ok"),
    ]
    assert audit[0]["request_id"] == "req-add"
    assert "Chef" not in json.dumps(audit)


def test_a_failed_directory_write_is_audited_as_failed(
    log_lines: Lines, memory: InMemoryDirectory, user_map: ResourceMap
) -> None:
    """A write the directory refuses is logged with outcome failed and the error's type."""
    settings = make_settings()
    settings = replace(settings, ldap=replace(settings.ldap, user_base="ou=missing,dc=example,dc=org"))
    client = ScimClient(create_app(create_services(settings, memory, user_map)))
    assert client.post_user({"userName": "cy@contoso.com"}).status_code == 500
    audit = [line for line in log_lines() if line["logger"] == "bridge.audit"]
    assert [(line["op"], line["outcome"], line["error"], line["level"]) for line in audit] == [
        ("add", "failed", "NoSuchEntry", "WARNING")
    ]


def test_no_password_or_bearer_token_ever_reaches_the_log(log_lines: Lines, client: ScimClient) -> None:
    """Passwords in bodies and the bearer token in headers are never logged, at any level, on
    success or failure (docs/architecture.md, One request; bridge/logs.py)."""
    created = client.post_user({"userName": "di@contoso.com", "password": PASSWORD})
    client.patch_user(created.json["id"], {"op": "replace", "path": "password", "value": PASSWORD})
    client.patch_user(created.json["id"], {"op": "replace", "value": {"password": PASSWORD, "title": "x"}})
    client.simulate_put(
        f"{SCIM}/Users/{created.json['id']}", json={"userName": "di@contoso.com", "password": PASSWORD}
    )
    client.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {PASSWORD}"})
    client.simulate_post(
        f"{SCIM}/Users",
        body='{"userName": "x", "password": "' + PASSWORD,
        headers={"Content-Type": "application/scim+json"},
    )
    client.simulate_get(f"{SCIM}/Users", params={"filter": f'password eq "{PASSWORD}"'})
    text = "\n".join(json.dumps(line) for line in log_lines())
    assert len(log_lines()) >= 7
    assert PASSWORD not in text
    assert TOKEN not in text
    assert "Bearer" not in text


def test_a_written_password_reaches_the_log_neither_in_clear_nor_hashed(
    log_lines: Lines, client: ScimClient, memory: InMemoryDirectory
) -> None:
    """The audit line names userPassword among the attributes written, and carries no value: not the
    password, not its hash, not the hash's base64 body (issue #6 point 8)."""
    created = client.post_user({"userName": "ed@contoso.com", "password": PASSWORD})
    user_id = created.json["id"]
    (dn,) = [dn for dn in memory.dns() if memory.raw(dn).get("entryuuid") == [user_id]]
    hashes = [memory.raw(dn)["userpassword"][0]]
    client.patch_user(user_id, {"op": "replace", "path": "password", "value": PASSWORD + "2"})
    hashes.append(memory.raw(dn)["userpassword"][0])
    client.simulate_put(f"{SCIM}/Users/{user_id}", json={"userName": "ed@contoso.com", "password": PASSWORD})
    hashes.append(memory.raw(dn)["userpassword"][0])
    assert len(set(hashes)) == 3 and all(h.startswith("{SSHA}") for h in hashes)
    lines = log_lines()
    audit = [(line["op"], line["attributes"]) for line in lines if line["logger"] == "bridge.audit"]
    assert [op for op, _ in audit] == ["add", "modify", "modify"]
    assert all("userPassword" in names for _, names in audit)
    text = "\n".join(json.dumps(line) for line in lines)
    assert PASSWORD not in text
    for stored in hashes:
        assert stored not in text and stored.removeprefix("{SSHA}") not in text


def test_audit_lines_also_go_to_the_audit_file_and_only_they(
    tmp_path: Any, client: ScimClient, log_lines: Lines
) -> None:
    """logging.audit_file: the audit lines, the same JSON, in a file of their own (and still on stderr)."""
    path = tmp_path / "audit.jsonl"
    setup_logging(LoggingConfig(level="DEBUG", audit_file=str(path)), io.StringIO())
    audit = logging.getLogger("bridge.audit")
    try:
        created = client.simulate_post(f"{SCIM}/Users", json={"userName": "al@contoso.com"})
        client.simulate_delete(f"{SCIM}/Users/{created.json['id']}")
        written = [json.loads(line) for line in path.read_text().splitlines()]
        assert [(line["logger"], line.get("op") or line["event"]) for line in written] == [
            ("bridge.audit", "add"),
            ("bridge.audit.events", "user.create"),
            ("bridge.audit", "delete"),
            ("bridge.audit.events", "user.delete"),
        ]
        assert all(line["request_id"] != "-" for line in written)
        path.rename(tmp_path / "audit.jsonl.1")  # as logrotate does: the next line opens a new file
        client.post_user({"userName": "bea@contoso.com"})
        assert [json.loads(line).get("op") for line in path.read_text().splitlines()] == ["add", None]
    finally:
        setup_logging(LoggingConfig(level="DEBUG"), io.StringIO())  # closes the file handler
    assert not [h for h in audit.handlers if isinstance(h, logging.FileHandler)]
