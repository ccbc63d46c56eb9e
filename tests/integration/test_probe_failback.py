"""When a replicating provider back from an outage is used again (bridge/directory/ldap/watch.py): not
before it has answered for ``SETTLE`` seconds, time for its peer to pull from it again, and not before it
holds what the other took meanwhile. A pool over the test pair, both providers in ``ldap.urls``, a first."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import ldap3
import pytest

from bridge.config import LdapConfig, Secret
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.watch import SETTLE
from bridge.testing.replicated import ReplicatedPair

pytestmark = pytest.mark.slapd


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedPair]:
    """A pair of this module's own: provider a gets killed."""
    made = ReplicatedPair(tmp_path_factory.mktemp("failback-pair"))
    with made:
        yield made


@pytest.fixture
def pool(pair: ReplicatedPair) -> Iterator[ConnectionPool]:
    info = pair.info
    config = LdapConfig(urls=tuple(info.urls), bind_dn=info.a.bind_dn, user_base=info.a.user_base, tls="none")
    made = ConnectionPool(config, Secret(info.a.password))
    yield made
    made.close()


def used_port(pool: ConnectionPool) -> int:
    """The port of the provider a read is served by now (the read itself tells a dead connection)."""

    def read(conn: ldap3.Connection) -> int:
        if not conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["namingContexts"]):
            raise AssertionError(f"the root DSE read failed: {conn.result}")
        return int(conn.server.port)

    return pool.execute(read, idempotent=True)


def until(condition: Callable[[], bool], within: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_provider_back_is_used_again_only_once_it_has_answered_for_the_wait(
    pair: ReplicatedPair, pool: ConnectionPool
) -> None:
    a, b = (port_of(url) for url in pair.info.urls)
    assert used_port(pool) == a
    assert pair.a is not None
    pair.a.kill()
    assert used_port(pool) == b  # the first request after the kill fails over
    pair.a.restart()
    waited = until(lambda: used_port(pool) == a, SETTLE + 5.0)
    assert waited >= SETTLE - 0.05  # a answered from the restart on: not used before the wait was over


def test_a_provider_back_is_not_used_while_it_lacks_what_the_other_took(
    pair: ReplicatedPair, pool: ConnectionPool
) -> None:
    """a is started again without its replication from b (held), after a user was added on b: it answers,
    and stays unused past the wait until it has pulled that user."""
    info = pair.info
    a, b = (port_of(url) for url in info.urls)
    dn = f"uid=during-the-outage,{info.b.user_base}"
    assert used_port(pool) == a
    assert pair.a is not None
    with pair.held("a"):
        pair.a.kill()
        assert used_port(pool) == b  # a read first: a write is never sent twice, and may meet the dead socket
        added = pool.execute(lambda conn: conn.add(dn, ["inetOrgPerson"], {"cn": "x", "sn": "x"}))
        assert added, "the add on b failed"
        pair.a.restart()
        time.sleep(SETTLE + 1.5)
        assert used_port(pool) == b
    until(lambda: used_port(pool) == a, 5.0)
    conn = ldap3.Connection(info.a.url, info.a.bind_dn, info.a.password, auto_bind=True)
    try:
        assert conn.search(dn, "(objectClass=*)", ldap3.BASE)
    finally:
        conn.unbind()
