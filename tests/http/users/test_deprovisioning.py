"""DELETE and deactivation under each deprovisioning policy and disable method.

Keys in brackets ([D1], [R1], ...) resolve in the Sources of ``docs/entra.md``; Q-numbers are the
quirks of ``bridge.scim.compat.QUIRKS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import PPOLICY_LOCK
from tests.conftest import (
    DISABLED_BASE,
    SCIM,
    USER_BASE,
    ScimClient,
)
from tests.http.users.support import (
    MakeClient,
    MapWith,
    assert_scim_error,
    create,
    dn_of,
    search,
    state,
    user_names,
)


def test_delete_removes_the_entry_and_a_second_delete_is_404(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """[D1] hard delete is 204; delete-twice is 404 (RFC 7644 3.6, [T1] preview tests)."""
    dn = dn_of(memory, alice["id"])
    assert client.simulate_delete(f"{SCIM}/Users/{alice['id']}").status_code == 204
    assert dn not in memory.dns()
    assert_scim_error(client.simulate_delete(f"{SCIM}/Users/{alice['id']}"), 404, None, "not found")


def test_by_default_deactivation_locks_with_ppolicy_and_activation_unlocks(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """on_deactivate: disable (default), method ppolicy: pwdAccountLockedTime 000001010000Z [D2]."""
    dn = dn_of(memory, alice["id"])
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert memory.raw(dn)["pwdaccountlockedtime"] == [PPOLICY_LOCK]
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert "pwdaccountlockedtime" not in memory.raw(dn)


def test_a_disabled_user_stays_readable_by_id_and_by_filter(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """Q23 / rule 13: never 404 a disabled user, or Entra files InvalidAnchor [D1][D13]."""
    client.patch_user(alice["id"], {"op": "replace", "path": "active", "value": False})
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}").json["active"] is False
    for flt in (
        'userName eq "alice@contoso.com"',
        'externalId eq "alice"',
        'emails[type eq "work"].value eq "alice@contoso.com"',
        "active eq false",
    ):
        assert user_names(search(client, flt)) == ["alice@contoso.com"]


def test_on_deactivate_delete_deletes_the_entry(make_client: MakeClient, memory: InMemoryDirectory) -> None:
    """deprovisioning.on_deactivate: delete turns Entra's unassign into a delete (204, nothing to show)."""
    client = make_client(on_deactivate="delete")
    user = create(client, {"userName": "u@contoso.com"})
    result = client.patch_user(user["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert result.status_code == 204
    assert f"uid=u@contoso.com,{USER_BASE}" not in memory.dns()
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").status_code == 404


def test_on_delete_disable_keeps_the_entry_locked(make_client: MakeClient, memory: InMemoryDirectory) -> None:
    """deprovisioning.on_delete: disable turns Entra's hard delete into a lock; the user stays readable."""
    client = make_client(on_delete="disable")
    user = create(client, {"userName": "u@contoso.com"})
    assert client.simulate_delete(f"{SCIM}/Users/{user['id']}").status_code == 204
    assert memory.raw(f"uid=u@contoso.com,{USER_BASE}")["pwdaccountlockedtime"] == [PPOLICY_LOCK]
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").json["active"] is False
    before = state(memory)
    assert client.simulate_delete(f"{SCIM}/Users/{user['id']}").status_code == 204
    assert state(memory) == before


@pytest.mark.parametrize(
    ("active", "enabled"),
    [
        ({"method": "attribute", "attribute": "nsAccountLock", "disabled_value": "TRUE"}, None),
        (
            {
                "method": "attribute",
                "attribute": "nsAccountLock",
                "disabled_value": True,
                "enabled_value": "FALSE",
            },
            ["FALSE"],
        ),
    ],
)
def test_the_attribute_disable_method_sets_and_clears_its_attribute(
    make_client: MakeClient,
    map_with: MapWith,
    memory: InMemoryDirectory,
    active: dict[str, Any],
    enabled: Any,
) -> None:
    """user.active.method: attribute (e.g. 389-DS nsAccountLock), with and without enabled_value."""
    client = make_client(map_with({"active": active}))
    user = create(client, {"userName": "u@contoso.com"})
    dn = f"uid=u@contoso.com,{USER_BASE}"
    disabled = client.patch_user(user["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert disabled.json["active"] is False
    assert memory.raw(dn)["nsaccountlock"] == ["TRUE"]
    assert "pwdaccountlockedtime" not in memory.raw(dn)
    assert user_names(search(client, "active eq false")) == ["u@contoso.com"]
    enabled_result = client.patch_user(user["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert enabled_result.json["active"] is True
    assert memory.raw(dn).get("nsaccountlock") == enabled
    assert user_names(search(client, "active eq true")) == ["u@contoso.com"]


def test_disabled_base_moves_disabled_users_and_back_on_enable(
    make_client: MakeClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """deprovisioning.disabled_base: disabled users live under their own OU; the id stays, and they
    stay readable (Q23)."""
    client = make_client(disabled_base=DISABLED_BASE)
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "False"})
    moved = f"uid=alice@contoso.com,{DISABLED_BASE}"
    assert dn_of(memory, alice["id"]) == moved
    assert memory.raw(moved)["pwdaccountlockedtime"] == [PPOLICY_LOCK]
    assert client.simulate_get(f"{SCIM}/Users/{alice['id']}").json["active"] is False
    assert user_names(search(client, 'userName eq "alice@contoso.com"')) == ["alice@contoso.com"]

    before = state(memory)
    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "False"})
    assert state(memory) == before

    client.patch_user(alice["id"], {"op": "Replace", "path": "active", "value": "True"})
    assert dn_of(memory, alice["id"]) == f"uid=alice@contoso.com,{USER_BASE}"
    assert "pwdaccountlockedtime" not in memory.raw(f"uid=alice@contoso.com,{USER_BASE}")


def test_disabled_base_receives_users_created_inactive_and_users_deleted_under_on_delete_disable(
    make_client: MakeClient, memory: InMemoryDirectory
) -> None:
    """Both ways into the disabled OU: POST active=false, and DELETE with on_delete: disable."""
    client = make_client(disabled_base=DISABLED_BASE, on_delete="disable")
    inactive = create(client, {"userName": "in@contoso.com", "active": "False"})
    active = create(client, {"userName": "out@contoso.com"})
    assert dn_of(memory, inactive["id"]) == f"uid=in@contoso.com,{DISABLED_BASE}"
    assert client.simulate_delete(f"{SCIM}/Users/{active['id']}").status_code == 204
    assert dn_of(memory, active["id"]) == f"uid=out@contoso.com,{DISABLED_BASE}"
    assert user_names(search(client, "active eq false")) == ["in@contoso.com", "out@contoso.com"]


def test_a_user_with_child_entries_cannot_be_deleted_and_the_reason_is_shown(
    client: ScimClient, memory: InMemoryDirectory, alice: dict[str, Any]
) -> None:
    """The directory's refusal is a 403 with its reason in plain words (docs/architecture.md, Errors)."""
    memory.ensure(f"cn=device,{dn_of(memory, alice['id'])}", {"objectClass": ["device"]})
    before = state(memory)
    assert_scim_error(client.simulate_delete(f"{SCIM}/Users/{alice['id']}"), 403, None, "not a leaf entry")
    assert state(memory) == before
