"""Fixtures for tests that drive the app over a real slapd and check the directory independently."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.app import create_app
from bridge.config import AuthConfig, DeprovisioningConfig, LdapConfig, Secret, Settings
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet, ResourceMap
from bridge.testing.slapd import SlapdInfo
from tests.conftest import OPENLDAP_MAP, TOKEN_HASH, ScimClient
from tests.slapd_fixtures import Subtree

REPO = Path(__file__).resolve().parents[2]


def subtree_settings(info: SlapdInfo, subtree: Subtree, **deprovisioning: Any) -> Settings:
    disabled = deprovisioning.pop("disabled_base", None)
    return Settings(
        auth=AuthConfig((TOKEN_HASH,)),
        ldap=LdapConfig(
            urls=(info.url,),
            group_base=subtree.group_base,
            bind_dn=info.bind_dn,
            user_base=subtree.user_base,
            tls="none",
            user_filter=deprovisioning.pop("user_filter", None),
        ),
        map=str(OPENLDAP_MAP),
        deprovisioning=DeprovisioningConfig(
            **deprovisioning, disabled_base=subtree.disabled_base if disabled else None
        ),
    )


@pytest.fixture
def ldap_client(slapd: SlapdInfo, ldap_subtree: Subtree, maps: MapSet) -> Iterator[Callable[..., ScimClient]]:
    """A factory of clients over the real slapd: keyword arguments set the deprovisioning policy,
    ``disabled_base=True`` moves disabled users, ``user_filter=`` scopes, ``resource_map=`` swaps the map."""
    pools: list[ConnectionPool] = []

    def build(resource_map: ResourceMap | MapSet | None = None, **deprovisioning: Any) -> ScimClient:
        settings = subtree_settings(slapd, ldap_subtree, **deprovisioning)
        pool = ConnectionPool(settings.ldap, Secret(slapd.password))
        pools.append(pool)
        return ScimClient(create_app(settings, LdapDirectory(pool), resource_map or maps))

    yield build
    for pool in pools:
        pool.close()


def write_config(tmp_path: Path, slapd: SlapdInfo, subtree: Subtree, map_path: Path = OPENLDAP_MAP) -> Path:
    """A config file for the command line over ``subtree`` (users and groups), with ``map_path``."""
    (tmp_path / "bind-password").write_text(slapd.password + "\n")
    config = {
        "auth": {"token_hashes": [TOKEN_HASH]},
        "ldap": {
            "urls": [slapd.url],
            "tls": "none",
            "bind_dn": slapd.bind_dn,
            "bind_password_file": "bind-password",
            "user_base": subtree.user_base,
            "group_base": subtree.group_base,
        },
        "map": str(map_path),
    }
    path = tmp_path / "bridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def config_file(slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path) -> Path:
    """A config file for the command line over this test's subtree, with the shipped map."""
    return write_config(tmp_path, slapd, ldap_subtree)


def cli(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``scim-ldap-bridge`` run as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "bridge", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
