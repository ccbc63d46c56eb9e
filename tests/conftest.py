"""Shared fixtures. Real servers come from ``tests.slapd_fixtures``; nothing here is ever skipped."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.config import AuthConfig, DeprovisioningConfig, LdapConfig, Settings
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.load import load_maps, load_user_map, parse_maps, parse_user_map
from bridge.mapping.model import MapSet, ResourceMap

pytest_plugins = ["tests.slapd_fixtures", "tests.samba_fixtures", "tests.replicated_fixtures"]

REPO = Path(__file__).resolve().parents[1]
OPENLDAP_MAP = REPO / "config" / "maps" / "openldap.yaml"
TOKEN = "test-token-0123456789"
TOKEN_HASH = "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()
SUFFIX = "dc=example,dc=org"
USER_BASE = f"ou=people,{SUFFIX}"
DISABLED_BASE = f"ou=disabled,{SUFFIX}"
GROUP_BASE = f"ou=groups,{SUFFIX}"
SCIM = "/scim/v2"


def make_settings(**deprovisioning: Any) -> Settings:
    """Settings for in-process tests (no file behind them)."""
    return Settings(
        auth=AuthConfig((TOKEN_HASH,)),
        ldap=LdapConfig(
            urls=("ldap://127.0.0.1:1",),
            bind_dn="cn=admin," + SUFFIX,
            user_base=USER_BASE,
            group_base=GROUP_BASE,
        ),
        map=str(OPENLDAP_MAP),
        deprovisioning=DeprovisioningConfig(**deprovisioning),
    )


@pytest.fixture(scope="session")
def user_map() -> ResourceMap:
    """The shipped OpenLDAP map."""
    return load_user_map(OPENLDAP_MAP)


@pytest.fixture(scope="session")
def maps() -> MapSet:
    """The shipped OpenLDAP map file: users and groups."""
    return load_maps(OPENLDAP_MAP)


@pytest.fixture
def group_map_with() -> Callable[[dict[str, Any]], MapSet]:
    """The shipped maps with some keys of the group section replaced (``members`` and ``posix`` whole)."""
    import yaml

    base = yaml.safe_load(OPENLDAP_MAP.read_text())

    def build(changes: dict[str, Any]) -> MapSet:
        group = {**base["group"], **changes}
        return parse_maps(
            {"user": base["user"], "group": {k: v for k, v in group.items() if v is not None}}, "test"
        )

    return build


@pytest.fixture
def map_with() -> Callable[[dict[str, Any]], ResourceMap]:
    """Build a map from the shipped one with some rows or sections replaced."""
    import yaml

    base = yaml.safe_load(OPENLDAP_MAP.read_text())

    def build(changes: dict[str, Any]) -> ResourceMap:
        data = {"user": {**base["user"], **{k: v for k, v in changes.items() if k != "attributes"}}}
        data["user"]["attributes"] = {**base["user"]["attributes"], **changes.get("attributes", {})}
        return parse_user_map(data, "test-map")

    return build


@pytest.fixture
def memory() -> InMemoryDirectory:
    """An in-memory directory with the example tree."""
    return InMemoryDirectory([SUFFIX, USER_BASE, DISABLED_BASE, f"ou=groups,{SUFFIX}"])


class ScimClient(falcon.testing.TestClient):
    """A falcon test client that authenticates, speaks application/scim+json and knows the base path."""

    def __init__(self, app: Any) -> None:
        super().__init__(app, headers={"Authorization": f"Bearer {TOKEN}"})

    def post_user(self, body: dict[str, Any]) -> falcon.testing.Result:
        return self.simulate_post(
            f"{SCIM}/Users", json=body, headers={"Content-Type": "application/scim+json"}
        )

    def patch_user(self, user_id: str, *operations: dict[str, Any]) -> falcon.testing.Result:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}
        return self.simulate_patch(f"{SCIM}/Users/{user_id}", json=body)


@pytest.fixture
def make_client(memory: InMemoryDirectory, maps: MapSet) -> Callable[..., ScimClient]:
    """A client over the in-memory directory; keyword arguments set the deprovisioning policy. With no
    ``resource_map`` it serves the shipped maps (users and groups); a user map alone serves users."""

    def build(resource_map: ResourceMap | MapSet | None = None, **deprovisioning: Any) -> ScimClient:
        settings = make_settings(**deprovisioning)
        return ScimClient(create_app(create_services(settings, memory, resource_map or maps)))

    return build


@pytest.fixture
def client(make_client: Callable[..., ScimClient]) -> ScimClient:
    """A client with the default policy (disable on unassign, delete on DELETE)."""
    return make_client()


def with_policy(settings: Settings, **deprovisioning: Any) -> Settings:
    return replace(settings, deprovisioning=DeprovisioningConfig(**deprovisioning))
