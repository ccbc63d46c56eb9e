"""The pool's connections to a real slapd are ones the encoder sends on (bridge/directory/ldap/wire.py):
plain, with StartTLS and over LDAPS. Were a setting of ``servers.dial`` to change that, every request
would go back to ldap3's own encoding: correct, and some 0.4 ms of CPU slower (bench/README.md)."""

from __future__ import annotations

import pytest

from bridge.config import LdapConfig, Secret
from bridge.directory.base import AllOf, Eq, Modification
from bridge.directory.ldap import wire
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.testing.slapd import SlapdInfo
from tests.slapd_fixtures import Subtree


@pytest.mark.parametrize("mode", ["none", "starttls", "ldaps"])
def test_pooled_connections_take_the_encoders_bytes(
    slapd: SlapdInfo, ldap_subtree: Subtree, mode: str
) -> None:
    assert slapd.ldaps_url and slapd.ca_file
    url = slapd.ldaps_url if mode == "ldaps" else slapd.url
    config = LdapConfig(
        urls=(url,), bind_dn=slapd.bind_dn, user_base=ldap_subtree.base, tls=mode, ca_file=slapd.ca_file
    )
    pool = ConnectionPool(config, Secret(slapd.password))
    try:
        assert pool.execute(wire.encodable, idempotent=True)
        directory = LdapDirectory(pool)
        added = directory.add(
            ldap_subtree.base,
            ("uid", f"wire-{mode}"),
            {"objectClass": ["inetOrgPerson"], "sn": ["W"], "cn": ["W"]},
            ["cn"],
        )
        changed = directory.modify(
            added.dn, [Modification("replace", "title", ("Engineer",))], ["title"], expect=added.version
        )
        assert changed.get("title") == ("Engineer",)
        found = directory.search(
            [ldap_subtree.base],
            AllOf((Eq("objectClass", "inetOrgPerson"), Eq("uid", f"wire-{mode}"))),
            ["title"],
        )
        assert [entry.id for entry in found.entries] == [added.id]
    finally:
        pool.close()
