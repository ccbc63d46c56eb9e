"""Active Directory account state through the in-memory directory: the userAccountControl bit, set and
cleared keeping every other bit, and a generated password when the client sends none (issue #5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bridge.directory.base import Modification
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import ResourceMap
from tests.conftest import SCIM, USER_BASE, ScimClient

AD_ACCOUNTS = {
    "active": {"method": "uac"},
    "constants": {"pwdLastSet": "0"},
    "attributes": {"password": {"ldap": "unicodePwd", "convert": "ad_password"}},
}
DN = f"uid=ann@contoso.com,{USER_BASE}"


@pytest.fixture
def client(
    make_client: Callable[..., ScimClient], map_with: Callable[[dict[str, Any]], ResourceMap]
) -> ScimClient:
    return make_client(map_with(AD_ACCOUNTS))


@pytest.fixture
def ann(client: ScimClient) -> str:
    response = client.post_user({"userName": "ann@contoso.com", "active": "True"})
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def uac(memory: InMemoryDirectory) -> int:
    return int(memory.raw(DN)["useraccountcontrol"][0])


def test_a_new_enabled_account_is_a_normal_account_with_a_strong_generated_password(
    client: ScimClient, memory: InMemoryDirectory, ann: str
) -> None:
    """AD enables an account only when it has a password; Entra never sends one."""
    stored = memory.raw(DN)
    assert stored["useraccountcontrol"] == ["512"] and stored["pwdlastset"] == ["0"]
    (quoted,) = stored["unicodepwd"]
    password = quoted.strip('"')
    assert quoted == f'"{password}"' and len(password) == 24
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
    body = client.simulate_get(f"{SCIM}/Users/{ann}").text
    assert password not in body and "password" not in body


def test_a_password_the_client_sends_is_used_and_never_returned(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    response = client.post_user({"userName": "ann@contoso.com", "password": "Given-Pass-0rd!"})
    assert response.status_code == 201 and "password" not in response.json
    assert memory.raw(DN)["unicodepwd"] == ['"Given-Pass-0rd!"']


def test_disabling_sets_only_the_disable_bit_and_a_second_disable_changes_nothing(
    client: ScimClient, memory: InMemoryDirectory, ann: str
) -> None:
    """A toggle would re-enable on a repeated disable, as the XOR of SCIM Gateway's plugin-ldap
    (github.com/jelhub/scimgateway, lib/plugin-ldap.ts at v6.1.18) does."""
    memory.modify(DN, [Modification("replace", "userAccountControl", ("66048",))], ())  # + DONT_EXPIRE
    disable = {"op": "Replace", "path": "active", "value": "False"}
    assert client.patch_user(ann, disable).json["active"] is False
    assert uac(memory) == 66048 | 2
    writes = memory.writes
    assert client.patch_user(ann, disable).json["active"] is False
    assert uac(memory) == 66048 | 2 and memory.writes == writes
    assert client.patch_user(ann, {"op": "Replace", "path": "active", "value": "True"}).json["active"] is True
    assert uac(memory) == 66048


def test_active_filters_use_the_disable_bit(client: ScimClient, ann: str) -> None:
    client.post_user({"userName": "bob@contoso.com"})
    client.patch_user(ann, {"op": "Replace", "path": "active", "value": "False"})
    inactive = client.simulate_get(f"{SCIM}/Users", params={"filter": "active eq false"}).json
    assert [r["id"] for r in inactive["Resources"]] == [ann]
    active = client.simulate_get(f"{SCIM}/Users", params={"filter": "active eq true"}).json
    assert [r["userName"] for r in active["Resources"]] == ["bob@contoso.com"]


def test_an_account_created_inactive_is_disabled_and_still_gets_a_password(
    client: ScimClient, memory: InMemoryDirectory
) -> None:
    assert client.post_user({"userName": "ann@contoso.com", "active": False}).json["active"] is False
    assert uac(memory) == 514 and memory.raw(DN)["unicodepwd"]


def test_a_map_filter_hides_entries_of_the_same_class_that_do_not_match(
    make_client: Callable[..., ScimClient],
    map_with: Callable[[dict[str, Any]], ResourceMap],
    memory: InMemoryDirectory,
) -> None:
    """AD computers are objectClass user too; the AD map scopes users with (objectCategory=person)."""
    client = make_client(map_with({"filter": "(!(description=computer))"}))
    memory.ensure(
        f"uid=pc1,{USER_BASE}",
        {"objectClass": ["inetOrgPerson"], "uid": ["pc1"], "description": ["computer"]},
    )
    memory.ensure(f"uid=amy,{USER_BASE}", {"objectClass": ["inetOrgPerson"], "uid": ["amy"]})
    listed = client.simulate_get(f"{SCIM}/Users").json
    assert [r["userName"] for r in listed["Resources"]] == ["amy"]


def test_a_bad_map_filter_is_a_map_problem(map_with: Callable[[dict[str, Any]], ResourceMap]) -> None:
    from bridge.mapping.load import MapError

    with pytest.raises(MapError, match=r"user\.filter"):
        map_with({"filter": "objectCategory=person"})


AD_NAMES = {
    "rdn": {"attribute": "cn", "from": ["{displayName}", "{userName}"], "style": "display", "max_length": 64},
    "derived": [{"attribute": "sAMAccountName", "from": "userName", "style": "sam", "max_length": 20}],
    "attributes": {"userName": "userPrincipalName", "name.formatted": "description"},
}


@pytest.mark.parametrize(
    ("user_name", "sam"),
    [
        ("jdoe@contoso.com", "jdoe"),
        ('we:ird/na[me]*"x"@contoso.com', "we_ird_na_me___x_"),
        ("a.very.long.name.over.twenty@contoso.com", "a.very.long.name.ove"),
        ("trailing.dot.@contoso.com", "trailing.dot"),
    ],
)
def test_ad_names_are_derived_once_within_ads_rules(
    make_client: Callable[..., ScimClient],
    map_with: Callable[[dict[str, Any]], ResourceMap],
    memory: InMemoryDirectory,
    user_name: str,
    sam: str,
) -> None:
    """sAMAccountName: at most 20 characters; each character AD forbids (MS-ADTS 3.1.1.5.2.2) becomes
    ``_``, as in AD's own tools."""
    client = make_client(map_with(AD_NAMES))
    assert client.post_user({"userName": user_name, "displayName": "Jo Doe"}).status_code == 201
    stored = memory.raw(f"cn=Jo Doe,{USER_BASE}")
    assert stored["samaccountname"] == [sam] and stored["userprincipalname"] == [user_name]


