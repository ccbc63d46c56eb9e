"""The Directory contract against a real slapd, through the ldap3 adapter and its connection pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config import LdapConfig, Secret
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.testing.slapd import SlapdInfo
from tests.contract.directory_contract import DirectoryContract
from tests.slapd_fixtures import Subtree


def ldap_directory(info: SlapdInfo, subtree: Subtree, **config: object) -> LdapDirectory:
    settings = {"urls": (info.url,), "bind_dn": info.bind_dn, "user_base": subtree.user_base, "tls": "none"}
    settings.update(config)
    return LdapDirectory(ConnectionPool(LdapConfig(**settings), Secret(info.password)))  # type: ignore[arg-type]


class TestLdapDirectory(DirectoryContract):
    @pytest.fixture
    def directory(self, slapd: SlapdInfo, ldap_subtree: Subtree) -> Iterator[LdapDirectory]:
        directory = ldap_directory(slapd, ldap_subtree)
        yield directory
        directory.pool.close()

    @pytest.fixture
    def base(self, ldap_subtree: Subtree) -> str:
        return ldap_subtree.user_base
