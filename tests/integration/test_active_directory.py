"""Users and groups over HTTP against a real Samba AD DC with the shipped AD map (issue #5), every step
checked in the directory through an LDAPS connection of the test's own, and with real binds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml

from bridge.config import LdapConfig, Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.flavors import ACTIVE_DIRECTORY
from bridge.testing.samba import SambaInfo
from tests.conftest import SCIM, TOKEN_HASH, ScimClient
from tests.integration.conftest import AD_MAP, AdInspector
from tests.samba_fixtures import AdSubtree

pytestmark = pytest.mark.samba


def entra_user(upn: str, **more: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": upn,
        "externalId": str(uuid.uuid4()),
        "active": "True",
        "displayName": "Dana Scully",
        "name": {"givenName": "Dana", "familyName": "Scully"},
        "emails": [{"type": "work", "value": upn, "primary": True}],
        **more,
    }


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "Replace", "path": path, "value": value}


def test_an_entra_user_becomes_an_enabled_ad_account_with_a_generated_password(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    client = ad_client()
    body = entra_user("dana@example.test")
    created = client.post_user(body)
    assert created.status_code == 201, created.json
    dn, entry = ad.by_id(created.json["id"])
    assert dn.lower() == f"cn=dana scully,{ad.subtree.user_base}".lower()
    assert entry["samaccountname"] == ["dana"] and entry["userprincipalname"] == ["dana@example.test"]
    assert entry["useraccountcontrol"] == ["512"]  # enabled: AD accepted the generated password
    assert entry["pwdlastset"] != ["0"]
    assert entry["msds-cloudextensionattribute1"] == [body["externalId"]]  # a GUID fits; employeeID would not
    got = client.simulate_get(f"{SCIM}/Users/{created.json['id']}").json
    assert got["userName"] == "dana@example.test" and got["active"] is True and "password" not in got
    assert uuid.UUID(got["id"]) and got["name"] == {"givenName": "Dana", "familyName": "Scully"}


def test_disable_sets_only_the_bit_refuses_the_bind_and_a_second_disable_keeps_it_disabled(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    client = ad_client()
    user = client.post_user(entra_user("fox@example.test", password="Trust-No-1-Ever!")).json["id"]
    assert ad.can_bind("fox@example.test", "Trust-No-1-Ever!")
    for _ in range(2):  # a toggle would re-enable on the second one
        assert client.patch_user(user, replace("active", "False")).json["active"] is False
        _, entry = ad.by_id(user)
        assert entry["useraccountcontrol"] == ["514"]
        assert not ad.can_bind("fox@example.test", "Trust-No-1-Ever!")
    assert client.patch_user(user, replace("active", "True")).json["active"] is True
    assert ad.can_bind("fox@example.test", "Trust-No-1-Ever!")
    inactive = client.simulate_get(f"{SCIM}/Users", params={"filter": "active eq false"}).json
    assert inactive["totalResults"] == 0


def test_a_password_ad_refuses_is_a_400_in_plain_words_and_writes_nothing(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    client = ad_client()
    response = client.post_user(entra_user("walter@example.test", password="abc"))
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert "password does not meet the domain's" in response.json["detail"]
    assert "abc" not in response.text.replace("walter", "")
    ad.conn.search(ad.subtree.base, "(userPrincipalName=walter@example.test)", ldap3.SUBTREE)
    assert [e for e in ad.conn.response if e["type"] == "searchResEntry"] == []


def test_names_are_derived_once_unique_and_kept(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    client = ad_client()
    first = client.post_user(entra_user("jdoe@example.test")).json["id"]
    second = client.post_user(entra_user("jdoe@contoso.example")).json["id"]
    first_dn, first_entry = ad.by_id(first)
    second_dn, second_entry = ad.by_id(second)
    assert (first_entry["samaccountname"], second_entry["samaccountname"]) == (["jdoe"], ["jdoe2"])
    assert second_dn.lower().startswith("cn=dana scully 2,")
    renamed = client.patch_user(
        first, replace("userName", "john.doe@example.test"), replace("displayName", "J D")
    )
    assert renamed.status_code == 200
    dn, entry = ad.by_id(first)
    assert dn == first_dn and entry["samaccountname"] == ["jdoe"]
    assert entry["userprincipalname"] == ["john.doe@example.test"] and entry["displayname"] == ["J D"]
    found = client.simulate_get(
        f"{SCIM}/Users", params={"filter": 'userName eq "JOHN.DOE@example.test"'}
    ).json
    assert [r["id"] for r in found["Resources"]] == [first]


def test_disabled_users_move_to_the_disabled_ou_and_back_keeping_their_guid(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    client = ad_client(disabled_base=True)
    user = client.post_user(entra_user("mulder@example.test")).json["id"]
    client.patch_user(user, replace("active", "False"))
    dn, entry = ad.by_id(user)
    assert dn.lower().endswith(ad.subtree.disabled_base.lower()) and entry["useraccountcontrol"] == ["514"]
    client.patch_user(user, replace("active", "True"))
    dn, entry = ad.by_id(user)
    assert dn.lower().endswith(ad.subtree.user_base.lower()) and entry["useraccountcontrol"] == ["512"]
    assert client.simulate_delete(f"{SCIM}/Users/{user}").status_code == 204
    assert client.simulate_get(f"{SCIM}/Users/{user}").status_code == 404


def test_unassign_as_delete_and_delete_as_disable_work_on_ad(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    """The other two policies: ``on_deactivate: delete`` removes the account; ``on_delete: disable``
    keeps it, disabled, and a repeated DELETE keeps it disabled."""
    deleting = ad_client(on_deactivate="delete")
    gone = deleting.post_user(entra_user("krycek@example.test")).json["id"]
    assert deleting.patch_user(gone, replace("active", "False")).status_code in (200, 204)
    ad.conn.search(ad.subtree.base, "(userPrincipalName=krycek@example.test)", attributes=["cn"])
    assert not [e for e in ad.conn.response if e["type"] == "searchResEntry"]

    keeping = ad_client(on_delete="disable")
    kept = keeping.post_user(entra_user("spender@example.test")).json["id"]
    for _ in range(2):
        assert keeping.simulate_delete(f"{SCIM}/Users/{kept}").status_code == 204
        _, entry = ad.by_id(kept)
        assert entry["useraccountcontrol"] == ["514"]


def test_groups_are_global_security_groups_with_members_and_nesting(
    ad_client: Callable[..., ScimClient], ad: AdInspector
) -> None:
    client = ad_client()
    user = client.post_user(entra_user("skinner@example.test")).json["id"]
    group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "X Files", "externalId": "6b1d"})
    assert group.status_code == 201, group.json
    outer = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "FBI"}).json["id"]
    group_id = group.json["id"]
    _, entry = ad.by_id(group_id)
    assert entry["grouptype"] == ["-2147483646"] and entry["samaccountname"] == ["X Files"]
    assert "member" not in entry  # AD groups may be empty: no placeholder
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": user}]}],
    }
    for _ in range(2):  # idempotent
        added = client.simulate_patch(f"{SCIM}/Groups/{group_id}", json=body)
        assert added.status_code == 204, added.json
    nest = {**body, "Operations": [{"op": "Add", "path": "members", "value": [{"value": group_id}]}]}
    assert client.simulate_patch(f"{SCIM}/Groups/{outer}", json=nest).status_code == 204
    _, member = ad.by_id(user)
    assert [g.lower() for g in member["memberof"]] == [f"cn=x files,{ad.subtree.group_base}".lower()]
    members = client.simulate_get(f"{SCIM}/Groups/{outer}").json["members"]
    assert [(m["value"], m["type"]) for m in members] == [(group_id, "Group")]
    groups = client.simulate_get(f"{SCIM}/Users/{user}", params={"attributes": "groups"}).json["groups"]
    assert [(g["value"], g["display"]) for g in groups] == [(group_id, "X Files")]
    remove = {**body, "Operations": [{"op": "remove", "path": f'members[value eq "{user}"]'}]}
    for _ in range(2):  # removing a non-member succeeds too
        removed = client.simulate_patch(f"{SCIM}/Groups/{group_id}", json=remove)
        assert removed.status_code == 204, removed.json
    _, entry = ad.by_id(group_id)
    assert "member" not in entry


def test_the_entra_flows_pass_against_active_directory(
    samba: SambaInfo, ad_subtree: AdSubtree, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The recorded Entra flows, replayed by ``scim-ldap-bridge selftest`` against the DC with the AD map:
    every answer and every write count as on OpenLDAP (the flows' OpenLDAP attribute checks are skipped)."""
    import yaml

    from bridge.cli import main

    (tmp_path / "bind-password").write_text(samba.password + "\n")
    config = {
        "auth": {"token_hashes": [TOKEN_HASH]},
        "ldap": {
            "urls": [samba.ldaps_url],
            "tls": "ldaps",
            "ca_file": samba.ca_file,
            "directory": "active_directory",
            "bind_dn": samba.bind_dn,
            "bind_password_file": "bind-password",
            "user_base": ad_subtree.user_base,
            "group_base": ad_subtree.group_base,
        },
        "map": str(AD_MAP),
    }
    (tmp_path / "bridge.yaml").write_text(yaml.safe_dump(config))
    code = main(["selftest", "--config", str(tmp_path / "bridge.yaml"), "--base", ad_subtree.base])
    out = capsys.readouterr().out
    assert code == 0 and "0 failed" in out, out
    assert out.count("PASS ") >= 7


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_the_pool_reaches_ad_over_ldaps_and_starttls_binding_with_a_upn(
    samba: SambaInfo, ad_subtree: AdSubtree, mode: str
) -> None:
    """Certificates verified against the CA; a UPN works as the bind name, as AD admins expect."""
    from bridge.directory.base import MATCH_ALL

    url = samba.ldaps_url if mode == "ldaps" else samba.starttls_url
    config = LdapConfig(
        urls=(url,),
        bind_dn=samba.bind_upn,
        user_base=ad_subtree.user_base,
        tls=mode,  # type: ignore[arg-type]
        ca_file=samba.ca_file,
        directory="active_directory",
    )
    pool = ConnectionPool(config, Secret(samba.password))
    try:
        found = LdapDirectory(pool, ACTIVE_DIRECTORY).search([ad_subtree.base], MATCH_ALL, ("ou",))
        assert found.total == 4  # the subtree and its three OUs, and no referral chased
    finally:
        pool.close()


