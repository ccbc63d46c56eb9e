"""Failed authentication is rate-limited per client address (issue #7, point 6), and behind a trusted
reverse proxy the client is the address it forwards (X-Forwarded-For)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from bridge.app import create_app, create_services
from bridge.config import AuthConfig, ConfigError, parse_settings
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from bridge.scim.schemas import ERROR
from tests.conftest import SCIM, TOKEN, TOKEN_HASH, ScimClient, make_settings

BAD = {"Authorization": "Bearer not-the-token"}
GOOD = {"Authorization": f"Bearer {TOKEN}"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def app_client(memory: InMemoryDirectory, maps: MapSet, clock: Clock, **server: Any) -> ScimClient:
    settings = make_settings()
    settings = replace(
        settings,
        auth=AuthConfig((TOKEN_HASH,), max_failures=3, failure_window=60),
        server=replace(settings.server, **server),
    )
    return ScimClient(create_app(create_services(settings, memory, maps, clock=clock)))


def get(client: ScimClient, headers: dict[str, str], addr: str = "127.0.0.1", **more: str) -> Any:
    return client.simulate_get(f"{SCIM}/Users", headers={**headers, **more}, remote_addr=addr)


def test_an_address_past_its_failures_is_refused_with_429_until_the_window_passes(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    clock = Clock()
    client = app_client(memory, maps, clock)
    assert [get(client, BAD, "198.51.100.7").status_code for _ in range(3)] == [401, 401, 401]
    refused = get(client, BAD, "198.51.100.7")
    assert refused.status_code == 429, refused.text
    assert refused.json["schemas"] == [ERROR] and refused.json["status"] == "429"
    assert (
        refused.headers["retry-after"] == "61" and "too many failed authentications" in refused.json["detail"]
    )
    assert get(client, {"Authorization": ""}, "198.51.100.7").status_code == 429  # no token: a failure too
    assert get(client, BAD, "198.51.100.8").status_code == 401  # other addresses are not affected
    clock.now += 30
    assert get(client, BAD, "198.51.100.7").headers["retry-after"] == "31"
    clock.now += 31
    assert get(client, BAD, "198.51.100.7").status_code == 401  # the failures left the window


def test_the_valid_token_passes_at_once_from_an_address_flooded_with_wrong_ones(
    memory: InMemoryDirectory, maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    """Entra shares its egress addresses: 1,000 wrong tokens from one address must not keep the real
    client, at that address, out even for one request. The valid token is never counted either."""
    clock = Clock()
    client = app_client(memory, maps, clock)
    address = "198.51.100.7"
    with caplog.at_level(logging.WARNING, logger="bridge.http.middleware"):
        statuses = [
            get(client, {"Authorization": f"Bearer wrong-{n}"}, address).status_code for n in range(1000)
        ]
    assert statuses[:3] == [401, 401, 401] and set(statuses[3:]) == {429}
    assert all("wrong-" not in record.getMessage() for record in caplog.records)  # no token in a log line
    for _ in range(50):
        answer = get(client, GOOD, address)
        assert answer.status_code == 200, answer.text
        assert "retry-after" not in answer.headers
    assert get(client, BAD, address).status_code == 429  # the wrong ones are still throttled
    clock.now += 61
    assert [get(client, BAD, address).status_code for _ in range(4)] == [401, 401, 401, 429]


def test_a_limit_of_zero_turns_it_off(memory: InMemoryDirectory, maps: MapSet) -> None:
    settings = replace(make_settings(), auth=AuthConfig((TOKEN_HASH,), max_failures=0))
    client = ScimClient(create_app(create_services(settings, memory, maps)))
    assert {get(client, BAD).status_code for _ in range(30)} == {401}
    assert get(client, GOOD).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_is_limited_and_logged(
    memory: InMemoryDirectory, maps: MapSet, caplog: pytest.LogCaptureFixture
) -> None:
    client = app_client(memory, maps, Clock(), trusted_proxies=("127.0.0.1", "10.0.0.0/8"))
    # The proxy chain appended 10.1.2.3 (trusted) after the client 203.0.113.9; what the client wrote
    # further left ("1.1.1.1") is not believed.
    forwarded = {"X-Forwarded-For": "1.1.1.1, 203.0.113.9, 10.1.2.3"}
    for _ in range(3):
        assert get(client, BAD, **forwarded).status_code == 401
    assert get(client, BAD, **forwarded).status_code == 429
    assert get(client, GOOD, **forwarded).status_code == 200
    assert get(client, BAD, **{"X-Forwarded-For": "203.0.113.10"}).status_code == 401
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        get(client, GOOD, **{"X-Forwarded-For": "203.0.113.10"})
    assert [r.client for r in caplog.records if r.name == "bridge.access"] == ["203.0.113.10"]  # type: ignore[attr-defined]


def test_an_untrusted_peer_cannot_choose_its_address_by_forwarding_headers(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    client = app_client(memory, maps, Clock(), trusted_proxies=("10.0.0.0/8",))
    for n in range(3):
        assert get(client, BAD, "192.0.2.1", **{"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 401
    assert get(client, BAD, "192.0.2.1", **{"X-Forwarded-For": "203.0.113.99"}).status_code == 429


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    data = {
        "auth": {"token_hashes": [TOKEN_HASH]},
        "ldap": {
            "urls": ["ldap://127.0.0.1"],
            "bind_dn": "cn=a",
            "user_base": "ou=p",
            "tls": "none",
            "bind_password_credential": "x",
        },
        "map": "maps/openldap.yaml",
        "server": {"trusted_proxies": ["10.0.0.0/8", "proxy.example.com"]},
    }
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, "/nowhere/bridge.yaml")
    assert "server.trusted_proxies[1]: 'proxy.example.com' is not an IP address or network" in str(
        caught.value
    )


def test_meta_location_follows_the_forwarded_proto_and_host_of_a_trusted_proxy(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    """Behind the proxy that terminates TLS for Entra, locations name the public URL, not the loopback
    address the bridge listens on (issue #8, point 4)."""
    client = app_client(memory, maps, Clock(), trusted_proxies=("127.0.0.1",))
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "scim.example.com", **GOOD}
    created = client.simulate_post(
        f"{SCIM}/Users", json={"userName": "fay"}, headers=forwarded, remote_addr="127.0.0.1"
    )
    location = f"https://scim.example.com{SCIM}/Users/{created.json['id']}"
    assert created.json["meta"]["location"] == location and created.headers["location"] == location
    hostile = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example/<script>", **GOOD}
    read = client.simulate_get(f"{SCIM}/Users/{created.json['id']}", headers=hostile, remote_addr="127.0.0.1")
    assert read.json["meta"]["location"].startswith(f"http://falconframework.org{SCIM}/")  # not a host
    untrusted = client.simulate_get(
        f"{SCIM}/Users/{created.json['id']}", headers=forwarded, remote_addr="192.0.2.50"
    )
    assert untrusted.json["meta"]["location"].startswith(f"http://falconframework.org{SCIM}/")
