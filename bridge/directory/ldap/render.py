"""The ONLY place that builds LDAP filter strings and DNs, always through ldap3's escaping helpers.

Values from the network reach a filter or a DN only through :func:`render_filter` and :func:`make_dn`,
so no client can inject filter syntax or DN separators (RFC 4515 section 3, RFC 4514 section 2.4).
Reading and comparing DNs is pure text work: ``bridge/directory/dn.py``.
"""

from __future__ import annotations

from urllib.parse import quote

from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import escape_rdn

from bridge.directory.base import (
    AllOf,
    AnyOf,
    BinaryEq,
    BitsSet,
    DirFilter,
    Eq,
    GreaterOrEqual,
    LessOrEqual,
    Negation,
    Present,
    Substring,
)
from bridge.directory.dn import hex_edge_spaces

# An always-false filter that every server accepts; RFC 4526's "(|)" is not understood everywhere.
_FALSE = "(!(objectClass=*))"


def render_filter(flt: DirFilter) -> str:
    """RFC 4515 string form of ``flt``, every value escaped."""
    match flt:
        case Eq(attribute, value):
            return f"({attribute}={escape_filter_chars(value)})"
        case BinaryEq(attribute, raw):
            return f"({attribute}={escape_bytes(raw)})"
        case BitsSet(attribute, mask):
            return f"({attribute}:1.2.840.113556.1.4.803:={int(mask)})"
        case Present(attribute):
            return f"({attribute}=*)"
        case Substring(attribute, initial, middle, final):
            parts = [escape_filter_chars(initial or "")]
            # An empty middle part would render "**", which RFC 4515 refuses: "co ''" is presence.
            parts.extend(escape_filter_chars(part) for part in middle if part)
            parts.append(escape_filter_chars(final or ""))
            return f"({attribute}={'*'.join(parts)})"
        case GreaterOrEqual(attribute, value):
            return f"({attribute}>={escape_filter_chars(value)})"
        case LessOrEqual(attribute, value):
            return f"({attribute}<={escape_filter_chars(value)})"
        case AllOf(items):
            return "(&" + "".join(render_filter(item) for item in items) + ")" if items else "(objectClass=*)"
        case AnyOf(items):
            return "(|" + "".join(render_filter(item) for item in items) + ")" if items else _FALSE
        case Negation(item):
            return f"(!{render_filter(item)})"
    raise TypeError(f"not a directory filter: {flt!r}")  # pragma: no cover - exhaustive match


def search_url(base: str, flt: DirFilter) -> str:
    """An RFC 4516 LDAP URL for a subtree search of ``base`` with ``flt`` (no host, no attributes): the
    form of a dynamic group's memberURL. The DN and the rendered filter are percent-encoded, so a '?',
    '%' or space in a value cannot end a URL field early; slapd decodes them before it searches."""
    keep = "=,()&|!*:+"
    return f"ldap:///{quote(base, safe=keep)}??sub?{quote(render_filter(flt), safe=keep)}"


def make_rdn(rdn: tuple[str, str]) -> str:
    """``attr=value`` with the value escaped by ldap3 as an RDN value (RFC 4514 section 2.4)."""
    attribute, value = rdn
    return f"{attribute}={hex_edge_spaces(escape_rdn(value))}"


def make_dn(rdn: tuple[str, str], parent: str) -> str:
    """``attr=value,parent`` with the value escaped."""
    return f"{make_rdn(rdn)},{parent}"
