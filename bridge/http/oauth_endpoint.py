"""``POST /oauth/token``: the OAuth 2.0 token endpoint (RFC 6749 section 3.2) for the client credentials
grant (section 4.4) and the JWT authorization grant (RFC 7523 section 2.1).

The client authenticates in one of three ways, and only one per request (section 2.3): its identifier
and secret in an HTTP Basic header (section 2.3.1; both form-urlencoded before Base64), the same in the
form body as ``client_id`` and ``client_secret``, or an RFC 7523 client assertion. The answer is a JSON
object with ``access_token``, ``token_type`` ``Bearer`` and ``expires_in`` (section 5.1); every refusal
is a JSON error object with one of section 5.2's codes: ``invalid_request`` (a malformed request),
``invalid_client`` (401, with a ``Basic`` challenge), ``invalid_grant`` (a refused JWT grant) or
``unsupported_grant_type``. Both carry ``Cache-Control: no-store``.

Throttling is the SCIM calls' own (:class:`bridge.http.middleware.FailureLimit`, the same instance): a
request with a valid credential is answered first and never counted; every refused one counts as a
failed authentication of its client address, and past ``auth.max_failures`` the address gets 429 until
its window passes. A refusal is a warning line naming the reason and at most the client id (of a
configured client), the key id and the ``jti``; never a secret or a token. An identity provider whose
keys cannot be fetched is a 503 (``temporarily_unavailable``), not counted: it is not the client's
fault.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import falcon

from bridge.http.middleware import FailureLimit
from bridge.http.oauth_metrics import AuthMetrics
from bridge.oauth.assertions import ASSERTION_TYPE, JWT_BEARER_GRANT
from bridge.oauth.errors import KeysUnavailable, Refused, safe
from bridge.oauth.setup import OAuth
from bridge.scim.errors import TooManyRequests

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 65_536
MAX_FIELDS = 32
CLIENT_CREDENTIALS = "client_credentials"
REALM = 'Basic realm="scim-ldap-bridge", charset="UTF-8"'
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenError(Exception):
    """A refused token request: the RFC 6749 error code, the reason (a metric label), and a fixed
    description for the client."""

    def __init__(
        self,
        error: str,
        reason: str,
        description: str,
        *,
        client_id: str | None = None,
        refused: Refused | None = None,
    ) -> None:
        super().__init__(description)
        self.error, self.reason, self.description = error, reason, description
        self.client_id = safe(client_id)
        self.kid = refused.kid if refused else None
        self.jti = refused.jti if refused else None

    @property
    def status(self) -> int:
        return 401 if self.error == "invalid_client" else 400


def _request_error(description: str) -> TokenError:
    return TokenError("invalid_request", "invalid_request", description)


def _client_error(refused: Refused, client_id: str | None = None) -> TokenError:
    return TokenError("invalid_client", refused.reason, refused.detail, client_id=client_id, refused=refused)


def read_form(req: falcon.Request) -> dict[str, str]:
    """The form parameters; one sent without a value is as if omitted, one sent twice is refused
    (RFC 6749 section 3.2)."""
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != FORM:
        raise _request_error(f"send the parameters as {FORM}")
    body = req.bounded_stream.read(MAX_FORM_BYTES + 1)
    if len(body) > MAX_FORM_BYTES:
        raise _request_error(f"the request body is over {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise _request_error("the form cannot be read") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if not value:
            continue
        if name in form:
            raise _request_error(f"the parameter {name!r} is repeated")
        form[name] = value
    return form


def basic_credentials(header: str) -> tuple[str, str] | None:
    """The client id and secret of an ``Authorization: Basic`` header, each form-urlencoded before the
    Base64 (RFC 6749 section 2.3.1); None when the header is of another scheme; TokenError when it is
    Basic but broken."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise TokenError("invalid_client", "malformed", "the Basic credentials cannot be read") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise TokenError("invalid_client", "malformed", "the Basic credentials cannot be read")
    return unquote_plus(client_id), unquote_plus(secret)


