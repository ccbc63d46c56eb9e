"""Distinguished names as text (RFC 4514), without a library: read, normalise and compare them, and spell
an RDN for the in-memory directory.

The in-memory adapter and the dry-run need these, and must not need ldap3. What is sent to a real server
is still escaped by ldap3 (``bridge/directory/ldap/render.py``); ``tests/unit/test_dn.py`` proves that
these functions agree with ldap3's ``parse_dn`` and ``escape_rdn`` over tricky and generated DNs, so
both adapters read and spell a DN alike. Where ldap3 refuses a DN (a leading '#' hex value, an attribute
type that is an OID), this module refuses it too.
"""

from __future__ import annotations

import functools
import re

from bridge.directory.errors import NoSuchEntry

_ESCAPED_EDGE_SPACE = re.compile(r"((?:^|[^\\])(?:\\\\)*)\\ (?=[,+]|$)")
# What ldap3's DN parser misreads: '#' (refused unless it leads a value) and whitespace but SPACE
# (stripped from the ends of values with str.strip). Kept here so both readers see the same text.
_MISREAD = re.compile(r"#|[^\S ]")
# An attribute type as ldap3 accepts it: a descriptor (RFC 4512 1.4), or AD DirSync's "<GUID".
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|<GUID", re.ASCII)
_HEX = frozenset("0123456789abcdefABCDEF")
# What may follow a backslash besides a hex pair (RFC 4514 2.4, and SPACE anywhere as ldap3 allows).
_ESCAPABLE = frozenset(' "#+,;<=>\\\x00')
# What must not stand bare in a value.
_SPECIAL = frozenset('"#+,;<=>\x00')
# What an RDN value escapes (ldap3's escape_rdn, in its order: the backslash first).
_TO_ESCAPE = ("\\", ",", "+", '"', "<", ">", ";", "=", "\x00")


def escape_value(value: str) -> str:
    """``value`` escaped as an RDN value (RFC 4514 2.4), as ldap3's ``escape_rdn`` spells it; like it,
    IndexError for an empty value."""
    for char in _TO_ESCAPE:
        value = value.replace(char, "\\" + char)
    if value[0] in "# ":
        value = "\\" + value
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    return value


def hex_edge_spaces(escaped: str) -> str:
    """An escaped RDN value with a leading or trailing "\\ " spelled "\\20".

    RFC 4514 2.4 allows both, but ldap3's own DN parser rejects the first form at the end of a value.
    """
    if escaped.startswith("\\ "):
        escaped = "\\20" + escaped[2:]
    if escaped.endswith("\\ "):
        escaped = escaped[:-2] + "\\20"
    return escaped


def make_rdn(rdn: tuple[str, str]) -> str:
    """``attr=value`` with the value escaped as an RDN value."""
    attribute, value = rdn
    return f"{attribute}={hex_edge_spaces(escape_value(value))}"


def make_dn(rdn: tuple[str, str], parent: str) -> str:
    """``attr=value,parent`` with the value escaped."""
    return f"{make_rdn(rdn)},{parent}"


def normalize_dn(dn: str) -> str:
    """A canonical spelling of ``dn`` for comparisons: attribute types lower-cased, no spaces
    around separators, values kept as escaped. Case of values is kept too: DN comparison is by
    the attribute's matching rule, and the common naming attributes (uid, cn, ou, dc) ignore case,
    so callers compare the result case-insensitively (``dn_key``). NoSuchEntry when it is no DN."""
    return "".join(f"{attribute}={value}{separator}" for attribute, value, separator in _parse(dn))


def dn_key(dn: str) -> str:
    """A case-insensitive comparison key for ``dn``."""
    return normalize_dn(dn).lower()


def parent_dn(dn: str) -> str:
    """The parent of ``dn`` (normalised); "" for a DN of one RDN."""
    parts = _parse(dn)
    first = next(i for i, (_, _, separator) in enumerate(parts) if separator != "+")
    return "".join(f"{a}={v}{sep}" for a, v, sep in parts[first + 1 :])


def first_rdn(dn: str) -> str:
    """The first RDN of ``dn`` as written there (escaped; all parts of a multi-valued RDN)."""
    out = []
    for attribute, value, separator in _parse(dn):
        out.append(f"{attribute}={value}")
        if separator != "+":
            break
    return "+".join(out)


@functools.lru_cache(maxsize=256)
def _parse(dn: str) -> tuple[tuple[str, str, str], ...]:
    """``dn`` as (attribute type lower-cased, value as escaped, following separator) triples. Kept for the
    DNs met last: a request reads the same few several times (its entry's, its parent, the bases), and
    each costs some 8 µs to read (issue #22). A DN that is none raises each time."""
    dn = respelled(dn)
    parts = []
    for ava, separator in _split(dn):
        attribute, equals, value = ava.partition("=")
        attribute, value = attribute.strip(), value.strip()
        if not equals or not _TYPE.fullmatch(attribute) or not _valid_value(value):
            raise NoSuchEntry(f"not a valid DN: {dn!r}")
        parts.append((attribute.lower(), value, separator))
    return tuple(parts)


def respelled(dn: str) -> str:
    """``dn`` with what ldap3's parser misreads spelled another way RFC 4514 allows: the values it
    keeps are spelled so by both adapters."""
    # A space escaped as "\\ " at the end of a value (Active Directory writes DNs that way) is spelled
    # "\\20", which ldap3's parser accepts (RFC 4514 2.4 allows both).
    dn = _ESCAPED_EDGE_SPACE.sub(lambda m: f"{m.group(1)}\\20", dn)
    return _hex_misread(dn) if _MISREAD.search(dn) else dn


def _split(dn: str) -> list[tuple[str, str]]:
    """``dn`` cut at each unescaped ',' or '+': (text, the separator after it, "" for the last)."""
    out: list[tuple[str, str]] = []
    start = 0
    escaping = False
    for index, char in enumerate(dn):
        if escaping:
            escaping = False
        elif char == "\\":
            escaping = True
        elif char in ",+":
            out.append((dn[start:index], char))
            start = index + 1
    out.append((dn[start:], ""))
    return out


def _valid_value(value: str) -> bool:
    """Whether ``value`` (stripped) is an escaped RDN value as ldap3 reads one: not empty, no bare
    special character, each backslash followed by a hex pair or an escapable character. A bare '#' is
    special even where it leads the value: ldap3 refuses the '#' hex form."""
    if not value:
        return False
    chars = iter(value)
    for char in chars:
        if char in _SPECIAL:
            return False
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                return False
            if escaped in _HEX:
                if next(chars, None) not in _HEX:
                    return False
            elif escaped not in _ESCAPABLE:
                return False
    return True


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
