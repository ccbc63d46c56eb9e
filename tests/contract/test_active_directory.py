"""The Directory contract against a real Samba AD DC over LDAPS, through the AD flavour (objectGUID ids)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config import LdapConfig, Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.flavors import ACTIVE_DIRECTORY
from bridge.testing.samba import SambaInfo
from tests.contract.directory_contract import DirectoryContract
from tests.samba_fixtures import AdSubtree

pytestmark = pytest.mark.samba


def ad_directory(info: SambaInfo, subtree: AdSubtree) -> LdapDirectory:
    config = LdapConfig(
        urls=(info.ldaps_url,),
        bind_dn=info.bind_dn,
        user_base=subtree.user_base,
        tls="ldaps",
        ca_file=info.ca_file,
        directory="active_directory",
    )
    return LdapDirectory(ConnectionPool(config, Secret(info.password)), ACTIVE_DIRECTORY)


class TestActiveDirectory(DirectoryContract):
    RDN = "cn"
    CREATED = "whenCreated"

    @pytest.fixture
    def directory(self, samba: SambaInfo, ad_subtree: AdSubtree) -> Iterator[LdapDirectory]:
        directory = ad_directory(samba, ad_subtree)
        yield directory
        directory.pool.close()

    @pytest.fixture
    def base(self, ad_subtree: AdSubtree) -> str:
        return ad_subtree.user_base
