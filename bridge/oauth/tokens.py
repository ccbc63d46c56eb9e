"""The access tokens the token endpoint issues: JWTs signed with the first signing key, verified by any.

A token carries what RFC 9068 names for JWT access tokens: ``typ: at+jwt`` in its header, ``iss`` and
``aud`` from the configuration, ``sub`` and ``client_id`` (the client it was issued to), ``iat``, ``nbf``,
``exp`` and a random ``jti``. Verifying needs no state shared between instances: any bridge that has the
key file checks the signature, the issuer, the audience and the times, and that the client is still
configured (removing a client from the configuration revokes its tokens at the next reload; removing a
secret does not revoke the tokens issued with it, which expire within ``token_lifetime``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

import jwt

from bridge.oauth import verify
from bridge.oauth.errors import Refused
from bridge.oauth.keys import SigningKey

MIN_LIFETIME = 3600  # Entra's window for access tokens: 60 minutes to 6 hours
MAX_LIFETIME = 21_600
TYP = "at+jwt"


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    expires_in: int
    jti: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for: ``kind`` is ``access_token`` or ``entra``."""

    kind: str
    subject: str
    jti: str | None
    kid: str | None


class AccessTokens:
    """Issues and verifies the bridge's own access tokens."""

    def __init__(
        self,
        keys: Sequence[SigningKey],
        *,
        issuer: str,
        audience: str,
        lifetime: int,
        clients: Container[str],
        now: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._signer = keys[0]
        self._keys = {key.kid: key for key in keys}
        self.issuer, self.audience, self.lifetime = issuer, audience, lifetime
        self._clients = clients
        self._now = now

    def issue(self, client_id: str) -> Issued:
        now = int(self._now())
        jti = secrets.token_urlsafe(16)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client_id,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": jti,
        }
        headers = {"kid": self._signer.kid, "typ": TYP}
        token = jwt.encode(claims, self._signer.private, algorithm=self._signer.algorithm, headers=headers)
        return Issued(token, self.lifetime, jti)

    def verify(self, token: str) -> Principal:
        """The client a token was issued to; Refused when the token is not one of ours and valid."""
        kid = verify.header(token).get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise Refused("unknown_key", "the token was not signed by a key of this bridge", kid=kid)
        header, claims = verify.check(
            token,
            key.public,
            key.algorithm,
            issuer=self.issuer,
            audience=self.audience,
            required=("exp", "iat", "iss", "aud", "sub", "jti"),
        )
        if header.get("typ") != TYP:
            raise Refused("malformed", "the token is not an access token (typ)", kid=kid)
        subject = claims["sub"]
        if subject not in self._clients:
            raise Refused("unknown_client", "the token's client is no longer configured", kid=kid)
        return Principal("access_token", subject, claims.get("jti"), key.kid)
