"""SCIM errors: each type carries its HTTP status and ``scimType`` (RFC 7644 section 3.12).

Raise these anywhere below the HTTP layer; ``bridge.http.errors`` renders them as SCIM Error bodies.
The ``detail`` is shown to the client, so it must never hold a secret or an internal message.
"""

from __future__ import annotations

from typing import ClassVar


class ScimError(Exception):
    """Base of every error that becomes a SCIM Error response."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidFilter(ScimError):
    """The filter syntax was invalid, or the filter cannot be answered exactly (3.4.2.2)."""

    scim_type = "invalidFilter"


class InvalidPath(ScimError):
    """The PATCH path was invalid or names an attribute that does not exist (3.5.2)."""

    scim_type = "invalidPath"


class InvalidSyntax(ScimError):
    """The request body could not be parsed, or is not a SCIM message of the expected shape."""

    scim_type = "invalidSyntax"


class InvalidValue(ScimError):
    """A required value is missing, or a value is not compatible with the attribute's type."""

    scim_type = "invalidValue"


class Mutability(ScimError):
    """The request tried to change a read-only or immutable attribute."""

    scim_type = "mutability"


class NoTarget(ScimError):
    """A PATCH path with a value filter selected nothing where a target was required."""

    scim_type = "noTarget"


class TooMany(ScimError):
    """The query would return more results than the server allows."""

    scim_type = "tooMany"


class Uniqueness(ScimError):
    """The value conflicts with an existing resource (409)."""

    status = 409
    scim_type = "uniqueness"


class NotFound(ScimError):
    """The resource does not exist, or is outside the managed scope (404)."""

    status = 404


class Unauthorized(ScimError):
    """Missing or wrong bearer token (401). ``bearer_error`` is the RFC 6750 section 3.1 error code for
    the ``WWW-Authenticate`` challenge: ``invalid_token`` when a token was sent and refused, None when
    none was sent (section 3: then the challenge carries no error)."""

    status = 401

    def __init__(self, detail: str, bearer_error: str | None = None) -> None:
        super().__init__(detail)
        self.bearer_error = bearer_error


class Forbidden(ScimError):
    """The operation is not permitted (403)."""

    status = 403


class PayloadTooLarge(ScimError):
    """The request body is over the configured size limit (413)."""

    status = 413


class UnsupportedMediaType(ScimError):
    """The request body is not JSON (415)."""

    status = 415


class PreconditionFailed(ScimError):
    """``If-Match`` named a version the resource no longer has (412, RFC 7644 3.14): someone changed it
    since the client read it, and nothing was written."""

    status = 412


class Unavailable(ScimError):
    """The directory cannot be reached right now; the client should retry (503)."""

    status = 503

    def __init__(self, detail: str, retry_after: int = 30) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TooManyRequests(ScimError):
    """Too many failed authentications from one client address (429, RFC 6585): refused until
    ``retry_after`` seconds have passed."""

    status = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unsupported(ScimError):
    """The bridge does not implement the requested feature (501, RFC 7644 section 3.12: "Service provider
    does not support the request operation"): /Bulk (3.7) and /Me (3.11: "A service provider that does
    NOT support this feature SHOULD respond with HTTP status code 501")."""

    status = 501


class ServerError(ScimError):
    """The bridge is misconfigured or met a state it cannot handle (500); the detail says which."""

    status = 500
