"""Real keys and a real identity provider for the OAuth tests: an OpenID discovery document and a JWKS
served over HTTP on a loopback port (a ``http.server`` thread), keys generated here (RSA and Ed25519),
and the malformed tokens an attacker would try (``alg: none``, HS256 signed with the public key, a
tampered signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from bridge.config import Settings, parse_settings
from bridge.oauth.keys import KeyType, PrivateKey, load_signing_key, new_key_pem, public_jwk, thumbprint
from tests.conftest import GROUP_BASE, OPENLDAP_MAP, SUFFIX, TOKEN_HASH, USER_BASE

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ENTRA_AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def new_private_key(kind: str) -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_signing_key(path: Path, kind: KeyType = "ed25519") -> str:
    """A fresh signing key for the bridge at ``path``; returns its kid."""
    path.write_bytes(new_key_pem(kind))
    return load_signing_key(path).kid


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def forged_none(claims: dict[str, Any], kid: str) -> str:
    """An unsigned token (``alg: none``)."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def forged_hs256(claims: dict[str, Any], secret: bytes, kid: str, typ: str = "JWT") -> str:
    """A token "signed" with HMAC-SHA256 under ``secret`` (the classic confusion: the public key as the
    HMAC secret). Made by hand: PyJWT itself refuses to use a PEM key as an HMAC secret."""
    header = b64(json.dumps({"alg": "HS256", "typ": typ, "kid": kid}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(signature)}"


def tampered(token: str) -> str:
    """``token`` with one claim changed and the signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(claims.get("sub", "")) + "x"
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


@dataclass
class IdentityProvider:
    """A loopback OpenID provider: ``/<tenant>/v2.0/.well-known/openid-configuration`` names
    ``/<tenant>/keys``, the JWKS of the published keys. Keys can be added unpublished (a rotation not yet
    announced), published later, and the provider can be taken down (503)."""

    tenant: str = field(default_factory=lambda: str(uuid.uuid4()))
    keys: dict[str, PrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    down: bool = False
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.tenant}"

    @property
    def discovery_url(self) -> str:
        return f"{self.base}/v2.0/.well-known/openid-configuration"

    @property
    def v2_issuer(self) -> str:  # the issuer of Entra's federation assertions
        return f"https://login.microsoftonline.com/{self.tenant}/v2.0"

    @property
    def sts_issuer(self) -> str:  # the issuer of Entra's own bearer tokens
        return f"https://sts.windows.net/{self.tenant}/"

    @property
    def key_fetches(self) -> int:
        return self.hits["keys"]

    def add_key(self, kind: str = "rsa", *, publish: bool = True) -> str:
        key = new_private_key(kind)
        kid = thumbprint(key.public_key())[:16]
        self.keys[kid] = key
        if publish:
            self.published.append(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**public_jwk(self.keys[kid].public_key()), "kid": kid, "use": "sig"}
                for kid in self.published
            ]
        }

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()))
        return path

    def sign(self, claims: dict[str, Any], kid: str, headers: dict[str, Any] | None = None) -> str:
        key = self.keys[kid]
        algorithm = "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "RS256"
        return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid, **(headers or {})})

    def assertion(self, kid: str, **changes: Any) -> str:
        """A client assertion as Entra's workload identity federation sends it (claims of the
        SCIMReferenceCode description), with ``changes`` (None removes a claim)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": "api://b5ba7a93-4452-4522-aeb4-a2b5da870c16",
            "iss": self.v2_issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3900,
            "appid": "b5ba7a93-4452-4522-aeb4-a2b5da870c16",
            "oid": "d2f8ee76-c549-45b8-a143-f5b640669704",
            "sub": "7c1e2d3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
            "tid": self.tenant,
            "ver": "2.0",
            "jti": uuid.uuid4().hex,
        }
        claims.update(changes)
        return self.sign({k: v for k, v in claims.items() if v is not None}, kid)

    def entra_token(self, kid: str, **changes: Any) -> str:
        """A bearer token as Entra sends it with a blank Secret Token."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": ENTRA_AUDIENCE,
            "iss": self.sts_issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "appid": "3a1f7d6e-1111-4222-8333-944455556666",
            "tid": self.tenant,
        }
        claims.update(changes)
        return self.sign({k: v for k, v in claims.items() if v is not None}, kid)


def federation(provider: IdentityProvider, **changes: Any) -> dict[str, Any]:
    """The ``federation`` section of a client, for ``provider``'s assertions."""
    return {
        "issuer": provider.v2_issuer,
        "subject": "7c1e2d3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "audience": "api://b5ba7a93-4452-4522-aeb4-a2b5da870c16",
        "discovery_url": provider.discovery_url,
        **changes,
    }


@contextmanager
def serving(provider: IdentityProvider) -> Iterator[IdentityProvider]:
    """``provider`` on a free loopback port until the block ends."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if provider.down:
                self._send(503, {"error": "down"})
                return
            if self.path == f"/{provider.tenant}/v2.0/.well-known/openid-configuration":
                provider.hits["discovery"] += 1
                self._send(200, {"issuer": provider.v2_issuer, "jwks_uri": f"{provider.base}/keys"})
            elif self.path == f"/{provider.tenant}/keys":
                provider.hits["keys"] += 1
                self._send(200, provider.jwks())
            else:
                self._send(404, {"error": "not found"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-idp", daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def settings_with(folder: Path, auth: dict[str, Any]) -> Settings:
    """Settings loaded as ``serve`` loads them (every check of check-config), with ``auth`` keys over a
    long-lived token's hash, for an app over the in-memory directory."""
    (folder / "bind-password").write_text("unused\n")
    data = {
        "auth": {"token_hashes": [TOKEN_HASH], **auth},
        "ldap": {
            "urls": ["ldap://127.0.0.1:1"],
            "bind_dn": f"cn=admin,{SUFFIX}",
            "user_base": USER_BASE,
            "group_base": GROUP_BASE,
            "tls": "none",
            "bind_password_file": "bind-password",
        },
        "map": str(OPENLDAP_MAP),
    }
    return parse_settings(data, str(folder / "bridge.yaml"))
