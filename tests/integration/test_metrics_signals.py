"""What an operator reads when something is wrong (issue #20, point 6), against a real slapd: /readyz and a
SCIM request's 503 name the reason (a refused bind, an unreachable server) without the directory's words,
DNs, hosts or the password; the access line of a 4xx or 5xx carries the error's scimType and a short
detail, and never the password."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.config import Secret, Settings
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.model import MapSet
from bridge.testing.slapd import SlapdInfo
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import subtree_settings
from tests.slapd_fixtures import Subtree

WRONG_PASSWORD = "not-the-admin-password-7f3a"


@pytest.fixture
def app_with(
    slapd: SlapdInfo, ldap_subtree: Subtree, maps: MapSet
) -> Iterator[Callable[[Settings, str], ScimClient]]:
    """A factory of clients over ``settings`` (the test's subtree of slapd, changed) and a bind password."""
    pools: list[ConnectionPool] = []

    def build(settings: Settings, password: str) -> ScimClient:
        pool = ConnectionPool(settings.ldap, Secret(password))
        pools.append(pool)
        return ScimClient(create_app(create_services(settings, LdapDirectory(pool), maps)))

    yield build
    for pool in pools:
        pool.close()


def nothing_listens() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.__dict__ for record in caplog.records if record.name == "bridge.access"]


def test_readyz_says_the_directory_refuses_the_bind_and_nothing_of_it(
    slapd: SlapdInfo,
    ldap_subtree: Subtree,
    app_with: Callable[[Settings, str], ScimClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_with(subtree_settings(slapd, ldap_subtree), WRONG_PASSWORD)
    anonymous = falcon.testing.TestClient(client.app)
    with caplog.at_level(logging.INFO):
        for _ in range(2):  # the first asks slapd, the second answers from the probe's state
            ready = anonymous.simulate_get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"] == "10"
            assert ready.json == {
                "status": "unavailable",
                "reason": "bind refused",
                "detail": "the directory refuses the bridge's bind",
            }
        users = client.simulate_get(f"{SCIM}/Users")
    # The SCIM client (Entra's provisioning log) gets the same reason in /readyz's words.
    assert users.status_code == 503 and users.headers["retry-after"] == "30"
    assert users.json["detail"] == "the directory refuses the bridge's bind; retry later"
    port = slapd.url.rsplit(":", 1)[1]
    for secret_or_inside in (WRONG_PASSWORD, slapd.bind_dn, "dc=example", port, "invalidCredentials"):
        assert secret_or_inside not in ready.text and secret_or_inside not in users.text
    (line,) = [line for line in access_lines(caplog) if line["route"] == f"{SCIM}/Users"]
    assert line["status"] == 503 and "scimType" not in line and line["detail"]
    assert not any(WRONG_PASSWORD in str(record.__dict__) for record in caplog.records)
    assert any("refused the bind" in record.getMessage() for record in caplog.records)  # the log has it


def test_readyz_says_no_server_can_be_reached(
    slapd: SlapdInfo, ldap_subtree: Subtree, app_with: Callable[[Settings, str], ScimClient]
) -> None:
    settings = subtree_settings(slapd, ldap_subtree)
    nowhere = f"ldap://127.0.0.1:{nothing_listens()}"
    settings = replace(settings, ldap=replace(settings.ldap, urls=(nowhere,), connect_timeout=1.0))
    client = app_with(settings, slapd.password)
    ready = falcon.testing.TestClient(client.app).simulate_get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {
        "status": "unavailable",
        "reason": "unreachable",
        "detail": "no directory server can be reached",
    }
    users = client.simulate_get(f"{SCIM}/Users")
    assert users.status_code == 503
    assert users.json["detail"] == "the directory is not reachable right now; retry later"
    for answer in (ready, users):
        assert nowhere.rsplit(":", 1)[1] not in answer.text


def test_access_lines_of_refusals_carry_the_scim_type_and_detail(
    ldap_client: Callable[..., ScimClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = ldap_client()
    password = "Sekr1t-pa55word-that-never-shows"
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        user = {"userName": "eve@contoso.com", "password": password, "active": True}
        assert client.post_user(user).status_code == 201
        assert client.post_user(user).status_code == 409  # slapd holds the name already
        bad = {"userName": "eve2@contoso.com", "password": 12345678901234}
        assert client.post_user(bad).status_code == 400
        gone = client.simulate_get(f"{SCIM}/Users/00000000-0000-0000-0000-000000000000")
        assert gone.status_code == 404
    created, taken, wrong_shape, missing = access_lines(caplog)
    assert "detail" not in created and "scimType" not in created
    assert (taken["status"], taken["scimType"]) == (409, "uniqueness") and "eve@contoso.com" in taken[
        "detail"
    ]
    assert wrong_shape["scimType"] == "invalidValue" and "password" in wrong_shape["detail"]
    assert "12345678901234" not in wrong_shape["detail"]
    assert missing["status"] == 404 and "scimType" not in missing and "not found" in missing["detail"]
    assert not any(password in str(line) for line in access_lines(caplog))
