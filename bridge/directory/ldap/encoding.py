"""The LDAP requests the bridge sends most, as the bytes ldap3 would send, without pyasn1.

ldap3 builds every request as a tree of pyasn1 objects, turns it back into a dict for
``Connection.request``, and encodes the tree with pyasn1's BER encoder: some 150-250 µs of pure Python
per request here (``python -m bench.encoding``). The shapes below are plain BER (RFC 4511 section 5.1:
definite lengths, booleans as 0xFF, as ldap3 sends them) and come out byte for byte as ldap3 encodes
them (tests/unit/test_ldap_encoding.py compares each against ldap3's own bytes):

- a search (:func:`search_request`) with a filter given as a :mod:`bridge.directory.base` filter (every
  kind but ``BitsSet``, whose extensible match stays with ldap3), any scope, a size limit;
- a modify (:func:`modify_request`) of any operations, values as str or bytes;
- an add (:func:`add_request`);
- the controls those carry (:func:`controls`): permissive modify, the assertion and post-read values of
  :mod:`bridge.directory.ldap.controls` as they are, and the paged-results control (:func:`paged_results`).

Nothing here sends anything: a caller puts the bytes on ``conn.socket`` where ldap3's ``send`` would, and
reads the answer through ldap3 as before (see bench/README.md, "Where the encoder would go").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bridge.directory.base import (
    AllOf,
    AnyOf,
    BinaryEq,
    DirFilter,
    Eq,
    GreaterOrEqual,
    LessOrEqual,
    Negation,
    Present,
    Substring,
)

Control = tuple[str, bool, bytes | None]
Value = str | bytes

# RFC 4511 section 4.5.1: search scopes, and derefAliases as ldap3 sends it by default (derefAlways).
BASE, ONE_LEVEL, SUBTREE = 0, 1, 2
DEREF_ALWAYS = 3
# RFC 4511 section 4.6: the operation of one change of a modify.
ADD, DELETE, REPLACE = 0, 1, 2
PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696
NO_ATTRIBUTES = "1.1"  # RFC 4511 section 4.5.1.8: an empty selection asks for none


class NotEncodable(ValueError):
    """A request outside the shapes encoded here: the caller lets ldap3 build it."""


def tlv(tag: int, value: bytes) -> bytes:
    """One BER element: tag, definite length (short form below 128, else the fewest length octets)."""
    size = len(value)
    if size < 0x80:
        return bytes((tag, size)) + value
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + value


def integer(value: int, tag: int = 0x02) -> bytes:
    """An INTEGER (or, with tag 0x0A, an ENUMERATED) in the fewest two's-complement octets."""
    return tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(value: Value, tag: int = 0x04) -> bytes:
    """An OCTET STRING (or one implicitly tagged ``tag``): text as UTF-8, bytes as they are. Anything else
    (a number, a bytearray) ldap3 converts by rules of its own: not mimicked."""
    if isinstance(value, str):
        return tlv(tag, value.encode("utf-8"))
    if isinstance(value, bytes):
        return tlv(tag, value)
    raise NotEncodable(f"not text or bytes: {type(value).__name__}")


def _boolean(value: bool) -> bytes:
    return b"\x01\x01\xff" if value else b"\x01\x01\x00"


def ldap_filter(flt: DirFilter) -> bytes:
    """``flt`` as a Filter (RFC 4511 section 4.5.1.7), as ldap3 encodes ``render_filter(flt)``: values go
    in as the raw octets the escaped string stands for."""
    match flt:
        case Eq(attribute, value):
            return tlv(0xA3, octets(attribute) + octets(value))
        case BinaryEq(attribute, raw):
            return tlv(0xA3, octets(attribute) + octets(raw))
        case Present(attribute):
            return octets(attribute, 0x87)
        case GreaterOrEqual(attribute, value):
            return tlv(0xA5, octets(attribute) + octets(value))
        case LessOrEqual(attribute, value):
            return tlv(0xA6, octets(attribute) + octets(value))
        case Substring(attribute, initial, middle, final):
            parts = octets(initial, 0x80) if initial else b""
            parts += b"".join(octets(part, 0x81) for part in middle if part)
            parts += octets(final, 0x82) if final else b""
            if not parts:  # "(attr=*)" once rendered: a presence filter, as ldap3 reads it
                return octets(attribute, 0x87)
            return tlv(0xA4, octets(attribute) + tlv(0x30, parts))
        case AllOf(items):
            if not items:
                return octets("objectClass", 0x87)  # render_filter's "(objectClass=*)"
            return tlv(0xA0, b"".join(ldap_filter(item) for item in items))
        case AnyOf(items):
            if not items:
                return tlv(0xA2, octets("objectClass", 0x87))  # render_filter's always-false filter
            return tlv(0xA1, b"".join(ldap_filter(item) for item in items))
        case Negation(item):
            return tlv(0xA2, ldap_filter(item))
    raise NotEncodable(f"not encoded here: {type(flt).__name__}")


