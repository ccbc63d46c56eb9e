"""OAuth 2.0 client credentials (issue #19): ``POST /oauth/token`` issues access tokens signed with real
keys made here (Ed25519 and RSA), SCIM calls accept them and refuse every forgery, refusals are OAuth
errors (RFC 6749 section 5.2), throttled with the SCIM calls' failures, logged without secrets and
counted; secrets and signing keys rotate without downtime; two instances with one key file accept each
other's tokens."""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import falcon.testing
import jwt
import pytest

from bridge.app import create_app, create_services
from bridge.config import Settings
from bridge.directory.memory import InMemoryDirectory
from bridge.hashes import hash_secret, new_secret
from bridge.mapping.model import MapSet
from bridge.oauth.keys import load_signing_key
from tests.conftest import SCIM, TOKEN
from tests.oauth_support import (
    FORM,
    basic,
    forged_hs256,
    forged_none,
    public_pem,
    settings_with,
    tampered,
    write_signing_key,
)

CLIENT = "entra-prod"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def secret() -> str:
    return new_secret()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "oauth-key.pem"
    write_signing_key(path)
    return path


def oauth_settings(folder: Path, keys: list[Path], secrets: list[str], **more: Any) -> Settings:
    auth = more.pop("auth", {})
    oauth = {
        "signing_keys": [str(path) for path in keys],
        "clients": [{"id": CLIENT, "secret_hashes": [hash_secret(s) for s in secrets]}],
        **more,
    }
    return settings_with(folder, {**auth, "oauth": oauth})


def app_for(
    settings: Settings, memory: InMemoryDirectory, maps: MapSet, clock: Clock | None = None
) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(
        create_app(create_services(settings, memory, maps, clock=clock or Clock()))
    )


