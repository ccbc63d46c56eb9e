"""An identity provider's signing keys (a JWKS, RFC 7517), fetched and cached.

The keys come from the provider's OpenID discovery document (its ``jwks_uri``), or, for air-gapped
sites and tests, from a JWKS file. :class:`KeyCache` keeps them for :data:`MAX_AGE` seconds; a token
whose ``kid`` is not among them makes it fetch them again (the provider rolled its keys), but never
more often than every :data:`REFETCH_AFTER` seconds, so tokens with made-up ``kid`` values cannot make
the bridge hammer the provider. When a fetch fails the keys fetched before stay in use; with none
fetched yet the keys are unavailable (a 503, not the client's fault).

Only keys for signatures are kept (``use`` absent or ``sig``), each with the one algorithm its type
allows: RS256 for RSA, EdDSA for Ed25519. Documents are fetched over HTTPS (plain HTTP only from a
loopback address, for tests), within :data:`TIMEOUT` seconds and :data:`MAX_BYTES`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from bridge.oauth.errors import KeysUnavailable, Refused

logger = logging.getLogger(__name__)

ALGORITHMS = frozenset({"RS256", "EdDSA"})
MAX_AGE = 3600.0
REFETCH_AFTER = 60.0
TIMEOUT = 5.0
MAX_BYTES = 1_048_576

Keys = Mapping[str, jwt.PyJWK]


class FetchError(Exception):
    """A document that cannot be fetched or read; the message says why (URL included, no secret)."""


def url_problem(url: str) -> str | None:
    """Why ``url`` may not serve keys, or None: HTTPS, or HTTP to a loopback address."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            if host == "localhost" or ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            pass
        return f"{url} is plain HTTP: keys must come over HTTPS (HTTP only from a loopback address)"
    return f"{url} is not an https:// URL"


def parse_jwks(data: Any, source: str) -> dict[str, jwt.PyJWK]:
    """The signature keys of a JWKS document, by kid; FetchError when it holds none."""
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise FetchError(f"{source} is not a JWKS (no 'keys' list)")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue  # a key type or curve PyJWT does not know: not one that can sign what we accept
        if key.algorithm_name in ALGORITHMS:
            keys[kid] = key
    if not keys:
        raise FetchError(f"{source} holds no RS256 or EdDSA signature key with a kid")
    return keys


def fetch_json(url: str) -> Any:
    """The JSON document at ``url``; FetchError for anything but a 200 with JSON within the limits."""
    problem = url_problem(url)
    if problem:
        raise FetchError(problem)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - checked above
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - checked above
            body = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"cannot fetch {url}: {reason}") from None
    if len(body) > MAX_BYTES:
        raise FetchError(f"{url} sent more than {MAX_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise FetchError(f"{url} did not send JSON") from None


def discovered(discovery_url: str) -> Callable[[], dict[str, jwt.PyJWK]]:
    """A loader of the keys behind an OpenID discovery document (its ``jwks_uri``)."""

    def load() -> dict[str, jwt.PyJWK]:
        document = fetch_json(discovery_url)
        jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(jwks_uri, str):
            raise FetchError(f"{discovery_url} names no jwks_uri")
        return parse_jwks(fetch_json(jwks_uri), jwks_uri)

    return load


def from_file(path: Path) -> Callable[[], dict[str, jwt.PyJWK]]:
    """A loader of the keys in a JWKS file."""

    def load() -> dict[str, jwt.PyJWK]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror}") from None
        except ValueError:
            raise FetchError(f"{path} is not JSON") from None
        return parse_jwks(data, str(path))

    return load


def discovery_url_for(issuer: str) -> str:
    """Where an issuer publishes its discovery document (OpenID Connect Discovery 1.0 section 4)."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class KeyCache:
    """The keys of one provider, fetched by ``load`` when first needed, when older than ``max_age``, and
    when a token names a kid they lack (at most once every ``refetch_after`` seconds)."""

    def __init__(
        self,
        load: Callable[[], dict[str, jwt.PyJWK]],
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = MAX_AGE,
        refetch_after: float = REFETCH_AFTER,
    ) -> None:
        self._load, self.name, self._clock = load, name, clock
        self._max_age, self._refetch_after = max_age, refetch_after
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched: float | None = None  # when the keys in hand were fetched
        self._tried: float | None = None  # when a fetch was last tried, successful or not
        self._lock = threading.Lock()
        self.fetches = 0  # successful ones, for tests and logs

    def key(self, kid: object) -> jwt.PyJWK:
        """The key named ``kid``; Refused ``unknown_key`` when the provider has none by that name (after
        a refresh, when one is due), KeysUnavailable when no keys could ever be fetched."""
        with self._lock:
            now = self._clock()
            stale = self._fetched is None or now - self._fetched >= self._max_age
            if (stale or kid not in self._keys) and (
                self._tried is None or now - self._tried >= self._refetch_after
            ):
                self._refresh(now)
            if self._fetched is None:
                raise KeysUnavailable(f"the signing keys of {self.name} cannot be fetched")
            found = self._keys.get(kid) if isinstance(kid, str) else None
        if found is None:
            raise Refused("unknown_key", "the token's key (kid) is not one of its issuer's keys", kid=kid)
        return found

    def _refresh(self, now: float) -> None:
        self._tried = now
        try:
            keys = self._load()
        except FetchError as exc:
            kept = "keeping the keys fetched before" if self._fetched is not None else "no keys yet"
            logger.warning("cannot fetch the signing keys of %s: %s; %s", self.name, exc, kept)
            return
        self._keys, self._fetched = keys, now
        self.fetches += 1
        logger.info("fetched %d signing key(s) of %s", len(keys), self.name, extra={"kids": sorted(keys)})
