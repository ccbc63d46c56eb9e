"""Entra's three ways to authenticate, end to end (issue #19): two real ``scim-ldap-bridge serve``
processes sharing one signing key file, over slapd, and a loopback identity provider serving a
discovery document and a JWKS. Test Connection as Entra runs it: a token request, then
``GET /Users?filter=userName eq "<random GUID>"`` with the access token, answered 200 with an empty list,
by the other instance than the one that issued the token."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from bridge.hashes import hash_secret, new_secret
from bridge.testing.slapd import SlapdInfo
from tests.conftest import OPENLDAP_MAP, TOKEN
from tests.e2e.conftest import Bridge, serve_with
from tests.oauth_support import ASSERTION_TYPE, IdentityProvider, federation, serving, write_signing_key
from tests.slapd_fixtures import Subtree

SECRET_CLIENT, FEDERATED_CLIENT = "entra-secret", "entra-wif"


def origin(bridge: Bridge) -> str:
    return bridge.url.removesuffix("/scim/v2")


def token_request(
    bridge: Bridge, form: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        origin(bridge) + "/oauth/token",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Cache-Control"] == "no-store"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def entra_test_connection(bridge: Bridge, token: str) -> None:
    """Entra's Test Connection query with ``token``: a random GUID matches nobody."""
    query = urllib.parse.quote(f'userName eq "{uuid.uuid4()}"')
    status, body, headers = bridge.call("GET", f"/Users?filter={query}", token=token)
    assert status == 200, body
    assert body["totalResults"] == 0 and body["Resources"] == []
    assert headers["Content-Type"] == "application/scim+json"


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with serving(IdentityProvider()) as provider:
        yield provider


@contextmanager
def two_bridges(
    tmp_path: Path, slapd: SlapdInfo, subtree: Subtree, auth: dict[str, Any]
) -> Iterator[tuple[Bridge, Bridge]]:
    assert slapd.ca_file
    ldap = {
        "urls": [slapd.url],
        "tls": "starttls",
        "ca_file": slapd.ca_file,
        "bind_dn": slapd.bind_dn,
        "user_base": subtree.user_base,
        "group_base": subtree.group_base,
    }
    with ExitStack() as stack:
        bridges = []
        for name in ("a", "b"):
            folder = tmp_path / name
            folder.mkdir()
            serving_one = contextmanager(serve_with)(folder, ldap, slapd.password, OPENLDAP_MAP, auth=auth)
            bridges.append(stack.enter_context(serving_one))
        yield bridges[0], bridges[1]


def test_entras_three_ways_in_work_end_to_end_across_two_instances_with_one_key_file(
    tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree, idp: IdentityProvider
) -> None:
    key_file = tmp_path / "oauth-signing.pem"
    write_signing_key(key_file, "rsa")
    kid = idp.add_key("rsa")
    secret = new_secret()
    auth = {
        "oauth": {
            "signing_keys": [str(key_file)],
            "issuer": "https://scim.example.com",
            "token_lifetime": 7200,
            "clients": [
                {"id": SECRET_CLIENT, "secret_hashes": [hash_secret(secret)]},
                {"id": FEDERATED_CLIENT, "federation": federation(idp)},
            ],
            "entra_tokens": {"tenant_id": idp.tenant, "discovery_url": idp.discovery_url},
        }
    }
    with two_bridges(tmp_path, slapd, ldap_subtree, auth) as (first, second):
        # 1. OAuth client credentials, as Entra sends them (Basic header), then Test Connection.
        basic = base64.b64encode(f"{SECRET_CLIENT}:{secret}".encode()).decode()
        status, answer = token_request(
            first, {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}
        )
        assert status == 200 and answer["token_type"] == "Bearer" and answer["expires_in"] == 7200, answer
        entra_test_connection(second, answer["access_token"])
        entra_test_connection(first, answer["access_token"])
        refused = token_request(
            first, {"grant_type": "client_credentials", "client_id": SECRET_CLIENT, "client_secret": "wrong"}
        )
        assert refused == (
            401,
            {"error": "invalid_client", "error_description": "the client secret is not valid"},
        )

        # 2. Federation: Entra's assertion instead of a secret, at the other instance.
        assertion = idp.assertion(kid)
        form = {
            "grant_type": "client_credentials",
            "client_id": FEDERATED_CLIENT,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": "scim",
        }
        status, federated = token_request(second, form)
        assert status == 200 and federated["scope"] == "scim", federated
        entra_test_connection(first, federated["access_token"])
        assert token_request(second, form)[0] == 401  # the same assertion (jti) again

        # 3. Entra's own token (Secret Token left blank), straight on SCIM calls.
        entra_test_connection(first, idp.entra_token(kid))
        entra_test_connection(second, idp.entra_token(kid))

        # The long-lived token stays available; a wrong one is refused as before.
        entra_test_connection(second, TOKEN)
        assert first.call("GET", "/Users", token=answer["access_token"][:-4] + "AAAA")[0] == 401

        assert idp.key_fetches == 2  # each instance fetched the tenant's keys once, then cached them
        with urllib.request.urlopen(origin(first) + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert 'scim_bridge_oauth_tokens_issued_total{method="client_secret_basic"} 1.0' in metrics
        assert 'scim_bridge_auth_failures_total{endpoint="token",reason="bad_secret"} 1.0' in metrics
        assert 'scim_bridge_auth_failures_total{endpoint="scim",reason="bad_signature"} 1.0' in metrics

    logs = "\n".join(path.read_text() for path in tmp_path.glob("*/stderr.log"))
    for value in (secret, answer["access_token"], federated["access_token"], assertion, TOKEN):
        assert value not in logs
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    issued = [line for line in lines if line["message"].startswith("issued an access token")]
    assert sorted(line["method"] for line in issued) == ["client_assertion", "client_secret_basic"]
    refusals = {line.get("reason") for line in lines if line["message"].startswith("refused")}
    assert refusals == {"bad_secret", "replayed", "bad_signature"}
