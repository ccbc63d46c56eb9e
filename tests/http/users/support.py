"""What the /Users tests share: a create that must succeed, a look at the in-memory directory, a search,
and the check of an RFC 7644 3.12 Error body."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import falcon.testing

from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from bridge.scim.schemas import ERROR
from tests.conftest import SCIM, TOKEN, ScimClient

MakeClient = Callable[..., ScimClient]
MapWith = Callable[[dict[str, Any]], ResourceMap]
SCIM_JSON = "application/scim+json"
GUID = "5d1f0b32-8a1e-4c1b-9a63-1f0e2d3c4b5a"
STRIP = {"attributes": {"userName": {"ldap": "uid", "strip_suffix": "@contoso.com"}}}


# --- helpers -------------------------------------------------------------------------------------


def create(client: ScimClient, body: dict[str, Any]) -> dict[str, Any]:
    result = client.post_user(body)
    assert result.status_code == 201, result.text
    return result.json  # type: ignore[no-any-return]


def dn_of(memory: InMemoryDirectory, user_id: str) -> str:
    """The DN of the entry whose entryUUID is ``user_id``."""
    found = [dn for dn in memory.dns() if memory.raw(dn).get("entryuuid") == [user_id]]
    assert len(found) == 1, found
    return found[0]


def state(memory: InMemoryDirectory) -> tuple[int, dict[str, dict[str, list[str]]]]:
    """Everything in the directory, to assert that nothing was written."""
    return memory.writes, {dn: memory.raw(dn) for dn in memory.dns()}


def user_names(result: falcon.testing.Result) -> list[str]:
    assert result.status_code == 200, result.text
    return [resource["userName"] for resource in result.json["Resources"]]


def search(client: ScimClient, flt: str, **params: str) -> falcon.testing.Result:
    return client.simulate_get(f"{SCIM}/Users", params={"filter": flt, **params})


def assert_scim_error(result: falcon.testing.Result, status: int, scim_type: str | None, detail: str) -> None:
    """An RFC 7644 3.12 Error: the status as a string, scimType where one is named, a helpful detail,
    in application/scim+json, without internals or secrets."""
    assert result.status_code == status, result.text
    assert result.headers["Content-Type"] == SCIM_JSON
    body = result.json
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert detail in body["detail"]
    assert_nothing_leaks(result)


def assert_nothing_leaks(result: falcon.testing.Result) -> None:
    for secret in ("Traceback", 'File "', TOKEN, hashlib.sha256(TOKEN.encode()).hexdigest()):
        assert secret not in result.text


def without_primary(document: dict[str, Any]) -> dict[str, Any]:
    out = json.loads(json.dumps(document))
    for email in out.get("emails", []):
        email.pop("primary", None)
    return out
