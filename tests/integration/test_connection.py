"""The connection pool against a real slapd: TLS with verification, failover, refusals, recovery."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.config import LdapConfig, Secret
from bridge.directory.base import MATCH_ALL
from bridge.directory.errors import DirectoryUnavailable
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import ResourceMap
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path, find_free_port
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Subtree


def pool(info: SlapdInfo, password: str | None = None, **config: Any) -> ConnectionPool:
    settings: dict[str, Any] = {"urls": (info.url,), "bind_dn": info.bind_dn, "user_base": info.user_base}
    settings.update(config)
    return ConnectionPool(LdapConfig(**settings), Secret(password or info.password))


def reads(connections: ConnectionPool, base: str) -> int:
    return LdapDirectory(connections).search([base], MATCH_ALL, ("ou",)).total


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_tls_connections_verify_the_server_certificate_against_the_ca_file(
    slapd: SlapdInfo, mode: str
) -> None:
    assert slapd.ldaps_url and slapd.ca_file
    url = slapd.ldaps_url if mode == "ldaps" else slapd.url
    connections = pool(slapd, urls=(url,), tls=mode, ca_file=slapd.ca_file)
    assert reads(connections, slapd.user_base) >= 1
    connections.close()


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_a_certificate_not_signed_by_the_configured_ca_is_refused(
    slapd: SlapdInfo, mode: str, tmp_path: Path
) -> None:
    assert slapd.ldaps_url
    other = Slapd(tmp_path / "other", ldaps_port=find_free_port())
    other_info = other.start()  # only to mint a different self-signed certificate
    other.stop()
    assert other_info.ca_file
    url = slapd.ldaps_url if mode == "ldaps" else slapd.url
    with pytest.raises(DirectoryUnavailable):
        reads(pool(slapd, urls=(url,), tls=mode, ca_file=other_info.ca_file), slapd.user_base)


def test_a_wrong_bind_password_is_reported_without_the_password(slapd: SlapdInfo) -> None:
    with pytest.raises(DirectoryUnavailable) as raised:
        reads(pool(slapd, password="wrong-secret", tls="none"), slapd.user_base)
    assert "refused the bind" in raised.value.reason and "wrong-secret" not in str(raised.value)


def test_the_next_url_is_used_when_the_first_server_does_not_answer(slapd: SlapdInfo) -> None:
    dead = f"ldap://127.0.0.1:{find_free_port()}"
    connections = pool(slapd, urls=(dead, slapd.url), tls="none", connect_timeout=1)
    assert reads(connections, slapd.user_base) >= 1
    connections.close()


def test_an_unreachable_directory_is_a_503_with_retry_after_and_a_scim_body(
    slapd: SlapdInfo, ldap_subtree: Subtree, user_map: ResourceMap
) -> None:
    settings = subtree_settings(slapd, ldap_subtree)
    dead = LdapConfig(
        urls=(f"ldap://127.0.0.1:{find_free_port()}",),
        bind_dn=slapd.bind_dn,
        user_base=ldap_subtree.user_base,
        tls="none",
        connect_timeout=1,
    )
    app = create_app(
        create_services(settings, LdapDirectory(ConnectionPool(dead, Secret(slapd.password))), user_map)
    )
    response = ScimClient(app).simulate_get(f"{SCIM}/Users", params={"filter": 'userName eq "x"'})
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert response.json["status"] == "503" and "retry" in response.json["detail"]


def test_pooled_connections_survive_a_directory_restart(tmp_path: Path) -> None:
    server = Slapd(tmp_path / "restart", extra_schema=[default_schema_path()])
    info = server.start()
    try:
        connections = pool(info, tls="none")
        assert reads(connections, info.user_base) == 1
        opened = connections.opened
        assert reads(connections, info.user_base) == 1
        assert connections.opened == opened, "a warm pool binds no more"
        server.restart()
        time.sleep(0.1)
        assert reads(connections, info.user_base) == 1  # the dead pooled connection is replaced
        connections.close()
    finally:
        server.stop()


def test_fill_opens_the_whole_pool_once_so_that_no_later_borrow_binds(slapd: SlapdInfo) -> None:
    connections = pool(slapd, tls="none", pool_size=4)
    assert connections.fill() == 4 and connections.opened == 4
    assert connections.fill() == 0  # already full
    borrowed = threading.Barrier(4)
    results: list[bool] = []

    def hold(conn: Any) -> bool:  # four at once: every one takes a connection the fill opened
        borrowed.wait(5)
        return bool(conn.bound)

    def read() -> None:
        results.append(connections.execute(hold))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [True] * 4 and connections.opened == 4
    connections.close()
    assert connections.fill() == 0  # a closed pool (a reload replaced it) opens nothing


def test_fill_counts_the_connections_in_use_and_reports_a_wrong_password(slapd: SlapdInfo) -> None:
    connections = pool(slapd, tls="none", pool_size=3)
    held = threading.Event()
    release = threading.Event()

    def hold(conn: Any) -> None:
        held.set()
        release.wait(10)

    holder = threading.Thread(target=connections.execute, args=(hold,))
    holder.start()
    assert held.wait(10)
    assert connections.fill() == 2  # with the one in use, three are open
    release.set()
    holder.join(10)
    assert connections.opened == 3
    connections.close()
    wrong = pool(slapd, password="wrong-Password-1", tls="none", pool_size=3)
    with pytest.raises(DirectoryUnavailable, match="refused the bind") as raised:
        wrong.fill()
    assert "wrong-Password-1" not in str(raised.value) and wrong.opened == 0
