"""The Directory contract against a real Samba AD DC over LDAPS, through the AD flavour (objectGUID ids)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config import LdapConfig, Secret
from bridge.directory.base import Present
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.flavors import ACTIVE_DIRECTORY
from bridge.testing.samba import SambaInfo
from tests.contract.directory_contract import DirectoryContract, person
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


def test_pages_of_a_long_list_are_cut_by_the_domain_controller(
    samba: SambaInfo, ad_subtree: AdSubtree
) -> None:
    """More than one LDAP page of users: each SCIM page is sorted (by objectGUID) and cut by the DC's
    virtual list view, so the bridge holds one page; every user comes exactly once."""
    directory = ad_directory(samba, ad_subtree)
    try:
        for n in range(505):
            attributes = {**person(f"v{n:04d}"), "cn": (f"v{n:04d}",), "objectClass": ("user",)}
            directory.add(ad_subtree.user_base, ("cn", f"v{n:04d}"), attributes, ())
        opened = directory.pool.opened
        walked: list[str] = []
        for offset in range(0, 600, 100):
            page = directory.search([ad_subtree.user_base], Present("cn"), ("cn",), offset=offset, limit=100)
            assert page.total == 505
            walked += [entry.id for entry in page.entries]
        assert len(walked) == len(set(walked)) == 505
        assert directory.pool.opened - opened >= 5  # each sorted page closed its connection: the VLV path
    finally:
        directory.pool.close()
