"""The answers to the requests of :mod:`bridge.directory.ldap.encoding`, read from their bytes without
ldap3's decoder.

ldap3 decodes each message it receives into nested lists, then into dicts, and formats every value of an
entry as text (its ``attributes``) beside the raw bytes (its ``raw_attributes``): about 100 µs for an
entry of 15 attributes, 85 µs for a write's answer carrying a post-read entry (``python -m
bench.encoding``), where the adapter reads only the raw bytes. What is read here (RFC 4511 section 4):

- a search result entry (:func:`entry`): its DN and each attribute's raw values;
- an LDAPResult (:func:`result`): the searchResDone, modifyResponse and addResponse, as ldap3's result dict
  (``result``, ``description``, ``dn``, ``message``, ``referrals``, ``type``, ``controls``), the paged-results
  cookie and the post-read entry (as raw values) among its controls;
- a search result reference, and the notice of disconnection (an extendedResp with message id 0).

tests/unit/test_ldap_decoding.py holds each against what ldap3 reads of the same bytes. Malformed BER
raises ldap3's receive error (:func:`malformed`): the connection's stream can no longer be trusted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ldap3.core.exceptions import LDAPSocketReceiveError
from ldap3.core.results import RESULT_CODES
from ldap3.protocol.convert import referrals_to_list
from ldap3.protocol.oid import Oids
from ldap3.utils.conv import to_unicode

from bridge.directory.ldap.controls import POST_READ
from bridge.directory.ldap.encoding import PAGED_RESULTS

# RFC 4511 section 4.2: the operations answered here, by their [APPLICATION n] tag.
SEARCH_ENTRY, SEARCH_DONE, SEARCH_REFERENCE = 0x64, 0x65, 0x73
MODIFY_RESPONSE, ADD_RESPONSE, EXTENDED_RESPONSE = 0x67, 0x69, 0x78
_RESULT_TYPES = {SEARCH_DONE: "searchResDone", MODIFY_RESPONSE: "modifyResponse", ADD_RESPONSE: "addResponse"}
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"  # RFC 4511 section 4.4.1

Raw = dict[str, list[bytes]]


def malformed(what: str) -> Exception:
    """The error for bytes that are no LDAP message of the kinds read here: ldap3's receive error, so the
    pool treats it as any failed read (the connection, whose stream can no longer be followed, is closed;
    its server counts as unreachable, which requests try again themselves)."""
    error: Exception = LDAPSocketReceiveError(f"malformed answer from the directory: {what}")
    return error


def _element(data: bytes, at: int, end: int) -> tuple[int, int, int]:
    """The tag of the BER element at ``at``, and where its value starts and ends (definite lengths only,
    as RFC 4511 section 5.1 has them)."""
    if at + 2 > end:
        raise malformed("an LDAP message ends inside an element")
    tag, first = data[at], data[at + 1]
    start = at + 2
    if first >= 0x80:
        octets = first & 0x7F
        if not 0 < octets <= 4 or start + octets > end:
            raise malformed("an LDAP message has a length LDAP does not use")
        size = int.from_bytes(data[start : start + octets], "big")
        start += octets
    else:
        size = first
    if start + size > end:
        raise malformed("an LDAP message ends inside an element")
    return tag, start, start + size


def _children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """The elements inside a constructed one, in order."""
    at = start
    while at < end:
        tag, value, at = _element(data, at, end)
        yield tag, value, at


def _text(raw: bytes) -> str:
    """Text from the server as ldap3 reads it: UTF-8, else its other server encodings."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return str(to_unicode(raw, from_server=True))


@dataclass(frozen=True, slots=True)
class Message:
    """One LDAPMessage: its id, the tag of its operation and where the operation's value lies in
    ``data``, and its controls as ``(oid, criticality, value)``."""

    message_id: int
    operation: int
    data: bytes
    start: int
    end: int
    controls: tuple[tuple[str, bool, bytes | None], ...]


def message(data: bytes) -> Message:
    """The LDAPMessage that is the whole of ``data`` (as ldap3's ``receiving`` cuts them)."""
    tag, start, end = _element(data, 0, len(data))
    if tag != 0x30 or end != len(data):
        raise malformed("not an LDAP message")
    parts = list(_children(data, start, end))
    if len(parts) < 2 or parts[0][0] != 0x02:
        raise malformed("an LDAP message without its id or operation")
    message_id = int.from_bytes(data[parts[0][1] : parts[0][2]], "big", signed=True)
    operation, op_start, op_end = parts[1]
    controls: list[tuple[str, bool, bytes | None]] = []
    for tag, value_start, value_end in parts[2:]:
        if tag != 0xA0:
            continue
        for _, control_start, control_end in _children(data, value_start, value_end):
            fields = list(_children(data, control_start, control_end))
            if not fields or fields[0][0] != 0x04:
                raise malformed("a control without its type")
            oid = _text(data[fields[0][1] : fields[0][2]])
            critical, value = False, None
            for field_tag, field_start, field_end in fields[1:]:
                if field_tag == 0x01:
                    critical = any(data[field_start:field_end])
                elif field_tag == 0x04:
                    value = data[field_start:field_end]
            controls.append((oid, critical, value))
    return Message(message_id, operation, data, op_start, op_end, tuple(controls))


