"""Provisioning events on the audit log, and ``scim-ldap-bridge report`` over them (issue #8, point 5), from
requests to the app; how ``--since`` reads its periods is in tests/unit/test_report.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.ops.report import build, render
from bridge.scim.schemas import PATCH_OP
from tests.conftest import SCIM, ScimClient
from tests.log_capture import captured_stream

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def audit_lines(client: ScimClient) -> Iterator[list[str]]:
    """The JSON lines a little provisioning cycle writes, through the real logging setup."""
    with captured_stream(level="INFO") as stream:
        ann = client.post_user({"userName": "ann@contoso.com", "active": True}).json["id"]
        bob = client.post_user({"userName": "bob@contoso.com", "active": True}).json["id"]
        for value in ("False", "True", "False"):
            client.patch_user(ann, {"op": "Replace", "path": "active", "value": value})
        client.patch_user(bob, {"op": "replace", "path": "title", "value": "Chef"})
        client.patch_user(bob, {"op": "replace", "path": "userName", "value": "rob@contoso.com"})
        group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"}).json["id"]
        members = [{"value": ann}, {"value": bob}]
        add = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": members}]}
        client.simulate_patch(f"{SCIM}/Groups/{group}", json=add)
        client.simulate_delete(f"{SCIM}/Users/{bob}")
    yield stream.getvalue().splitlines()


def test_each_change_is_one_event_in_the_clients_terms(audit_lines: list[str]) -> None:
    events = [json.loads(line) for line in audit_lines if '"event"' in line]
    assert [(e["event"], e["target"]) for e in events] == [
        ("user.create", "ann@contoso.com"),
        ("user.create", "bob@contoso.com"),
        ("user.disable", "ann@contoso.com"),
        ("user.enable", "ann@contoso.com"),
        ("user.disable", "ann@contoso.com"),
        ("user.update", "bob@contoso.com"),
        ("user.rename", "rob@contoso.com"),
        ("group.create", "Ops"),
        ("group.members", "Ops"),
        ("user.delete", "rob@contoso.com"),
    ]
    assert events[8]["added"] == 2 and events[8]["removed"] == 0 and events[9]["by"] == "request"
    assert all(e["logger"] == "bridge.audit.events" and e["dn"] and e["target_id"] for e in events)


def test_the_report_counts_events_and_lists_those_of_one_user_or_kind(audit_lines: list[str]) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    report = build(audit_lines, since)
    assert report.counts == {
        "user.create": 2,
        "user.disable": 2,
        "user.enable": 1,
        "user.update": 1,
        "user.rename": 1,
        "user.delete": 1,
        "group.create": 1,
        "group.members": 1,
    }
    assert [e["event"] for e in build(audit_lines, since, user="ANN@contoso.com").events] == [
        "user.create",
        "user.disable",
        "user.enable",
        "user.disable",
    ]
    assert [e["target"] for e in build(audit_lines, since, op="disable").events] == ["ann@contoso.com"] * 2
    assert build(audit_lines, datetime.now(UTC) + timedelta(minutes=1)).counts == {}  # all too old
    text = list(render(build(audit_lines, since, op="delete"), "a test", details=True))
    assert text[0].startswith("Provisioning activity since ") and text[0].endswith("(a test)")
    assert "  user.disable           2" in text
    assert text[-1].split()[1:3] == ["user.delete", "rob@contoso.com"]


def test_the_report_command_reads_a_file(audit_lines: list[str], tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text("\n".join(["not json", *audit_lines]) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "bridge", "report", "--file", str(path), "--since", "2h", "--op", "enable"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  user.enable            1" in lines and lines[-2] == "1 event(s):"
    assert "user.enable" in lines[-1] and "ann@contoso.com" in lines[-1]


def test_the_report_sums_what_clients_sent_that_the_map_does_not_store(client: ScimClient) -> None:
    """scim.unmapped: ignore names each path on the audit log; the report counts the requests per path."""
    with captured_stream(level="INFO") as stream:
        ann = client.post_user({"userName": "ann", "nickName": "A", "roles": [{"value": "r"}]}).json["id"]
        client.patch_user(ann, {"op": "replace", "value": {"nickName": "B", "title": "Chef"}})
        client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops", "x-colour": "red"})
    report = build(stream.getvalue().splitlines(), datetime.now(UTC) - timedelta(hours=1))
    assert report.unmapped == {"User nickName": 2, "User roles.value": 1, "Group x-colour": 1}
    assert report.counts["user.unmapped"] == 2 and report.counts["group.unmapped"] == 1
    text = list(render(report, "a test", details=False))
    at = text.index(
        "Sent by the client, not stored by the attribute map (scim.unmapped: ignore), in requests:"
    )
    assert text[at + 1 :] == [
        "         2  User nickName",
        "         1  Group x-colour",
        "         1  User roles.value",
    ]
