"""Everything OAuth, built from ``auth.oauth``: the access tokens, the clients, the assertions and Entra's
own tokens, sharing one key cache per provider and one replay cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt

from bridge.config import EntraTokensConfig, FederationConfig, OAuthConfig
from bridge.oauth import jwks, verify
from bridge.oauth.assertions import AssertionVerifier, Federation
from bridge.oauth.clients import ClientRegistry
from bridge.oauth.entra import EntraTokens, entra_issuer
from bridge.oauth.errors import Refused
from bridge.oauth.keys import load_signing_key
from bridge.oauth.replay import ReplayCache
from bridge.oauth.tokens import AccessTokens, Principal


@dataclass(frozen=True, slots=True)
class OAuth:
    tokens: AccessTokens | None  # None: no signing key, so no access tokens and no token endpoint
    clients: ClientRegistry
    assertions: AssertionVerifier
    entra: EntraTokens | None

    @property
    def serves_tokens(self) -> bool:
        """Whether the token endpoint is served: a key signs, and a client may ask."""
        return self.tokens is not None and (bool(self.assertions) or bool(self.client_ids))

    @property
    def client_ids(self) -> frozenset[str]:
        return self.clients.ids

    @property
    def verifies_jwts(self) -> bool:
        return self.tokens is not None or self.entra is not None

    def verify_bearer(self, token: str) -> Principal:
        """Who a bearer JWT on a SCIM call speaks for: one of the bridge's access tokens, or Entra's own
        token; picked by the (unverified) issuer, then verified in full. Refused otherwise."""
        issuer = verify.claims(token).get("iss")
        if self.tokens is not None and issuer == self.tokens.issuer:
            return self.tokens.verify(token)
        if self.entra is not None and issuer == self.entra.issuer:
            return self.entra.verify(token)
        kid = verify.header(token).get("kid")
        raise Refused("bad_issuer", "the token's issuer (iss) is not one this bridge accepts", kid=kid)


def _key_source(
    source: FederationConfig | EntraTokensConfig, issuer: str, base_dir: Path
) -> tuple[str, Callable[[], dict[str, jwt.PyJWK]]]:
    if source.jwks_file is not None:
        path = (base_dir / source.jwks_file).resolve()
        return str(path), jwks.from_file(path)
    url = source.discovery_url or jwks.discovery_url_for(issuer)
    return url, jwks.discovered(url)


def build_oauth(
    config: OAuthConfig,
    base_dir: Path,
    *,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], float] = time.time,
) -> OAuth:
    """The OAuth parts the configuration asks for. ``clock`` paces key fetches; ``now`` is the wall
    clock of the tokens' times. A key file that cannot be loaded raises KeyFileError."""
    caches: dict[str, jwks.KeyCache] = {}

    def cache(source: FederationConfig | EntraTokensConfig, issuer: str) -> jwks.KeyCache:
        name, load = _key_source(source, issuer, base_dir)
        if name not in caches:
            caches[name] = jwks.KeyCache(load, name, clock=clock)
        return caches[name]

    clients = ClientRegistry((client.id, client.secret_hashes) for client in config.clients)
    signing = [load_signing_key(base_dir / name) for name in config.signing_keys]
    tokens = None
    if signing:
        tokens = AccessTokens(
            signing,
            issuer=config.issuer,
            audience=config.audience,
            lifetime=config.token_lifetime,
            clients=clients,
            now=now,
        )
    federations = [
        Federation(
            client.id,
            client.federation.issuer,
            client.federation.subject,
            client.federation.audience,
            cache(client.federation, client.federation.issuer),
            client.federation.require_jti,
        )
        for client in config.clients
        if client.federation is not None
    ]
    entra = None
    if config.entra_tokens is not None:
        settings = config.entra_tokens
        issuer = entra_issuer(settings.tenant_id)
        entra = EntraTokens(settings.tenant_id, settings.audience, cache(settings, issuer))
    return OAuth(tokens, clients, AssertionVerifier(federations, ReplayCache(now)), entra)
