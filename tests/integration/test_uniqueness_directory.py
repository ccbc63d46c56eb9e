"""``ldap.uniqueness: directory`` against a slapd with the unique overlay (issue #9, one LDAP operation
less per create): the bridge sends no search before an add, and the directory's refusal of a duplicate,
wherever in the tree the namesake lives, is a 409 uniqueness that writes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.config import Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import SCIM, ScimClient
from tests.http.test_observe import metric
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Inspector, make_subtree

OPERATIONS = "scim_bridge_directory_operations_total"


@pytest.fixture(scope="module")
def unique_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInfo]:
    server = Slapd(tmp_path_factory.mktemp("unique"), extra_schema=[default_schema_path()], unique=True)
    with server as info:
        yield info


@pytest.fixture
def setup(unique_slapd: SlapdInfo, maps: MapSet) -> Iterator[tuple[ScimClient, Inspector]]:
    with make_subtree(unique_slapd) as subtree:
        settings = subtree_settings(unique_slapd, subtree)
        settings = replace(settings, ldap=replace(settings.ldap, uniqueness="directory"))
        pool = ConnectionPool(settings.ldap, Secret(unique_slapd.password))
        inspector = Inspector(unique_slapd, subtree)
        yield ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps))), inspector
        inspector.conn.unbind()
        pool.close()


def operations(client: ScimClient, kind: str) -> float:
    text = falcon.testing.TestClient(client.app).simulate_get("/metrics").text
    return metric(text, OPERATIONS, operation=kind, outcome="ok") or 0.0


def test_a_create_is_one_add_and_a_namesake_in_a_sub_ou_is_still_a_409(
    setup: tuple[ScimClient, Inspector],
) -> None:
    client, inspector = setup
    created = client.post_user({"userName": "alice"})
    assert created.status_code == 201, created.json
    assert (operations(client, "search"), operations(client, "add")) == (0.0, 1.0)  # no search first
    contractors = f"ou=contractors,{inspector.subtree.user_base}"
    inspector.add(contractors, {"objectClass": ["organizationalUnit"], "ou": "contractors"})
    inspector.add(
        f"uid=bob,{contractors}", {"objectClass": ["inetOrgPerson"], "uid": "bob", "cn": "Bob", "sn": "B"}
    )
    before = inspector.people()
    for name in ("BOB", "Alice"):  # in a sub-OU, where the DN differs; and the same DN in another case
        refused = client.post_user({"userName": name})
        assert refused.status_code == 409 and refused.json["scimType"] == "uniqueness", refused.json
    assert inspector.people() == before


def test_a_rename_onto_a_taken_name_is_a_409_and_the_user_stays(setup: tuple[ScimClient, Inspector]) -> None:
    client, inspector = setup
    client.post_user({"userName": "carol"})
    dave = client.post_user({"userName": "dave"}).json["id"]
    before = inspector.people()
    renamed = client.patch_user(dave, {"op": "Replace", "path": "userName", "value": "carol"})
    assert renamed.status_code == 409 and renamed.json["scimType"] == "uniqueness", renamed.json
    assert inspector.people() == before


def test_a_group_name_taken_in_any_case_is_a_409(setup: tuple[ScimClient, Inspector]) -> None:
    client, _ = setup
    assert client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Finance"}).status_code == 201
    searches = operations(client, "search")
    taken = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "FINANCE"})
    assert taken.status_code == 409 and taken.json["scimType"] == "uniqueness", taken.json
    assert operations(client, "search") == searches  # the directory decided, not a search
