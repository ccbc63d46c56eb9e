"""Generated filters give the same users from slapd, from the in-memory directory and from an in-Python
evaluation of the filter over the users as returned (issue #6, point 1: a filter is answered exactly or
refused with invalidFilter, never answered wrongly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.scim.filter import evaluate, parse_filter
from bridge.testing.slapd import SlapdInfo
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Subtree

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PEOPLE = [
    ("ann.lee@contoso.com", "Ann Lee", "Engineer", "1001", True),
    ("bob.lee@fabrikam.com", "Bob Lee", "Manager", "1002", True),
    ("cyd@contoso.com", "Cyd Ames", "engineer", "2001", False),
    ("dee.ann@contoso.com", "Dee Ann", None, "0999", True),
    ("eve@fabrikam.com", "Eve Zed", "Director", None, False),
    ("Fay.Lee@Contoso.com", "Fay Lee", "Engineer II", "1001", True),
]
PATHS = [
    "userName",
    "displayName",
    "title",
    "name.givenName",
    "name.familyName",
    "emails.value",
    'emails[type eq "work"].value',
    f"{ENTERPRISE}:employeeNumber",
]
# Values made of the data's own pieces, in any case: hits, near misses and bounds for ordering.
WORDS = [
    "ann",
    "Ann",
    "lee",
    "LEE",
    "contoso",
    "fabrikam.com",
    "@",
    "engineer",
    "1001",
    "100",
    "2",
    "e",
    "Zed",
    "z",
]
# OpenLDAP's core schema gives uid, mail, cn and most string attributes no ORDERING rule, so (uid>=x)
# would match nothing: the bridge reads the subschema and refuses those (this test found it).
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


def body(user_name: str, display: str, title: str | None, number: str | None, active: bool) -> dict[str, Any]:
    given_name, family = display.split(" ")
    user: dict[str, Any] = {
        "userName": user_name,
        "displayName": display,
        "name": {"givenName": given_name, "familyName": family},
        "emails": [{"type": "work", "value": user_name.lower()}],
        "active": active,
    }
    if title:
        user["title"] = title
    if number:
        user[ENTERPRISE] = {"employeeNumber": number}
    return user


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def leaves() -> st.SearchStrategy[str]:
    compare = st.builds(
        lambda path, op, value: f"{path} {op} {quoted(value)}",
        st.sampled_from(PATHS),
        st.sampled_from(OPS),
        st.sampled_from(WORDS),
    )
    present = st.builds(lambda path: f"{path} pr", st.sampled_from(PATHS))
    active = st.builds(
        lambda op, value: f"active {op} {value}",
        st.sampled_from(["eq", "ne"]),
        st.booleans().map(str).map(str.lower),
    )
    return compare | present | active


FILTERS = st.recursive(
    leaves(),
    lambda kids: (
        st.builds(lambda a, b: f"({a}) and ({b})", kids, kids)
        | st.builds(lambda a, b: f"({a}) or ({b})", kids, kids)
        | st.builds(lambda a: f"not ({a})", kids)
    ),
    max_leaves=5,
)


def user_names(client: ScimClient, text: str) -> set[str] | None:
    """The userNames the bridge answers with, or None when it refuses the filter as invalidFilter."""
    response = client.simulate_get(f"{SCIM}/Users", params={"filter": text, "count": "100"})
    if response.status_code == 400 and response.json.get("scimType") == "invalidFilter":
        return None
    assert response.status_code == 200, (text, response.json)
    return {user["userName"] for user in response.json["Resources"]}


def test_generated_filters_give_the_same_users_everywhere(
    ldap_client: Callable[..., ScimClient], make_client: Callable[..., ScimClient]
) -> None:
    backends = {"slapd": ldap_client(), "memory": make_client()}
    for client in backends.values():
        for person in PEOPLE:
            assert client.post_user(body(*person)).status_code == 201
    everyone = backends["slapd"].simulate_get(f"{SCIM}/Users", params={"count": "100"}).json["Resources"]
    assert len(everyone) == len(PEOPLE)
    refused: list[str] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(FILTERS)
    def agree(text: str) -> None:
        flt = parse_filter(text)
        expected = {user["userName"] for user in everyone if evaluate(flt, user)}
        answers = {name: user_names(client, text) for name, client in backends.items()}
        if answers["slapd"] is None:
            refused.append(text)
        for name, answer in answers.items():
            assert answer is None or answer == expected, (name, text, answer, expected)

    agree()
    assert len(refused) < 150, refused[:10]  # most generated filters are answered, not refused


def test_ordering_is_refused_where_slapd_defines_none(
    ldap_client: Callable[..., ScimClient], slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    """The subschema decides: uid and cn (through its superior, name) have no ORDERING rule, so a ``gt``
    on userName is a 400 naming uid, never an empty answer; timestamps and numbers do order."""
    client = ldap_client()
    assert client.post_user(body(*PEOPLE[0])).status_code == 201
    refused = client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName gt "a"'})
    assert refused.status_code == 400 and refused.json["scimType"] == "invalidFilter"
    assert "no ordering for uid" in refused.json["detail"]
    pool = ConnectionPool(subtree_settings(slapd, ldap_subtree).ldap, Secret(slapd.password))
    try:
        directory = LdapDirectory(pool)
        assert not directory.can_order("uid") and not directory.can_order("CN")
        assert directory.can_order("modifyTimestamp") and directory.can_order("uidNumber")
        assert directory.can_order("noSuchAttribute")  # unknown: the server answers for itself
    finally:
        pool.close()