def test_colliding_ad_names_get_the_next_number_and_are_kept_through_renames(
    make_client: Callable[..., ScimClient],
    map_with: Callable[[dict[str, Any]], ResourceMap],
    memory: InMemoryDirectory,
) -> None:
    client = make_client(map_with(AD_NAMES))
    first = client.post_user({"userName": "jdoe@contoso.com", "displayName": "John Doe"}).json["id"]
    client.post_user({"userName": "jdoe@fabrikam.com", "displayName": "John Doe"})
    assert memory.raw(f"cn=John Doe 2,{USER_BASE}")["samaccountname"] == ["jdoe2"]
    renamed = client.patch_user(
        first,
        {"op": "Replace", "path": "userName", "value": "john.doe@contoso.com"},
        {"op": "Replace", "path": "displayName", "value": "Johnny Doe"},
    )
    assert renamed.status_code == 200
    kept = memory.raw(f"cn=John Doe,{USER_BASE}")
    assert kept["samaccountname"] == ["jdoe"] and kept["userprincipalname"] == ["john.doe@contoso.com"]


def test_without_password_generation_an_account_without_password_is_created_disabled(
    make_client: Callable[..., ScimClient],
    map_with: Callable[[dict[str, Any]], ResourceMap],
    memory: InMemoryDirectory,
) -> None:
    """password_length: 0 is the documented alternative: AD would refuse to enable it anyway."""
    client = make_client(map_with({**AD_ACCOUNTS, "active": {"method": "uac", "password_length": 0}}))
    created = client.post_user({"userName": "ann@contoso.com", "active": True})
    assert created.status_code == 201 and created.json["active"] is False
    assert uac(memory) == 514 and "unicodepwd" not in memory.raw(DN)
    with_password = client.post_user({"userName": "bea@contoso.com", "password": "Given-Pass-0rd!"})
    assert with_password.json["active"] is True


def test_names_with_keep_false_follow_a_renamed_user_and_stay_unique(
    make_client: Callable[..., ScimClient],
    map_with: Callable[[dict[str, Any]], ResourceMap],
    memory: InMemoryDirectory,
) -> None:
    """``keep: false``: the sAMAccountName and the CN are derived again when their source changes, with
    the next free number, and not touched by a change that leaves their source alone."""
    following = {
        **AD_NAMES,
        "rdn": {**AD_NAMES["rdn"], "keep": False},
        "derived": [{**AD_NAMES["derived"][0], "keep": False}],
    }
    client = make_client(map_with(following))
    first = client.post_user({"userName": "jdoe@contoso.com", "displayName": "John Doe"}).json["id"]
    client.post_user({"userName": "jane@contoso.com", "displayName": "Jane Roe"})
    renamed = client.patch_user(
        first,
        {"op": "Replace", "path": "userName", "value": "jane@fabrikam.com"},
        {"op": "Replace", "path": "displayName", "value": "Jane Roe"},
    )
    assert renamed.status_code == 200, renamed.json
    moved = memory.raw(f"cn=Jane Roe 2,{USER_BASE}")
    assert moved["samaccountname"] == ["jane2"] and moved["userprincipalname"] == ["jane@fabrikam.com"]
    assert memory.raw(f"cn=Jane Roe,{USER_BASE}")["samaccountname"] == ["jane"]
    again = client.patch_user(first, {"op": "Replace", "path": "name.formatted", "value": "Jane R."})
    assert again.status_code == 200
    assert memory.raw(f"cn=Jane Roe 2,{USER_BASE}")["samaccountname"] == ["jane2"]


def test_keep_must_be_true_or_false(map_with: Callable[[dict[str, Any]], ResourceMap]) -> None:
    from bridge.mapping.load import MapError

    with pytest.raises(MapError, match=r"user\.derived\[0\]\.keep: true"):
        map_with({**AD_NAMES, "derived": [{**AD_NAMES["derived"][0], "keep": "yes"}]})
