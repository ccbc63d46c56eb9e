"""OAuth 2.0 for the bridge: short-lived access tokens instead of a long-lived secret (issue #19).

Three ways in, besides the long-lived bearer tokens of ``auth.token_hashes``:

- **client credentials** (RFC 6749 section 4.4): a client configured under ``auth.oauth.clients`` sends
  its identifier and a secret to the token endpoint (:data:`TOKEN_PATH`) and gets an access token, a JWT
  the bridge signs with the first of ``auth.oauth.signing_keys``;
- **federation** (RFC 7523): the client authenticates with a JWT its identity provider (Entra) signed,
  checked against that provider's published keys, so that no secret exists anywhere;
- **Entra-issued bearer tokens**: the JWT Entra sends itself when its Secret Token field is blank,
  accepted on SCIM calls when ``auth.oauth.entra_tokens`` names the tenant.

One idea per module: :mod:`.keys` (the signing keys), :mod:`.clients` (clients and secret hashes),
:mod:`.verify` (one JWT check over PyJWT), :mod:`.tokens` (issuing and verifying access tokens),
:mod:`.jwks` (a provider's keys, fetched and cached), :mod:`.replay` (``jti`` seen before),
:mod:`.assertions` (RFC 7523 client assertions), :mod:`.entra` (Entra's own bearer tokens) and
:mod:`.setup` (all of it, from the configuration). The HTTP side is ``bridge/http/oauth_endpoint.py``.
No module here does cryptography itself: signatures are PyJWT's over the ``cryptography`` package.
"""

from __future__ import annotations

# Outside the SCIM base path: a token endpoint is no SCIM resource.
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path
