"""The Directory contract against a real slapd, through the ldap3 adapter and its connection pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.config import LdapConfig, Secret
from bridge.directory.base import Modification, Present
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.testing.slapd import Slapd, SlapdInfo
from tests.contract.directory_contract import READ, DirectoryContract, person
from tests.slapd_fixtures import Subtree, make_subtree


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


LONG = 620  # more than one LDAP page (500), so a page of the list is cut by the server where it can


@pytest.fixture(scope="module")
def long_list(slapd: SlapdInfo) -> Iterator[tuple[Subtree, list[str]]]:
    """A subtree holding ``LONG`` people, and their ids."""
    with make_subtree(slapd) as subtree:
        directory = ldap_directory(slapd, subtree)
        ids = [
            directory.add(subtree.user_base, ("uid", f"p{n:04d}"), person(f"p{n:04d}"), ()).id
            for n in range(LONG)
        ]
        directory.pool.close()
        yield subtree, ids


def walk(directory: LdapDirectory, base: str, size: int) -> list[tuple[int, list[str]]]:
    pages = []
    for offset in range(0, LONG + size, size):
        page = directory.search([base], Present("uid"), ("uid",), offset=offset, limit=size)
        pages.append((page.total, [entry.id for entry in page.entries]))
    return pages


def test_pages_of_a_long_list_are_cut_by_the_server_in_entry_uuid_order(
    slapd: SlapdInfo, long_list: tuple[Subtree, list[str]]
) -> None:
    subtree, ids = long_list
    directory = ldap_directory(slapd, subtree)
    try:
        pages = walk(directory, subtree.user_base, 100)
        # The sssvlv overlay sorted by entryUUID (octet order: the lower-case spelling's order).
        assert {total for total, _ in pages} == {LONG}
        assert [page for _, page in pages] == [sorted(ids)[n : n + 100] for n in range(0, LONG + 100, 100)]
        # Each page's connection was closed after use, which is what frees the sorted list on the server.
        assert directory.pool.opened == len(pages)
    finally:
        directory.pool.close()


def test_without_the_sssvlv_overlay_pages_come_from_the_directory_order_with_the_same_guarantees(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = Slapd(tmp_path_factory.mktemp("plain"), sssvlv=False, ppolicy=False)
    with server as info, make_subtree(info) as subtree:
        directory = ldap_directory(info, subtree)
        try:
            for n in range(LONG):
                directory.add(subtree.user_base, ("uid", f"q{n:04d}"), person(f"q{n:04d}"), ())
            pages = walk(directory, subtree.user_base, 100)
            assert {total for total, _ in pages} == {LONG}
            walked = [entry_id for _, page in pages for entry_id in page]
            assert len(walked) == len(set(walked)) == LONG
            assert walk(directory, subtree.user_base, 100) == pages  # stable
            assert directory.pool.opened == 1  # no list view: one pooled connection did it all
        finally:
            directory.pool.close()


def test_writes_answer_from_the_post_read_control_without_reading_the_entry_back(
    slapd: SlapdInfo, ldap_subtree: Subtree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """slapd offers RFC 4527's post-read control: an add or a modify returns the entry as written in its
    own response, so the bridge sends one LDAP operation where it sent two (issue #9)."""
    directory = ldap_directory(slapd, ldap_subtree)

    def no_read_back(*args: object, **kwargs: object) -> None:
        raise AssertionError("the entry was read back after the write")

    try:
        monkeypatch.setattr(directory, "_read", no_read_back)
        added = directory.add(
            ldap_subtree.user_base, ("uid", "pat"), person("pat", mail="p@example.org"), READ
        )
        assert added.id and added.version and added.first("mail") == "p@example.org"
        assert added.first("createTimestamp") and added.dn == f"uid=pat,{ldap_subtree.user_base}"
        changed = directory.modify(added.dn, [Modification("replace", "mail", ("q@example.org",))], READ)
        assert changed.first("mail") == "q@example.org" and changed.version != added.version
        assert changed.id == added.id and changed.first("uid") == "pat"
        monkeypatch.undo()
        assert directory.get_by_id([ldap_subtree.user_base], Present("uid"), added.id, READ) == changed
    finally:
        directory.pool.close()
