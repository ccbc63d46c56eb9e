"""The replicated test directory (bridge.testing.replicated): two real slapd providers replicating each
other, and how the tests tell that they have converged."""

from __future__ import annotations

import time
from collections.abc import Iterator

import ldap3
import pytest

from bridge.testing.replicated import ReplicatedPair, context_csn
from bridge.testing.slapd import SlapdInfo
from tests.replicated_fixtures import replicated_subtree
from tests.slapd_fixtures import Subtree

pytestmark = pytest.mark.slapd


def connect(info: SlapdInfo) -> ldap3.Connection:
    return ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True, receive_timeout=5)


def read(info: SlapdInfo, dn: str, *attributes: str) -> dict[str, list[str]] | None:
    conn = connect(info)
    try:
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes) or ["*", "+"])
        if not conn.response:
            return None
        raw = conn.response[0]["raw_attributes"]
        return {name.lower(): sorted(v.decode() for v in values) for name, values in raw.items()}
    finally:
        conn.unbind()


@pytest.fixture
def subtree(replicated_slapd: ReplicatedPair) -> Iterator[Subtree]:
    with replicated_subtree(replicated_slapd) as made:
        yield made


def person(conn: ldap3.Connection, dn: str) -> None:
    assert conn.add(dn, ["inetOrgPerson"], {"cn": "x", "sn": "x"}), conn.result


def test_a_write_on_either_provider_reaches_the_other_with_the_same_id_and_version(
    replicated_slapd: ReplicatedPair, subtree: Subtree
) -> None:
    info = replicated_slapd.info
    on_a, on_b = f"uid=on-a,{subtree.user_base}", f"uid=on-b,{subtree.user_base}"
    a, b = connect(info.a), connect(info.b)
    person(a, on_a)
    person(b, on_b)
    assert b.modify(on_a, {"title": [(ldap3.MODIFY_REPLACE, ["changed on b"])]}), b.result
    replicated_slapd.wait_converged()
    for dn in (on_a, on_b):
        seen = [read(server, dn, "entryUUID", "entryCSN", "title") for server in (info.a, info.b)]
        assert seen[0] is not None and seen[0] == seen[1]
    assert read(info.a, on_a, "title") == {"title": ["changed on b"]}


def test_group_membership_and_its_member_of_agree_on_both_providers(
    replicated_slapd: ReplicatedPair, subtree: Subtree
) -> None:
    """memberof and refint run on both providers; what they write must replicate without conflict."""
    info = replicated_slapd.info
    users = [f"uid=m{n},{subtree.user_base}" for n in range(3)]
    group = f"cn=g,{subtree.group_base}"
    a, b = connect(info.a), connect(info.b)
    for dn in users:
        person(a, dn)
    assert a.add(group, ["groupOfNames"], {"member": users[:2]}), a.result
    replicated_slapd.wait_converged()
    assert b.modify(group, {"member": [(ldap3.MODIFY_ADD, [users[2]])]}), b.result
    assert b.delete(users[0]), b.result  # refint takes it out of the group
    replicated_slapd.wait_converged()
    for server in (info.a, info.b):
        assert read(server, group, "member") == {"member": sorted(users[1:])}
        for dn in users[1:]:
            assert read(server, dn, "memberOf") == {"memberof": [group]}


def test_convergence_is_reported_only_once_the_lagging_provider_has_the_change(
    replicated_slapd: ReplicatedPair, subtree: Subtree
) -> None:
    info = replicated_slapd.info
    dn = f"uid=late,{subtree.user_base}"
    with replicated_slapd.held("b"):
        person(connect(info.a), dn)
        deadline = time.monotonic() + 0.3  # long enough for an unheld provider, 10 times over
        while time.monotonic() < deadline:
            assert not replicated_slapd.converged()
            assert read(info.b, dn) is None
            time.sleep(0.02)
        assert context_csn(info.a) - context_csn(info.b)  # a's newest change, which b lacks
    waited = replicated_slapd.wait_converged()
    assert read(info.b, dn, "entryUUID") == read(info.a, dn, "entryUUID") is not None
    assert waited < 5.0
    assert context_csn(info.a) == context_csn(info.b)


@pytest.fixture(scope="module")
def own_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedPair]:
    """A pair of this module's own: a provider gets killed."""
    made = ReplicatedPair(tmp_path_factory.mktemp("killed-pair"))
    with made:
        yield made


def test_member_adds_on_both_providers_across_a_kill_are_both_kept(own_pair: ReplicatedPair) -> None:
    """A member added on a that b has not pulled yet, a killed (SIGKILL), another member added on b, a
    started again: both members are on both providers. With whole-entry replication b's newer group would
    replace a's; and a provider whose contextCSN (kept in memory) was older on disk than its last writes
    would never offer them to b."""
    info = own_pair.info
    base = info.a.suffix
    users = [f"uid=k{n},ou=people,{base}" for n in range(3)]
    group = f"cn=killed,ou=groups,{base}"
    a, b = connect(info.a), connect(info.b)
    for dn in users:
        person(a, dn)
    assert a.add(group, ["groupOfNames"], {"member": users[:1]}), a.result
    own_pair.wait_converged()
    assert own_pair.a is not None
    with own_pair.held("b"):
        assert a.modify(group, {"member": [(ldap3.MODIFY_ADD, [users[1]])]}), a.result
        own_pair.a.kill()
    assert b.modify(group, {"member": [(ldap3.MODIFY_ADD, [users[2]])]}), b.result
    own_pair.a.restart()
    own_pair.wait_converged()
    for server in (info.a, info.b):
        assert read(server, group, "member") == {"member": sorted(users)}, server.url
