"""PUT /Users/{id}: replacement, no-op PUTs, rename and disable.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from typing import Any

from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import PPOLICY_LOCK
from tests.conftest import (
    SCIM,
    USER_BASE,
    ScimClient,
)
from tests.http.users.support import (
    SCIM_JSON,
    dn_of,
    state,
)
from tests.samples import ENTRA_POST


def test_put_replaces_the_resource_clearing_absent_attributes(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """RFC 7644 3.5.1: attributes missing from a PUT are cleared; active absent keeps the state."""
    result = client.simulate_put(
        f"{SCIM}/Users/{alice['id']}", json={"userName": "alice@contoso.com", "displayName": "Alice A."}
    )
    assert result.status_code == 200
    assert result.headers["Content-Type"] == SCIM_JSON
    raw = memory.raw(dn_of(memory, alice["id"]))
    assert raw["displayname"] == ["Alice A."]
    for gone in ("title", "mail", "scimexternalid", "employeenumber", "givenname"):
        assert gone not in raw
    assert result.json["active"] is True


def test_an_identical_put_writes_nothing(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """[R1] tests PUT; a PUT of what is stored is no write."""
    before = state(memory)
    result = client.simulate_put(f"{SCIM}/Users/{alice['id']}", json=ENTRA_POST)
    assert result.status_code == 200
    assert state(memory) == before
    assert client.simulate_put(f"{SCIM}/Users/{alice['id']}", json=alice).status_code == 200
    assert state(memory) == before


def test_put_can_rename_and_disable(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """A PUT with a new userName renames (id stays); active=false disables."""
    result = client.simulate_put(
        f"{SCIM}/Users/{alice['id']}", json={**ENTRA_POST, "userName": "aa@contoso.com", "active": "False"}
    )
    assert (result.status_code, result.json["id"], result.json["active"]) == (200, alice["id"], False)
    assert memory.raw(f"uid=aa@contoso.com,{USER_BASE}")["pwdaccountlockedtime"] == [PPOLICY_LOCK]
