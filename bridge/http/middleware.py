"""Request id, bearer-token authentication and the access log."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import Sequence
from typing import Any

import falcon

from bridge.logs import request_id
from bridge.scim.errors import Unauthorized

access = logging.getLogger("bridge.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def collapse_slashes(path: str) -> str:
    """``/scim//Users`` as ``/scim/Users``: a Tenant URL entered with a trailing slash makes Entra join
    paths with a doubled one (accepted defensively; entra-client.md section 1.1)."""
    return re.sub(r"/{2,}", "/", path)


class RequestId:
    """Give every request an id (the caller's X-Request-ID when it is sane), echoed in the response."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = req.get_header("X-Request-ID") or ""
        rid = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        req.context.request_id = rid
        req.context.started = time.monotonic()
        req.context.request_id_token = request_id.set(rid)
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


class BearerAuth:
    """Require ``Authorization: Bearer <token>`` whose SHA-256 is one of ``token_hashes``.

    Only hashes are held, and every stored hash is compared in constant time, so neither the config
    nor the timing of a refusal tells an attacker anything about a token.
    """

    def __init__(self, token_hashes: Sequence[str], protected_prefix: str) -> None:
        self._digests = [bytes.fromhex(h.removeprefix("sha256:")) for h in token_hashes]
        self._prefix = protected_prefix

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path != self._prefix and not req.path.startswith(f"{self._prefix}/"):
            return  # paths outside the base (also /scim/v2x) get their 404 from the router
        header = req.get_header("Authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("send the secret token as 'Authorization: Bearer <token>'")
        presented = hashlib.sha256(token.strip().encode("utf-8")).digest()
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(presented, digest)
        if not matched:
            raise Unauthorized("the bearer token is not valid", bearer_error="invalid_token")


class AccessLog:
    """One JSON line per request: method, route template, status and duration; never the query string,
    which may hold personal data in a filter, and never a header."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", time.monotonic())
        access.info(
            "%s %s %s",
            req.method,
            req.uri_template or req.path,
            resp.status_code,
            extra={
                "method": req.method,
                "route": req.uri_template or "(no route)",
                "status": resp.status_code,
                "ms": round((time.monotonic() - started) * 1000, 2),
                "client": req.remote_addr,
            },
        )
