"""Users over HTTP against a real slapd: each step of a user's life is checked in the directory itself.

Covers issue #2's "done when": created, patched (both Entra dialects), disabled, re-enabled, renamed and
deleted, for each deprovisioning policy and each OpenLDAP disable method; bad input writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bridge.mapping.model import ResourceMap
from tests.conftest import SCIM, ScimClient
from tests.slapd_fixtures import Inspector

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LOCK = "000001010000Z"


def entra_user(user_name: str = "alice@contoso.com", **more: Any) -> dict[str, Any]:
    """A POST body shaped like Entra's legacy engine sends it [D1]."""
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "alice",
        "userName": user_name,
        "active": True,
        "displayName": "Alice Adams",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Alice Adams", "familyName": "Adams", "givenName": "Alice"},
        "title": "Engineer",
        ENTERPRISE: {"employeeNumber": "10042", "department": "R&D"},
        "phoneNumbers": [{"type": "work", "value": "+1 (555) 010-0042"}],
        "roles": [],
    }
    body.update(more)
    return body


def created(client: ScimClient, inspector: Inspector, **more: Any) -> tuple[str, str]:
    response = client.post_user(entra_user(**more))
    assert response.status_code == 201, response.json
    user_id = response.json["id"]
    ((dn, _),) = inspector.find(f"(entryUUID={user_id})")
    return user_id, dn


def replace(path: str, value: Any, op: str = "Replace") -> dict[str, Any]:
    return {"op": op, "path": path, "value": value}


