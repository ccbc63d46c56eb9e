"""The one translation of directory errors into SCIM errors.

A write to one resource (``refusals``) names it: an entry gone meanwhile is "User <id> not found", one
changed since the version the request expected a 412. A refusal the client can act on (``client_error``)
is a 400, 403 or 409 that names the attribute by its SCIM path when a map is at hand. What escapes the
services unnamed, the HTTP layer (``bridge.http.errors``) translates with ``scim_error``, from the same
table. A directory that cannot be reached is no refusal: it stays a DirectoryUnavailable (503).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from bridge.directory.errors import (
    Changed,
    ConstraintViolation,
    DirectoryError,
    EntryAlreadyExists,
    InsufficientAccess,
    NoSuchEntry,
    NotAllowed,
)
from bridge.mapping.engine import ResourceMapping
from bridge.scim.errors import (
    Forbidden,
    InvalidValue,
    NotFound,
    PreconditionFailed,
    ScimError,
    Uniqueness,
)
from bridge.services.naming import scim_name


@contextmanager
def refusals(kind: str, resource_id: str, mapping: ResourceMapping | None = None) -> Iterator[None]:
    """Directory refusals of a write to one resource, as SCIM errors: an entry gone meanwhile is a 404,
    one changed since the version the request expected a 412, a refusal the client can act on a 400
    or 403 (``client_error``, which names the attribute by ``mapping``); any other passes through."""
    try:
        yield
    except NoSuchEntry as exc:
        raise NotFound(f"{kind} {resource_id} not found") from exc
    except Changed as exc:
        raise PreconditionFailed(
            f"{kind} {resource_id} has changed since the version If-Match named"
        ) from exc
    except DirectoryError as exc:
        error = client_error(exc, mapping)
        if error is exc:
            raise
        raise error from exc


_NOT_UNIQUE = re.compile(r"non-unique|not unique", re.IGNORECASE)
# The adapter words a refusal "<operation> <DN>: <result> (<the directory's message>)", with ldap3's name
# of the result. These results refuse the values sent, never the server's state: the adapter makes most
# of them a ConstraintViolation; invalidDNSyntax (a value that cannot name an entry) and
# adminLimitExceeded (AD: an entry or a value list over its limits) it leaves unclassified.
_VALUE_RESULTS = (
    "noSuchAttribute",
    "undefinedAttributeType",
    "inappropriateMatching",
    "constraintViolation",
    "attributeOrValueExists",
    "invalidAttributeSyntax",
    "namingViolation",
    "objectClassViolation",
    "notAllowedOnRDN",
    "objectClassModsProhibited",
    "invalidDNSyntax",
    "adminLimitExceeded",
)
_UNCLASSIFIED = ("invalidDNSyntax", "adminLimitExceeded")
_RESULT = re.compile(rf": ({'|'.join(_VALUE_RESULTS)})(?= \(|$)")
# Where a directory's message names the attribute: slapd "title: value #0 invalid per syntax" and
# "attribute 'x' not allowed", Samba "attribute 'title' on entry ...", AD "Att 20026 (title)".
_NAMED = re.compile(r"^([A-Za-z][\w-]*): value #|attribute '([A-Za-z][\w-]*)'|\bAtt \w+ \(([A-Za-z][\w-]*)\)")
_QUOTED_DN = re.compile(r"'[^']*=[^']*'")  # a DN quoted in a message holds the values: left out
_ELIDED = "'…'"
_LONGEST_DETAIL = 300


def client_error(exc: DirectoryError, mapping: ResourceMapping | None = None) -> Exception:
    """The SCIM error for a directory refusal the client can act on; others pass through. A refusal of
    the values sent is a 400 naming the attribute (its SCIM path, from ``mapping``, when the directory's
    message names the LDAP attribute or the value was the entry's name)."""
    if isinstance(exc, ConstraintViolation) and _NOT_UNIQUE.search(exc.reason):
        # slapd's unique overlay ("non-unique attributes found with ..."), with ldap.uniqueness: directory
        return Uniqueness(f"the directory refused a duplicate: {exc.reason}")
    if isinstance(exc, InsufficientAccess | NotAllowed):
        return Forbidden(f"the directory refused the operation: {exc.reason}")
    refusal = _refusal(exc.reason)
    unclassified = type(exc) is DirectoryError and refusal is not None and refusal[0] in _UNCLASSIFIED
    if isinstance(exc, ConstraintViolation) or unclassified:
        return InvalidValue(_refused(exc.reason, refusal, mapping))
    return exc


def _refusal(reason: str) -> tuple[str, str] | None:
    """(result, the directory's message) of a refusal of values, as the adapter words it, or None."""
    found = list(_RESULT.finditer(reason))  # the last: a DN before it may hold anything
    if not found:
        return None
    rest = reason[found[-1].end() :].strip()
    return found[-1].group(1), rest[1:-1] if rest.startswith("(") and rest.endswith(")") else rest


def _refused(reason: str, refusal: tuple[str, str] | None, mapping: ResourceMapping | None) -> str:
    """The detail of a 400 for a refused value: which attribute, and the directory's words for why,
    without the DN (which repeats the value, up to thousands of characters)."""
    if refusal is None:
        return _clipped(f"the directory refused the change: {reason}")
    result, message = refusal
    named = _NAMED.search(message)
    attribute = next((group for group in named.groups() if group), None) if named else None
    if attribute is None and mapping is not None:
        attribute = _unnamed(result, message, mapping)
    where = f" to {scim_name(attribute, mapping)}" if attribute else ""
    why = f"{result} ({_QUOTED_DN.sub(_ELIDED, message)})" if message else result
    return _clipped(f"the directory refused the change{where}: {why}")


def _unnamed(result: str, message: str, mapping: ResourceMapping) -> str | None:
    """The LDAP attribute a refusal whose message names none is about: the entry's name, when the DN
    was refused; the password, when the message is about one (AD's password policy)."""
    if result in ("invalidDNSyntax", "namingViolation", "notAllowedOnRDN"):
        return mapping.rdn_attribute
    if "password" in message.lower():
        kinds = ("ldap_password", "ad_password")
        return next((rule.ldap for rule in mapping.rules if rule.converter.kind in kinds), None)
    return None


def _clipped(text: str) -> str:
    return text if len(text) <= _LONGEST_DETAIL else text[: _LONGEST_DETAIL - 1] + "…"


# What no write named: the directory's own words, with the status each kind of error has.
_UNNAMED: tuple[tuple[type[DirectoryError], type[ScimError]], ...] = (
    (NoSuchEntry, NotFound),
    (EntryAlreadyExists, Uniqueness),
    (Changed, PreconditionFailed),  # the services turn it into their own 412; this is the safety net
)


def scim_error(exc: DirectoryError) -> ScimError | None:
    """The SCIM error for a directory error that left the services untranslated, or None when no
    client can act on it (a 500)."""
    refused = client_error(exc)
    if refused is not exc and isinstance(refused, ScimError):
        return refused
    for kind, error in _UNNAMED:
        if isinstance(exc, kind):
            return error(exc.reason)
    return None


__all__ = ["client_error", "refusals", "scim_error"]
