"""Recorded Microsoft Entra flows, and the runner that replays them.

The same flows (``flows/*.json``) serve two purposes: the end-to-end tests replay them against the real
server and slapd, and ``scim-ldap-bridge selftest`` replays them against the running configuration and
the real directory, inside a sandbox, so an admin sees that a map change still works for Entra before
Entra ever sees it.

A flow has ``steps``; each step sends one request and checks:

- ``expect.status`` and ``expect.body``: the status, and a subset of the JSON body (objects match by the
  keys given, lists element by element and in full length);
- ``capture``: names for values of the response body (``id``, or a dotted path such as
  ``Resources.0.id``), used later as ``{name}``;
- ``writes``: how many directory writes the step made;
- ``ldap``: entries checked in the directory: ``has`` (attribute values, exact), ``lacks`` (attributes
  that must be absent) or ``"exists": false``.

``setup.ldap_add`` seeds entries an admin made before the bridge (``parent``, ``rdn`` as [attribute,
value], ``attributes``). ``query`` is appended to every request path, as Entra appends the Tenant URL's
query string (``aadOptscim062020``). Placeholders: ``{user_base}``, ``{group_base}`` and every captured
name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

Call = Callable[[str, str, Any], tuple[int, Any]]
Read = Callable[[str], Mapping[str, list[str]] | None]
Seed = Callable[[str, tuple[str, str], Mapping[str, Any]], None]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class FlowFailed(AssertionError):
    """A step did not get what the flow expects; the message says which step and what differed."""


@dataclass(frozen=True, slots=True)
class Flow:
    """One recorded flow."""

    name: str
    description: str
    source: str
    data: dict[str, Any] = field(repr=False)


def flows() -> list[Flow]:
    """Every recorded flow, by name."""
    found = []
    for item in sorted(resources.files(__package__).joinpath("flows").iterdir(), key=lambda i: i.name):
        if item.name.endswith(".json"):
            data = json.loads(item.read_text(encoding="utf-8"))
            found.append(Flow(item.name.removesuffix(".json"), data["description"], data["source"], data))
    return found


def _fill(value: Any, names: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    if isinstance(value, dict):
        return {_fill(k, names): _fill(v, names) for k, v in value.items()}
    return value


def _subset(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise FlowFailed(f"{where}: expected an object, got {actual!r}")
        for key, value in expected.items():
            if key not in actual:
                raise FlowFailed(f"{where}: {key!r} is missing")
            _subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise FlowFailed(f"{where}: {actual!r} is not {expected!r}")
        for i, (want, got) in enumerate(zip(expected, actual, strict=True)):
            _subset(want, got, f"{where}[{i}]")
    elif actual != expected:
        raise FlowFailed(f"{where}: {actual!r} is not {expected!r}")


def _pluck(body: Any, path: str) -> Any:
    for part in path.split("."):
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


def _check_entries(read: Read, checks: list[dict[str, Any]], where: str) -> None:
    for check in checks:
        entry = read(check["dn"])
        if check.get("exists", True) is False:
            if entry is not None:
                raise FlowFailed(f"{where}: {check['dn']} should be gone")
            continue
        if entry is None:
            raise FlowFailed(f"{where}: {check['dn']} should exist")
        for name, values in check.get("has", {}).items():
            if entry.get(name.lower()) != values:
                raise FlowFailed(
                    f"{where}: {check['dn']} has {name} {entry.get(name.lower())!r}, not {values!r}"
                )
        for name in check.get("lacks", []):
            if name.lower() in entry:
                raise FlowFailed(f"{where}: {check['dn']} should have no {name}")


def replay(
    flow: Flow, *, call: Call, read: Read, seed: Seed, writes: Callable[[], int], names: Mapping[str, str]
) -> Iterator[str]:
    """Run ``flow``, yielding each step's name as it passes; raises FlowFailed at the first difference.

    ``call(method, path, body)`` sends a request and returns the status and the parsed body; ``read(dn)``
    returns an entry's attributes (lower-case names) or None; ``seed`` adds an entry; ``writes()`` counts
    the directory writes so far.
    """
    known = dict(names)
    for entry in flow.data.get("setup", {}).get("ldap_add", []):
        rdn = _fill(entry["rdn"], known)
        seed(_fill(entry["parent"], known), (rdn[0], rdn[1]), _fill(entry["attributes"], known))
    query = flow.data.get("query")
    for number, step in enumerate(flow.data["steps"], 1):
        where = f"step {number} ({step.get('name', '')})"
        request = _fill(step["request"], known)
        path = request["path"]
        if query:
            path += ("&" if "?" in path else "?") + query
        before = writes()
        status, body = call(request["method"], path, request.get("body"))
        expect = step.get("expect", {})
        if status != expect.get("status", 200):
            raise FlowFailed(
                f"{where}: {request['method']} answered {status}, not {expect.get('status', 200)}: {body}"
            )
        if "body" in expect:
            _subset(_fill(expect["body"], known), body, where)
        for name, key in step.get("capture", {}).items():
            known[name] = str(_pluck(body, key))
        if "writes" in step and writes() - before != step["writes"]:
            raise FlowFailed(f"{where}: {writes() - before} directory writes, not {step['writes']}")
        _check_entries(read, _fill(step.get("ldap", []), known), where)
        yield step.get("name", f"step {number}")