def test_first_logon_change_expiry_and_no_generated_password_are_honoured_by_ad(
    ad_client: Callable[..., ScimClient], ad: AdInspector, tmp_path: Path
) -> None:
    """The documented options: ``pwdLastSet: "0"`` and ``accountExpires`` in ``constants``, and
    ``password_length: 0``, which creates an account without a password disabled instead of failing."""
    shipped = yaml.safe_load(AD_MAP.read_text())
    expires = "135694656000000000"  # 2031-01-01, in 100 ns intervals since 1601: not yet expired
    shipped["user"]["constants"] = {"pwdLastSet": "0", "accountExpires": expires}
    shipped["user"]["active"]["password_length"] = 0
    custom = tmp_path / "ad.yaml"
    custom.write_text(yaml.safe_dump(shipped))
    client = ad_client(map_path=custom)

    created = client.post_user(entra_user("mulder@example.test"))
    assert created.status_code == 201 and created.json["active"] is False, created.json
    _, entry = ad.by_id(created.json["id"])
    assert entry["useraccountcontrol"] == ["514"] and entry["pwdlastset"] == ["0"]
    assert entry["accountexpires"] == [expires]

    password = "Tru5t-No-0ne!"
    given = client.post_user(
        entra_user("skinner@example.test", displayName="Walter Skinner", password=password)
    )
    assert given.status_code == 201 and given.json["active"] is True, given.json
    _, entry = ad.by_id(given.json["id"])
    assert entry["useraccountcontrol"] == ["512"] and entry["pwdlastset"] == ["0"]
    assert not ad.can_bind("skinner@example.test", password)  # AD: the password must be changed first


