"""Client authentication with a JWT the client's identity provider signed (RFC 7523 section 2.2):
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and
``client_assertion=<JWT>`` at the token endpoint. This is Entra's workload identity federation: the
provisioning service presents a token Entra issued, and no secret exists anywhere.

A client configured with ``federation`` is authenticated when the assertion is signed by a key its
issuer publishes (:mod:`bridge.oauth.jwks`), names that issuer (``iss``), subject (``sub``) and
audience (``aud``) exactly, has not expired (``exp``), is valid already (``nbf``, when present), and
its ``jti``, when present (required with ``require_jti``), has not been used before (:mod:`.replay`).
The client is the one ``client_id`` names, when the request names one (Entra does: its assertion's
``sub`` is the provisioning service's identity, not the client identifier); otherwise the one whose
issuer and subject the assertion carries.

The same checks serve the JWT authorization grant (RFC 7523 section 2.1,
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``), where a refusal is ``invalid_grant``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.oauth import verify
from bridge.oauth.errors import Refused
from bridge.oauth.jwks import KeyCache
from bridge.oauth.replay import ReplayCache

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def audiences(configured: str) -> tuple[str, ...]:
    """The audiences an assertion may carry: the configured one, and without a trailing ``/.default``.
    Entra's screen may show the audience as a scope (``api://<app id>/.default``); the token it then
    issues carries the audience without the scope suffix."""
    bare = configured.removesuffix("/.default")
    return (configured,) if bare == configured or not bare else (configured, bare)


@dataclass(frozen=True, slots=True)
class Federation:
    client_id: str
    issuer: str
    subject: str
    audience: str
    keys: KeyCache
    require_jti: bool = False


class AssertionVerifier:
    def __init__(self, federations: Sequence[Federation], replay: ReplayCache) -> None:
        self._federations = list(federations)
        self._by_client = {federation.client_id: federation for federation in federations}
        self._replay = replay

    def __bool__(self) -> bool:
        return bool(self._federations)

    def _federation(self, assertion: str, client_id: str | None) -> Federation:
        claims = verify.claims(assertion)
        kid, jti = verify.header(assertion).get("kid"), claims.get("jti")
        if client_id is not None:
            named = self._by_client.get(client_id)
            if named is None:
                raise Refused("unknown_client", "no client with this id authenticates with an assertion")
            return named
        candidates = [
            federation
            for federation in self._federations
            if federation.issuer == claims.get("iss") and federation.subject == claims.get("sub")
        ]
        if not candidates:
            raise Refused(
                "unknown_client",
                "no client is configured for this assertion's issuer and subject",
                kid=kid,
                jti=jti,
            )
        sent = claims.get("aud")
        sent_audiences = set(sent) if isinstance(sent, list) else {sent}
        for federation in candidates:
            if sent_audiences & set(audiences(federation.audience)):
                return federation
        return candidates[0]

    def verify(self, assertion: str, client_id: str | None) -> str:
        """The client the assertion authenticates; Refused (or KeysUnavailable) otherwise."""
        federation = self._federation(assertion, client_id)
        key = federation.keys.key(verify.header(assertion).get("kid"))
        _, claims = verify.check(
            assertion,
            key,
            str(key.algorithm_name),
            issuer=federation.issuer,
            audience=audiences(federation.audience),
            required=("exp", "iss", "sub", "aud"),
        )
        jti = claims.get("jti")
        if claims["sub"] != federation.subject:
            raise Refused("bad_subject", "the assertion's subject (sub) is not the configured one", jti=jti)
        if jti is None:
            if federation.require_jti:
                raise Refused("missing_claim", "the assertion has no jti, which this client requires")
        else:
            self._replay.use(federation.issuer, str(jti), float(claims["exp"]) + verify.LEEWAY)
        return federation.client_id
