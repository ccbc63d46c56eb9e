"""Passwords over SCIM against a real slapd (Debian 12, OpenLDAP 2.5): what the bridge writes to
``userPassword`` is what slapd checks at a simple bind (issue #6 point 8).

The session slapd has no password module and ppolicy's ``hash_cleartext`` on, with slapd's default
``password-hash {SSHA}``. ``strong_slapd`` also loads ``pw-sha2`` and ``argon2`` and hashes cleartext
with ``{ARGON2}``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from bridge.app import create_app, create_services
from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.load import parse_maps
from bridge.mapping.model import MapSet
from bridge.mapping.passwords import SALT_BYTES
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import OPENLDAP_MAP, SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Inspector, make_subtree

PASSWORD = "Sesame-0pen-ünï"  # non-ASCII: slapd compares the UTF-8 bytes the client binds with
NEW_PASSWORD = "Another-Sesame-42"
DIGESTS = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA384": "sha384", "SSHA512": "sha512"}

Client = Callable[..., ScimClient]


def scheme_map(scheme: str) -> MapSet:
    """The shipped map with the password row's scheme set to ``scheme``."""
    data = yaml.safe_load(OPENLDAP_MAP.read_text())
    data["user"]["attributes"]["password"]["scheme"] = scheme
    return parse_maps(data, f"openldap.yaml with scheme {scheme}")


def salt_of(stored: str, password: str) -> bytes | None:
    """The salt of ``stored`` when it is a salted hash of ``password`` (checked here, not by slapd), else
    None. The bridge's salts are 16 bytes; slapd's own (ppolicy's hash_cleartext) are shorter."""
    scheme, _, encoded = stored[1:].partition("}")
    raw = base64.b64decode(encoded)
    size = hashlib.new(DIGESTS[scheme]).digest_size
    hashed = hashlib.new(DIGESTS[scheme], password.encode() + raw[size:]).digest() == raw[:size]
    return raw[size:] if hashed else None


def created(client: ScimClient, inspector: Inspector, password: str = PASSWORD) -> tuple[str, str, str]:
    """POST a user with ``password``: its id, DN and the userPassword slapd stored."""
    response = client.post_user(
        {"userName": "ann@contoso.com", "displayName": "Ann Lee", "password": password}
    )
    assert response.status_code == 201, response.json
    assert "password" not in response.json
    user_id = response.json["id"]
    ((dn, entry),) = inspector.find(f"(entryUUID={user_id})")
    (stored,) = entry["userpassword"]
    assert password not in stored
    return user_id, dn, stored


def userpassword(inspector: Inspector, dn: str) -> str:
    entry = inspector.entry(dn)
    assert entry is not None
    (stored,) = entry["userpassword"]
    return stored


# --- the shipped map: {SSHA}, which every slapd verifies ----------------------------------------


def test_a_user_created_with_a_password_binds_with_it_and_with_no_other(
    ldap_client: Client, inspector: Inspector
) -> None:
    _, dn, stored = created(ldap_client(), inspector)
    salt = salt_of(stored, PASSWORD)  # the bridge's own hash, which slapd kept as written
    assert stored.startswith("{SSHA}") and salt is not None and len(salt) == SALT_BYTES
    assert inspector.can_bind(dn, PASSWORD)
    assert not inspector.can_bind(dn, PASSWORD + "x")
    assert not inspector.can_bind(dn, stored)  # the hash itself is no password


