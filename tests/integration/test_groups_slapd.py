"""Groups over HTTP against a real slapd, for each object-class choice of the map (issue #3).

Each shape is driven the way Entra drives groups [D1]: created empty, looked up with
``excludedAttributes=members``, filled and emptied with member PATCHes in both dialects, renamed and
deleted; and every step is checked in the directory itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Inspector, make_subtree

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PLACEHOLDER = "cn=empty-membership-placeholder"

SHAPES = {
    "groupOfNames": {},
    "groupOfUniqueNames": {
        "object_classes": ["groupOfUniqueNames"],
        "members": {"attribute": "uniqueMember", "placeholder": PLACEHOLDER},
    },
    "posixGroup": {
        "object_classes": ["posixGroup"],
        "members": {"attribute": "memberUid"},
        "posix": {"gid_min": 20000, "gid_max": 20999},
    },
    # RFC 2307bis: one entry is both, member holds DNs and gidNumber comes from the range. It runs on
    # a slapd of its own whose schema makes posixGroup auxiliary.
    "rfc2307bis": {
        "object_classes": ["groupOfNames", "posixGroup"],
        "posix": {"gid_min": 20000, "gid_max": 20999},
    },
    # Membership kept on the members (scimMemberOf), shown as the group's member by slapd's dynlist
    # overlay: on a slapd of its own that loads dynlist. stored() reads member through dynlist.
    "dynlist": {
        "object_classes": ["groupOfURLs"],
        "members": {"attribute": "scimMemberOf", "kept_on": "members"},
    },
}
OWN_SERVER = {"rfc2307bis": {"rfc2307bis": True}, "dynlist": {"dynlist": True}}
ATTRIBUTE = {
    "groupOfNames": "member",
    "groupOfUniqueNames": "uniquemember",
    "posixGroup": "memberuid",
    "rfc2307bis": "member",
    "dynlist": "member",
}


def patch(client: ScimClient, group_id: str, *operations: dict[str, Any]) -> Any:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return client.simulate_patch(f"{SCIM}/Groups/{group_id}", json=body)


def new_user(client: ScimClient, name: str) -> tuple[str, str]:
    response = client.post_user({"userName": name, "displayName": name.split("@", maxsplit=1)[0].title()})
    assert response.status_code == 201, response.json
    return response.json["id"], name


class Shape:
    """One object-class choice, with how its member values look in the directory."""

    def __init__(self, name: str, client: ScimClient, inspector: Inspector) -> None:
        self.name, self.client, self.inspector = name, client, inspector
        self.attribute = ATTRIBUTE[name]

    def value(self, user_name: str) -> str:
        if self.name == "posixGroup":
            return user_name
        return f"uid={user_name},{self.inspector.subtree.user_base}"

    def stored(self, group_id: str) -> set[str]:
        ((_, entry),) = self.inspector.find(f"(entryUUID={group_id})")
        return {v.lower() for v in entry.get(self.attribute, []) if v.lower() != PLACEHOLDER}

    def members(self, group_id: str) -> set[str]:
        got = self.client.simulate_get(f"{SCIM}/Groups/{group_id}").json
        return {m["value"] for m in got.get("members", [])}


@pytest.fixture(scope="module")
def own_slapds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SlapdInfo]]:
    """The slapds of the shapes that need a server of their own, started when first asked for."""
    servers: list[Slapd] = []

    class Lazy(dict[str, SlapdInfo]):
        def __missing__(self, name: str) -> SlapdInfo:
            server = Slapd(
                tmp_path_factory.mktemp(name), extra_schema=[default_schema_path()], **OWN_SERVER[name]
            )
            servers.append(server)
            self[name] = server.start()
            return self[name]

    yield Lazy()
    for server in servers:
        server.stop()


@pytest.fixture(params=list(SHAPES))
def shape(
    request: pytest.FixtureRequest,
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    group_map_with: Callable[[dict[str, Any]], MapSet],
) -> Iterator[Shape]:
    maps = group_map_with(SHAPES[request.param])
    if request.param not in OWN_SERVER:
        yield Shape(request.param, ldap_client(maps), inspector)
        return
    info = request.getfixturevalue("own_slapds")[request.param]
    with make_subtree(info) as subtree:
        settings = subtree_settings(info, subtree)
        pool = ConnectionPool(settings.ldap, Secret(info.password))
        own = Inspector(info, subtree)
        yield Shape(
            request.param, ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps))), own
        )
        own.conn.unbind()
        pool.close()


def test_entra_creates_an_empty_group_and_finds_it_by_display_name_without_members(shape: Shape) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ADSCIM],
        "externalId": "6b1d5f3e",
        "displayName": "Finance",
        "meta": {"resourceType": "Group"},
    }
    created = shape.client.simulate_post(f"{SCIM}/Groups", json=body)
    assert created.status_code == 201, created.json
    group_id = created.json["id"]
    ((dn, entry),) = shape.inspector.find(f"(entryUUID={group_id})")
    assert dn.lower() == f"cn=finance,{shape.inspector.subtree.group_base}".lower()
    assert set(SHAPES[shape.name].get("object_classes", ["groupOfNames"])) <= set(entry["objectclass"])
    assert entry["scimexternalid"] == ["6b1d5f3e"]
    if "posix" in SHAPES[shape.name]:
        assert entry["gidnumber"] == ["20000"] and "memberuid" not in entry
    if shape.name == "dynlist":  # a search URL per base, and no member yet
        assert f"??sub?(scimMemberOf={dn})".lower() in entry["memberurl"][0].lower().replace("%20", " ")
        assert len(entry["memberurl"]) == 2 and "member" not in entry
    elif shape.name != "posixGroup":
        assert [v.lower() for v in entry[shape.attribute]] == [PLACEHOLDER]  # never shown to clients
    found = shape.client.simulate_get(
        f"{SCIM}/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "FINANCE"'}
    ).json
    assert found["totalResults"] == 1 and "members" not in found["Resources"][0]
    assert shape.client.simulate_get(f"{SCIM}/Groups/{group_id}").json.get("members", []) == []
    probe = shape.client.simulate_get(
        f"{SCIM}/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "0f3c8e1a-2b4d"'}
    ).json
    assert probe["totalResults"] == 0 and probe["Resources"] == []


def test_members_are_added_and_removed_in_both_entra_forms_idempotently(shape: Shape) -> None:
    group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"}).json["id"]
    alice, alice_name = new_user(shape.client, "alice@contoso.com")
    bob, bob_name = new_user(shape.client, "bob@contoso.com")
    carol, carol_name = new_user(shape.client, "carol@contoso.com")
    add = {
        "op": "Add",
        "path": "members",
        "value": [
            {"$ref": None, "value": alice},
            {"$ref": None, "value": bob},
            {"$ref": None, "value": carol},
        ],
    }
    assert patch(shape.client, group_id, add).status_code == 204
    assert shape.stored(group_id) == {shape.value(n) for n in (alice_name, bob_name, carol_name)}
    assert patch(shape.client, group_id, add).status_code == 204  # a retry changes nothing
    assert shape.members(group_id) == {alice, bob, carol}
    # Legacy form: Remove + path members + the values to remove, which removes only those [D2][I9].
    legacy = {"op": "Remove", "path": "members", "value": [{"value": alice}]}
    assert patch(shape.client, group_id, legacy).status_code == 204
    assert shape.stored(group_id) == {shape.value(bob_name), shape.value(carol_name)}
    # Flag form: members[value eq "id"] [D2].
    flag = {"op": "remove", "path": f'members[value eq "{bob}"]'}
    assert patch(shape.client, group_id, flag).status_code == 204
    assert patch(shape.client, group_id, flag).status_code == 204  # removing a non-member succeeds
    assert shape.stored(group_id) == {shape.value(carol_name)}
    assert patch(shape.client, group_id, {"op": "remove", "path": "members"}).status_code == 204
    assert shape.stored(group_id) == set() and shape.members(group_id) == set()


def test_an_unknown_member_id_is_a_400_and_writes_nothing(shape: Shape) -> None:
    group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Audit"}).json["id"]
    alice, _ = new_user(shape.client, "alice@contoso.com")
    before = shape.inspector.people()
    unknown = "0b6f1a77-4c3e-4d2b-9f10-2a3b4c5d6e7f"
    response = patch(
        shape.client,
        group_id,
        {"op": "Add", "path": "members", "value": [{"value": alice}, {"value": unknown}]},
    )
    assert response.status_code == 400 and response.json["scimType"] == "invalidValue"
    assert unknown in response.json["detail"]
    assert shape.inspector.people() == before


def test_renaming_a_group_is_a_modify_dn_and_the_id_and_members_stay(shape: Shape) -> None:
    group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Sales"}).json["id"]
    alice, alice_name = new_user(shape.client, "alice@contoso.com")
    patch(shape.client, group_id, {"op": "Add", "path": "members", "value": [{"value": alice}]})
    assert (
        patch(
            shape.client, group_id, {"op": "Replace", "path": "displayName", "value": "Sales EMEA"}
        ).status_code
        == 204
    )
    assert (
        patch(shape.client, group_id, {"op": "replace", "value": {"externalId": "9c2e"}}).status_code == 204
    )
    ((dn, entry),) = shape.inspector.find(f"(entryUUID={group_id})")
    assert dn.lower().startswith("cn=sales emea,") and entry["scimexternalid"] == ["9c2e"]
    assert shape.stored(group_id) == {shape.value(alice_name)}
    taken = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "sales emea"})
    assert taken.status_code == 409 and taken.json["scimType"] == "uniqueness"


def test_a_deleted_user_leaves_every_group_and_a_deleted_group_leaves_its_members(shape: Shape) -> None:
    first = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "One"}).json["id"]
    second = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Two"}).json["id"]
    alice, _ = new_user(shape.client, "alice@contoso.com")
    bob, bob_name = new_user(shape.client, "bob@contoso.com")
    for group_id in (first, second):
        patch(
            shape.client,
            group_id,
            {"op": "Add", "path": "members", "value": [{"value": alice}, {"value": bob}]},
        )
    groups = shape.client.simulate_get(f"{SCIM}/Users/{alice}", params={"attributes": "groups"}).json[
        "groups"
    ]
    assert {(g["value"], g["display"]) for g in groups} == {(first, "One"), (second, "Two")}
    assert shape.client.simulate_delete(f"{SCIM}/Users/{alice}").status_code == 204
    assert shape.stored(first) == shape.stored(second) == {shape.value(bob_name)}
    assert shape.client.simulate_delete(f"{SCIM}/Groups/{first}").status_code == 204
    assert shape.client.simulate_get(f"{SCIM}/Users/{bob}").status_code == 200
    assert shape.client.simulate_get(f"{SCIM}/Groups/{first}").status_code == 404


def test_a_renamed_user_is_followed_by_its_groups(shape: Shape) -> None:
    group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Dev"}).json["id"]
    alice, _ = new_user(shape.client, "alice@contoso.com")
    patch(shape.client, group_id, {"op": "Add", "path": "members", "value": [{"value": alice}]})
    renamed = shape.client.patch_user(
        alice, {"op": "Replace", "path": "userName", "value": "alice.adams@contoso.com"}
    )
    assert renamed.status_code == 200
    assert shape.stored(group_id) == {shape.value("alice.adams@contoso.com")}
    assert shape.members(group_id) == {alice}


def test_groups_can_hold_groups_where_members_are_dns(shape: Shape) -> None:
    parent = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "All Staff"}).json["id"]
    child = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Engineers"}).json["id"]
    response = patch(shape.client, parent, {"op": "Add", "path": "members", "value": [{"value": child}]})
    if shape.name == "posixGroup":
        assert response.status_code == 400 and "cannot be a member" in response.json["detail"]
        return
    assert response.status_code == 204
    assert shape.stored(parent) == {f"cn=engineers,{shape.inspector.subtree.group_base}".lower()}
    members = shape.client.simulate_get(f"{SCIM}/Groups/{parent}").json["members"]
    assert members == [{"value": child, "$ref": members[0]["$ref"], "type": "Group"}]
    assert members[0]["$ref"].endswith(f"/Groups/{child}")


def test_put_replaces_the_whole_member_list(shape: Shape) -> None:
    alice, alice_name = new_user(shape.client, "alice@contoso.com")
    bob, bob_name = new_user(shape.client, "bob@contoso.com")
    created = shape.client.simulate_post(
        f"{SCIM}/Groups", json={"displayName": "Pilots", "members": [{"value": alice}]}
    )
    assert created.status_code == 201 and [m["value"] for m in created.json["members"]] == [alice]
    group_id = created.json["id"]
    replaced = shape.client.simulate_put(
        f"{SCIM}/Groups/{group_id}", json={"displayName": "Pilots", "members": [{"value": bob}]}
    )
    assert replaced.status_code == 200, replaced.json
    assert shape.stored(group_id) == {shape.value(bob_name)}
    assert alice_name  # alice is no longer a member, and still a user
    assert shape.client.simulate_get(f"{SCIM}/Users/{alice}").status_code == 200


def test_posix_groups_get_the_lowest_free_gid_in_the_range(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    group_map_with: Callable[[dict[str, Any]], MapSet],
) -> None:
    client = ldap_client(group_map_with(SHAPES["posixGroup"]))
    inspector.add(
        f"cn=legacy,{inspector.subtree.group_base}",
        {"objectClass": ["posixGroup"], "cn": "legacy", "gidNumber": "20001"},
    )
    gids = []
    for name in ("a", "b", "c"):
        group_id = client.simulate_post(f"{SCIM}/Groups", json={"displayName": name}).json["id"]
        ((_, entry),) = inspector.find(f"(entryUUID={group_id})")
        gids.append(entry["gidnumber"][0])
    assert gids == ["20000", "20002", "20003"]  # 20001 was taken by an admin's group


class RacingInstance(LdapDirectory):
    """A directory where another instance adds a posixGroup with the same gidNumber as the bridge's
    next group: just before the bridge's add, or a second after it."""

    inspector: Inspector
    after = False

    def add(self, parent: str, rdn: tuple[str, str], attributes: Any, read: Any) -> Any:
        gid = attributes.get("gidNumber")
        if not gid:
            return super().add(parent, rdn, attributes, read)
        rival = f"cn=rival,{self.inspector.subtree.group_base}"
        if not self.after:
            self.inspector.add(rival, {"objectClass": ["posixGroup"], "cn": "rival", "gidNumber": gid[0]})
        added = super().add(parent, rdn, attributes, read)
        if self.after:
            time.sleep(1.1)  # createTimestamp counts seconds
            self.inspector.add(rival, {"objectClass": ["posixGroup"], "cn": "rival", "gidNumber": gid[0]})
        return added


