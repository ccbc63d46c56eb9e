"""Counters of authentication: refusals by where and why, and access tokens issued by how the client
authenticated. Every label has a fixed set of values (``bridge.oauth.errors.REASONS``, :data:`METHODS`):
nothing a client sends becomes a label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from bridge.oauth.errors import REASONS

ENDPOINTS = frozenset({"scim", "token"})
METHODS = frozenset({"client_secret_basic", "client_secret_post", "client_assertion", "jwt_bearer_grant"})


class AuthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._failures = Counter(
            "scim_bridge_auth_failures",
            "Refused authentications, by endpoint (scim: a SCIM call's bearer token; token: a request to "
            "the OAuth token endpoint) and reason.",
            ["endpoint", "reason"],
            registry=registry,
        )
        self._issued = Counter(
            "scim_bridge_oauth_tokens_issued",
            "Access tokens the OAuth token endpoint issued, by how the client authenticated.",
            ["method"],
            registry=registry,
        )

    def failed(self, endpoint: str, reason: str) -> None:
        assert endpoint in ENDPOINTS and reason in REASONS, (endpoint, reason)
        self._failures.labels(endpoint, reason).inc()

    def issued(self, method: str) -> None:
        assert method in METHODS, method
        self._issued.labels(method).inc()