def test_patch_replace_password_changes_it_and_put_or_patch_without_one_keeps_it(
    ldap_client: Client, inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, dn, first = created(client, inspector)
    patched = client.patch_user(user_id, {"op": "Replace", "path": "password", "value": NEW_PASSWORD})
    assert patched.status_code == 200 and "password" not in patched.json
    second = userpassword(inspector, dn)
    assert second != first and second.startswith("{SSHA}") and NEW_PASSWORD not in second
    assert inspector.can_bind(dn, NEW_PASSWORD) and not inspector.can_bind(dn, PASSWORD)
    # Entra never sends a password: its PUT and PATCH cycles leave the directory password alone.
    put = client.simulate_put(
        f"{SCIM}/Users/{user_id}", json={"userName": "ann@contoso.com", "title": "Chef"}
    )
    assert put.status_code == 200 and put.json["title"] == "Chef"
    assert client.patch_user(user_id, {"op": "replace", "path": "title", "value": "Cook"}).status_code == 200
    assert userpassword(inspector, dn) == second and inspector.can_bind(dn, NEW_PASSWORD)


def test_no_read_returns_the_password_from_a_real_directory(
    ldap_client: Client, inspector: Inspector
) -> None:
    client = ldap_client()
    user_id, _, stored = created(client, inspector)
    for response in (
        client.simulate_get(f"{SCIM}/Users/{user_id}", params={"attributes": "password,userName"}),
        client.simulate_get(f"{SCIM}/Users", params={"attributes": "password"}),
    ):
        assert response.status_code == 200
        assert "password" not in response.text.lower() and stored not in response.text
    refused = client.simulate_get(f"{SCIM}/Users", params={"filter": f'password eq "{PASSWORD}"'})
    assert refused.status_code == 400 and refused.json["scimType"] == "invalidFilter"


def test_cleartext_is_hashed_by_ppolicy_hash_cleartext_with_slapds_password_hash(
    ldap_client: Client, inspector: Inspector
) -> None:
    """slapd's default ``password-hash`` is {SSHA}, with a salt of its own (not the bridge's 16 bytes)."""
    client = ldap_client(scheme_map("cleartext"))
    _, dn, stored = created(client, inspector)
    salt = salt_of(stored, PASSWORD)
    assert stored.startswith("{SSHA}") and salt is not None and len(salt) != SALT_BYTES
    assert inspector.can_bind(dn, PASSWORD) and not inspector.can_bind(dn, NEW_PASSWORD)


def test_without_pw_sha2_an_ssha512_password_cannot_bind(ldap_client: Client, inspector: Inspector) -> None:
    """Why docs/attribute-map.md says to load pw-sha2 first: slapd does not know {SSHA512}, so ppolicy takes
    the value for a cleartext password and hashes it again."""
    _, dn, stored = created(ldap_client(scheme_map("SSHA512")), inspector)
    assert not stored.startswith("{SSHA512}")
    assert not inspector.can_bind(dn, PASSWORD)


# --- a slapd with pw-sha2 and argon2 -------------------------------------------------------------


@pytest.fixture(scope="module")
def strong_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInfo]:
    server = Slapd(
        tmp_path_factory.mktemp("slapd-pw"),
        extra_schema=[default_schema_path()],
        modules=("pw-sha2", "argon2"),
        password_hash="{ARGON2}",
    )
    with server as info:
        yield info


@pytest.fixture
def strong(strong_slapd: SlapdInfo) -> Iterator[Callable[[str], tuple[ScimClient, Inspector]]]:
    """A client with the given password scheme over ``strong_slapd``, in a fresh subtree, and an inspector."""
    opened: list[Any] = []
    with make_subtree(strong_slapd) as subtree:

        def build(scheme: str) -> tuple[ScimClient, Inspector]:
            settings = subtree_settings(strong_slapd, subtree)
            pool = ConnectionPool(settings.ldap, Secret(strong_slapd.password))
            inspector = Inspector(strong_slapd, subtree)
            opened.extend((pool, inspector))
            return ScimClient(
                create_app(create_services(settings, LdapDirectory(pool), scheme_map(scheme)))
            ), inspector

        yield build
        for thing in opened:
            thing.close() if isinstance(thing, ConnectionPool) else thing.conn.unbind()


@pytest.mark.parametrize("scheme", ["SSHA256", "SSHA384", "SSHA512"])
def test_with_pw_sha2_loaded_salted_sha2_passwords_bind(
    strong: Callable[[str], tuple[ScimClient, Inspector]], scheme: str
) -> None:
    client, inspector = strong(scheme)
    user_id, dn, stored = created(client, inspector)
    salt = salt_of(stored, PASSWORD)
    assert stored.startswith("{" + scheme + "}") and salt is not None and len(salt) == SALT_BYTES
    assert inspector.can_bind(dn, PASSWORD) and not inspector.can_bind(dn, NEW_PASSWORD)
    assert (
        client.patch_user(user_id, {"op": "replace", "path": "password", "value": NEW_PASSWORD}).status_code
        == 200
    )
    assert userpassword(inspector, dn).startswith("{" + scheme + "}")
    assert inspector.can_bind(dn, NEW_PASSWORD) and not inspector.can_bind(dn, PASSWORD)


def test_cleartext_with_hash_cleartext_and_password_hash_argon2_stores_argon2(
    strong: Callable[[str], tuple[ScimClient, Inspector]],
) -> None:
    """docs/attribute-map.md's way to a memory-hard hash with no dependency in the bridge: slapd hashes."""
    client, inspector = strong("cleartext")
    user_id, dn, stored = created(client, inspector)
    assert stored.startswith("{ARGON2}$argon2")
    assert inspector.can_bind(dn, PASSWORD) and not inspector.can_bind(dn, NEW_PASSWORD)
    assert (
        client.patch_user(user_id, {"op": "replace", "path": "password", "value": NEW_PASSWORD}).status_code
        == 200
    )
    changed = userpassword(inspector, dn)
    assert changed.startswith("{ARGON2}") and changed != stored and NEW_PASSWORD not in changed
    assert inspector.can_bind(dn, NEW_PASSWORD) and not inspector.can_bind(dn, PASSWORD)
