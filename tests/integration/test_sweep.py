"""Disable now, delete later (issue #7, point 4): a disable records its time on the entry, ``sweep``
deletes what is past ``deprovisioning.delete_after_days``, and a user re-assigned inside the grace period
keeps the same account, id and groups. Over the in-memory directory and a real slapd; the command and
its systemd units against slapd."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.app import create_app, create_services
from bridge.config import DeprovisioningConfig, SafetyConfig, Secret
from bridge.directory.base import MATCH_ALL, Directory
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from bridge.services.deprovision import Sweep
from bridge.testing.slapd import SlapdInfo
from tests.conftest import SCIM, ScimClient, make_settings
from tests.integration.conftest import REPO, cli, subtree_settings
from tests.slapd_fixtures import Inspector, Subtree

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Wall:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, directory: Directory, settings: Any, maps: MapSet) -> None:
        self.directory, self.maps, self.wall = directory, maps, Wall()
        self.settings = replace(settings, deprovisioning=DeprovisioningConfig(delete_after_days=30))
        self.client = ScimClient(create_app(create_services(self.settings, directory, maps, now=self.wall)))

    def sweep(self, **safety: Any) -> Sweep:
        settings = replace(self.settings, safety=SafetyConfig(**safety)) if safety else self.settings
        services = create_services(settings, self.directory, self.maps, now=self.wall)
        return services.users.sweep(timedelta(days=30))

    def user(self, user_id: str) -> Any:
        return self.client.simulate_get(f"{SCIM}/Users/{user_id}", params={"attributes": "active,groups"})


@pytest.fixture(params=["memory", "slapd"])
def world(request: pytest.FixtureRequest, maps: MapSet) -> Any:
    if request.param == "memory":
        memory: InMemoryDirectory = request.getfixturevalue("memory")
        yield World(memory, make_settings(), maps)
        return
    slapd: SlapdInfo = request.getfixturevalue("slapd")
    subtree: Subtree = request.getfixturevalue("ldap_subtree")
    settings = subtree_settings(slapd, subtree)
    pool = ConnectionPool(settings.ldap, Secret(slapd.password))
    yield World(LdapDirectory(pool), settings, maps)
    pool.close()


def unassign(client: ScimClient, user_id: str, active: str = "False") -> None:
    response = client.patch_user(user_id, {"op": "Replace", "path": "active", "value": active})
    assert response.status_code == 200, response.text


def new_user(client: ScimClient, name: str) -> str:
    response = client.post_user({"userName": name, "active": True})
    assert response.status_code == 201, response.text
    return str(response.json["id"])


def test_sweep_deletes_only_users_disabled_longer_than_the_grace_period(world: World) -> None:
    old, recent, active = (new_user(world.client, name) for name in ("old", "recent", "active"))
    unassign(world.client, old)  # disabled on 1 November
    world.wall.now += timedelta(days=20)
    unassign(world.client, recent)  # disabled on 21 November
    world.wall.now += timedelta(days=10, minutes=1)  # 1 December: old is past 30 days, recent is not
    result = world.sweep()
    assert [since for _, since in result.deleted] == ["20261101090000Z"] and result.stopped is None
    assert world.user(old).status_code == 404
    assert world.user(recent).json["active"] is False and world.user(active).json["active"] is True
    assert world.sweep().deleted == []  # nothing left to do


def test_a_user_reassigned_inside_the_grace_period_keeps_account_id_and_groups(world: World) -> None:
    user_id = new_user(world.client, "back")
    group = world.client.simulate_post(
        f"{SCIM}/Groups", json={"displayName": "Staff", "members": [{"value": user_id}]}
    ).json["id"]
    unassign(world.client, user_id)
    world.wall.now += timedelta(days=29)
    unassign(world.client, user_id, "True")  # re-assigned: enabled again, and the disable time is gone
    world.wall.now += timedelta(days=60)
    assert world.sweep().deleted == []
    again = world.user(user_id)
    assert again.json["active"] is True and [g["value"] for g in again.json["groups"]] == [group]


def test_protected_users_are_never_swept_and_the_breaker_stops_a_sweep(world: World) -> None:
    users = [new_user(world.client, f"s{n}") for n in range(4)]
    for user_id in users:
        unassign(world.client, user_id)
    world.wall.now += timedelta(days=31)
    protected = world.directory.get_by_id([world.settings.ldap.user_base], MATCH_ALL, users[0], ()).dn
    result = world.sweep(protected_dns=(protected,), deprovision_limit=1)
    # Three are due besides the protected one: the breaker lets one through, then trips and stops it.
    assert len(result.deleted) == 1 and "deprovisioning is paused" in (result.stopped or "")
    assert [world.user(u).status_code for u in users].count(404) == 1
    assert world.user(users[0]).status_code == 200


def test_a_dry_run_deletes_nothing(world: World) -> None:
    user_id = new_user(world.client, "dry")
    unassign(world.client, user_id)
    world.wall.now += timedelta(days=31)
    services = create_services(world.settings, world.directory, world.maps, now=world.wall)
    result = services.users.sweep(timedelta(days=30), dry_run=True)
    assert [since for _, since in result.deleted] == ["20261101090000Z"] and result.stopped is None
    assert world.user(user_id).status_code == 200


def test_the_sweep_command_and_its_systemd_units(
    config_file: Path, ldap_client: Any, inspector: Inspector, tmp_path: Path
) -> None:
    client = ldap_client()
    for name in ("t0", "t1"):
        unassign(client, new_user(client, name))
    config = yaml.safe_load(config_file.read_text())
    skipped = cli("sweep", "--config", str(config_file))
    assert (skipped.returncode, skipped.stdout.strip()) == (
        0,
        "deprovisioning.delete_after_days is not set: disabled users stay, nothing to sweep",
    )
    config["deprovisioning"] = {"delete_after_days": 0}  # everything disabled before now is due
    config_file.write_text(yaml.safe_dump(config))
    dry = cli("sweep", "--config", str(config_file), "--dry-run")
    assert dry.returncode == 0 and dry.stdout.count("would delete uid=t") == 2, dry.stdout + dry.stderr
    assert len(inspector.find("(uid=t*)")) == 2
    swept = cli("sweep", "--config", str(config_file))
    assert swept.returncode == 0, swept.stderr
    assert swept.stdout.splitlines()[-1] == "2 user(s) disabled more than 0 day(s) ago deleted"
    assert inspector.find("(uid=t*)") == []
    # The units are valid for systemd, with the command pointed at this checkout.
    for name in ("scim-ldap-bridge-sweep.service", "scim-ldap-bridge-sweep.timer"):
        text = (REPO / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("/usr/bin/scim-ldap-bridge", f"{sys.executable} -m bridge"))
    verify = subprocess.run(
        [
            shutil.which("systemd-analyze") or "systemd-analyze",
            "verify",
            *map(str, tmp_path.glob("*.service")),
            *map(str, tmp_path.glob("*.timer")),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert verify.returncode == 0, verify.stderr
    assert (
        "ExecStart=/usr/bin/scim-ldap-bridge sweep --config /etc/scim-ldap-bridge/bridge.yaml"
        in (REPO / "systemd" / "scim-ldap-bridge-sweep.service").read_text()
    )
