"""LDAP result codes in the directory's words: the one place an operation's result becomes a
:class:`bridge.directory.errors.DirectoryError` (the exceptions of the transport:
:mod:`bridge.directory.ldap.connection`)."""

from __future__ import annotations

from typing import Any

from bridge.directory.errors import (
    Changed,
    ConstraintViolation,
    DirectoryError,
    DirectoryUnavailable,
    EntryAlreadyExists,
    InsufficientAccess,
    NoSuchEntry,
    NotAllowed,
)
from bridge.directory.ldap.servers import BUSY, TIMEOUT

# RFC 4511 result codes, grouped by what they mean for a client of the bridge.
_RESULTS: dict[int, type[DirectoryError]] = {
    32: NoSuchEntry,  # noSuchObject
    68: EntryAlreadyExists,
    16: ConstraintViolation,  # noSuchAttribute
    17: ConstraintViolation,  # undefinedAttributeType
    18: ConstraintViolation,  # inappropriateMatching
    19: ConstraintViolation,  # constraintViolation (AD: password policy, value too long)
    20: ConstraintViolation,  # attributeOrValueExists
    21: ConstraintViolation,  # invalidAttributeSyntax
    64: ConstraintViolation,  # namingViolation
    65: ConstraintViolation,  # objectClassViolation
    67: ConstraintViolation,  # notAllowedOnRDN
    69: ConstraintViolation,  # objectClassModsProhibited
    50: InsufficientAccess,
    66: NotAllowed,  # notAllowedOnNonLeaf
    53: NotAllowed,  # unwillingToPerform
    3: DirectoryUnavailable,  # timeLimitExceeded
    51: DirectoryUnavailable,  # busy
    52: DirectoryUnavailable,  # unavailable
    122: Changed,  # assertionFailed (RFC 4528): the entry is not at the expected version
}

# Active Directory puts a Win32 error code in its diagnostic message; these are the ones a client can fix.
_AD_REASONS = {
    "0000052D": "the password does not meet the domain's length, complexity or history rules",
    "00000056": "the old password is not correct",
    "000020E6": "the value is too long for this attribute",
}

# The kind of outage each DirectoryUnavailable result code means, for /readyz.
_OUTAGE = {3: TIMEOUT, 51: BUSY, 52: BUSY}


def raise_for_result(result: dict[str, Any], what: str) -> None:
    """Raise the DirectoryError that matches an ldap3 result dict, unless it is a success."""
    code = int(result.get("result", 80))
    if code == 0:
        return
    error = _RESULTS.get(code, DirectoryError)
    message = str(result.get("message") or "").strip()
    for marker, plain in _AD_REASONS.items():
        if marker in message:
            message = f"{plain} ({message})"
            break
    reason = f"{what}: {result.get('description', 'error')}" + (f" ({message})" if message else "")
    if error is DirectoryUnavailable:
        raise DirectoryUnavailable(reason, _OUTAGE.get(code, BUSY))
    raise error(reason)