def _attributes(data: bytes, start: int, end: int) -> Raw:
    """A PartialAttributeList: each type with its values, raw. (Walked by hand: the hottest loop here.)"""
    found: Raw = {}
    at = start
    while at < end:
        _, attribute_start, at = _element(data, at, end)
        _, name_start, name_end = _element(data, attribute_start, at)
        _, value_at, values_end = _element(data, name_end, at)
        if values_end != at:
            raise malformed("an attribute with more than its type and values")
        values = []
        while value_at < values_end:
            _, value_start, value_at = _element(data, value_at, values_end)
            values.append(data[value_start:value_at])
        found[_text(data[name_start:name_end])] = values
    return found


def _entry_at(data: bytes, start: int, end: int) -> tuple[str, Raw]:
    parts = list(_children(data, start, end))
    if len(parts) != 2:
        raise malformed("an entry without its name or attributes")
    (_, dn_start, dn_end), (_, list_start, list_end) = parts
    return _text(data[dn_start:dn_end]), _attributes(data, list_start, list_end)


def entry(found: Message) -> dict[str, Any]:
    """A searchResEntry as the adapter reads one of ldap3's: ``type``, ``dn`` and ``raw_attributes``
    (ldap3's ``attributes``, every value formatted again as text, is left out: nothing reads it)."""
    dn, raw = _entry_at(found.data, found.start, found.end)
    return {"type": "searchResEntry", "dn": dn, "raw_attributes": raw}


def reference(found: Message) -> dict[str, Any]:
    """A searchResRef: its URIs (never followed: referrals are not chased)."""
    uris = [_text(found.data[start:end]) for _, start, end in _children(found.data, found.start, found.end)]
    return {"type": "searchResRef", "uri": uris}


def _control(oid: str, critical: bool, value: bytes | None) -> dict[str, Any]:
    """A response control as ldap3 gives it, its value decoded for the paged-results control (size and
    cookie) and the post-read one (the entry, its values raw); else the value's bytes."""
    decoded: Any = value
    if value is not None and oid == PAGED_RESULTS:
        _, start, end = _element(value, 0, len(value))
        fields = list(_children(value, start, end))
        if len(fields) != 2:
            raise malformed("a paged-results control without its size or cookie")
        (_, size_start, size_end), (_, cookie_start, cookie_end) = fields
        size = int.from_bytes(value[size_start:size_end], "big", signed=True)
        decoded = {"size": size, "cookie": value[cookie_start:cookie_end]}
    elif value is not None and oid == POST_READ:
        _, start, end = _element(value, 0, len(value))
        _, raw = _entry_at(value, start, end)
        decoded = {"result": raw}
    return {"description": Oids.get(oid, ""), "criticality": critical, "value": decoded}


def result(found: Message) -> dict[str, Any]:
    """An LDAPResult (searchResDone, modifyResponse, addResponse, extendedResp) as ldap3's result dict."""
    data = found.data
    parts = list(_children(data, found.start, found.end))
    if len(parts) < 3 or parts[0][0] != 0x0A:
        raise malformed("a result without its code, matched DN or message")
    code = int.from_bytes(data[parts[0][1] : parts[0][2]], "big", signed=True)
    referrals = None
    name = None
    for tag, start, end in parts[3:]:
        if tag == 0xA3:  # referral [3]
            uris = [_text(data[s:e]) for _, s, e in _children(data, start, end)]
            referrals = referrals_to_list(uris)
        elif tag == 0x8A:  # responseName [10] of an extendedResp
            name = _text(data[start:end])
    answer: dict[str, Any] = {
        "result": code,
        "description": RESULT_CODES[code],
        "dn": _text(data[parts[1][1] : parts[1][2]]),
        "message": _text(data[parts[2][1] : parts[2][2]]),
        "referrals": referrals,
        "type": _RESULT_TYPES.get(found.operation, "extendedResp"),
    }
    if found.operation == EXTENDED_RESPONSE:
        answer["responseName"] = name
    if found.controls:
        answer["controls"] = {oid: _control(oid, critical, value) for oid, critical, value in found.controls}
    return answer
