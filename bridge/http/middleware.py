"""Request id and client address, bearer-token authentication with a limit on failures, and the access log."""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import falcon

from bridge.hashes import digests, matches
from bridge.http.after import after_response
from bridge.logs import request_id
from bridge.oauth.errors import KeysUnavailable, Refused
from bridge.scim.errors import TooManyRequests, Unauthorized, Unavailable
from bridge.services import events, unmapped

if TYPE_CHECKING:
    from bridge.oauth.setup import OAuth

access = logging.getLogger("bridge.access")
logger = logging.getLogger(__name__)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def collapse_slashes(path: str) -> str:
    """``/scim//Users`` as ``/scim/Users``: a Tenant URL entered with a trailing slash makes Entra join
    paths with a doubled one (accepted defensively)."""
    return re.sub(r"/{2,}", "/", path)


def forwarded_client(
    req: falcon.Request, peer: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> str:
    """Who sent a request that came through ``peer``, a trusted proxy: the last address in
    X-Forwarded-For that is not a trusted proxy (proxies append, so the addresses on the right are the
    ones a trusted hop wrote; anything further left may be forged by the client)."""
    hops = [hop.strip() for hop in (req.get_header("X-Forwarded-For") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def is_trusted(address: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether ``address`` lies in one of the ``trusted`` networks."""
    if not trusted:  # no proxy is trusted (the default): no address to parse
        return False
    address = address.strip()
    parsed = _address(address) if len(address) <= _LONGEST_ADDRESS else None
    return parsed is not None and any(parsed in network for network in trusted)


_LONGEST_ADDRESS = 64  # an IPv6 address in full with an IPv4 tail and a zone id: 61 characters


@functools.lru_cache(maxsize=1024)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address parsed, or None; the few peers (proxies, Entra's egress) are parsed once each, and the
    cache holds no more than 1,024 short strings, whatever X-Forwarded-For carries."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)


def forwarded_origin(req: falcon.Request) -> str | None:
    """``https://scim.example.com`` from X-Forwarded-Proto and X-Forwarded-Host, when both are sane (the
    first value of each: what the client-facing proxy set), else None. Call it only for a request from a
    trusted proxy: anyone else could choose the URL the bridge writes into meta.location."""
    proto = (req.get_header("X-Forwarded-Proto") or "").split(",")[0].strip().lower()
    host = (req.get_header("X-Forwarded-Host") or "").split(",")[0].strip()
    if proto not in ("http", "https") or not _HOST.match(host):
        return None
    return f"{proto}://{host}"


class RequestId:
    """Give every request an id (the caller's X-Request-ID when it is sane), echoed in the response, and
    note the client's address: the peer, or behind a trusted proxy the client it names
    (:func:`forwarded_client`)."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self._trusted = [ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies]

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        peer = req.remote_addr or ""
        if is_trusted(peer, self._trusted):  # the peer parsed once a request, and not at all by default
            req.context.client = forwarded_client(req, peer, self._trusted)
            req.context.origin = forwarded_origin(req)
        else:
            req.context.client = peer
        given = req.get_header("X-Request-ID") or ""
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        req.context.request_id = rid
        req.context.started = time.monotonic()
        req.context.request_id_token = request_id.set(rid)
        unmapped.noted.set(())  # a thread serves many requests: each starts with nothing ignored
        events.noted.set([])  # nor recorded
        resp.set_header("X-Request-ID", rid)
        if "//" in req.path:
            req.path = collapse_slashes(req.path)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        # Runs after the access log (middleware responds in reverse order). Without the reset, a worker
        # thread's lines between requests would carry the previous request's id.
        token = getattr(req.context, "request_id_token", None)
        if token is not None:
            request_id.reset(token)
        events.noted.set(None)  # what the thread records between requests is no request's


class FailureLimit:
    """At most ``limit`` failed authentications per client address within ``window`` seconds, in this
    instance (docs/architecture.md, Principles 6). Addresses are forgotten oldest first
    beyond ``max_addresses``, so a flood of addresses cannot grow memory without bound."""

    def __init__(
        self,
        limit: int,
        window: int,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = 10_000,
    ) -> None:
        self._limit, self._window, self._clock, self._max = limit, window, clock, max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float] | None:
        times = self._failures.get(address)
        while times and times[0] <= now - self._window:
            times.popleft()
        return times

    def check(self, address: str) -> None:
        """Refuse ``address`` with 429 while it is over the limit."""
        if not self._limit:
            return
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if times is not None and len(times) >= self._limit:
                retry = max(1, int(times[0] + self._window - now) + 1)
                raise TooManyRequests(
                    f"too many failed authentications from this address; retry in {retry} s", retry
                )

    def failed(self, address: str) -> None:
        if not self._limit:
            return
        with self._lock:
            now = self._clock()
            times = self._recent(address, now) or deque()
            times.append(now)
            self._failures[address] = times
            self._failures.move_to_end(address)
            while len(self._failures) > self._max:
                self._failures.popitem(last=False)


class BearerAuth:
    """Require ``Authorization: Bearer <token>``: a token whose SHA-256 is one of ``token_hashes``, or,
    with ``jwts``, a JWT it accepts (the bridge's own access tokens, Entra's own tokens).

    Only hashes are held, and every stored hash is compared in constant time, so neither the config
    nor the timing of a refusal tells an attacker anything about a token. The token is checked before
    the failure limit, and a valid one always passes: anyone can send wrong tokens from an address the
    real client shares (Entra's egress, a proxy not in ``trusted_proxies``), and that must never keep
    the real client out. Only a request without a valid token is counted, and from a client address
    with too many failures (``limit``) it is refused with 429 until its window has passed. Each refusal
    is counted by ``failed`` with its reason, and logged with the reason and at most the key id and
    ``jti`` of a JWT, never the token. When the keys a JWT needs cannot be fetched, the answer is 503,
    uncounted.
    """

    def __init__(
        self,
        token_hashes: Sequence[str],
        protected_prefix: str,
        limit: FailureLimit | None = None,
        *,
        jwts: OAuth | None = None,
        failed: Callable[[str, str], None] | None = None,
    ) -> None:
        self._digests = digests(token_hashes)
        self._prefix = protected_prefix
        self._under = f"{protected_prefix}/"
        self._limit = limit or FailureLimit(0, 1)
        self._jwts = jwts if jwts is not None and jwts.verifies_jwts else None
        self._failed = failed or (lambda endpoint, reason: None)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        path = req.path
        if path != self._prefix and not path.startswith(self._under):
            return  # paths outside the base (also /scim/v2x) get their 404 from the router
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        sent = scheme.lower() == "bearer" and bool(token)
        if sent and self._valid(token):
            return
        refused = None
        if sent and self._jwts is not None and token.count(".") == 2:
            try:
                req.context.principal = self._jwts.verify_bearer(token)
                return
            except Refused as exc:
                refused = exc
            except KeysUnavailable as exc:
                logger.error("cannot check a bearer JWT: %s", exc)
                raise Unavailable(
                    "the identity provider's signing keys cannot be had now; retry later"
                ) from None
        client = getattr(req.context, "client", req.remote_addr or "")
        reason = refused.reason if refused else ("invalid_token" if sent else "missing")
        self._failed("scim", reason)
        self._limit.check(client)
        self._limit.failed(client)
        if not sent:
            raise Unauthorized("send the secret token as 'Authorization: Bearer <token>'")
        extra: dict[str, Any] = {"client": client, "reason": reason}
        if refused is not None:
            extra.update(kid=refused.kid, jti=refused.jti)
        logger.warning("refused a bearer token that is not valid (%s)", reason, extra=extra)
        detail = (
            f"the bearer token is not valid: {refused.detail}" if refused else "the bearer token is not valid"
        )
        raise Unauthorized(detail, bearer_error="invalid_token")

    def _valid(self, token: str) -> bool:
        """Whether ``token`` hashes to a configured hash; every hash is compared, in constant time."""
        return matches(token, self._digests)


MAX_DETAIL = 200  # characters of an error's detail on its access line


class AccessLog:
    """One JSON line per request: method, route template, status and duration; never the query string,
    which may hold personal data in a filter, and never a header. A 4xx or 5xx also carries the error's
    ``scimType`` (when it has one) and its ``detail``, cut to :data:`MAX_DETAIL` characters: the words the
    client got, which never hold a token or a password (a password of the wrong shape is refused without
    being quoted; bearer refusals are fixed sentences)."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", time.monotonic())
        fields: dict[str, Any] = {
            "method": req.method,
            "route": req.uri_template or "(no route)",
            "status": resp.status_code,
            "ms": round((time.monotonic() - started) * 1000, 2),
            "client": getattr(req.context, "client", req.remote_addr),
        }
        ignored = unmapped.noted.get()
        if ignored:
            fields["unmapped"] = [item.path for item in ignored]  # names the map does not store, no values
        if resp.status_code >= 400:
            fields.update(error_fields(resp.media))
        line = (req.method, req.uri_template or req.path, resp.status_code)
        after_response(req, access.info, "%s %s %s", *line, extra=fields)


def error_fields(body: Any) -> dict[str, str]:
    """``scimType`` (when there is one) and a short ``detail`` of a SCIM Error body (RFC 7644 3.12);
    nothing of any other body (the token endpoint logs its own refusals, with their reason)."""
    if not isinstance(body, dict):
        return {}
    fields = {"scimType": body["scimType"]} if isinstance(body.get("scimType"), str) else {}
    detail = body.get("detail")
    if isinstance(detail, str):
        fields["detail"] = detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "\u2026"
    return fields
