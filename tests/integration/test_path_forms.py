"""Every PATCH path form of RFC 7644 section 3.5.2, for add, replace and remove, on users and groups
(issue #15, point 1), through HTTP against the in-memory directory, a real slapd and a real Samba AD:
each case checks the GET that follows and the entry in the directory, read by a connection of the
test's own. A form that answered 2xx without writing would fail both checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.directory.memory import InMemoryDirectory
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import AdInspector
from tests.slapd_fixtures import Inspector

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# Where each checked value lives, by directory: (the shipped OpenLDAP map, the shipped AD map).
LDAP = {
    "title": ("title", "title"),
    "givenName": ("givenname", "givenname"),
    "workEmail": ("mail", "mail"),
    "department": ("departmentnumber", "department"),
    "employeeNumber": ("employeenumber", "employeenumber"),
    "manager": ("manager", "manager"),
    "displayName": ("displayname", "displayname"),
    "groupName": ("cn", "cn"),
    "groupExternalId": ("scimexternalid", "admindescription"),
}


def _work_email(document: dict[str, Any]) -> Any:
    return next((e.get("value") for e in document.get("emails", []) if e.get("type") == "work"), None)


READ = {
    "title": lambda d: d.get("title"),
    "givenName": lambda d: d.get("name", {}).get("givenName"),
    "workEmail": _work_email,
    "department": lambda d: d.get(ENT, {}).get("department"),
    "employeeNumber": lambda d: d.get(ENT, {}).get("employeeNumber"),
    "manager": lambda d: d.get(ENT, {}).get("manager", {}).get("value"),
    "displayName": lambda d: d.get("displayName"),
    "groupName": lambda d: d.get("displayName"),
    "groupExternalId": lambda d: d.get("externalId"),
}


@dataclass
class Directory:
    """One directory behind the bridge: the client, and an independent look at an entry by SCIM id."""

    flavor: int  # 0 OpenLDAP map, 1 AD map
    client: ScimClient
    entry: Callable[[str], tuple[str, dict[str, list[str]]]]


@pytest.fixture(params=["memory", "slapd", pytest.param("ad", marks=pytest.mark.samba)])
def directory(request: pytest.FixtureRequest) -> Iterator[Directory]:
    if request.param == "memory":
        memory: InMemoryDirectory = request.getfixturevalue("memory")

        def in_memory(entry_id: str) -> tuple[str, dict[str, list[str]]]:
            for dn in memory.dns():
                attributes = memory.raw(dn)
                if attributes.get("entryuuid") == [entry_id]:
                    return dn, attributes
            raise AssertionError(f"no entry has the id {entry_id}")

        yield Directory(0, request.getfixturevalue("make_client")(), in_memory)
    elif request.param == "slapd":
        inspector: Inspector = request.getfixturevalue("inspector")

        def in_slapd(entry_id: str) -> tuple[str, dict[str, list[str]]]:
            (found,) = inspector.find(f"(entryUUID={entry_id})")
            return found

        yield Directory(0, request.getfixturevalue("ldap_client")(), in_slapd)
    else:
        inspector_ad: AdInspector = request.getfixturevalue("ad")
        yield Directory(1, request.getfixturevalue("ad_client")(), inspector_ad.by_id)


def _op(op: str, path: str | None, value: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"op": op}
    if path is not None:
        operation["path"] = path
    if value is not None:
        operation["value"] = value
    return operation


MANAGER = "<manager id>"  # replaced by the id of a second user, made for the case

# (case, operations, {checked value: expected after the PATCH, None for absent})
USER_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("core add", [_op("add", "title", "Chef")], {"title": "Chef"}),
    ("core replace", [_op("replace", "title", "Chef")], {"title": "Chef"}),
    ("core remove", [_op("remove", "title")], {"title": None}),
    ("sub-attribute add", [_op("add", "name.givenName", "Kim")], {"givenName": "Kim"}),
    ("sub-attribute replace", [_op("replace", "name.givenName", "Kim")], {"givenName": "Kim"}),
    ("sub-attribute remove", [_op("remove", "name.givenName")], {"givenName": None}),
    (
        "filter and sub-attribute add",
        [_op("add", 'emails[type eq "work"].value', "kim@example.test")],
        {"workEmail": "kim@example.test"},
    ),
    (
        "filter and sub-attribute replace",
        [_op("replace", 'emails[type eq "work"].value', "kim@example.test")],
        {"workEmail": "kim@example.test"},
    ),
    ("filter and sub-attribute remove", [_op("remove", 'emails[type eq "work"].value')], {"workEmail": None}),
    (
        "filter add",
        [_op("add", 'emails[type eq "work"]', {"value": "kim@example.test"})],
        {"workEmail": "kim@example.test"},
    ),
    (
        "filter replace",
        [_op("replace", 'emails[type eq "work"]', {"value": "kim@example.test"})],
        {"workEmail": "kim@example.test"},
    ),
    ("filter remove", [_op("remove", 'emails[type eq "work"]')], {"workEmail": None}),
    ("extension attribute add", [_op("add", f"{ENT}:department", "Platform")], {"department": "Platform"}),
    (
        "extension attribute replace",
        [_op("replace", f"{ENT}:department", "Platform")],
        {"department": "Platform"},
    ),
    ("extension attribute remove", [_op("remove", f"{ENT}:department")], {"department": None}),
    (
        "extension sub-attribute add",
        [_op("add", f"{ENT}:manager.value", MANAGER)],
        {"manager": MANAGER},
    ),
    (
        "extension sub-attribute replace",
        [_op("replace", f"{ENT}:manager.value", MANAGER)],
        {"manager": MANAGER},
    ),
    (
        "extension sub-attribute remove",
        [_op("replace", f"{ENT}:manager", {"value": MANAGER}), _op("remove", f"{ENT}:manager.value")],
        {"manager": None},
    ),
    (
        "extension URN alone add",
        [_op("add", ENT, {"employeeNumber": "70001", "department": "Platform"})],
        {"employeeNumber": "70001", "department": "Platform"},
    ),
    (
        "extension URN alone replace",
        [_op("replace", ENT, {"employeeNumber": "70001", "department": "Platform"})],
        {"employeeNumber": "70001", "department": "Platform"},
    ),
    (
        "extension URN alone with a sub-attribute key",
        [_op("replace", ENT, {"manager.value": MANAGER})],
        {"manager": MANAGER, "department": "Sales"},
    ),
    ("extension URN alone remove", [_op("remove", ENT)], {"employeeNumber": None, "department": None}),
    (
        "path-less URN-qualified keys",
        [_op("replace", None, {f"{ENT}:employeeNumber": "70001", f"{ENT}:manager.value": MANAGER})],
        {"employeeNumber": "70001", "manager": MANAGER},
    ),
    (
        "path-less URN key holding an object",
        [_op("add", None, {ENT: {"department": "Platform"}})],
        {"department": "Platform", "employeeNumber": "100"},
    ),
    (
        "path-less plain and dotted keys",
        [_op("Replace", None, {"title": "Boss", "name.givenName": "Kim", "displayName": "Kim Doe"})],
        {"title": "Boss", "givenName": "Kim", "displayName": "Kim Doe"},
    ),
]


def _user(client: ScimClient, name: str) -> dict[str, Any]:
    created = client.post_user(
        {
            "userName": f"{name}@example.test",
            "displayName": f"{name.title()} Doe",
            "title": "Clerk",
            "name": {"givenName": name.title(), "familyName": "Doe"},
            "emails": [{"type": "work", "value": f"{name}@example.test", "primary": True}],
            ENT: {"department": "Sales", "employeeNumber": "100"},
        }
    )
    assert created.status_code == 201, created.json
    return dict(created.json)


def _check(directory: Directory, resource: str, entry_id: str, expected: dict[str, Any]) -> None:
    got = directory.client.simulate_get(f"{SCIM}/{resource}/{entry_id}").json
    _, entry = directory.entry(entry_id)
    for name, want in expected.items():
        assert READ[name](got) == want, (name, got)
        stored = entry.get(LDAP[name][directory.flavor], [])
        if name == "manager" and want is not None:
            manager_dn, _ = directory.entry(want)
            assert [v.lower() for v in stored] == [manager_dn.lower()], (name, stored)
        else:
            assert stored == ([] if want is None else [want]), (name, stored)


@pytest.mark.parametrize(("case", "operations", "expected"), USER_CASES, ids=[c[0] for c in USER_CASES])
def test_every_path_form_on_users_lands_in_the_directory(
    directory: Directory, case: str, operations: list[dict[str, Any]], expected: dict[str, Any]
) -> None:
    tag = uuid.uuid4().hex[:6]
    user = _user(directory.client, f"pat{tag}")
    manager = _user(directory.client, f"max{tag}")["id"]

    def concrete(value: Any) -> Any:
        if value == MANAGER:
            return manager
        if isinstance(value, dict):
            return {k: concrete(v) for k, v in value.items()}
        return value

    ops = [{k: concrete(v) for k, v in op.items()} for op in operations]
    answer = directory.client.patch_user(user["id"], *ops)
    assert answer.status_code == 200, (case, answer.json)
    _check(directory, "Users", user["id"], {k: concrete(v) for k, v in expected.items()})


MEMBER = "<member id>"

GROUP_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any], list[str] | None]] = [
    ("core replace", [_op("replace", "displayName", "Ops 2")], {"groupName": "Ops 2"}, None),
    ("path-less replace", [_op("replace", None, {"displayName": "Ops 2"})], {"groupName": "Ops 2"}, None),
    (
        "path-less replace with the id, as Okta renames",
        [_op("replace", None, {"id": "<group id>", "displayName": "Ops 2"})],
        {"groupName": "Ops 2"},
        None,
    ),
    ("core URN alone", [_op("replace", CORE_GROUP, {"displayName": "Ops 2"})], {"groupName": "Ops 2"}, None),
    ("externalId add", [_op("add", "externalId", "x-1")], {"groupExternalId": "x-1"}, None),
    ("externalId remove", [_op("remove", "externalId")], {"groupExternalId": None}, None),
    ("members add", [_op("add", "members", [{"value": MEMBER}])], {}, [MEMBER]),
    (
        "members remove by value filter",
        [_op("add", "members", [{"value": MEMBER}]), _op("remove", f'members[value eq "{MEMBER}"]')],
        {},
        [],
    ),
    (
        "members remove by value",
        [_op("add", "members", [{"value": MEMBER}]), _op("remove", "members", [{"value": MEMBER}])],
        {},
        [],
    ),
    ("members replace", [_op("replace", "members", [{"value": MEMBER}])], {}, [MEMBER]),
    (
        "members remove all",
        [_op("add", "members", [{"value": MEMBER}]), _op("remove", "members")],
        {},
        [],
    ),
    (
        "path-less add of members and a rename",
        [_op("add", None, {"members": [{"value": MEMBER}], "displayName": "Ops 2"})],
        {"groupName": "Ops 2"},
        [MEMBER],
    ),
]


@pytest.mark.parametrize(
    ("case", "operations", "expected", "members"), GROUP_CASES, ids=[c[0] for c in GROUP_CASES]
)
def test_every_path_form_on_groups_lands_in_the_directory(
    directory: Directory,
    case: str,
    operations: list[dict[str, Any]],
    expected: dict[str, Any],
    members: list[str] | None,
) -> None:
    client = directory.client
    tag = uuid.uuid4().hex[:6]
    created = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops", "externalId": "x-0"})
    assert created.status_code == 201, created.json
    group = created.json["id"]
    member = _user(client, f"mem{tag}")["id"]
    swap = {MEMBER: member, "<group id>": group}

    def concrete(value: Any) -> Any:
        if isinstance(value, str):
            for placeholder, real in swap.items():
                value = value.replace(placeholder, real)
            return value
        if isinstance(value, dict):
            return {k: concrete(v) for k, v in value.items()}
        if isinstance(value, list):
            return [concrete(v) for v in value]
        return value

    body = {"schemas": [PATCH_OP], "Operations": concrete(operations)}
    answer = client.simulate_patch(f"{SCIM}/Groups/{group}", json=body)
    assert answer.status_code == 204, (case, answer.json)
    _check(directory, "Groups", group, expected)
    if members is not None:
        got = client.simulate_get(f"{SCIM}/Groups/{group}").json
        assert [m["value"] for m in got.get("members", [])] == concrete(members)
        _, entry = directory.entry(group)
        member_dn, _ = directory.entry(member)
        held = {v.lower() for v in entry.get("member", [])}
        assert (member_dn.lower() in held) == bool(members), held