@pytest.mark.parametrize("rival_after", [False, True], ids=["rival-first", "rival-later"])
def test_two_instances_picking_the_same_gid_end_with_different_ones(
    rival_after: bool,
    slapd: SlapdInfo,
    ldap_subtree: Any,
    inspector: Inspector,
    group_map_with: Callable[[dict[str, Any]], MapSet],
) -> None:
    """The group created later (or in the same second) gives way and takes another free number; the
    one created first keeps its number, as the other instance decides alike."""
    settings = subtree_settings(slapd, ldap_subtree)
    pool = ConnectionPool(settings.ldap, Secret(slapd.password))
    directory = RacingInstance(pool)
    directory.inspector, directory.after = inspector, rival_after
    client = ScimClient(
        create_app(create_services(settings, directory, group_map_with(SHAPES["posixGroup"])))
    )
    try:
        created = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Racers"})
        assert created.status_code == 201, created.json
        ((_, ours),) = inspector.find(f"(entryUUID={created.json['id']})")
        ((_, rival),) = inspector.find("(cn=rival)")
        assert rival["gidnumber"] == ["20000"]
        if rival_after:  # the rival came second: its own instance moves it, not ours
            assert ours["gidnumber"] == ["20000"]
        else:
            assert ours["gidnumber"] != ["20000"] and 20001 <= int(ours["gidnumber"][0]) <= 20008
    finally:
        pool.close()


