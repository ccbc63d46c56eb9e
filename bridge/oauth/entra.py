"""The bearer JWTs Entra sends on SCIM calls when the Secret Token field is left blank.

Microsoft documents them as issued by ``https://sts.windows.net/<tenant id>/`` with the audience
``8adf8e6e-67b2-4cf2-a259-e3dc5476c621`` for every non-gallery ("custom") application, and says they are
for testing only: any custom app of the tenant gets a token with the same issuer and audience. They are
checked like the federation's assertions: a key the tenant publishes (by default from the issuer's
discovery document, ``https://sts.windows.net/<tenant id>/.well-known/openid-configuration``), the
issuer, the audience, ``exp`` and ``nbf``.
"""

from __future__ import annotations

from bridge.oauth import verify
from bridge.oauth.errors import Refused, safe
from bridge.oauth.jwks import KeyCache
from bridge.oauth.tokens import Principal

CUSTOM_APP_AUDIENCE = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"


def entra_issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id.lower()}/"


class EntraTokens:
    def __init__(self, tenant_id: str, audience: str, keys: KeyCache) -> None:
        self.tenant_id = tenant_id.lower()
        self.issuer = entra_issuer(tenant_id)
        self.audience = audience
        self._keys = keys

    def verify(self, token: str) -> Principal:
        kid = verify.header(token).get("kid")
        key = self._keys.key(kid)
        _, claims = verify.check(
            token,
            key,
            str(key.algorithm_name),
            issuer=self.issuer,
            audience=self.audience,
            required=("exp", "iss", "aud"),
        )
        tid = claims.get("tid")
        if tid is not None and str(tid).lower() != self.tenant_id:
            raise Refused("bad_issuer", "the token is of another tenant (tid)", kid=kid)
        who = safe(claims.get("appid")) or safe(claims.get("oid")) or "entra"
        return Principal("entra", who, safe(claims.get("uti") or claims.get("jti")), safe(kid))