def test_with_keep_false_renames_give_new_unique_names_in_ad(
    ad_client: Callable[..., ScimClient], ad: AdInspector, tmp_path: Path
) -> None:
    """``keep: false`` on the user's CN and sAMAccountName and on the group's sAMAccountName: AD takes
    the modify DN and the new names, the objectGUID stays, and a name in use gets the next number."""
    shipped = yaml.safe_load(AD_MAP.read_text())
    shipped["user"]["rdn"]["keep"] = False
    shipped["user"]["derived"][0]["keep"] = False
    shipped["group"]["derived"][0]["keep"] = False
    custom = tmp_path / "ad.yaml"
    custom.write_text(yaml.safe_dump(shipped))
    client = ad_client(map_path=custom)

    client.post_user(entra_user("dana@example.test"))
    fox = client.post_user(entra_user("fox@example.test", displayName="Fox Mulder")).json["id"]
    renamed = client.patch_user(
        fox, replace("userName", "dana@example.org"), replace("displayName", "Dana Scully")
    )
    assert renamed.status_code == 200, renamed.json
    dn, entry = ad.by_id(fox)
    assert dn.lower() == f"cn=dana scully 2,{ad.subtree.user_base}".lower()
    assert entry["samaccountname"] == ["dana2"] and entry["userprincipalname"] == ["dana@example.org"]

    group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "X Files"}).json["id"]
    rename = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [replace("displayName", "Basement")],
    }
    assert client.simulate_patch(f"{SCIM}/Groups/{group}", json=rename).status_code == 204
    dn, entry = ad.by_id(group)
    assert dn.lower() == f"cn=basement,{ad.subtree.group_base}".lower()
    assert entry["samaccountname"] == ["Basement"]
