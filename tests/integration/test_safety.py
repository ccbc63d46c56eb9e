"""Guardrails (issue #7, point 3): read-only mode, protected entries, and the deprovisioning circuit
breaker, over the in-memory directory and a real slapd; the breaker's CLI against slapd."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.app import create_app, create_services
from bridge.config import SafetyConfig, Secret, load_settings, parse_settings
from bridge.directory.base import MATCH_ALL, Directory
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from bridge.scim.schemas import ERROR, PATCH_OP
from bridge.services.safety import BREAKER_RDN
from bridge.testing.slapd import SlapdInfo
from tests.conftest import SCIM, ScimClient, make_settings
from tests.integration.conftest import cli, subtree_settings
from tests.slapd_fixtures import Subtree


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Bench:
    """Clients over one directory with chosen safety settings, and a way to look at the directory."""

    def __init__(self, directory: Directory, settings: Any, maps: MapSet) -> None:
        self.directory, self.settings, self.maps = directory, settings, maps
        self.clock = Clock()

    def client(self, **safety: Any) -> ScimClient:
        settings = replace(self.settings, safety=SafetyConfig(**safety))
        return ScimClient(create_app(create_services(settings, self.directory, self.maps, clock=self.clock)))

    def breaker_description(self) -> str | None:
        base = self.settings.ldap.user_base
        found = self.directory.search(
            [f"{BREAKER_RDN[0]}={BREAKER_RDN[1]},{base}"], MATCH_ALL, ("description",)
        )
        return found.entries[0].first("description") if found.entries else None


@pytest.fixture(params=["memory", "slapd"])
def bench(request: pytest.FixtureRequest, maps: MapSet) -> Iterator[Bench]:
    if request.param == "memory":
        memory: InMemoryDirectory = request.getfixturevalue("memory")
        yield Bench(memory, make_settings(), maps)
        return
    slapd: SlapdInfo = request.getfixturevalue("slapd")
    subtree: Subtree = request.getfixturevalue("ldap_subtree")
    settings = subtree_settings(slapd, subtree)
    pool = ConnectionPool(settings.ldap, Secret(slapd.password))
    yield Bench(LdapDirectory(pool), settings, maps)
    pool.close()


def new_user(client: ScimClient, name: str, **more: Any) -> str:
    created = client.post_user({"userName": name, "active": True, **more})
    assert created.status_code == 201, created.text
    return str(created.json["id"])


def unassign(client: ScimClient, user_id: str) -> Any:
    return client.patch_user(user_id, {"op": "Replace", "path": "active", "value": "False"})


def assert_error(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.json["schemas"] == [ERROR] and response.json["status"] == str(status)
    assert words in response.json["detail"]


def test_read_only_mode_refuses_every_write_with_503_and_retry_after_and_still_reads(bench: Bench) -> None:
    user_id = new_user(bench.client(), "ann")
    client = bench.client(read_only=True)
    refused = [
        client.post_user({"userName": "bob"}),
        client.patch_user(user_id, {"op": "replace", "path": "title", "value": "x"}),
        client.simulate_put(f"{SCIM}/Users/{user_id}", json={"userName": "ann", "title": "x"}),
        client.simulate_delete(f"{SCIM}/Users/{user_id}"),
        client.simulate_post(f"{SCIM}/Groups", json={"displayName": "G"}),
    ]
    for response in refused:
        assert_error(response, 503, "read-only mode")
        assert response.headers["retry-after"] == "300"
    read = client.simulate_get(f"{SCIM}/Users/{user_id}")
    assert read.status_code == 200 and "title" not in read.json
    assert (
        client.simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "bob"'}).json["totalResults"] == 0
    )


def test_protected_entries_are_visible_but_never_modified_disabled_or_deleted(bench: Bench) -> None:
    open_client = bench.client()
    admin = new_user(open_client, "admin")
    service = new_user(open_client, "svc", title="service account")
    other = new_user(open_client, "carl")
    group = open_client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Admins"}).json["id"]
    admin_dn = bench.directory.get_by_id([bench.settings.ldap.user_base], MATCH_ALL, admin, ()).dn
    client = bench.client(
        protected_dns=(admin_dn.upper(),),  # DNs compare in any case
        protected_filter="(|(title=service account)(cn=Admins))",
    )
    for user_id in (admin, service):
        url = f"{SCIM}/Users/{user_id}"
        assert_error(unassign(client, user_id), 403, "is protected")
        assert_error(client.simulate_put(url, json={"userName": "x"}), 403, "is protected")
        assert_error(client.simulate_delete(url), 403, "is protected")
        assert client.simulate_get(url).json["active"] is True
    group_url = f"{SCIM}/Groups/{group}"
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": other}]}],
    }
    assert_error(client.simulate_patch(group_url, json=add), 403, "is protected")
    assert_error(client.simulate_delete(group_url), 403, "is protected")
    assert client.simulate_get(group_url).json["members"] == []
    assert unassign(client, other).status_code == 200  # everyone else as usual
    assert client.simulate_delete(f"{SCIM}/Users/{other}").status_code == 204


def test_the_breaker_trips_past_the_limit_for_every_instance_until_released(bench: Bench) -> None:
    first, second = (
        bench.client(deprovision_limit=2, deprovision_window=60),
        bench.client(deprovision_limit=2),
    )
    users = [new_user(first, f"u{n}") for n in range(5)]
    assert unassign(first, users[0]).status_code == 200
    assert first.simulate_delete(f"{SCIM}/Users/{users[1]}").status_code == 204
    assert bench.breaker_description() is None
    tripping = unassign(first, users[2])
    assert_error(tripping, 503, "more than 2 disables and deletes within 60 s")
    assert tripping.headers["retry-after"] == "600"
    assert "more than 2 disables and deletes" in (bench.breaker_description() or "")
    # The other instance has counted nothing, and still stops: the tripped state is in the directory.
    assert_error(unassign(second, users[3]), 503, "operator must release")
    assert_error(second.simulate_delete(f"{SCIM}/Users/{users[3]}"), 503, "operator must release")
    assert first.patch_user(users[3], {"op": "replace", "path": "title", "value": "ok"}).status_code == 200
    for user_id in users[2:4]:
        assert first.simulate_get(f"{SCIM}/Users/{user_id}").json["active"] is True
    base = bench.settings.ldap.user_base
    bench.directory.delete(f"{BREAKER_RDN[0]}={BREAKER_RDN[1]},{base}")  # what `breaker release` does
    assert unassign(first, users[2]).status_code == 200  # the count started afresh on release
    assert unassign(second, users[3]).status_code == 200


def test_the_window_slides(bench: Bench) -> None:
    client = bench.client(deprovision_limit=1, deprovision_window=60)
    users = [new_user(client, f"w{n}") for n in range(3)]
    assert unassign(client, users[0]).status_code == 200
    bench.clock.now += 61
    assert unassign(client, users[1]).status_code == 200  # the first fell out of the window
    bench.clock.now += 30
    assert unassign(client, users[2]).status_code == 503


def test_a_limit_of_zero_turns_the_breaker_off(bench: Bench) -> None:
    client = bench.client(deprovision_limit=0)
    for n in range(4):
        assert unassign(client, new_user(client, f"z{n}")).status_code == 200
    assert bench.breaker_description() is None


def test_breaker_status_and_release_on_the_command_line(
    config_file: Path, slapd: SlapdInfo, ldap_subtree: Subtree, maps: MapSet
) -> None:
    status = cli("breaker", "status", "--config", str(config_file))
    assert (status.returncode, status.stdout.strip()) == (0, "Circuit breaker: not tripped")
    settings = subtree_settings(slapd, ldap_subtree)
    pool = ConnectionPool(settings.ldap, Secret(slapd.password))
    try:
        client = ScimClient(
            create_app(
                create_services(
                    replace(settings, safety=SafetyConfig(deprovision_limit=1)), LdapDirectory(pool), maps
                )
            )
        )
        users = [new_user(client, f"c{n}") for n in range(2)]
        assert unassign(client, users[0]).status_code == 200
        assert unassign(client, users[1]).status_code == 503
        status = cli("breaker", "status", "--config", str(config_file))
        assert status.returncode == 1
        assert "Circuit breaker: tripped (tripped at" in status.stdout and "more than 1" in status.stdout
        released = cli("breaker", "release", "--config", str(config_file))
        assert (released.returncode, released.stdout.strip()) == (0, "Circuit breaker: released")
        assert unassign(client, users[1]).status_code == 200
        again = cli("breaker", "release", "--config", str(config_file))
        assert again.stdout.strip() == "Circuit breaker: was not tripped"
    finally:
        pool.close()


def test_dump_config_prints_the_effective_configuration_and_no_secret(
    config_file: Path, slapd: SlapdInfo
) -> None:
    dumped = cli("dump-config", "--config", str(config_file))
    assert dumped.returncode == 0, dumped.stderr
    data = yaml.safe_load(dumped.stdout)
    assert (
        data["safety"]["deprovision_limit"] == 500 and data["server"]["base_path"] == "/scim/v2"
    )  # defaults
    assert data["ldap"]["bind_password_file"] == "bind-password" and "source" not in data
    values = [value for section in data.values() if isinstance(section, dict) for value in section.values()]
    assert slapd.password not in values  # the password file's content is never read into the dump
    again = config_file.parent / "again.yaml"
    again.write_text(dumped.stdout)
    assert parse_settings(yaml.safe_load(dumped.stdout), str(again)) == replace(
        load_settings(config_file), source=str(again)
    )  # it loads back to the same settings
