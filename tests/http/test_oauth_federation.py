"""Federation without a secret (issue #19): RFC 7523 client assertions at the token endpoint, and the
bearer JWTs Entra issues itself, checked against the keys of a real identity provider that these tests
serve on a loopback port (a discovery document and a JWKS, with RSA and Ed25519 keys made here): good
assertions, expired, not yet valid, wrong audience, issuer or subject, an unknown kid (refresh, then
refuse), a replayed jti, alg none, HS256 signed with the public key, a tampered signature; the keys
cached, refreshed on a new kid at a bounded rate, kept when the provider goes down, and a 503 (never a
counted failure) when they were never had."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.config import ConfigError, Settings
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from tests.conftest import SCIM
from tests.oauth_support import (
    ASSERTION_TYPE,
    FORM,
    IdentityProvider,
    federation,
    forged_hs256,
    forged_none,
    public_pem,
    serving,
    settings_with,
    tampered,
    write_signing_key,
)

CLIENT = "entra-wif"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serving(IdentityProvider()) as provider:
        yield provider


def federated_settings(folder: Path, provider: IdentityProvider, **changes: Any) -> Settings:
    key = folder / "oauth-key.pem"
    if not key.exists():
        write_signing_key(key)
    client = {"id": CLIENT, "federation": federation(provider, **changes.pop("federation", {}))}
    auth = changes.pop("auth", {})
    oauth = {"signing_keys": [str(key)], "clients": [client], **changes}
    return settings_with(folder, {"token_hashes": [], **auth, "oauth": oauth})


class Bridge:
    def __init__(self, settings: Settings, memory: InMemoryDirectory, maps: MapSet) -> None:
        self.clock = Clock()
        self.client = falcon.testing.TestClient(
            create_app(create_services(settings, memory, maps, clock=self.clock))
        )

    def assert_with(
        self, assertion: str, client_id: str | None = CLIENT, **form: str
    ) -> falcon.testing.Result:
        fields = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE}
        fields["client_assertion"] = assertion
        if client_id is not None:
            fields["client_id"] = client_id
        return self.client.simulate_post("/oauth/token", body=urlencode({**fields, **form}), headers=FORM)

    def scim(self, token: str) -> falcon.testing.Result:
        return self.client.simulate_get(
            f"{SCIM}/Users",
            params={"filter": f'userName eq "{uuid.uuid4()}"'},
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_an_assertion_signed_by_the_tenants_key_gets_an_access_token_with_or_without_client_id(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider, kind: str
) -> None:
    kid = idp.add_key(kind)
    bridge = Bridge(federated_settings(tmp_path, idp), memory, maps)
    for client_id in (CLIENT, None):  # Entra names the client; RFC 7523 lets the assertion say it
        answer = bridge.assert_with(idp.assertion(kid), client_id, scope="scim")
        assert answer.status_code == 200, answer.text
        assert answer.json["token_type"] == "Bearer" and answer.json["expires_in"] == 3600
        assert answer.json["scope"] == "scim" and answer.headers["cache-control"] == "no-store"
        found = bridge.scim(answer.json["access_token"])
        assert found.status_code == 200 and found.json["Resources"] == []
    assert idp.hits["discovery"] == 1 and idp.key_fetches == 1  # fetched once, then cached
    metrics = bridge.client.simulate_get("/metrics").text
    assert 'scim_bridge_oauth_tokens_issued_total{method="client_assertion"} 2.0' in metrics


def test_entras_audience_shown_as_a_default_scope_matches_the_audience_in_the_token(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    settings = federated_settings(
        tmp_path, idp, federation={"audience": "api://b5ba7a93-4452-4522-aeb4-a2b5da870c16/.default"}
    )
    assert Bridge(settings, memory, maps).assert_with(idp.assertion(kid)).status_code == 200


def bad_assertions(idp: IdentityProvider, kid: str) -> dict[str, tuple[str, str]]:
    """Assertions to refuse, each with the reason the log and the metrics give."""
    now = int(time.time())
    good = jwt_claims(idp.assertion(kid))
    return {
        "expired": (idp.assertion(kid, iat=now - 7200, nbf=now - 7200, exp=now - 3600), "expired"),
        "not-yet-valid": (idp.assertion(kid, nbf=now + 3600, exp=now + 7200), "not_yet_valid"),
        "wrong-audience": (idp.assertion(kid, aud="api://another-app"), "bad_audience"),
        "wrong-issuer": (
            idp.assertion(kid, iss="https://login.microsoftonline.com/other/v2.0"),
            "bad_issuer",
        ),
        "wrong-subject": (idp.assertion(kid, sub="someone-else"), "bad_subject"),
        "no-expiry": (idp.assertion(kid, exp=None), "missing_claim"),
        "alg-none": (forged_none(good, kid), "bad_algorithm"),
        "hs256-with-the-public-key": (forged_hs256(good, public_pem(idp.keys[kid]), kid), "bad_algorithm"),
        "tampered": (tampered(idp.assertion(kid)), "bad_signature"),
        "not-a-jwt": ("not-a-jwt", "malformed"),
    }


def jwt_claims(token: str) -> dict[str, Any]:
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_every_bad_assertion_is_invalid_client_with_its_reason_counted(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    bridge = Bridge(federated_settings(tmp_path, idp, auth={"max_failures": 0}), memory, maps)
    cases = bad_assertions(idp, kid)
    for name, (assertion, _) in cases.items():
        answer = bridge.assert_with(assertion)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json["error"] == "invalid_client", name
        assert answer.headers["www-authenticate"].startswith("Basic "), name
    metrics = bridge.client.simulate_get("/metrics").text
    for name, (_, reason) in cases.items():
        assert f'endpoint="token",reason="{reason}"' in metrics, name
    assert bridge.assert_with(idp.assertion(kid)).status_code == 200  # the control


def test_an_unknown_kid_refreshes_the_keys_once_then_is_refused_until_the_provider_publishes_it(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    known = idp.add_key()
    rolled = idp.add_key("ed25519", publish=False)  # a rollover the provider has not announced yet
    bridge = Bridge(federated_settings(tmp_path, idp), memory, maps)
    assert bridge.assert_with(idp.assertion(known)).status_code == 200
    assert idp.key_fetches == 1
    refused = bridge.assert_with(idp.assertion(rolled))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert idp.key_fetches == 1  # fetched less than a minute ago: no refetch yet (the bounded rate)
    bridge.clock.now += 61
    assert bridge.assert_with(idp.assertion(rolled)).status_code == 401
    assert idp.key_fetches == 2  # refreshed on the unknown kid, still not there: refused
    for _ in range(20):  # made-up kids cannot make the bridge hammer the provider
        bridge.assert_with(idp.assertion(known, jti=uuid.uuid4().hex) + "")
        bridge.assert_with(idp.assertion(rolled))
    assert idp.key_fetches == 2
    idp.published.append(rolled)
    bridge.clock.now += 61
    assert bridge.assert_with(idp.assertion(rolled)).status_code == 200  # refreshed, and found
    assert idp.key_fetches == 3
    assert bridge.assert_with(idp.assertion(known)).status_code == 200  # the old key too, no refetch
    assert idp.key_fetches == 3


def test_a_replayed_jti_is_refused_and_an_assertion_without_one_only_when_the_config_says_so(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    bridge = Bridge(federated_settings(tmp_path, idp), memory, maps)
    once = idp.assertion(kid)
    assert bridge.assert_with(once).status_code == 200
    replayed = bridge.assert_with(once)
    assert replayed.status_code == 401 and replayed.json["error"] == "invalid_client"
    assert "used already" in replayed.json["error_description"]
    # Entra's assertions carry no jti: accepted (each is checked for expiry instead) unless required.
    without = idp.assertion(kid, jti=None)
    assert [bridge.assert_with(without).status_code for _ in range(2)] == [200, 200]
    strict = Bridge(federated_settings(tmp_path, idp, federation={"require_jti": True}), memory, maps)
    assert strict.assert_with(without).status_code == 401
    assert strict.assert_with(idp.assertion(kid)).status_code == 200


def test_the_jwt_bearer_grant_takes_the_assertion_alone_and_refuses_with_invalid_grant(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    bridge = Bridge(federated_settings(tmp_path, idp), memory, maps)

    def grant(assertion: str, **more: str) -> falcon.testing.Result:
        body = urlencode({"grant_type": JWT_GRANT, "assertion": assertion, **more})
        return bridge.client.simulate_post("/oauth/token", body=body, headers=FORM)

    granted = grant(idp.assertion(kid))
    assert granted.status_code == 200 and bridge.scim(granted.json["access_token"]).status_code == 200
    now = int(time.time())
    expired = grant(idp.assertion(kid, iat=now - 7200, nbf=now - 7200, exp=now - 3600))
    assert expired.status_code == 400 and expired.json["error"] == "invalid_grant"
    assert "www-authenticate" not in expired.headers
    both = grant(idp.assertion(kid), client_secret="x", client_id=CLIENT)
    assert both.status_code == 400 and both.json["error"] == "invalid_request"


def test_keys_fetched_once_stay_in_use_when_the_provider_goes_down(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    bridge = Bridge(federated_settings(tmp_path, idp), memory, maps)
    assert bridge.assert_with(idp.assertion(kid)).status_code == 200
    idp.down = True
    bridge.clock.now += 3601  # the keys are due for a refresh, which fails
    assert bridge.assert_with(idp.assertion(kid)).status_code == 200
    assert idp.key_fetches == 1


def test_keys_never_fetched_are_a_503_that_is_not_counted_against_the_client(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    idp.down = True
    settings = federated_settings(tmp_path, idp, auth={"max_failures": 2})
    bridge = Bridge(settings, memory, maps)
    for _ in range(5):
        answer = bridge.assert_with(idp.assertion(kid))
        assert answer.status_code == 503 and answer.json["error"] == "temporarily_unavailable"
        assert answer.headers["retry-after"] == "30"
        bridge.clock.now += 61
    idp.down = False
    assert bridge.assert_with(idp.assertion(kid)).status_code == 200  # never throttled meanwhile


def test_a_jwks_file_serves_air_gapped_sites(tmp_path: Path, memory: InMemoryDirectory, maps: MapSet) -> None:
    provider = IdentityProvider()  # never served: its keys go to a file
    kid = provider.add_key("ed25519")
    jwks = provider.write_jwks(tmp_path / "tenant-keys.json")
    settings = federated_settings(
        tmp_path, provider, federation={"discovery_url": None, "jwks_file": jwks.name}
    )
    bridge = Bridge(settings, memory, maps)
    assert bridge.assert_with(provider.assertion(kid)).status_code == 200
    other = IdentityProvider(tenant=provider.tenant)
    assert bridge.assert_with(other.assertion(other.add_key())).status_code == 401


def entra_settings(folder: Path, provider: IdentityProvider, **entra: Any) -> Settings:
    tokens = {"tenant_id": provider.tenant, "discovery_url": provider.discovery_url, **entra}
    return settings_with(folder, {"token_hashes": [], "oauth": {"entra_tokens": tokens}})


def test_entras_own_bearer_token_is_accepted_on_scim_calls_when_the_tenant_is_configured(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    kid = idp.add_key()
    bridge = Bridge(entra_settings(tmp_path, idp), memory, maps)
    answer = bridge.scim(idp.entra_token(kid))
    assert answer.status_code == 200, answer.text
    assert answer.json["totalResults"] == 0
    assert (
        bridge.client.simulate_post("/oauth/token", body="grant_type=client_credentials").status_code == 404
    )
    now = int(time.time())
    refused = {
        "expired": idp.entra_token(kid, iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not-yet-valid": idp.entra_token(kid, nbf=now + 3600),
        "another-app": idp.entra_token(kid, aud="00000003-0000-0000-c000-000000000000"),
        "another-tenant": idp.entra_token(kid, iss=f"https://sts.windows.net/{uuid.uuid4()}/"),
        "tid-of-another-tenant": idp.entra_token(kid, tid=str(uuid.uuid4())),
        "v2-issuer": idp.entra_token(kid, iss=idp.v2_issuer),
        "alg-none": forged_none(jwt_claims(idp.entra_token(kid)), kid),
        "hs256": forged_hs256(jwt_claims(idp.entra_token(kid)), public_pem(idp.keys[kid]), kid),
        "tampered": tampered(idp.entra_token(kid)),
    }
    for name, token in refused.items():
        answer = bridge.scim(token)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.headers["www-authenticate"] == 'Bearer realm="scim", error="invalid_token"', name


def test_entra_tokens_with_an_unreachable_tenant_are_503_and_a_long_lived_token_still_works(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, idp: IdentityProvider
) -> None:
    from tests.conftest import TOKEN, TOKEN_HASH

    kid = idp.add_key()
    idp.down = True
    settings = settings_with(
        tmp_path,
        {
            "token_hashes": [TOKEN_HASH],
            "oauth": {"entra_tokens": {"tenant_id": idp.tenant, "discovery_url": idp.discovery_url}},
        },
    )
    bridge = Bridge(settings, memory, maps)
    answer = bridge.scim(idp.entra_token(kid))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
    assert bridge.scim(TOKEN).status_code == 200


@pytest.mark.parametrize(
    ("oauth", "problem"),
    [
        (
            {
                "clients": [
                    {
                        "id": "a",
                        "federation": {"issuer": "http://idp.example.com", "subject": "s", "audience": "a"},
                    }
                ]
            },
            "auth.oauth.clients[0].federation: the keys' discovery document http://idp.example.com/.well-known/"
            "openid-configuration is plain HTTP",
        ),
        (
            {"entra_tokens": {"tenant_id": "contoso.onmicrosoft.com"}},
            "auth.oauth.entra_tokens.tenant_id: 'contoso.onmicrosoft.com' is not a GUID",
        ),
        (
            {"entra_tokens": {"tenant_id": str(uuid.uuid4()), "jwks_file": "missing.json"}},
            "auth.oauth.entra_tokens.jwks_file: cannot read",
        ),
        (
            {
                "entra_tokens": {
                    "tenant_id": str(uuid.uuid4()),
                    "jwks_file": "k.json",
                    "discovery_url": "https://x.example.com/.well-known/openid-configuration",
                }
            },
            "auth.oauth.entra_tokens: set at most one of discovery_url and jwks_file",
        ),
    ],
)
def test_where_the_keys_come_from_is_checked_with_the_configuration(
    tmp_path: Path, oauth: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(tmp_path, {"oauth": oauth})
    assert any(item.startswith(problem) for item in caught.value.problems), caught.value.problems
