"""SCIM Error bodies (RFC 7644 section 3.12) for every failure, registered once on the app.

Internals never reach a client: an unexpected exception becomes a 500 whose detail is a fixed
sentence and the request id; the traceback goes to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

import falcon

from bridge.directory.errors import DirectoryError, DirectoryUnavailable
from bridge.http.observe import NOT_READY
from bridge.logs import request_id
from bridge.scim.errors import ScimError, Unauthorized, Unsupported
from bridge.scim.schemas import ERROR
from bridge.services.refusals import scim_error

logger = logging.getLogger(__name__)

SCIM_JSON = "application/scim+json"
RETRY_AFTER = 30
# The 503's detail for each kind of outage: /readyz's fixed words (never the directory's own message,
# which can name DNs and hosts), but for an unreachable directory, whose sentence clients know already.
UNAVAILABLE = {**NOT_READY, "unreachable": "the directory is not reachable right now"}


def error_body(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    """A SCIM Error message; ``status`` is a string, as the RFC's examples and Entra expect."""
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return body


def _respond(resp: falcon.Response, status: int, detail: str, scim_type: str | None = None) -> None:
    resp.status = status
    resp.content_type = SCIM_JSON
    resp.media = error_body(status, detail, scim_type)


def handle_scim(req: falcon.Request, resp: falcon.Response, exc: ScimError, params: Any) -> None:
    _respond(resp, exc.status, exc.detail, exc.scim_type)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        resp.set_header("Retry-After", str(retry_after))
    if isinstance(exc, Unauthorized):
        # RFC 7235 3.1: a 401 carries a challenge; RFC 6750 3: with the error code when a token was sent.
        error = f', error="{exc.bearer_error}"' if exc.bearer_error else ""
        resp.set_header("WWW-Authenticate", f'Bearer realm="scim"{error}')


def handle_directory(req: falcon.Request, resp: falcon.Response, exc: DirectoryError, params: Any) -> None:
    if isinstance(exc, DirectoryUnavailable):
        logger.error("directory unavailable: %s", exc.reason)
        why = exc.why if exc.why in UNAVAILABLE else "unreachable"
        _respond(resp, 503, f"{UNAVAILABLE[why]}; retry later")
        resp.set_header("Retry-After", str(RETRY_AFTER))
        return
    # What the services left untranslated, by the one translation of directory errors.
    error = scim_error(exc)
    if error is None:
        handle_unexpected(req, resp, exc, params)
    else:
        handle_scim(req, resp, error, params)


def handle_http(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError, params: Any) -> None:
    """Falcon's own errors (unknown route, method not allowed) as SCIM errors."""
    status = int(exc.status_code)
    detail = exc.description or exc.title or "error"
    if status == 404:
        detail = f"no such endpoint: {req.path}"
    elif status == 405:
        detail = f"{req.method} is not allowed on {req.path}"
    _respond(resp, status, detail)
    if exc.headers:
        resp.set_headers(exc.headers)


def handle_unexpected(req: falcon.Request, resp: falcon.Response, exc: Exception, params: Any) -> None:
    logger.exception("unexpected error while serving %s %s", req.method, req.path)
    _respond(
        resp, 500, f"internal error; the bridge's log has the details under request id {request_id.get()}"
    )


class NotImplementedEndpoint:
    """An endpoint of RFC 7644 the bridge does not offer (/Bulk, /Me): every method answers 501, the
    status RFC 7644 3.11 and 3.12 name for a feature the service provider does not support, rather than
    a 404 that would read as a wrong base URL."""

    def __init__(self, detail: str) -> None:
        self._detail = detail

    def _refuse(self, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        raise Unsupported(self._detail)

    on_get = on_post = on_put = on_patch = on_delete = _refuse


def register(app: falcon.App[falcon.Request, falcon.Response]) -> None:
    """Install the handlers; the most general first, since Falcon picks the most specific."""
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http)
    app.add_error_handler(DirectoryError, handle_directory)
    app.add_error_handler(ScimError, handle_scim)
