"""Generated strings in every writable string attribute, through HTTP, against slapd and Samba AD (issue 16,
point 2): whatever the length (to 10,000 characters), the plane (astral included), the DN and LDAP
specials or the spaces at either end, the answer is never a 5xx; a value the directory cannot hold is a
400 naming the attribute; and every 2xx reads back exactly as sent.

The attributes are the shipped maps' own rows (users and groups), so a row added to a map is fuzzed too.
The profile is derandomized with a modest number of examples per directory, so CI runs the same cases every
time; the limits found by hand (slapd's RDN, AD's rangeUpper) are pinned as explicit examples.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge.mapping.load import load_maps
from bridge.mapping.model import MapSet, Rule
from bridge.scim.schemas import ERROR, PATCH_OP
from bridge.services.naming import RDN_INDEX_BYTES, rdn_index_bytes
from tests.conftest import OPENLDAP_MAP, SCIM, ScimClient
from tests.integration.conftest import AD_MAP
from tests.slapd_fixtures import Inspector


def profile(examples: int) -> Any:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# --- the directories ----------------------------------------------------------------------------------


@dataclass
class Target:
    """The app over one directory, its map, and how its users are named (userName must be unique)."""

    client: ScimClient
    maps: MapSet
    name: Callable[[int], str]


@pytest.fixture
def slapd_target(ldap_client: Callable[..., ScimClient], maps: MapSet) -> Target:
    return Target(ldap_client(), maps, lambda n: f"u{n}")


@pytest.fixture
def samba_target(ad_client: Callable[..., ScimClient]) -> Target:
    return Target(ad_client(), load_maps(AD_MAP), lambda n: f"u{n}@example.test")


# --- what is written ----------------------------------------------------------------------------------


def string_rules(maps: MapSet) -> list[tuple[str, Rule]]:
    """("Users" or "Groups", rule) for every row of ``maps`` that stores a client's string as it is sent,
    and the write-only password."""
    kinds = ("string", "postal_address", "ldap_password", "ad_password")
    found = [("Users", rule) for rule in maps.user.rules if rule.converter.kind in kinds]
    if maps.group is not None:
        found += [("Groups", rule) for rule in maps.group.rules if rule.converter.kind in kinds]
    return found


def readable(rule: Rule) -> bool:
    return rule.converter.kind not in ("ldap_password", "ad_password")


# Any code point of any plane but lone surrogates (JSON cannot carry them as text), the astral planes
# drawn on their own too, and what LDAP filters and DNs escape, with spaces.
SPECIAL = st.sampled_from([*',+"\\<>;=#*()', " ", "\u00a0"])
# Control characters are left to test_fuzz: the bridge refuses them before any directory sees them.
CHARACTER = (
    st.characters(exclude_categories=("Cs", "Cc"))
    | st.characters(min_codepoint=0x10000)
    | SPECIAL
    | st.characters(min_codepoint=0x20, max_codepoint=0x7E)
)
# slapd's RDN (241 and 242 ASCII letters), AD's rangeUpper (64, 128, 256, 1024), and the largest.
BOUNDARIES = [1, 2, 63, 64, 65, 120, 121, 128, 129, 241, 242, 245, 256, 257, 1024, 1025, 4096, 10_000]


def _repeated(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


SHORT = st.text(CHARACTER, min_size=1, max_size=24)
LONG = st.builds(_repeated, st.text(CHARACTER, min_size=1, max_size=3), st.sampled_from(BOUNDARIES))
SIZED = st.builds(_repeated, st.text(CHARACTER, min_size=1, max_size=3), st.integers(1, 10_000))
PADDED = st.builds(
    lambda s, left, right: " " * left + s + " " * right, SHORT, st.integers(0, 2), st.integers(0, 2)
)
VALUES = st.one_of(SHORT, LONG, SIZED, PADDED)


def assert_scim_error(response: Any) -> None:
    body = response.json
    assert body["schemas"] == [ERROR] and body["status"] == str(response.status_code), body
    assert isinstance(body["detail"], str) and 0 < len(body["detail"]) <= 1000, body


def _send(client: ScimClient, method: str, path: str, body: Any) -> Any:
    # Every non-ASCII character escaped, as a strict client may send it.
    return client.simulate_request(
        method, f"{SCIM}{path}", body=json.dumps(body), headers={"Content-Type": "application/scim+json"}
    )


def _base(kind: str, target: Target, number: int) -> dict[str, Any]:
    return {"userName": target.name(number)} if kind == "Users" else {"displayName": f"g{number}"}


def check_writes(target: Target, examples: int) -> None:
    """Create with, and PATCH to, generated values of every string row: never a 5xx, a refusal names the
    attribute, and a 2xx reads back exactly."""
    client, rules = target.client, string_rules(target.maps)
    numbers = itertools.count(1)
    standing = {
        kind: _send(client, "POST", f"/{kind}", _base(kind, target, next(numbers))).json["id"]
        for kind in ("Users", "Groups")
    }

    def written(kind: str, rule: Rule, value: str, patch: bool) -> None:
        if patch:
            operation = {"op": "replace", "path": rule.target.text, "value": value}
            path = f"/{kind}/{standing[kind]}"
            response = _send(client, "PATCH", path, {"schemas": [PATCH_OP], "Operations": [operation]})
        else:
            body = _base(kind, target, next(numbers))
            rule.target.put(body, value)
            response = _send(client, "POST", f"/{kind}", body)
        shown = (rule.target.text, patch, len(value), value[:80])
        assert response.status_code < 500, (shown, response.status_code, response.text[:2000])
        if response.status_code >= 400:
            assert_scim_error(response)
            detail = response.json["detail"]
            named = rule.target.text in detail or rule.ldap in detail or response.status_code == 409
            assert named, (shown, detail)  # a refusal says which attribute
            return
        assert response.status_code in (200, 201, 204), (shown, response.status_code)
        if not readable(rule):
            return
        resource = response.json["id"] if not patch else standing[kind]
        read = client.simulate_get(f"{SCIM}/{kind}/{resource}")
        assert read.status_code == 200, (shown, read.text[:2000])
        assert rule.target.get(read.json) == value, (shown, rule.target.get(read.json))

    @profile(examples)
    @example(("Users", "userName"), "b" * 245, False)  # found: slapd's "other" on the add, a 500
    @example(("Users", "userName"), "c" * 300, True)  # found: a rename the directory refused, a 500
    @example(("Users", "userName"), "\U0001f600" * 61, False)
    @example(("Groups", "displayName"), "g" * 300, False)
    @example(("Groups", "displayName"), "h" * 65, True)  # AD: cn has 64 characters at most
    @example(("Users", "displayName"), "d" * 257, True)  # AD: rangeUpper 256
    @example(("Users", "title"), "t" * 10_000, False)
    @example(("Users", "userName"), ' ,+"\\<>;=#*() ', False)
    @given(
        st.sampled_from([(kind, rule.target.text) for kind, rule in rules]),
        VALUES,
        st.booleans(),
    )
    def stored_exactly_or_refused(where: tuple[str, str], value: str, patch: bool) -> None:
        kind, text = where
        rule = next(rule for k, rule in rules if k == kind and rule.target.text == text)
        written(kind, rule, value, patch)

    stored_exactly_or_refused()


@pytest.mark.slapd
def test_generated_values_in_every_string_attribute_are_stored_exactly_or_refused_on_slapd(
    slapd_target: Target,
) -> None:
    check_writes(slapd_target, examples=100)


@pytest.mark.samba
def test_generated_values_in_every_string_attribute_are_stored_exactly_or_refused_on_samba_ad(
    samba_target: Target,
) -> None:
    check_writes(samba_target, examples=60)


def test_the_rows_fuzzed_are_every_string_row_of_the_shipped_maps() -> None:
    """The generated values reach every writable string attribute of both shipped maps."""
    openldap = {rule.target.text for _, rule in string_rules(load_maps(OPENLDAP_MAP))}
    ad = {rule.target.text for _, rule in string_rules(load_maps(AD_MAP))}
    assert {"userName", "displayName", "title", "name.givenName", "password", "externalId"} <= openldap & ad
    assert 'addresses[type eq "work"].formatted' in openldap and 'addresses[type eq "work"].country' in ad


@pytest.mark.slapd
@pytest.mark.parametrize(
    "unit", ["a", "\u00e9", "\U0001f600", ",", "#", "\u00df", "\uac00", "\ufb01", "\U00020bb7"]
)
def test_the_longest_name_the_bridge_lets_through_is_one_slapd_takes(slapd_target: Target, unit: str) -> None:
    """The size check before the write stops exactly where slapd would: the longest userName it lets
    through is created and reads back; one character more is a 400 naming userName, never a 500."""
    longest = max(n for n in range(1, 300) if rdn_index_bytes(("uid", unit * n)) <= RDN_INDEX_BYTES)
    client = slapd_target.client
    created = _send(client, "POST", "/Users", {"userName": unit * longest})
    assert created.status_code == 201, (longest, created.text[:500])
    assert client.simulate_get(f"{SCIM}/Users/{created.json['id']}").json["userName"] == unit * longest
    refused = _send(client, "POST", "/Users", {"userName": unit * (longest + 1)})
    assert refused.status_code == 400, refused.text[:500]
    assert refused.json["detail"].startswith("userName (uid) is too long to name a directory entry")


@pytest.mark.slapd
def test_slapd_itself_refuses_one_letter_more(inspector: Inspector) -> None:
    """The limit is slapd's, not the bridge's choice: slapd takes uid= with 241 letters and refuses 242,
    with "other" and no reason, which is why the bridge checks first."""
    for length, fits in ((241, True), (242, False)):
        dn = f"uid={'a' * length},{inspector.subtree.user_base}"
        attributes = {"objectClass": ["inetOrgPerson"], "uid": "a" * length, "sn": "s", "cn": "c"}
        assert inspector.conn.add(dn, attributes=attributes) is fits, inspector.conn.result
    assert inspector.conn.result["description"] == "other" and not inspector.conn.result["message"]
