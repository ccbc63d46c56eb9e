"""Why a credential was refused, in a fixed vocabulary: each reason is a metric label and a log field, so
the set is closed (a bounded label) and no reason carries anything the client sent."""

from __future__ import annotations

import re

# Every reason a token, an assertion or a client authentication is refused for.
REASONS = frozenset(
    {
        "missing",  # no credential at all
        "invalid_token",  # a long-lived bearer token that hashes to no configured hash
        "malformed",  # not a JWT, or one that cannot be decoded
        "bad_algorithm",  # alg none, HS256, or any algorithm other than the key's own
        "bad_signature",
        "unknown_key",  # a kid no configured or published key has (after a refresh)
        "expired",
        "not_yet_valid",  # nbf (or iat) in the future
        "bad_audience",
        "bad_issuer",
        "bad_subject",
        "missing_claim",
        "replayed",  # a jti seen before, while its assertion is valid
        "unknown_client",
        "bad_secret",
        "invalid_request",
        "unsupported_grant_type",
    }
)
_SAFE = re.compile(r"^[A-Za-z0-9._:/+=-]{1,80}$")


def safe(value: object) -> str | None:
    """``value`` when it is short and plain enough to be logged (a kid, a jti, a client id), else None:
    what a client sent reaches a log line only when it cannot carry anything but an identifier."""
    return value if isinstance(value, str) and _SAFE.match(value) else None


class Refused(Exception):
    """A credential (an access token, an assertion, an Entra token, a client secret) was refused.

    ``reason`` is one of :data:`REASONS`; ``kid`` and ``jti`` are the token's own when they are safe to
    log; ``detail`` is a fixed sentence for the client."""

    def __init__(self, reason: str, detail: str, *, kid: object = None, jti: object = None) -> None:
        assert reason in REASONS, reason
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.kid = safe(kid)
        self.jti = safe(jti)


class KeysUnavailable(Exception):
    """An identity provider's keys cannot be had now (its discovery document or JWKS does not answer, and
    none were fetched before): not the client's fault, so a 503 and never a counted failure."""