def test_a_created_user_is_an_inetorgperson_entry_whose_entryuuid_is_the_scim_id(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, dn = created(client, inspector)
    assert dn.lower() == f"uid=alice@contoso.com,{inspector.subtree.user_base}".lower()
    entry = inspector.entry(dn)
    assert entry is not None
    assert {"inetOrgPerson", "scimBridgeObject"} <= set(entry["objectclass"])
    expected = {
        "uid": ["alice@contoso.com"],
        "givenname": ["Alice"],
        "sn": ["Adams"],
        "cn": ["Alice Adams"],
        "displayname": ["Alice Adams"],
        "mail": ["alice@contoso.com"],
        "title": ["Engineer"],
        "employeenumber": ["10042"],
        "departmentnumber": ["R&D"],
        "scimexternalid": ["alice"],
        "telephonenumber": ["+1 (555) 010-0042"],
        "entryuuid": [user_id],
    }
    assert {k: entry.get(k) for k in expected} == expected
    assert "pwdaccountlockedtime" not in entry
    got = client.simulate_get(f"{SCIM}/Users/{user_id}").json
    assert got["phoneNumbers"] == [{"type": "work", "value": "+1 (555) 010-0042"}]
    assert got["meta"]["resourceType"] == "User" and got["meta"]["location"].endswith(f"/Users/{user_id}")


def test_both_entra_patch_dialects_update_the_entry_and_an_identical_second_cycle_writes_nothing(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, dn = created(client, inspector)
    legacy = [
        replace('emails[type eq "work"].value', "a.adams@contoso.com"),
        replace("name.familyName", "Adams-Baker"),
        replace(f"{ENTERPRISE}:employeeNumber", "10043"),
        replace('phoneNumbers[type eq "mobile"].value', "+44 20 7946 0958", op="Add"),
    ]
    assert client.patch_user(user_id, *legacy).status_code == 200
    flag = [
        {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Zürich"},
        {
            "op": "replace",
            "value": {
                "displayName": "Alice Adams-Baker",
                "name.givenName": "Alicia",
                f"{ENTERPRISE}:department": "Research",
            },
        },
    ]
    assert client.patch_user(user_id, *flag).status_code == 200
    entry = inspector.entry(dn)
    assert entry is not None
    assert entry["mail"] == ["a.adams@contoso.com"] and entry["sn"] == ["Adams-Baker"]
    assert entry["employeenumber"] == ["10043"] and entry["mobile"] == ["+44 20 7946 0958"]
    assert entry["l"] == ["Zürich"] and entry["displayname"] == ["Alice Adams-Baker"]
    assert entry["givenname"] == ["Alicia"] and entry["departmentnumber"] == ["Research"]
    before = inspector.entry(dn)
    assert client.patch_user(user_id, *legacy).status_code == 200
    assert client.patch_user(user_id, *flag).status_code == 200
    after = inspector.entry(dn)
    assert before is not None and after is not None
    assert after["entrycsn"] == before["entrycsn"], "an identical cycle must not write"


def test_the_ppolicy_lock_disables_the_account_for_real_and_enabling_removes_it(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, dn = created(client, inspector)
    inspector.set_password(dn, "Secret-123")
    assert inspector.can_bind(dn, "Secret-123")
    assert client.patch_user(user_id, replace("active", "False")).json["active"] is False
    entry = inspector.entry(dn)
    assert entry is not None and entry["pwdaccountlockedtime"] == [LOCK]
    assert not inspector.can_bind(dn, "Secret-123")
    # Disabled users stay visible by id and by filter (Entra files a 404 as InvalidAnchor [D13]).
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["active"] is False
    listed = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "ALICE@contoso.com"'}).json
    assert [r["id"] for r in listed["Resources"]] == [user_id]
    assert (
        client.patch_user(user_id, {"op": "replace", "path": "active", "value": True}).json["active"] is True
    )
    entry = inspector.entry(dn)
    assert entry is not None and "pwdaccountlockedtime" not in entry
    assert inspector.can_bind(dn, "Secret-123")


@pytest.mark.parametrize("enabled_value", [None, "staff"])
def test_the_attribute_disable_method_sets_and_clears_the_configured_value(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    map_with: Callable[[dict[str, Any]], ResourceMap],
    enabled_value: str | None,
) -> None:
    active = {"method": "attribute", "attribute": "employeeType", "disabled_value": "disabled"}
    if enabled_value:
        active["enabled_value"] = enabled_value
    client = ldap_client(map_with({"active": active}))
    user_id, dn = created(client, inspector)
    assert client.patch_user(user_id, replace("active", "false")).json["active"] is False
    entry = inspector.entry(dn)
    assert entry is not None and entry["employeetype"] == ["disabled"] and "pwdaccountlockedtime" not in entry
    assert client.patch_user(user_id, replace("active", "TRUE")).json["active"] is True
    entry = inspector.entry(dn)
    assert entry is not None and entry.get("employeetype") == ([enabled_value] if enabled_value else None)


def test_disabled_users_move_to_the_disabled_ou_and_back_keeping_their_id(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client(disabled_base=True)
    user_id, dn = created(client, inspector)
    assert client.patch_user(user_id, replace("active", "False")).status_code == 200
    assert inspector.entry(dn) is None
    ((moved, entry),) = inspector.find(f"(entryUUID={user_id})")
    assert moved.lower().endswith(inspector.subtree.disabled_base.lower())
    assert entry["pwdaccountlockedtime"] == [LOCK]
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["active"] is False
    assert client.patch_user(user_id, replace("active", "True")).status_code == 200
    back = inspector.entry(dn)
    assert back is not None and back["entryuuid"] == [user_id] and "pwdaccountlockedtime" not in back


def test_unassign_deletes_the_entry_under_the_delete_policy(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client(on_deactivate="delete")
    user_id, dn = created(client, inspector)
    assert client.patch_user(user_id, replace("active", "False")).status_code == 204
    assert inspector.entry(dn) is None
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").status_code == 404


@pytest.mark.parametrize("on_delete", ["delete", "disable"])
def test_delete_follows_the_on_delete_policy(
    ldap_client: Callable[..., ScimClient], inspector: Inspector, on_delete: str
) -> None:
    client = ldap_client(on_delete=on_delete)
    user_id, dn = created(client, inspector)
    assert client.simulate_delete(f"{SCIM}/Users/{user_id}").status_code == 204
    entry = inspector.entry(dn)
    if on_delete == "delete":
        assert entry is None
        assert client.simulate_delete(f"{SCIM}/Users/{user_id}").status_code == 404
    else:
        assert entry is not None and entry["pwdaccountlockedtime"] == [LOCK]
        assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["active"] is False


def test_renaming_the_user_is_a_modify_dn_and_the_id_stays(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, dn = created(client, inspector)
    renamed = client.patch_user(user_id, replace("userName", "alice.adams@contoso.com"))
    assert renamed.json["userName"] == "alice.adams@contoso.com" and renamed.json["id"] == user_id
    assert inspector.entry(dn) is None
    entry = inspector.entry(f"uid=alice.adams@contoso.com,{inspector.subtree.user_base}")
    assert (
        entry is not None and entry["entryuuid"] == [user_id] and entry["uid"] == ["alice.adams@contoso.com"]
    )


def test_a_put_replaces_the_user_and_clears_what_it_leaves_out(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, dn = created(client, inspector)
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "alice@contoso.com",
        "name": {"givenName": "Alice", "familyName": "Adams"},
        "externalId": "alice",
    }
    response = client.simulate_put(f"{SCIM}/Users/{user_id}", json=body)
    assert response.status_code == 200, response.json
    entry = inspector.entry(dn)
    assert entry is not None
    assert "title" not in entry and "mail" not in entry and "employeenumber" not in entry
    assert entry["cn"] == ["Alice Adams"]  # required: refilled from the template, not deleted


def test_a_stripped_domain_suffix_is_stored_short_and_read_back_whole(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    map_with: Callable[[dict[str, Any]], ResourceMap],
) -> None:
    client = ldap_client(
        map_with({"attributes": {"userName": {"ldap": "uid", "strip_suffix": "@contoso.com"}}})
    )
    user_id, dn = created(client, inspector, user_name="jdoe@contoso.com")
    assert dn.lower().startswith("uid=jdoe,")
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["userName"] == "jdoe@contoso.com"
    probe = client.simulate_get(
        f"{SCIM}/Users", params={"filter": 'userName eq "b1d6a1f0-6f5e-4c7e-9d55-1c0c9e0e2f11"'}
    )
    assert probe.status_code == 200 and probe.json["totalResults"] == 0
    found = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "JDOE@contoso.com"'}).json
    assert [r["id"] for r in found["Resources"]] == [user_id]


def test_an_account_an_admin_created_is_adopted_and_gains_the_bridge_class_on_first_write(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    dn = f"uid=bob@contoso.com,{inspector.subtree.user_base}"
    inspector.add(
        dn,
        {
            "objectClass": ["inetOrgPerson"],
            "uid": "bob@contoso.com",
            "cn": "Bob",
            "sn": "Builder",
            "mail": "Bob@Contoso.com",
        },
    )
    client = ldap_client()
    for matching in ('userName eq "BOB@contoso.com"', 'emails[type eq "work"].value eq "bob@contoso.com"'):
        found = client.simulate_get(f"{SCIM}/Users", params={"filter": matching}).json
        assert found["totalResults"] == 1, matching
    user_id = found["Resources"][0]["id"]
    assert client.patch_user(user_id, replace("externalId", "0f1e2d3c")).status_code == 200
    entry = inspector.entry(dn)
    assert entry is not None
    assert "scimBridgeObject" in entry["objectclass"] and entry["scimexternalid"] == ["0f1e2d3c"]
    assert entry["mail"] == ["Bob@Contoso.com"] and entry["cn"] == ["Bob"]  # untouched values stay
    by_external = client.simulate_get(f"{SCIM}/Users", params={"filter": 'externalId eq "0F1E2D3C"'}).json
    assert [r["id"] for r in by_external["Resources"]] == [user_id]
    assert client.post_user(entra_user("bob@contoso.com")).status_code == 409


def test_the_fallback_map_keeps_externalid_in_an_existing_attribute_without_the_schema(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    map_with: Callable[[dict[str, Any]], ResourceMap],
) -> None:
    client = ldap_client(map_with({"auxiliary_classes": [], "attributes": {"externalId": "employeeType"}}))
    user_id, dn = created(client, inspector)
    entry = inspector.entry(dn)
    assert (
        entry is not None
        and entry["employeetype"] == ["alice"]
        and "scimBridgeObject" not in entry["objectclass"]
    )
    found = client.simulate_get(f"{SCIM}/Users", params={"filter": 'externalId eq "alice"'}).json
    assert [r["id"] for r in found["Resources"]] == [user_id]


def test_users_outside_the_scope_filter_are_invisible_and_untouchable(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    dn = f"uid=svc-backup,{inspector.subtree.user_base}"
    inspector.add(
        dn,
        {
            "objectClass": ["inetOrgPerson"],
            "uid": "svc-backup",
            "cn": "x",
            "sn": "x",
            "description": "service",
        },
    )
    client = ldap_client(user_filter="(!(description=service))")
    ((_, entry),) = inspector.find("(uid=svc-backup)")
    hidden_id = entry["entryuuid"][0]
    assert client.simulate_get(f"{SCIM}/Users/{hidden_id}").status_code == 404
    assert client.patch_user(hidden_id, replace("active", "False")).status_code == 404
    assert client.simulate_delete(f"{SCIM}/Users/{hidden_id}").status_code == 404
    listed = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "svc-backup"'}).json
    assert listed["totalResults"] == 0
    assert inspector.entry(dn) is not None


@pytest.mark.parametrize(
    ("request_kwargs", "status", "scim_type"),
    [
        (
            {"body": '{"userName": "x",', "headers": {"Content-Type": "application/scim+json"}},
            400,
            "invalidSyntax",
        ),
        ({"json": {"name": {"givenName": "No"}}}, 400, "invalidValue"),
        ({"json": {"userName": "x", "active": "maybe"}}, 400, "invalidValue"),
        (
            {"json": {"userName": "x", "phoneNumbers": [{"type": "work", "value": "☎ call me"}]}},
            400,
            "invalidValue",
        ),
        ({"body": "userName=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 415, None),
    ],
)
def test_bad_input_gets_a_scim_error_and_writes_nothing(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    request_kwargs: dict[str, Any],
    status: int,
    scim_type: str | None,
) -> None:
    client = ldap_client()
    created(client, inspector)
    before = inspector.people()
    response = client.simulate_post(f"{SCIM}/Users", **request_kwargs)
    assert response.status_code == status, response.json
    assert response.json["status"] == str(status) and response.json.get("scimType") == scim_type
    assert response.json["detail"] and "Traceback" not in response.text
    assert inspector.people() == before


def test_a_case_only_change_of_the_username_is_kept_exactly(
    ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    """Entra compares userName exactly and re-sends a difference every cycle [D1][I16]."""
    client = ldap_client()
    user_id, _ = created(client, inspector)
    response = client.patch_user(user_id, replace("userName", "Alice@Contoso.com"))
    assert response.status_code == 200, response.json
    assert client.simulate_get(f"{SCIM}/Users/{user_id}").json["userName"] == "Alice@Contoso.com"
    ((dn, entry),) = inspector.find(f"(entryUUID={user_id})")
    assert entry["uid"] == ["Alice@Contoso.com"] and dn.startswith("uid=Alice@Contoso.com,")


def test_short_names_are_derived_once_and_kept_through_renames_and_moves(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    map_with: Callable[[dict[str, Any]], ResourceMap],
) -> None:
    """Users known by email in Entra and by short names on-prem (issue #4 point 4)."""
    short = {"rdn": {"attribute": "uid", "from": "userName"}, "attributes": {"userName": "scimUserName"}}
    client = ldap_client(map_with(short), disabled_base=True)
    first, dn = created(client, inspector, user_name="jdoe@contoso.com")
    _, second_dn = created(client, inspector, user_name="jdoe@fabrikam.com")
    assert dn.lower() == f"uid=jdoe,{inspector.subtree.user_base}".lower()
    assert second_dn.lower() == f"uid=jdoe2,{inspector.subtree.user_base}".lower()
    entry = inspector.entry(dn)
    assert entry is not None and entry["scimusername"] == ["jdoe@contoso.com"] and entry["uid"] == ["jdoe"]
    assert client.patch_user(first, replace("userName", "john.doe@contoso.com")).status_code == 200
    assert client.patch_user(first, replace("active", "False")).status_code == 200
    ((moved, _),) = inspector.find(f"(entryUUID={first})")
    assert moved.lower() == f"uid=jdoe,{inspector.subtree.disabled_base}".lower()
    assert client.patch_user(first, replace("active", "True")).status_code == 200
    entry = inspector.entry(dn)
    assert (
        entry is not None and entry["scimusername"] == ["john.doe@contoso.com"] and entry["uid"] == ["jdoe"]
    )
    assert client.simulate_get(f"{SCIM}/Users/{first}").json["userName"] == "john.doe@contoso.com"
