"""OAuth clients and their secrets, of which the configuration keeps only SHA-256 hashes.

The bridge makes every secret itself (``scim-ldap-bridge token client new`` and ``token secret new``),
256 random bits kept as a SHA-256 hash, as the long-lived tokens are (:mod:`bridge.hashes` says why that
suffices). A client has several hashes at once, so a secret is rotated without downtime: add the new hash,
give Entra the new secret, remove the old hash. Every hash of the client is compared, in constant time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bridge.hashes import digests, matches
from bridge.oauth.errors import Refused

CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")  # no ':', which separates the id in a Basic header
_NO_DIGEST = hashlib.sha256(b"").digest()


def new_client_id(prefix: str = "entra") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    digests: tuple[bytes, ...]


class ClientRegistry:
    """The configured clients; authenticates a client identifier and secret."""

    def __init__(self, clients: Iterable[tuple[str, Sequence[str]]]) -> None:
        self._clients = {client_id: Client(client_id, digests(hashes)) for client_id, hashes in clients}

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._clients

    @property
    def ids(self) -> frozenset[str]:
        """The clients that authenticate with a secret."""
        return frozenset(client_id for client_id, client in self._clients.items() if client.digests)

    def authenticate(self, client_id: str, secret: str) -> str:
        """``client_id`` when ``secret`` hashes to one of its hashes; else Refused (``unknown_client`` or
        ``bad_secret``). An unknown client costs the same hash and comparison as a known one."""
        client = self._clients.get(client_id)
        matched = matches(secret, client.digests if client is not None else (_NO_DIGEST,))
        if client is None:
            raise Refused("unknown_client", "no such client")
        if not client.digests:
            raise Refused("bad_secret", "this client authenticates with an assertion, not a secret")
        if not matched:
            raise Refused("bad_secret", "the client secret is not valid")
        return client.id
