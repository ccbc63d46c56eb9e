"""Parse an admin-written LDAP filter (RFC 4515) into the directory filter AST.

Only the configuration holds LDAP filter text (``ldap.user_filter``). Parsing it once at start means a
broken filter is a config error, not a failure on the first request, and both adapters run it: the
LDAP adapter re-renders it through ``ldap/render.py``, the in-memory one evaluates it.
Extensible matches (``:=``) and approximate matches (``~=``) are not supported.
"""

from __future__ import annotations

import re
import string

from bridge.directory.base import (
    AllOf,
    AnyOf,
    DirFilter,
    Eq,
    GreaterOrEqual,
    LessOrEqual,
    Negation,
    Present,
    Substring,
)

_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+")
_MAX_DEPTH = 32


class LdapFilterSyntaxError(ValueError):
    """The text is not an RFC 4515 filter this bridge understands."""


def _unescape(text: str) -> str:
    """The value of an RFC 4515 assertion value, whose escapes are ``\\XX`` byte pairs."""
    if "\\" not in text:
        return text
    data = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "\\":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or any(c not in string.hexdigits for c in pair):
                raise LdapFilterSyntaxError(f"bad escape in {text!r}: use \\XX with two hex digits")
            data.append(int(pair, 16))
            i += 3
        else:
            data.extend(text[i].encode())
            i += 1
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LdapFilterSyntaxError(f"escaped bytes in {text!r} are not UTF-8") from exc


def parse_ldap_filter(text: str) -> DirFilter:
    """The AST of ``text``, e.g. ``(&(objectClass=person)(!(uid=admin)))``."""
    text = text.strip()
    flt, end = _parse(text, 0, 0)
    if end != len(text):
        raise LdapFilterSyntaxError(f"unexpected text after position {end}: {text[end:]!r}")
    return flt


def _parse(text: str, pos: int, depth: int) -> tuple[DirFilter, int]:
    if depth > _MAX_DEPTH:
        raise LdapFilterSyntaxError("filter nested too deeply")
    if pos >= len(text) or text[pos] != "(":
        raise LdapFilterSyntaxError(f"expected '(' at position {pos}")
    pos += 1
    if pos < len(text) and text[pos] in "&|!":
        op = text[pos]
        pos += 1
        items: list[DirFilter] = []
        while pos < len(text) and text[pos] == "(":
            item, pos = _parse(text, pos, depth + 1)
            items.append(item)
        if pos >= len(text) or text[pos] != ")":
            raise LdapFilterSyntaxError(f"expected ')' at position {pos}")
        if op == "!":
            if len(items) != 1:
                raise LdapFilterSyntaxError("'!' takes exactly one filter")
            return Negation(items[0]), pos + 1
        return (AllOf(tuple(items)) if op == "&" else AnyOf(tuple(items))), pos + 1
    end = text.find(")", pos)
    if end < 0:
        raise LdapFilterSyntaxError(f"missing ')' for the item at position {pos - 1}")
    return _item(text[pos:end]), end + 1


def _item(item: str) -> DirFilter:
    match = _ATTRIBUTE.match(item)
    if not match:
        raise LdapFilterSyntaxError(f"expected an attribute name in ({item})")
    attribute, rest = match.group(0), item[match.end() :]
    if rest.startswith(">="):
        return GreaterOrEqual(attribute, _unescape(rest[2:]))
    if rest.startswith("<="):
        return LessOrEqual(attribute, _unescape(rest[2:]))
    if not rest.startswith("=") or "(" in rest:
        raise LdapFilterSyntaxError(f"expected =, >= or <= after {attribute!r} in ({item})")
    value = rest[1:]
    if value == "*":
        return Present(attribute)
    if "*" not in value:
        return Eq(attribute, _unescape(value))
    parts = value.split("*")
    return Substring(
        attribute,
        initial=_unescape(parts[0]) or None,
        any=tuple(_unescape(part) for part in parts[1:-1] if part),
        final=_unescape(parts[-1]) or None,
    )
