"""Recorded Entra request sequences, replayed against the real server and checked in slapd.

Each ``flows/*.json`` is one flow, our own JSON shaped after ``shared/reference/entra-client.md`` and named
by flow. A flow has ``steps``; each step sends one request and checks:

- ``expect.status`` and ``expect.body``: the status, and a subset of the JSON body (objects match by
  the keys given, lists element by element and in full length);
- ``capture``: names for values of the response body (``{"alice": "id"}``, or a dotted path such as
  ``Resources.0.id``), used later as ``{alice}``;
- ``writes``: how many directory writes the step made, counted from the bridge's audit log lines;
- ``ldap``: entries checked with an independent ldap3 connection: ``has`` (attribute values, exact),
  ``lacks`` (attributes that must be absent) or ``"exists": false``.

``setup.ldap_add`` seeds entries an admin made before the bridge (adoption flows). ``query`` is appended
to every request path, as Entra appends the Tenant URL's query string (``aadOptscim062020``).
Placeholders: ``{user_base}``, ``{group_base}``, and every captured name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Bridge
from tests.slapd_fixtures import Inspector, Subtree

FLOWS = sorted((Path(__file__).parent / "flows").glob("*.json"))
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    if isinstance(value, dict):
        return {_fill(k, names): _fill(v, names) for k, v in value.items()}
    return value


def _subset(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            _subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{where}: {actual!r} != {expected!r}"
        )
        for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
            _subset(want, got, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _pluck(body: Any, path: str) -> Any:
    """The value at a dotted path of a response body: ``id``, or ``Resources.0.id``."""
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _audit_lines(bridge: Bridge) -> int:
    return sum(1 for line in bridge.log_lines() if line["logger"] == "bridge.audit")


def _check_ldap(inspector: Inspector, checks: list[dict[str, Any]], where: str) -> None:
    for check in checks:
        entry = inspector.entry(check["dn"])
        if check.get("exists", True) is False:
            assert entry is None, f"{where}: {check['dn']} should be gone"
            continue
        assert entry is not None, f"{where}: {check['dn']} should exist"
        for name, values in check.get("has", {}).items():
            assert entry.get(name.lower()) == values, f"{where}: {name} is {entry.get(name.lower())!r}"
        for name in check.get("lacks", []):
            assert name.lower() not in entry, f"{where}: {name} should be absent"


@pytest.mark.parametrize("flow_path", FLOWS, ids=[path.stem for path in FLOWS])
def test_an_entra_flow_replays_with_the_expected_answers_and_directory_state(
    flow_path: Path, bridge: Bridge, inspector: Inspector, ldap_subtree: Subtree
) -> None:
    flow = json.loads(flow_path.read_text(encoding="utf-8"))
    names = {"user_base": ldap_subtree.user_base, "group_base": ldap_subtree.group_base}
    for seed in flow.get("setup", {}).get("ldap_add", []):
        inspector.add(_fill(seed["dn"], names), _fill(seed["attributes"], names))
    query = flow.get("query")
    for number, step in enumerate(flow["steps"], 1):
        where = f"{flow_path.stem} step {number} ({step.get('name', '')})"
        request = _fill(step["request"], names)
        path = request["path"]
        if query:
            path += ("&" if "?" in path else "?") + query
        before = _audit_lines(bridge)
        status, body, _ = bridge.call(request["method"], path, request.get("body"))
        expect = step.get("expect", {})
        assert status == expect.get("status", 200), f"{where}: status {status}: {body}"
        if "body" in expect:
            _subset(_fill(expect["body"], names), body, where)
        for name, key in step.get("capture", {}).items():
            names[name] = str(_pluck(body, key))
        if "writes" in step:
            written = _audit_lines(bridge) - before
            assert written == step["writes"], (
                f"{where}: {written} directory writes, expected {step['writes']}"
            )
        _check_ldap(inspector, _fill(step.get("ldap", []), names), where)