def paged_results(size: int, cookie: bytes | None = None, critical: bool = False) -> Control:
    """The simple paged-results control (RFC 2696) asking for ``size`` entries after ``cookie``."""
    return (PAGED_RESULTS, critical, tlv(0x30, integer(size) + octets(cookie or b"")))


def controls(given: Sequence[Control]) -> bytes:
    """The ``[0] Controls`` of a message (empty when there are none): a false criticality is left out,
    as it is the default, and so is an absent value."""
    if not given:
        return b""
    encoded = b""
    for oid, critical, value in given:
        body = octets(oid) + (_boolean(True) if critical else b"")
        encoded += tlv(0x30, body + (octets(value) if value is not None else b""))
    return tlv(0xA0, encoded)


def message(message_id: int, operation: bytes, given: Sequence[Control] = ()) -> bytes:
    """An LDAPMessage: its id, the encoded operation and the controls."""
    return tlv(0x30, integer(message_id) + operation + controls(given))


def _selection(attributes: Iterable[str]) -> bytes:
    names = list(attributes) or [NO_ATTRIBUTES]
    return tlv(0x30, b"".join(octets(name) for name in names))


def search_request(
    message_id: int,
    base: str,
    scope: int,
    flt: DirFilter,
    attributes: Sequence[str],
    *,
    size_limit: int = 0,
    time_limit: int = 0,
    given: Sequence[Control] = (),
) -> bytes:
    """A SearchRequest (``[APPLICATION 3]``) as ``conn.search(base, render_filter(flt), scope,
    attributes=..., size_limit=..., controls=...)`` sends it; for ``paged_size=`` add
    :func:`paged_results` last to ``given``, as ldap3 does."""
    body = octets(base) + integer(scope, 0x0A) + integer(DEREF_ALWAYS, 0x0A)
    body += integer(size_limit) + integer(time_limit) + _boolean(False)
    body += ldap_filter(flt) + _selection(attributes)
    return message(message_id, tlv(0x63, body), given)


def _attribute(name: str, values: Sequence[Value]) -> bytes:
    """A PartialAttribute: the type and the SET OF its values (ldap3 takes a lone value for a list of
    one: not mimicked)."""
    if isinstance(values, str | bytes):
        raise NotEncodable(f"the values of {name} are not a list")
    return tlv(0x30, octets(name) + tlv(0x31, b"".join(octets(value) for value in values)))


def modify_request(
    message_id: int,
    dn: str,
    changes: Sequence[tuple[int, str, Sequence[Value]]],
    given: Sequence[Control] = (),
) -> bytes:
    """A ModifyRequest (``[APPLICATION 6]``) of ``(operation, attribute, values)`` in order, as
    ``conn.modify(dn, {attribute: [(operation, values), ...]}, controls=...)`` sends it (the dict's
    attributes in order, each attribute's operations in order)."""
    items = b"".join(
        tlv(0x30, integer(operation, 0x0A) + _attribute(attribute, values))
        for operation, attribute, values in changes
    )
    return message(message_id, tlv(0x66, octets(dn) + tlv(0x30, items)), given)


def add_request(
    message_id: int, dn: str, attributes: Mapping[str, Sequence[Value]], given: Sequence[Control] = ()
) -> bytes:
    """An AddRequest (``[APPLICATION 8]``), as ``conn.add(dn, attributes=...)`` sends it: the attributes in
    order. ldap3 moves no key, but it removes repeated objectClass values and always sends an objectClass
    attribute (empty when none was given): so must a caller, or this refuses."""
    object_classes = [values for name, values in attributes.items() if name.lower() == "objectclass"]
    if len(object_classes) != 1 or len(set(object_classes[0])) != len(object_classes[0]):
        raise NotEncodable("an add needs exactly one objectClass attribute, without repeated values")
    items = b"".join(_attribute(name, values) for name, values in attributes.items())
    return message(message_id, tlv(0x68, octets(dn) + tlv(0x30, items)), given)
