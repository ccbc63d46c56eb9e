"""Fixtures for tests that drive the app over a real slapd or Samba AD DC and check the directory
independently."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml

from bridge.app import create_app, create_services
from bridge.config import AuthConfig, DeprovisioningConfig, LdapConfig, Secret, Settings
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.flavors import ACTIVE_DIRECTORY
from bridge.mapping.load import load_maps
from bridge.mapping.model import MapSet, ResourceMap
from bridge.testing.samba import SambaInfo
from bridge.testing.slapd import SlapdInfo
from tests.conftest import OPENLDAP_MAP, TOKEN_HASH, ScimClient
from tests.samba_fixtures import AdSubtree
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
        return ScimClient(create_app(create_services(settings, LdapDirectory(pool), resource_map or maps)))

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


# --- Active Directory: the app over the session's Samba DC, and a look of the test's own ------------

AD_MAP = REPO / "config" / "maps" / "active-directory.yaml"


class AdInspector:
    """An LDAPS connection of its own, to see what the bridge wrote, and to try real binds."""

    def __init__(self, info: SambaInfo, subtree: AdSubtree) -> None:
        self.info, self.subtree = info, subtree
        self.tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=info.ca_file)
        # No schema, as the bridge dials: with AD's, ldap3 turns an escaped objectGUID filter value into
        # bytes and then unescapes those bytes again, so a GUID holding 0x5c before what reads as hex
        # (5c 0c 38: "\x0c8" is int 8) is searched as another, shorter value and found nowhere.
        server = ldap3.Server(info.ldaps_url, use_ssl=True, tls=self.tls, get_info=ldap3.NONE)
        self.conn = ldap3.Connection(
            server, info.bind_dn, info.password, auto_bind=True, auto_referrals=False
        )

    def find(self, ldap_filter: str) -> tuple[str, dict[str, list[str]]]:
        self.conn.search(self.subtree.base, ldap_filter, ldap3.SUBTREE, attributes=["*"])
        entries = [e for e in self.conn.response if e["type"] == "searchResEntry"]
        assert len(entries) == 1, entries
        raw = entries[0]["raw_attributes"]
        return entries[0]["dn"], {
            k.lower(): [v.decode("utf-8", "replace") for v in vals] for k, vals in raw.items()
        }

    def by_id(self, entry_id: str) -> tuple[str, dict[str, list[str]]]:
        guid = "".join(f"\\{b:02x}" for b in uuid.UUID(entry_id).bytes_le)
        return self.find(f"(objectGUID={guid})")

    def can_bind(self, upn: str, password: str) -> bool:
        server = ldap3.Server(self.info.ldaps_url, use_ssl=True, tls=self.tls)
        conn = ldap3.Connection(server, upn, password)
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()


@pytest.fixture
def ad(samba: SambaInfo, ad_subtree: AdSubtree) -> Iterator[AdInspector]:
    inspector = AdInspector(samba, ad_subtree)
    yield inspector
    inspector.conn.unbind()


@pytest.fixture
def ad_client(samba: SambaInfo, ad_subtree: AdSubtree) -> Iterator[Callable[..., ScimClient]]:
    pools: list[ConnectionPool] = []

    def build(map_path: Path = AD_MAP, **deprovisioning: Any) -> ScimClient:
        disabled = ad_subtree.disabled_base if deprovisioning.pop("disabled_base", False) else None
        settings = Settings(
            auth=AuthConfig((TOKEN_HASH,)),
            ldap=LdapConfig(
                urls=(samba.ldaps_url,),
                bind_dn=samba.bind_dn,
                user_base=ad_subtree.user_base,
                group_base=ad_subtree.group_base,
                tls="ldaps",
                ca_file=samba.ca_file,
                directory="active_directory",
            ),
            map=str(map_path),
            deprovisioning=DeprovisioningConfig(**deprovisioning, disabled_base=disabled),
        )
        pool = ConnectionPool(settings.ldap, Secret(samba.password))
        pools.append(pool)
        app = create_app(
            create_services(
                settings,
                LdapDirectory(pool, ACTIVE_DIRECTORY),
                load_maps(map_path),
                id_filter=ACTIVE_DIRECTORY.id_filter,
                dn_attribute=ACTIVE_DIRECTORY.dn_attribute,
            )
        )
        return ScimClient(app)

    yield build
    for pool in pools:
        pool.close()
