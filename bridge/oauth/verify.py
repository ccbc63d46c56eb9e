"""One JWT check, over PyJWT: the signature with the one algorithm the key allows, then the claims.

Every refusal becomes :class:`Refused` with a reason from a fixed set. The algorithm always comes from
the key (EdDSA for Ed25519, RS256 for RSA), never from the token's header, so ``alg: none``, an HMAC
token "signed" with a public key, or any other algorithm is refused before its signature is looked at.
Time claims get :data:`LEEWAY` seconds for clocks that differ between the bridge and the issuer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jwt

from bridge.oauth.errors import Refused

LEEWAY = 60
MAX_TOKEN_CHARS = 16_384  # Entra's tokens are about 1.5 KB; anything this long is not one


def header(token: str) -> dict[str, Any]:
    """The token's header, unverified (to pick the key); Refused ``malformed`` when it has none."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise Refused("malformed", "the token is not a JWT")
    try:
        found = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused("malformed", "the token is not a JWT") from None
    return found


def claims(token: str) -> dict[str, Any]:
    """The token's claims, unverified (to pick the issuer or client whose keys check it)."""
    header(token)
    try:
        found = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Refused("malformed", "the token is not a JWT") from None
    return found


def _jti(token: str) -> object:
    """The token's jti, unverified, for the log line of a refusal (:func:`Refused` keeps it only when it
    is a plain identifier)."""
    try:
        return claims(token).get("jti")
    except Refused:
        return None


_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    # Order matters: the more specific classes first.
    (jwt.ExpiredSignatureError, "expired", "the token has expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid", "the token is not valid yet"),
    (jwt.InvalidIssuedAtError, "not_yet_valid", "the token's iat is not a time in the past"),
    (jwt.InvalidAudienceError, "bad_audience", "the token is not meant for this bridge (aud)"),
    (jwt.InvalidIssuerError, "bad_issuer", "the token's issuer (iss) is not the expected one"),
    (jwt.MissingRequiredClaimError, "missing_claim", "the token lacks a required claim"),
    (jwt.InvalidAlgorithmError, "bad_algorithm", "the token's algorithm is not the key's"),
    (jwt.InvalidSignatureError, "bad_signature", "the token's signature is not valid"),
)


def check(
    token: str,
    key: Any,
    algorithm: str,
    *,
    issuer: str,
    audience: str | Sequence[str],
    required: Sequence[str],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The verified header and claims of ``token``, signed by ``key`` with ``algorithm`` and carrying
    ``issuer``, one of ``audience`` and every claim in ``required``; else Refused."""
    found = header(token)
    kid, jti = found.get("kid"), _jti(token)
    try:
        decoded = jwt.decode_complete(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY,
            options={"require": list(required)},
        )
    except jwt.PyJWTError as exc:
        for kind, reason, detail in _REFUSALS:
            if isinstance(exc, kind):
                raise Refused(reason, detail, kid=kid, jti=jti) from None
        raise Refused("malformed", "the token cannot be read", kid=kid) from None
    payload = decoded["payload"]
    if not isinstance(payload, dict):  # pragma: no cover - PyJWT decodes a JSON object or raises
        raise Refused("malformed", "the token's claims are not an object", kid=kid)
    return decoded["header"], payload
