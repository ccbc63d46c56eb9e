"""The SCIM ``password`` (RFC 7643 section 4.1.1: writeOnly, returned "never") on OpenLDAP: hashed into
``userPassword`` by ``bridge.mapping.passwords``, loaded from a map row, never read back or filtered.

Each stored value is checked here with an independent verifier (RFC 3112-style ``{SCHEME}base64(digest
|| salt)``, as slapd's ``chk_ssha*`` read it); tests/integration/test_passwords_slapd.py binds with it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import yaml

from bridge.directory.base import DirFilter, Entry, Eq, Modification
from bridge.mapping.engine import UserMapping
from bridge.mapping.filters import FilterTranslator
from bridge.mapping.load import MapError, parse_user_map
from bridge.mapping.model import ResourceMap
from bridge.mapping.passwords import CLEARTEXT, SALT_BYTES, hash_password, scheme_name
from bridge.scim.errors import InvalidFilter, InvalidValue
from bridge.scim.filter import parse_filter
from bridge.scim.schemas import USER
from tests.conftest import OPENLDAP_MAP

PASSWORD = "Tr0ub4dor&3-ünï"
DIGESTS = {
    "SSHA": hashlib.sha1,
    "SSHA256": hashlib.sha256,
    "SSHA384": hashlib.sha384,
    "SSHA512": hashlib.sha512,
}


def verifies(stored: str, password: str) -> bool:
    """What slapd does at a simple bind: the digest of the password and the stored salt, compared."""
    scheme, _, encoded = stored[1:].partition("}")
    raw = base64.b64decode(encoded, validate=True)
    digest = DIGESTS[scheme]()
    size = digest.digest_size
    return hashlib.new(digest.name, password.encode() + raw[size:]).digest() == raw[:size]


def shipped() -> dict[str, Any]:
    return yaml.safe_load(OPENLDAP_MAP.read_text())


def uuid_filter(value: str) -> DirFilter:
    return Eq("entryUUID", value)


def password_row(**row: Any) -> dict[str, Any]:
    """The shipped map with its password row replaced by ``row`` (or removed, when empty)."""
    data = shipped()
    attributes = data["user"]["attributes"]
    attributes.pop("password")
    if row:
        attributes["password"] = row
    return data


def problems_of(data: Any) -> list[str]:
    with pytest.raises(MapError) as caught:
        parse_user_map(data, "maps/test.yaml")
    return caught.value.problems


def password_rule(resource_map: ResourceMap) -> Any:
    (rule,) = [rule for rule in resource_map.rules if rule.target.attribute.name == "password"]
    return rule


# --- hashing -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["SSHA", "SSHA256", "SSHA384", "SSHA512"])
def test_each_scheme_stores_its_prefix_then_the_salted_digest_of_the_utf8_password(scheme: str) -> None:
    stored = hash_password(PASSWORD, scheme)
    assert stored.startswith("{" + scheme + "}")
    assert verifies(stored, PASSWORD)
    assert not verifies(stored, PASSWORD.upper())
    raw = base64.b64decode(stored.partition("}")[2])
    assert len(raw) == DIGESTS[scheme]().digest_size + SALT_BYTES
    assert PASSWORD not in stored and PASSWORD.encode() not in raw


def test_every_hash_has_a_fresh_salt_so_equal_passwords_never_look_equal() -> None:
    hashes = {hash_password(PASSWORD) for _ in range(50)}
    assert len(hashes) == 50
    assert len({base64.b64decode(h[6:])[20:] for h in hashes}) == 50  # the salts themselves differ


def test_cleartext_hands_the_password_over_as_it_is() -> None:
    assert hash_password(PASSWORD, CLEARTEXT) == PASSWORD


@pytest.mark.parametrize("password", ["{SSHA}abc", "{CLEARTEXT}secret", "{crypt}$6$x"])
def test_cleartext_refuses_a_password_that_slapd_would_take_for_a_hash_without_echoing_it(
    password: str,
) -> None:
    """ppolicy's hash_cleartext (and a bind) treat a value that starts with a known ``{SCHEME}`` as
    already hashed: it would be stored as sent, in clear for ``{CLEARTEXT}``."""
    with pytest.raises(ValueError, match="must not start with a") as caught:
        hash_password(password, CLEARTEXT)
    assert password not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("SSHA", "SSHA"),
        ("ssha512", "SSHA512"),
        ("{SSHA256}", "SSHA256"),
        (" {ssha384} ", "SSHA384"),
        ("cleartext", "cleartext"),
        ("CLEARTEXT", "cleartext"),
        ("SHA", None),  # unsalted: not offered
        ("CRYPT", None),
        ("ARGON2", None),  # the server's to compute: use cleartext with ppolicy's hash_cleartext
        ("", None),
    ],
)
def test_scheme_names_are_read_as_an_openldap_admin_writes_them(text: str, name: str | None) -> None:
    assert scheme_name(text) == name


# --- the map row ---------------------------------------------------------------------------------


def test_the_shipped_openldap_map_hashes_the_password_into_userpassword_with_ssha(
    user_map: ResourceMap,
) -> None:
    rule = password_rule(user_map)
    assert (rule.ldap, rule.converter.kind, rule.converter.scheme) == (
        "userPassword",
        "ldap_password",
        "SSHA",
    )


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [(None, "SSHA"), ("SSHA512", "SSHA512"), ("{SSHA256}", "SSHA256"), ({"SSHA384": None}, "SSHA384")],
    ids=["default", "plain", "braced-and-quoted", "braced-unquoted-which-yaml-reads-as-a-mapping"],
)
def test_the_scheme_of_a_password_row(scheme: Any, expected: str) -> None:
    row = {"ldap": "userPassword", "convert": "ldap_password"}
    if scheme is not None:
        row["scheme"] = scheme
    assert password_rule(parse_user_map(password_row(**row), "test")).converter.scheme == expected


BAD_PASSWORD_ROWS = [
    pytest.param(
        {"ldap": "userPassword"},
        "user.attributes.password.convert: password is write-only, so say how the directory takes it: "
        "ldap_password (OpenLDAP userPassword) or ad_password (AD unicodePwd), not None",
        id="no-converter-would-store-the-password-in-clear",
    ),
    pytest.param(
        {"ldap": "userPassword", "convert": "string"},
        "user.attributes.password.convert: password is write-only",
        id="string",
    ),
    pytest.param(
        {"ldap": "userPassword", "convert": "ldap_password", "scheme": "MD5"},
        "user.attributes.password.scheme: SSHA, SSHA256, SSHA384, SSHA512 or cleartext, not 'MD5'",
        id="unknown-scheme",
    ),
    pytest.param(
        {"ldap": "userPassword", "convert": "ldap_password", "default": ["{userName}"]},
        "user.attributes.password: a password row takes no default",
        id="a-default-would-set-a-guessable-password",
    ),
    pytest.param(
        {"ldap": "unicodePwd", "convert": "ad_password", "scheme": "SSHA"},
        "user.attributes.password: a password row takes no scheme",
        id="a-scheme-for-ad",
    ),
]


@pytest.mark.parametrize(("row", "problem"), BAD_PASSWORD_ROWS)
def test_a_bad_password_row_is_reported_by_its_yaml_path(row: dict[str, Any], problem: str) -> None:
    problems = problems_of(password_row(**row))
    assert len(problems) == 1
    assert problems[0].startswith(problem)


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        (
            {"title": {"ldap": "title", "convert": "ldap_password"}},
            "user.attributes.title.convert: title is a SCIM string, so convert must be string, "
            "postal_address or reference, not 'ldap_password'",
        ),
        (
            {"title": {"ldap": "title", "scheme": "SSHA"}},
            "user.attributes.title.scheme: only a password row (convert: ldap_password) has a scheme",
        ),
    ],
    ids=["a-password-converter-on-a-readable-attribute", "a-scheme-elsewhere"],
)
def test_password_converters_and_schemes_belong_to_the_password_row_only(
    rows: dict[str, Any], problem: str
) -> None:
    """A readable attribute stored hashed would read back as a hash and differ at every cycle."""
    data = shipped()
    data["user"]["attributes"].update(rows)
    assert problems_of(data) == [problem]


# --- documents, changes and filters ----------------------------------------------------------------


def entry(**values: tuple[str, ...]) -> Entry:
    attributes = {name.lower(): v for name, v in values.items()}
    attributes["objectclass"] = ("inetOrgPerson", "scimBridgeObject")
    return Entry("uid=ann,ou=people,dc=example,dc=org", "ou=people,dc=example,dc=org", "id-1", attributes)


def test_the_password_is_never_requested_or_read_back(user_map: ResourceMap) -> None:
    mapping = UserMapping(user_map)
    assert "userpassword" not in {name.lower() for name in mapping.read_attributes}
    stored = entry(uid=("ann",), sn=("Lee",), cn=("Ann Lee",), userPassword=(hash_password(PASSWORD),))
    document = mapping.to_document(stored)
    assert "password" not in document and document["userName"] == "ann"


def test_a_document_with_a_password_writes_its_hash_and_one_without_writes_none(
    user_map: ResourceMap,
) -> None:
    mapping = UserMapping(user_map)
    new = mapping.new_entry({"userName": "ann", "password": PASSWORD}, active=True)
    (stored,) = new["userPassword"]
    assert stored.startswith("{SSHA}") and verifies(stored, PASSWORD)
    assert "userPassword" not in mapping.new_entry({"userName": "ann"}, active=True)


def test_changes_write_the_password_only_when_the_new_document_carries_one(user_map: ResourceMap) -> None:
    """RFC 7644 3.5.1: an omitted attribute is "not asserted", so a PUT or PATCH without a password keeps
    the stored one (the old document never has one: it is never read back)."""
    mapping = UserMapping(user_map)
    stored = entry(uid=("ann",), sn=("Lee",), cn=("Ann Lee",), userPassword=(hash_password("old"),))
    old = mapping.to_document(stored)
    assert mapping.changes(stored, old, {**old, "title": "Chef"}) == [
        Modification("replace", "title", ("Chef",))
    ]
    (change,) = mapping.changes(stored, old, {**old, "password": PASSWORD})
    assert (change.op, change.attribute) == ("replace", "userPassword") and verifies(
        change.values[0], PASSWORD
    )
    assert mapping.changes(stored, old, {**old, "password": ""}) == []


def test_a_cleartext_password_shaped_like_a_hash_is_invalid_value_without_the_value() -> None:
    cleartext = parse_user_map(
        password_row(ldap="userPassword", convert="ldap_password", scheme="cleartext"), "test"
    )
    mapping = UserMapping(cleartext)
    assert mapping.new_entry({"userName": "ann", "password": PASSWORD}, active=True)["userPassword"] == (
        PASSWORD,
    )
    with pytest.raises(InvalidValue) as caught:
        mapping.new_entry({"userName": "ann", "password": "{SSHA}x" + PASSWORD}, active=True)
    assert caught.value.detail.startswith("password must not start with a {SCHEME} prefix")
    assert PASSWORD not in caught.value.detail


@pytest.mark.parametrize(
    "text",
    [
        f'password eq "{PASSWORD}"',
        'password ne "x"',
        'password co "a"',
        'password sw "a"',
        'password gt "a"',
        "password pr",
        "not (password pr)",
        'userName eq "ann" and password eq "x"',
        'userName eq "ann" or password eq "x"',
        'urn:ietf:params:scim:schemas:core:2.0:User:password eq "x"',
        'PASSWORD eq "x"',
    ],
)
def test_no_filter_can_test_a_password_or_its_presence(user_map: ResourceMap, text: str) -> None:
    """RFC 7643 section 7 leaves filtering on "returned: never" attributes to the service provider; here
    it is refused, whole, with invalidFilter (a match would be a way to try guesses)."""
    translator = FilterTranslator(UserMapping(user_map), USER, uuid_filter)
    with pytest.raises(InvalidFilter) as caught:
        translator.translate(parse_filter(text))
    assert caught.value.detail == "password is write-only and never returned, so it cannot be filtered"