def test_with_integrity_overlay_refint_removes_a_deleted_user_and_the_bridge_does_not(
    ldap_client: Callable[..., ScimClient],
    inspector: Inspector,
    group_map_with: Callable[[dict[str, Any]], MapSet],
) -> None:
    """The session slapd runs refint on member; with integrity: overlay the bridge leaves it to slapd."""
    client = ldap_client(group_map_with({"integrity": "overlay"}))
    group_id = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Refint"}).json["id"]
    alice, _ = new_user(client, "alice@contoso.com")
    patch(client, group_id, {"op": "Add", "path": "members", "value": [{"value": alice}]})
    assert client.simulate_delete(f"{SCIM}/Users/{alice}").status_code == 204
    shape = Shape("groupOfNames", client, inspector)
    deadline = time.monotonic() + 5
    while shape.stored(group_id) and time.monotonic() < deadline:
        time.sleep(0.02)  # refint works in a background task
    assert shape.stored(group_id) == set()


# --- membership kept on the members (dynlist) ------------------------------------------------------

ON_MEMBERS = pytest.mark.parametrize("shape", ["dynlist"], indirect=True)


def held(shape: Shape, user_name: str) -> list[str]:
    """The group DNs a user's own scimMemberOf holds."""
    entry = shape.inspector.entry(shape.value(user_name))
    assert entry is not None
    return sorted(v.lower() for v in entry.get("scimmemberof", []))


