"""Entra's whole lifecycle of one user over HTTP, from Test Connection to the hard delete.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from bridge.directory.memory import InMemoryDirectory
from bridge.scim.schemas import LIST_RESPONSE
from tests.conftest import (
    DISABLED_BASE,
    SCIM,
    SUFFIX,
    USER_BASE,
    ScimClient,
)
from tests.http.users.support import (
    GUID,
    search,
    user_names,
)
from tests.samples import ENTRA_POST


def test_the_entra_user_lifecycle_from_test_connection_to_hard_delete(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    """Test Connection, match, create, update, disable, restore, hard delete, in Entra's order (section
    2.0 of the reference: [D1][D3])."""
    probe = client.simulate_get(f"{SCIM}/Users", query_string=f"filter=userName+eq+%22{GUID}%22")
    assert probe.status_code == 200
    assert probe.json == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == []

    created = client.post_user(ENTRA_POST)
    assert created.status_code == 201
    user_id = created.json["id"]

    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["userName"] == "alice@contoso.com"
    updated = client.patch_user(user_id, {"op": "Replace", "path": "name.familyName", "value": "Adams-Baker"})
    assert updated.status_code == 200
    assert updated.json["name"]["familyName"] == "Adams-Baker"

    disabled = client.patch_user(user_id, {"op": "Replace", "path": "active", "value": "False"})
    assert (disabled.status_code, disabled.json["active"]) == (200, False)
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["active"] is False
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == ["alice@contoso.com"]

    restored = client.patch_user(user_id, {"op": "Replace", "path": "active", "value": "True"})
    assert restored.json["active"] is True

    deleted = client.simulate_delete(f"{SCIM}/Users/{user_id}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").status_code == 404
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == []
    assert memory.dns() == sorted([SUFFIX, USER_BASE, DISABLED_BASE, f"ou=groups,{SUFFIX}"])