class TokenEndpoint:
    def __init__(self, oauth: OAuth, limit: FailureLimit, metrics: AuthMetrics) -> None:
        self._oauth, self._limit, self._metrics = oauth, limit, metrics

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        address = getattr(req.context, "client", req.remote_addr or "")
        for name, value in NO_STORE.items():
            resp.set_header(name, value)
        try:
            body = self._grant(req)
        except KeysUnavailable as exc:
            logger.error("cannot answer a token request: %s", exc, extra={"client": address})
            resp.set_header("Retry-After", "30")
            _answer(
                resp, 503, _error("temporarily_unavailable", "the identity provider's keys cannot be had now")
            )
            return
        except TokenError as failure:
            self._refuse(resp, failure, address)
            return
        _answer(resp, 200, body)

    def _refuse(self, resp: falcon.Response, failure: TokenError, address: str) -> None:
        self._metrics.failed("token", failure.reason)
        logger.warning(
            "refused a token request: %s (%s)",
            failure.error,
            failure.reason,
            extra={
                "client": address,
                # Only a configured client's id: an unknown one may be a secret typed into the wrong field.
                "client_id": failure.client_id if failure.client_id in self._oauth.clients else None,
                "reason": failure.reason,
                "kid": failure.kid,
                "jti": failure.jti,
            },
        )
        try:
            self._limit.check(address)
        except TooManyRequests as exc:
            resp.set_header("Retry-After", str(exc.retry_after))
            _answer(resp, 429, _error(failure.error, exc.detail))
            return
        self._limit.failed(address)
        if failure.status == 401:
            resp.set_header("WWW-Authenticate", REALM)
        _answer(resp, failure.status, _error(failure.error, failure.description))

    def _grant(self, req: falcon.Request) -> dict[str, Any]:
        form = read_form(req)
        grant = form.get("grant_type")
        if grant is None:
            raise _request_error("grant_type is missing")
        if grant == CLIENT_CREDENTIALS:
            client_id, method = self._authenticate(form, req.get_header("Authorization") or "")
        elif grant == JWT_BEARER_GRANT and self._oauth.assertions:
            client_id, method = self._jwt_grant(form, req.get_header("Authorization") or "")
        else:
            raise TokenError(
                "unsupported_grant_type",
                "unsupported_grant_type",
                "the grant types served are client_credentials and the JWT bearer grant",
            )
        tokens = self._oauth.tokens
        assert tokens is not None  # the endpoint is served only with a signing key
        issued = tokens.issue(client_id)
        self._metrics.issued(method)
        logger.info(
            "issued an access token to %s",
            client_id,
            extra={
                "client_id": client_id,
                "method": method,
                "jti": issued.jti,
                "expires_in": issued.expires_in,
            },
        )
        body: dict[str, Any] = {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
        }
        if "scope" in form:  # the token grants what the bridge serves; the scope asked for is echoed
            body["scope"] = form["scope"]
        return body

    def _authenticate(self, form: dict[str, str], authorization: str) -> tuple[str, str]:
        """The client and how it authenticated: one of a Basic header, client_secret in the body, or a
        client assertion (RFC 6749 section 2.3: never more than one)."""
        basic = basic_credentials(authorization)
        named = form.get("client_id")
        asserted = "client_assertion" in form or "client_assertion_type" in form
        if sum((basic is not None, "client_secret" in form, asserted)) > 1:
            raise _request_error("authenticate the client one way only")
        if basic is not None:
            client_id, secret = basic
            if named is not None and named != client_id:
                raise _request_error("client_id differs from the Basic credentials' client")
            return self._secret(client_id, secret), "client_secret_basic"
        if "client_secret" in form:
            if named is None:
                raise _request_error("client_id is missing")
            return self._secret(named, form["client_secret"]), "client_secret_post"
        if asserted:
            kind, assertion = form.get("client_assertion_type"), form.get("client_assertion")
            if kind is None or assertion is None:
                raise _request_error("send both client_assertion_type and client_assertion")
            if kind != ASSERTION_TYPE or not self._oauth.assertions:
                raise TokenError(
                    "invalid_client",
                    "malformed",
                    "this client assertion type is not accepted",
                    client_id=named,
                )
            try:
                return self._oauth.assertions.verify(assertion, named), "client_assertion"
            except Refused as refused:
                raise _client_error(refused, named) from None
        raise TokenError(
            "invalid_client",
            "missing",
            "authenticate the client: HTTP Basic, client_secret, or a client assertion",
            client_id=named,
        )

    def _secret(self, client_id: str, secret: str) -> str:
        try:
            return self._oauth.clients.authenticate(client_id, secret)
        except Refused as refused:
            raise _client_error(refused, client_id) from None

    def _jwt_grant(self, form: dict[str, str], authorization: str) -> tuple[str, str]:
        """RFC 7523 section 2.1: the assertion is the grant; a refusal is ``invalid_grant``."""
        if basic_credentials(authorization) is not None or any(
            name in form for name in ("client_secret", "client_assertion", "client_assertion_type")
        ):
            raise _request_error("the JWT bearer grant takes the assertion alone")
        assertion = form.get("assertion")
        if assertion is None:
            raise _request_error("assertion is missing")
        try:
            return self._oauth.assertions.verify(assertion, form.get("client_id")), "jwt_bearer_grant"
        except Refused as refused:
            raise TokenError(
                "invalid_grant",
                refused.reason,
                refused.detail,
                client_id=form.get("client_id"),
                refused=refused,
            ) from None


def _error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}


def _answer(resp: falcon.Response, status: int, body: dict[str, Any]) -> None:
    resp.status = status
    resp.content_type = "application/json"
    resp.text = json.dumps(body)