@ON_MEMBERS
def test_a_member_change_writes_the_member_not_the_group_and_dynlist_shows_it(shape: Shape) -> None:
    group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Pay"}).json["id"]
    ((group_dn, before),) = shape.inspector.find(f"(entryUUID={group_id})")
    alice, alice_name = new_user(shape.client, "alice@contoso.com")
    # An entry made outside the bridge, without the class that allows scimMemberOf.
    legacy_dn = f"uid=legacy,{shape.inspector.subtree.user_base}"
    shape.inspector.add(legacy_dn, {"objectClass": ["inetOrgPerson"], "cn": "Legacy", "sn": "L"})
    legacy = shape.client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "legacy"'})
    legacy_id = legacy.json["Resources"][0]["id"]
    add = {"op": "Add", "path": "members", "value": [{"value": alice}, {"value": legacy_id}]}
    assert patch(shape.client, group_id, add).status_code == 204
    ((_, after),) = shape.inspector.find(f"(entryUUID={group_id})")
    assert after["entrycsn"] == before["entrycsn"]  # the group entry was not written
    assert held(shape, alice_name) == held(shape, "legacy") == [group_dn.lower()]
    assert "scimBridgeObject" in (shape.inspector.entry(legacy_dn) or {})["objectclass"]
    assert shape.stored(group_id) == {shape.value(alice_name), legacy_dn.lower()}  # dynlist's member
    alice_entry = shape.inspector.entry(shape.value(alice_name)) or {}
    assert [v.lower() for v in alice_entry["memberof"]] == [group_dn.lower()]  # and memberOf
    by_member = shape.inspector.find(f"(member={shape.value(alice_name)})")
    assert [dn.lower() for dn, _ in by_member] == [group_dn.lower()]
    groups = shape.client.simulate_get(f"{SCIM}/Users/{alice}", params={"attributes": "groups"}).json[
        "groups"
    ]
    assert [(g["value"], g["display"]) for g in groups] == [(group_id, "Pay")]
    remove = {"op": "remove", "path": f'members[value eq "{legacy_id}"]'}
    assert patch(shape.client, group_id, remove).status_code == 204
    assert held(shape, "legacy") == [] and shape.members(group_id) == {alice}


