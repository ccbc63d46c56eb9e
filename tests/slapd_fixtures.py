"""pytest plugin: one throwaway slapd per session, and a fresh LDAP subtree per test.

Enable it with ``pytest_plugins = ["tests.slapd_fixtures"]`` (tests/conftest.py or a test module).

* ``slapd`` (session): :class:`~bridge.testing.slapd.SlapdInfo` of a real slapd on loopback with the
  scim-bridge schema, ldaps on a free port (``ca_file`` is its certificate) and StartTLS.
* ``inspector`` (function): an :class:`Inspector`, an ldap3 connection of its own to check what the
  bridge really wrote in the test's subtree.
* ``ldap_subtree`` (function): a :class:`Subtree` ``ou=t<8 hex>,dc=example,dc=org`` with
  ``ou=people``, ``ou=groups`` and ``ou=disabled`` under it, deleted with everything in it after
  the test. Tests that keep to their subtree never see each other's entries, with no restart.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ldap3
import pytest

from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path

__all__ = ["Inspector", "Subtree", "inspector", "ldap_subtree", "make_subtree", "slapd"]


@dataclass(frozen=True, slots=True)
class Subtree:
    """A test's private part of the tree."""

    base: str  # ou=t1a2b3c4d,dc=example,dc=org
    user_base: str  # ou=people,<base>
    group_base: str  # ou=groups,<base>
    disabled_base: str  # ou=disabled,<base>


def _ldap(
    tool: str, info: SlapdInfo, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [tool, "-x", "-H", info.url, "-D", info.bind_dn, "-w", info.password, *args]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=30)


@contextmanager
def make_subtree(info: SlapdInfo) -> Iterator[Subtree]:
    """Create a fresh subtree with people/groups/disabled OUs; delete it, whatever it holds, on exit."""
    name = f"t{uuid.uuid4().hex[:8]}"
    base = f"ou={name},{info.suffix}"
    ldif = f"dn: {base}\nobjectClass: organizationalUnit\nou: {name}\n"
    for ou in ("people", "groups", "disabled"):
        ldif += f"\ndn: ou={ou},{base}\nobjectClass: organizationalUnit\nou: {ou}\n"
    res = _ldap("ldapadd", info, stdin=ldif)
    if res.returncode != 0:
        raise RuntimeError(f"ldapadd of test subtree {base} failed: {res.stderr.strip()}")
    try:
        yield Subtree(base, f"ou=people,{base}", f"ou=groups,{base}", f"ou=disabled,{base}")
    finally:
        res = _ldap("ldapdelete", info, "-r", base)
        if res.returncode not in (0, 32):  # 32: noSuchObject, the test removed it itself
            raise RuntimeError(f"ldapdelete -r {base} failed: {res.stderr.strip()}")


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdInfo]:
    """A real slapd for the whole session (scim-bridge schema, ldaps + StartTLS); stopped at the end."""
    server = Slapd(
        tmp_path_factory.mktemp("slapd"),
        ldaps_port=0,  # a free port, picked again if another process takes it first
        extra_schema=[default_schema_path()],
    )
    with server as info:
        yield info


@pytest.fixture
def ldap_subtree(slapd: SlapdInfo) -> Iterator[Subtree]:
    """This test's own ``ou=t<uuid8>`` subtree in the session slapd, removed after the test."""
    with make_subtree(slapd) as subtree:
        yield subtree


class Inspector:
    """An ldap3 connection of its own, to see what the bridge really wrote."""

    def __init__(self, info: SlapdInfo, subtree: Subtree) -> None:
        self.subtree = subtree
        self.conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
        self.url = info.url

    def entry(self, dn: str) -> dict[str, list[str]] | None:
        self.conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["*", "+"])
        if not self.conn.entries:
            return None
        raw = self.conn.response[0]["raw_attributes"]
        return {k.lower(): [v.decode() for v in vals] for k, vals in raw.items()}

    def find(self, ldap_filter: str) -> list[tuple[str, dict[str, list[str]]]]:
        self.conn.search(self.subtree.base, ldap_filter, ldap3.SUBTREE, attributes=["*", "+"])
        return [
            (
                item["dn"],
                {k.lower(): [v.decode() for v in vals] for k, vals in item["raw_attributes"].items()},
            )
            for item in self.conn.response
            if item["type"] == "searchResEntry"
        ]

    def people(self) -> list[str]:
        """DNs of every entry below the test's subtree, sorted: to prove nothing else was written."""
        self.conn.search(self.subtree.base, "(objectClass=*)", ldap3.SUBTREE, attributes=["entryCSN"])
        return sorted(f"{item['dn']}|{item['raw_attributes'].get('entryCSN')}" for item in self.conn.response)

    def can_bind(self, dn: str, password: str) -> bool:
        conn = ldap3.Connection(self.url, dn, password)
        try:
            return bool(conn.bind())
        finally:
            conn.unbind()

    def add(self, dn: str, attributes: dict[str, Any]) -> None:
        assert self.conn.add(dn, attributes=attributes), self.conn.result

    def set_password(self, dn: str, password: str) -> None:
        assert self.conn.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [password])]}), self.conn.result


@pytest.fixture
def inspector(slapd: SlapdInfo, ldap_subtree: Subtree) -> Iterator[Inspector]:
    inspector = Inspector(slapd, ldap_subtree)
    yield inspector
    inspector.conn.unbind()