def token_request(
    client: falcon.testing.TestClient,
    body: str = "grant_type=client_credentials",
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> falcon.testing.Result:
    return client.simulate_post("/oauth/token", body=body, headers={**FORM, **(headers or {})}, **kw)


def test_a_client_gets_an_access_token_with_its_secret_in_a_basic_header_or_the_body_and_it_opens_scim(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path, secret: str
) -> None:
    client = app_for(oauth_settings(tmp_path, [key_file], [secret]), memory, maps)
    by_header = token_request(client, headers=basic(CLIENT, secret))
    by_body = token_request(
        client, f"grant_type=client_credentials&client_id={CLIENT}&client_secret={secret}"
    )
    for answer in (by_header, by_body):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["cache-control"] == "no-store" and answer.headers["pragma"] == "no-cache"
        assert answer.json["token_type"] == "Bearer" and answer.json["expires_in"] == 3600
        assert set(answer.json) == {"access_token", "token_type", "expires_in"}
    token = by_header.json["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "EdDSA", "kid": load_signing_key(key_file).kid, "typ": "at+jwt"}
    assert claims["iss"] == "scim-ldap-bridge" and claims["aud"] == "scim-ldap-bridge/scim"
    assert claims["sub"] == CLIENT == claims["client_id"] and claims["exp"] - claims["iat"] == 3600
    assert by_header.json["access_token"] != by_body.json["access_token"]  # each has its own jti
    # Entra's Test Connection with the token: a random GUID is 200 and an empty list.
    found = client.simulate_get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{uuid.uuid4()}"'},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert found.status_code == 200, found.text
    assert found.json["totalResults"] == 0 and found.json["Resources"] == []
    # The long-lived token still works beside OAuth.
    assert (
        client.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    )


def test_an_rsa_key_signs_with_rs256_and_the_lifetime_and_scope_come_back_as_configured_and_asked(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, secret: str
) -> None:
    key = tmp_path / "rsa.pem"
    write_signing_key(key, "rsa")
    settings = oauth_settings(
        tmp_path, [key], [secret], token_lifetime=21600, issuer="https://scim.example.com"
    )
    client = app_for(settings, memory, maps)
    answer = token_request(client, "grant_type=client_credentials&scope=scim", headers=basic(CLIENT, secret))
    assert answer.status_code == 200, answer.text
    assert answer.json["expires_in"] == 21600 and answer.json["scope"] == "scim"
    token = answer.json["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "https://scim.example.com" and claims["exp"] - claims["iat"] == 21600
    assert (
        client.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_a_secret_rotates_without_downtime(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path
) -> None:
    old, new = new_secret(), new_secret()
    during = app_for(oauth_settings(tmp_path, [key_file], [old, new]), memory, maps)
    assert token_request(during, headers=basic(CLIENT, old)).status_code == 200
    issued_with_old = token_request(during, headers=basic(CLIENT, old)).json["access_token"]
    assert token_request(during, headers=basic(CLIENT, new)).status_code == 200
    after = app_for(oauth_settings(tmp_path, [key_file], [new]), memory, maps)
    refused = token_request(after, headers=basic(CLIENT, old))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_client"
    assert token_request(after, headers=basic(CLIENT, new)).status_code == 200
    # A token issued before the rotation stays valid until it expires (the client is still configured).
    used = after.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {issued_with_old}"})
    assert used.status_code == 200


BAD_REQUESTS = [
    pytest.param("grant_type=client_credentials", {}, 401, "invalid_client", id="no-client-authentication"),
    pytest.param("grant_type=client_credentials", "wrong", 401, "invalid_client", id="wrong-secret"),
    pytest.param("grant_type=client_credentials", "unknown", 401, "invalid_client", id="unknown-client"),
    pytest.param(
        "grant_type=client_credentials",
        {"Authorization": "Basic not*base64"},
        401,
        "invalid_client",
        id="malformed-basic",
    ),
    pytest.param("", "good", 400, "invalid_request", id="no-grant-type"),
    pytest.param(
        "grant_type=password&username=a&password=b", "good", 400, "unsupported_grant_type", id="password"
    ),
    pytest.param("grant_type=authorization_code&code=x", "good", 400, "unsupported_grant_type", id="code"),
    pytest.param(
        "grant_type=client_credentials&grant_type=client_credentials",
        "good",
        400,
        "invalid_request",
        id="repeated",
    ),
    pytest.param(
        "grant_type=client_credentials&client_secret=x", "good", 400, "invalid_request", id="two-methods"
    ),
    pytest.param(
        "grant_type=client_credentials&client_id=someone-else", "good", 400, "invalid_request", id="two-ids"
    ),
    pytest.param(
        "grant_type=client_credentials&client_secret=x", {}, 400, "invalid_request", id="no-client-id"
    ),
    pytest.param(
        f"grant_type=client_credentials&client_id={CLIENT}&client_assertion_type=urn%3Aother&client_assertion=a.b.c",
        {},
        401,
        "invalid_client",
        id="other-assertion-type",
    ),
    pytest.param(
        "grant_type=client_credentials&client_assertion=a.b.c",
        {},
        400,
        "invalid_request",
        id="assertion-alone",
    ),
]


@pytest.mark.parametrize(("body", "auth", "status", "error"), BAD_REQUESTS)
def test_every_refusal_is_an_oauth_error_in_json_never_stored(
    *,
    tmp_path: Path,
    memory: InMemoryDirectory,
    maps: MapSet,
    key_file: Path,
    secret: str,
    body: str,
    auth: Any,
    status: int,
    error: str,
) -> None:
    client = app_for(oauth_settings(tmp_path, [key_file], [secret]), memory, maps)
    named = {
        "good": basic(CLIENT, secret),
        "wrong": basic(CLIENT, "not-the-secret"),
        "unknown": basic("nobody", secret),
    }
    headers: dict[str, str] = named[auth] if isinstance(auth, str) else auth
    answer = token_request(client, body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    assert set(answer.json) == {"error", "error_description"} and answer.json["error"] == error
    if status == 401:
        assert answer.headers["www-authenticate"].startswith('Basic realm="scim-ldap-bridge"')


def test_the_token_request_must_be_a_form_post(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path, secret: str
) -> None:
    client = app_for(oauth_settings(tmp_path, [key_file], [secret]), memory, maps)
    as_json = client.simulate_post(
        "/oauth/token", json={"grant_type": "client_credentials"}, headers=basic(CLIENT, secret)
    )
    assert as_json.status_code == 400 and as_json.json["error"] == "invalid_request"
    assert "x-www-form-urlencoded" in as_json.json["error_description"]
    assert client.simulate_get("/oauth/token").status_code == 405
    huge = token_request(
        client, "grant_type=client_credentials&x=" + "a" * 70_000, headers=basic(CLIENT, secret)
    )
    assert huge.status_code == 400 and huge.json["error"] == "invalid_request"


def test_without_a_signing_key_there_is_no_token_endpoint(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet
) -> None:
    client = app_for(settings_with(tmp_path, {}), memory, maps)
    assert token_request(client, headers=basic(CLIENT, "x")).status_code == 404


def forgeries(key_file: Path, other_key: Path) -> dict[str, str]:
    """Tokens that must all be refused on a SCIM call, each with one thing wrong."""
    key = load_signing_key(key_file)
    now = int(time.time())
    good = {
        "iss": "scim-ldap-bridge",
        "aud": "scim-ldap-bridge/scim",
        "sub": CLIENT,
        "client_id": CLIENT,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }

    def sign(claims: dict[str, Any], with_key: Path = key_file, typ: str | None = "at+jwt") -> str:
        signer = load_signing_key(with_key)
        headers = {"kid": signer.kid, **({"typ": typ} if typ else {})}
        return jwt.encode(claims, signer.private, algorithm=signer.algorithm, headers=headers)

    assert sign(good)  # the control: test_forgeries_... checks that this one passes
    return {
        "expired": sign({**good, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}),
        "not-yet-valid": sign({**good, "nbf": now + 3600, "exp": now + 7200}),
        "wrong-audience": sign({**good, "aud": "another-api"}),
        "wrong-issuer": sign({**good, "iss": "https://evil.example.com"}),
        "no-expiry": sign({k: v for k, v in good.items() if k != "exp"}),
        "unknown-client": sign({**good, "sub": "someone", "client_id": "someone"}),
        "not-an-access-token": sign(good, typ=None),
        "unknown-kid": sign(good, with_key=other_key),
        "alg-none": forged_none(good, key.kid),
        "hs256-with-the-public-key": forged_hs256(good, public_pem(key.private), key.kid, typ="at+jwt"),
        "tampered": tampered(sign(good)),
        "not-a-jwt": "a.b.c",
        "control": sign(good),
    }


def test_forged_and_expired_access_tokens_are_refused_with_invalid_token_and_counted(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path, secret: str
) -> None:
    other = tmp_path / "other.pem"
    write_signing_key(other)
    client = app_for(oauth_settings(tmp_path, [key_file], [secret], auth={"max_failures": 0}), memory, maps)
    reasons = {}
    for name, token in forgeries(key_file, other).items():
        answer = client.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"})
        if name == "control":
            assert answer.status_code == 200, answer.text
            continue
        assert answer.status_code == 401, (name, answer.text)
        assert answer.headers["www-authenticate"] == 'Bearer realm="scim", error="invalid_token"', name
        assert answer.json["detail"].startswith("the bearer token is not valid"), name
        reasons[name] = answer.json["detail"]
    assert "expired" in reasons["expired"] and "not valid yet" in reasons["not-yet-valid"]
    assert "(aud)" in reasons["wrong-audience"] and "(iss)" in reasons["wrong-issuer"]
    assert "algorithm" in reasons["alg-none"] and "algorithm" in reasons["hs256-with-the-public-key"]
    assert "signature" in reasons["tampered"] and "key" in reasons["unknown-kid"]
    metrics = client.simulate_get("/metrics").text
    for reason, count in {
        "expired": 1,
        "not_yet_valid": 1,
        "bad_audience": 1,
        "bad_issuer": 1,
        "bad_algorithm": 2,
        "bad_signature": 1,
        "unknown_key": 1,
        "unknown_client": 1,
        "missing_claim": 1,
    }.items():
        assert f'scim_bridge_auth_failures_total{{endpoint="scim",reason="{reason}"}} {count}.0' in metrics, (
            reason
        )


def test_two_instances_with_one_key_file_accept_each_others_tokens_and_another_key_does_not(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path, secret: str
) -> None:
    settings = oauth_settings(tmp_path, [key_file], [secret])
    first, second = app_for(settings, memory, maps), app_for(settings, memory, maps)
    other_key = tmp_path / "elsewhere.pem"
    write_signing_key(other_key)
    elsewhere = app_for(oauth_settings(tmp_path, [other_key], [secret]), memory, maps)
    for issuer, user in ((first, second), (second, first)):
        token = token_request(issuer, headers=basic(CLIENT, secret)).json["access_token"]
        assert (
            user.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
        refused = elsewhere.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401


def test_a_signing_key_rotates_new_second_then_first(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path, secret: str
) -> None:
    new_key = tmp_path / "new.pem"
    write_signing_key(new_key, "rsa")
    old_only = app_for(oauth_settings(tmp_path, [key_file], [secret]), memory, maps)
    new_second = app_for(oauth_settings(tmp_path, [key_file, new_key], [secret]), memory, maps)
    new_first = app_for(oauth_settings(tmp_path, [new_key, key_file], [secret]), memory, maps)
    by_old = token_request(old_only, headers=basic(CLIENT, secret)).json["access_token"]
    by_second = token_request(new_second, headers=basic(CLIENT, secret)).json["access_token"]
    by_new = token_request(new_first, headers=basic(CLIENT, secret)).json["access_token"]
    assert jwt.get_unverified_header(by_second)["kid"] == load_signing_key(key_file).kid  # the first signs
    assert jwt.get_unverified_header(by_new)["kid"] == load_signing_key(new_key).kid
    for app, token, status in (
        (new_first, by_old, 200),  # tokens of the old key stay valid while it is listed
        (new_second, by_new, 200),  # instances not yet switched accept the new key's tokens
        (old_only, by_new, 401),  # an instance without the new key does not: list it everywhere first
    ):
        answer = app.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == status


def test_failed_token_requests_are_throttled_with_scim_failures_and_a_valid_client_always_passes(
    tmp_path: Path, memory: InMemoryDirectory, maps: MapSet, key_file: Path, secret: str
) -> None:
    clock = Clock()
    settings = oauth_settings(tmp_path, [key_file], [secret], auth={"max_failures": 3, "failure_window": 60})
    client = app_for(settings, memory, maps, clock)
    address = "198.51.100.7"
    wrong = basic(CLIENT, "guess")
    assert [token_request(client, headers=wrong, remote_addr=address).status_code for _ in range(3)] == [
        401
    ] * 3
    throttled = token_request(client, headers=wrong, remote_addr=address)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "61"
    assert throttled.json["error"] == "invalid_client" and throttled.headers["cache-control"] == "no-store"
    bad_scim = client.simulate_get(
        f"{SCIM}/Users", headers={"Authorization": "Bearer x.y.z"}, remote_addr=address
    )
    assert bad_scim.status_code == 429  # one limit for both: the address is past it
    for _ in range(20):  # the valid client, from the same address, passes every time
        granted = token_request(client, headers=basic(CLIENT, secret), remote_addr=address)
        assert granted.status_code == 200, granted.text
        token = granted.json["access_token"]
        used = client.simulate_get(
            f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"}, remote_addr=address
        )
        assert used.status_code == 200
    assert (
        token_request(client, headers=wrong, remote_addr="198.51.100.8").status_code == 401
    )  # others: own count
    clock.now += 61
    assert token_request(client, headers=wrong, remote_addr=address).status_code == 401


def test_refusals_and_grants_are_logged_and_counted_without_a_secret_or_a_token(
    *,
    tmp_path: Path,
    memory: InMemoryDirectory,
    maps: MapSet,
    key_file: Path,
    secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = app_for(oauth_settings(tmp_path, [key_file], [secret]), memory, maps)
    wrong_secret = new_secret()
    with caplog.at_level(logging.DEBUG):
        token = token_request(client, headers=basic(CLIENT, secret)).json["access_token"]
        token_request(
            client, f"grant_type=client_credentials&client_id={CLIENT}&client_secret={wrong_secret}"
        )
        token_request(client, headers=basic(CLIENT, wrong_secret))
        token_request(client, headers=basic(secret, CLIENT))  # the two fields swapped in Entra
        client.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {tampered(token)}"})
        client.simulate_get(f"{SCIM}/Users", headers={"Authorization": f"Bearer {token}"})
    logged = "\n".join(
        json.dumps({k: str(v) for k, v in record.__dict__.items()}) + record.getMessage()
        for record in caplog.records
    )
    for secret_value in (secret, wrong_secret, token, tampered(token), token.split(".")[2]):
        assert secret_value not in logged
    refusals = [r for r in caplog.records if r.getMessage().startswith("refused a token request")]
    assert [(r.reason, r.client_id) for r in refusals] == [  # type: ignore[attr-defined]
        ("bad_secret", CLIENT),
        ("bad_secret", CLIENT),
        ("unknown_client", None),  # an id no client has is not logged: it may be a secret
    ]
    scim_refusal = next(r for r in caplog.records if r.getMessage().startswith("refused a bearer token"))
    assert scim_refusal.reason == "bad_signature"  # type: ignore[attr-defined]
    assert scim_refusal.kid == load_signing_key(key_file).kid  # type: ignore[attr-defined]
    assert scim_refusal.jti == jwt.decode(token, options={"verify_signature": False})["jti"]  # type: ignore[attr-defined]
    issued = next(r for r in caplog.records if r.getMessage().startswith("issued an access token"))
    assert issued.method == "client_secret_basic"  # type: ignore[attr-defined]
    metrics = client.simulate_get("/metrics").text
    assert 'scim_bridge_auth_failures_total{endpoint="token",reason="bad_secret"} 2.0' in metrics
    assert 'scim_bridge_auth_failures_total{endpoint="token",reason="unknown_client"} 1.0' in metrics
    assert 'scim_bridge_oauth_tokens_issued_total{method="client_secret_basic"} 1.0' in metrics
    assert 'scim_bridge_auth_failures_total{endpoint="scim",reason="bad_signature"} 1.0' in metrics
