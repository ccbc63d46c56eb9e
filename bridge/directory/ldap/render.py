"""The ONLY place that builds LDAP filter strings and DNs, always through ldap3's escaping helpers.

Values from the network reach a filter or a DN only through :func:`render_filter` and :func:`make_dn`,
so no client can inject filter syntax or DN separators (RFC 4515 section 3, RFC 4514 section 2.4).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.conv import escape_bytes, escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

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
from bridge.directory.errors import NoSuchEntry

_ESCAPED_EDGE_SPACE = re.compile(r"((?:^|[^\\])(?:\\\\)*)\\ (?=[,+]|$)")
# What ldap3's DN parser misreads: '#' (refused unless it leads a value) and whitespace but SPACE
# (stripped from the ends of values with str.strip).
_MISREAD = re.compile(r"#|[^\S ]")

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
    """``attr=value`` with the value escaped as an RDN value (RFC 4514 section 2.4)."""
    attribute, value = rdn
    escaped = escape_rdn(value)
    # A leading or trailing space may be escaped as "\\ " or "\\20" (RFC 4514 2.4); ldap3's own DN parser
    # rejects the first form at the end of a value, so spell both ends as hex.
    if escaped.startswith("\\ "):
        escaped = "\\20" + escaped[2:]
    if escaped.endswith("\\ "):
        escaped = escaped[:-2] + "\\20"
    return f"{attribute}={escaped}"


def make_dn(rdn: tuple[str, str], parent: str) -> str:
    """``attr=value,parent`` with the value escaped."""
    return f"{make_rdn(rdn)},{parent}"


def normalize_dn(dn: str) -> str:
    """A canonical spelling of ``dn`` for comparisons: attribute types lower-cased, no spaces
    around separators, values kept as escaped. Case of values is kept too: DN comparison is by
    the attribute's matching rule, and the common naming attributes (uid, cn, ou, dc) ignore case,
    so callers compare the result case-insensitively (``dn_key``)."""
    # A space escaped as "\\ " at the end of a value (Active Directory writes DNs that way) is spelled
    # "\\20", which ldap3's parser accepts (RFC 4514 2.4 allows both).
    dn = _ESCAPED_EDGE_SPACE.sub(lambda m: f"{m.group(1)}\\20", dn)
    if _MISREAD.search(dn):
        dn = _hex_misread(dn)
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except (LDAPInvalidDnError, ValueError, IndexError) as exc:
        raise NoSuchEntry(f"not a valid DN: {dn!r}") from exc
    return "".join(
        f"{attribute.strip().lower()}={value.strip()}{separator}" for attribute, value, separator in parts
    )


def _hex_misread(dn: str) -> str:
    """``dn`` with the characters ldap3's parser misreads spelled as hex pairs (RFC 4514 2.4 allows any).

    slapd returns a '#' inside a value bare (only a leading one must be escaped), which ldap3 refuses;
    and ldap3 strips all Unicode whitespace from the ends of values, so ``uid=z\\u2028`` would become
    ``uid=z``, which slapd holds as another entry. A bare '#' that leads a value stays: it starts the
    value's hex form.
    """
    out: list[str] = []
    escaping = value_start = False
    for char in dn:
        bare = not escaping
        escaping = bare and char == "\\"
        spelled = char
        if bare and ((char == "#" and not value_start) or (char.isspace() and char != " ")):
            spelled = "".join(f"\\{byte:02x}" for byte in char.encode())
        value_start = bare and char == "="
        out.append(spelled)
    return "".join(out)


def dn_key(dn: str) -> str:
    """A case-insensitive comparison key for ``dn``."""
    return normalize_dn(dn).lower()


def parent_dn(dn: str) -> str:
    """The parent of ``dn`` (normalised)."""
    normal = normalize_dn(dn)
    parts = parse_dn(normal, escape=False, strip=True)
    first = next(i for i, (_, _, separator) in enumerate(parts) if separator != "+")
    return "".join(f"{a}={v}{sep}" for a, v, sep in parts[first + 1 :])


def first_rdn(dn: str) -> str:
    """The first RDN of ``dn`` as written there (escaped; all parts of a multi-valued RDN)."""
    parts = parse_dn(normalize_dn(dn), escape=False, strip=True)
    out = []
    for attribute, value, separator in parts:
        out.append(f"{attribute}={value}")
        if separator != "+":
            break
    return "+".join(out)


def rdn_of(dn: str) -> tuple[str, str]:
    """The first RDN of ``dn`` as (attribute, escaped value)."""
    attribute, value, _ = parse_dn(dn, escape=False, strip=True)[0]
    return attribute, value


def is_under(dn: str, base: str) -> bool:
    """True when ``dn`` is ``base`` or lies anywhere below it."""
    key, base_key = dn_key(dn), dn_key(base)
    return key == base_key or key.endswith("," + base_key)