@ON_MEMBERS
def test_a_group_named_with_url_and_filter_characters_finds_its_members(shape: Shape) -> None:
    name = "R&D (EMEA)? 100% *"
    created = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": name})
    assert created.status_code == 201, created.json
    alice, alice_name = new_user(shape.client, "alice@contoso.com")
    assert (
        patch(
            shape.client, created.json["id"], {"op": "Add", "path": "members", "value": [{"value": alice}]}
        ).status_code
        == 204
    )
    assert shape.stored(created.json["id"]) == {shape.value(alice_name)}
    assert shape.members(created.json["id"]) == {alice}


@ON_MEMBERS
def test_a_renamed_group_keeps_its_members_and_a_deleted_one_leaves_no_value_behind(shape: Shape) -> None:
    group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Sales"}).json["id"]
    alice, alice_name = new_user(shape.client, "alice@contoso.com")
    patch(shape.client, group_id, {"op": "Add", "path": "members", "value": [{"value": alice}]})
    rename = {"op": "Replace", "path": "displayName", "value": "Sales EMEA"}
    assert patch(shape.client, group_id, rename).status_code == 204
    group_base = shape.inspector.subtree.group_base.lower()
    assert held(shape, alice_name) == [f"cn=sales emea,{group_base}"]
    assert shape.client.simulate_delete(f"{SCIM}/Groups/{group_id}").status_code == 204
    assert held(shape, alice_name) == []
    again = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Sales EMEA"}).json["id"]
    assert shape.members(again) == set()  # a group made again under the old name starts empty


