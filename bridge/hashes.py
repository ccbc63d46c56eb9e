"""The secrets the bridge makes (bearer tokens, OAuth client secrets) and the form the configuration
keeps them in: ``sha256:`` and 64 lower-case hex digits, never the secret itself.

Each secret is 256 random bits, so one SHA-256 is as strong as any password hash: a slow KDF exists to
make guessing a low-entropy password expensive, and there is nothing to guess here. A presented secret is
compared with every stored hash, in constant time, so neither the configuration nor the timing of a
refusal tells anything about a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence

SECRET_BYTES = 32  # 256 bits


def new_secret() -> str:
    """A fresh secret: 256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def hash_secret(secret: str) -> str:
    """The configuration's form of a secret."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh bearer token and its configuration form."""
    token = new_secret()
    return token, hash_secret(token)


def digests(hashes: Iterable[str]) -> tuple[bytes, ...]:
    """The raw digests of configuration hashes (checked as ``sha256:<hex>`` when the config loads)."""
    return tuple(bytes.fromhex(h.removeprefix("sha256:")) for h in hashes)


def matches(secret: str, stored: Sequence[bytes]) -> bool:
    """Whether ``secret`` hashes to one of ``stored``; every one is compared, in constant time."""
    presented = hashlib.sha256(secret.encode("utf-8")).digest()
    matched = False
    for digest in stored:
        matched |= hmac.compare_digest(presented, digest)
    return matched


__all__ = ["SECRET_BYTES", "digests", "hash_secret", "matches", "new_secret", "new_token"]
