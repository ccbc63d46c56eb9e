"""The LDAP controls ldap3 does not encode itself: server-side sorting (RFC 2891) and the virtual list
view (draft-ietf-ldapext-ldapv3-vlv-09), which together let the directory hand over one page of a
large sorted list, so the bridge never reads the whole list to serve page 1,000 of it.

ldap3 sends a control given as ``(oid, criticality, encoded value)`` and returns the value of one it
does not know as bytes; the ASN.1 here is the few lines that turn one into the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ldap3.core.results import RESULT_CODES
from ldap3.operation.search import compile_filter, parse_filter
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import namedtype, tag, univ

ASSERTION = "1.3.6.1.1.12"
POST_READ = "1.3.6.1.1.13.2"
SORT_REQUEST = "1.2.840.113556.1.4.473"
VLV_REQUEST = "2.16.840.1.113730.3.4.9"
VLV_RESPONSE = "2.16.840.1.113730.3.4.10"

Control = tuple[str, bool, bytes | None]

# ldap3 looks every result code up in its table and fails with a KeyError on one it lacks; these are
# the sort and list-view codes (RFC 2891, the VLV draft) a server answers these controls with.
for _code, _name in ((60, "sortControlMissing"), (61, "offsetRangeError"), (76, "virtualListViewError")):
    RESULT_CODES.setdefault(_code, _name)


def _context(number: int, constructed: bool = False) -> tag.Tag:
    return tag.Tag(
        tag.tagClassContext, tag.tagFormatConstructed if constructed else tag.tagFormatSimple, number
    )


class _SortKey(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attributeType", univ.OctetString()),
        namedtype.OptionalNamedType("orderingRule", univ.OctetString().subtype(implicitTag=_context(0))),
        namedtype.DefaultedNamedType("reverseOrder", univ.Boolean(False).subtype(implicitTag=_context(1))),
    )


class _SortKeyList(univ.SequenceOf):
    componentType = _SortKey()


class _ByOffset(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagImplicitly(_context(0, constructed=True))
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("offset", univ.Integer()),
        namedtype.NamedType("contentCount", univ.Integer()),
    )


class _Target(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("byOffset", _ByOffset()),
        namedtype.NamedType("greaterThanOrEqual", univ.OctetString().subtype(implicitTag=_context(1))),
    )


class _VlvRequest(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("beforeCount", univ.Integer()),
        namedtype.NamedType("afterCount", univ.Integer()),
        namedtype.NamedType("target", _Target()),
        namedtype.OptionalNamedType("contextID", univ.OctetString()),
    )


class _VlvResponse(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("targetPosition", univ.Integer()),
        namedtype.NamedType("contentCount", univ.Integer()),
        namedtype.NamedType("virtualListViewResult", univ.Enumerated()),
        namedtype.OptionalNamedType("contextID", univ.OctetString()),
    )


def _ber(tag: int, value: bytes) -> bytes:
    """One BER element: tag, definite length (short or long form), value."""
    if len(value) < 0x80:
        return bytes((tag, len(value))) + value
    size = len(value).to_bytes((len(value).bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + value


def assertion_equal(attribute: str, value: str) -> Control:
    """:func:`assertion` of ``(attribute=value)``, the version check of every asserted write,
    encoded here: an equalityMatch is ``[3] SEQUENCE { attributeDesc, assertionValue }`` of two OCTET
    STRINGs (RFC 4511 section 4.5.1), where pyasn1 took 70 µs a write. The value goes in as raw octets,
    as it does once ldap3 has parsed an escaped filter string: BER has nothing to escape."""
    body = _ber(0x04, attribute.encode("utf-8")) + _ber(0x04, value.encode("utf-8"))
    return (ASSERTION, True, _ber(0xA3, body))


def assertion(ldap_filter: str) -> Control:
    """A critical assertion control (RFC 4528): the operation is done only when the entry matches
    ``ldap_filter`` (rendered and escaped by ``render.py``), and fails with assertionFailed otherwise."""
    node = parse_filter(ldap_filter, None, False, True, None, False)  # already escaped: no auto-escape
    return (ASSERTION, True, encoder.encode(compile_filter(node.elements[0])))


class _AttributeSelection(univ.SequenceOf):
    componentType = univ.OctetString()


def post_read(attributes: Sequence[str]) -> Control:
    """A post-read request (RFC 4527): the write's response carries the entry as it is after the write,
    with ``attributes`` (operational ones too), so no separate read is needed. Not critical: a server
    that ignores it answers without, and the entry is then read."""
    selection = _AttributeSelection()
    for attribute in attributes:
        selection.append(attribute)
    return (POST_READ, False, encoder.encode(selection))


def read_post_read(controls: dict[str, dict[str, Any]] | None) -> Mapping[str, list[Any]] | None:
    """The attributes of the post-read response among a write's result controls, if there is one
    (ldap3 decodes it into its CaseInsensitiveDict, a Mapping but no dict: values are str, or bytes
    for binary syntaxes)."""
    value = (controls or {}).get(POST_READ, {}).get("value")
    if not isinstance(value, Mapping) or not isinstance(value.get("result"), Mapping):
        return None
    found: Mapping[str, list[Any]] = value["result"]
    return found


def sort_by(attribute: str) -> Control:
    """A critical server-side sort request on one attribute, ascending, by its ORDERING rule."""
    keys = _SortKeyList()
    key = _SortKey()
    key["attributeType"] = attribute
    keys.append(key)
    return (SORT_REQUEST, True, encoder.encode(keys))


def list_view(offset: int, count: int) -> Control:
    """A critical VLV request for ``count`` entries (at least one) from 1-based position ``offset``.

    No context id is sent: with one, OpenLDAP's sssvlv overlay serves the list it sorted for an earlier
    request, whatever this request's filter, so every request sorts afresh.
    """
    request = _VlvRequest()
    request["beforeCount"] = 0
    request["afterCount"] = max(count, 1) - 1
    by_offset = request["target"]["byOffset"]
    by_offset["offset"] = offset
    by_offset["contentCount"] = 0  # "unknown": the server takes offset as a plain position
    return (VLV_REQUEST, True, encoder.encode(request))


@dataclass(frozen=True, slots=True)
class ListView:
    """What a VLV response says: where the page starts, how many entries the sorted list has, and the
    result code (0 is success)."""

    position: int
    total: int
    result: int


def read_list_view(controls: dict[str, dict[str, object]] | None) -> ListView | None:
    """The VLV response among the controls ldap3 returned with a search result, if there is one."""
    value = (controls or {}).get(VLV_RESPONSE, {}).get("value")
    if not isinstance(value, bytes):
        return None
    response, _ = decoder.decode(value, asn1Spec=_VlvResponse())
    return ListView(
        position=int(response["targetPosition"]),
        total=int(response["contentCount"]),
        result=int(response["virtualListViewResult"]),
    )


__all__ = [
    "ASSERTION",
    "POST_READ",
    "SORT_REQUEST",
    "VLV_REQUEST",
    "VLV_RESPONSE",
    "ListView",
    "assertion",
    "list_view",
    "post_read",
    "read_list_view",
    "read_post_read",
    "sort_by",
]