def test_with_integrity_overlay_refint_follows_a_renamed_and_a_deleted_group_on_the_members(
    own_slapds: dict[str, SlapdInfo], group_map_with: Callable[[dict[str, Any]], MapSet]
) -> None:
    """The dynlist slapd runs refint on scimMemberOf too; with integrity: overlay the bridge leaves
    a group's rename and delete to slapd, which rewrites every member's value."""
    info = own_slapds["dynlist"]
    maps = group_map_with({**SHAPES["dynlist"], "integrity": "overlay"})
    with make_subtree(info) as subtree:
        settings = subtree_settings(info, subtree)
        pool = ConnectionPool(settings.ldap, Secret(info.password))
        shape = Shape(
            "dynlist",
            ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps))),
            Inspector(info, subtree),
        )
        try:
            group_id = shape.client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"}).json["id"]
            alice, alice_name = new_user(shape.client, "alice@contoso.com")
            patch(shape.client, group_id, {"op": "Add", "path": "members", "value": [{"value": alice}]})
            rename = {"op": "Replace", "path": "displayName", "value": "Ops Team"}
            assert patch(shape.client, group_id, rename).status_code == 204
            renamed = [f"cn=ops team,{subtree.group_base}".lower()]
            deadline = time.monotonic() + 5
            while held(shape, alice_name) != renamed and time.monotonic() < deadline:
                time.sleep(0.02)  # refint works in a background task
            assert held(shape, alice_name) == renamed and shape.members(group_id) == {alice}
            assert shape.client.simulate_delete(f"{SCIM}/Groups/{group_id}").status_code == 204
            while held(shape, alice_name) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert held(shape, alice_name) == []
        finally:
            shape.inspector.conn.unbind()
            pool.close()
