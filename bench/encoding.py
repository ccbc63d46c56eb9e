"""What ldap3's request encoding costs the bridge, and what ``bridge/directory/ldap/encoding.py`` would save.

```sh
python -m bench.encoding [--repeat 1000]
```

For each LDAP request the Entra-like load of ``bench.entra_load`` makes the bridge send (a paged search by
filter, a search for one entry, a modify with permissive modify, an assertion and post-read, an add with
post-read), it times, in this process, on an ldap3 connection configured as the bridge's pool dials one:

- **ldap3, whole call**: ``conn.search`` / ``conn.modify`` / ``conn.add`` as the adapter calls them, on a
  socket that keeps the bytes and answers at once with a bare success (no network, no server): what ldap3
  spends building, encoding and sending the request, and reading that answer;
- **encoder, whole call**: the same call through ``bridge.directory.ldap.wire`` as the adapter makes it:
  the request encoded by ``bridge.directory.ldap.encoding`` and sent on the same socket, the answer read
  by ldap3's own ``post_send_search`` / ``post_send_single_response``;
- **request alone**: ldap3's building of the request (its ``*_operation`` function, the controls, the
  LDAPMessage, ``decode_request``, the BER encoding) against the encoder's function.

Both whole calls send the same bytes (checked before timing). Then the answers: for each kind of answer
the Entra mix gets (a search that found one entry of the map's attributes, one that found none, a write's
answer with its post-read entry, a bare one), ldap3's decoding of its messages (``decode_message_fast``
and ``decode_response_fast``, as its ``get_response`` calls them) against
``bridge.directory.ldap.decoding``'s. Figures are CPU time (``time.thread_time``), the median of 5 runs of
``--repeat`` calls each; then the saving per SCIM request, weighting each shape by how often the Entra mix
sends or gets it (LDAP operations per request, ``bench.entra_load``).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import ldap3
from ldap3.operation.add import add_operation
from ldap3.operation.modify import modify_operation
from ldap3.operation.search import search_operation
from ldap3.protocol.convert import build_controls_list
from ldap3.protocol.rfc2696 import paged_search_control
from ldap3.protocol.rfc4511 import LDAPMessage, MessageID, ProtocolOp
from ldap3.strategy.base import BaseStrategy
from ldap3.utils.asn1 import decode_message_fast, encode

from bench.raw_ldap import USER_ATTRIBUTES
from bridge.directory.base import AllOf, Eq
from bridge.directory.ldap import decoding, encoding, wire
from bridge.directory.ldap.controls import POST_READ, assertion_equal, post_read
from bridge.directory.ldap.render import render_filter
from bridge.testing.offline_ldap import offline_connection

BASE = "ou=people,dc=example,dc=org"
DN = f"uid=ann@contoso.com,{BASE}"
PERMISSIVE = ("1.2.840.113556.1.4.1413", False, None)
CSN = "20261206101010.123456Z#000000#000#000000"
UUID = "c1faa5ea-7abf-1041-9564-cf1166f2481f"
_ANSWER = {0x63: 0x65, 0x66: 0x67, 0x68: 0x69}
ATTRIBUTES = list(USER_ATTRIBUTES)
LOOKUP = AllOf((Eq("objectClass", "inetOrgPerson"), Eq("uid", "ann@contoso.com")))
BY_ID = AllOf((Eq("objectClass", "inetOrgPerson"), Eq("entryUUID", UUID)))
CHANGES = [
    (encoding.REPLACE, "title", ["Senior Engineer"]),
    (encoding.REPLACE, "departmentNumber", ["Research"]),
]
ENTRY = {
    "objectClass": ["inetOrgPerson", "scimBridgeObject"],
    "uid": ["ann@contoso.com"],
    "scimExternalId": ["ann"],
    "givenName": ["Ann"],
    "sn": ["Family-Ann"],
    "cn": ["Ann Family-Ann"],
    "displayName": ["Ann Family-Ann"],
    "mail": ["ann@contoso.com"],
    "title": ["Engineer"],
    "employeeNumber": ["100042"],
    "departmentNumber": ["R&D"],
}
# How often the Entra mix of bench.entra_load sends each shape, per SCIM request (7,260 requests a run:
# 1,200 lookups, reads, creates, updates, member adds and disables, 60 group creations; the member add is
# a search for the member and a modify; the update and the disable a modify with post-read, or without).
PER_REQUEST = {
    "paged search by filter": 1200 / 7260,
    "search for one entry": (1200 + 1200) / 7260,
    "modify, 3 controls": (1200 + 1200) / 7260,
    "modify, 2 controls": 1200 / 7260,
    "add with post-read": (1200 + 60) / 7260,
}


# How often the Entra mix gets each kind of answer, per SCIM request: a GET by id finds one entry, a member
# add two (the group, then the member), a lookup none; a create and an update answer with their post-read
# entry, a member add and a disable without.
ANSWERS_PER_REQUEST = {
    "search, one entry": (1200 + 2 * 1200) / 7260,
    "search, nothing found": 1200 / 7260,
    "write, post-read entry": (1200 + 60 + 1200) / 7260,
    "write, bare": (1200 + 1200) / 7260,
}


def answers() -> dict[str, list[bytes]]:
    """The messages of each kind of answer, as slapd sends them for the map's user."""
    stored = {
        **ENTRY,
        "entryUUID": [UUID],
        "entryCSN": [CSN],
        "createTimestamp": ["20261206101010Z"],
        "modifyTimestamp": ["20261206101010Z"],
    }
    values = b"".join(
        encoding.tlv(0x30, encoding.octets(name) + encoding.tlv(0x31, b"".join(map(encoding.octets, vals))))
        for name, vals in stored.items()
    )
    entry = encoding.tlv(0x64, encoding.octets(DN) + encoding.tlv(0x30, values))
    success = b"\x0a\x01\x00\x04\x00\x04\x00"
    return {
        "search, one entry": [encoding.message(5, entry), encoding.message(5, encoding.tlv(0x65, success))],
        "search, nothing found": [
            encoding.message(5, encoding.tlv(0x65, success), [encoding.paged_results(0, b"")])
        ],
        "write, post-read entry": [
            encoding.message(5, encoding.tlv(0x67, success), [(POST_READ, False, entry)])
        ],
        "write, bare": [encoding.message(5, encoding.tlv(0x67, success))],
    }


def ldap3_reads(conn: ldap3.Connection, messages: list[bytes]) -> list[Any]:
    """ldap3's decoding of an answer's messages, as ``SyncStrategy._get_response`` does it."""
    return [conn.strategy.decode_response_fast(decode_message_fast(data)) for data in messages]


def decoder_reads(messages: list[bytes]) -> list[Any]:
    """bridge.directory.ldap.decoding's, as ``wire`` reads an answer."""
    read = []
    for data in messages:
        found = decoding.message(data)
        read.append(
            decoding.entry(found) if found.operation == decoding.SEARCH_ENTRY else decoding.result(found)
        )
    return read


class Recorder:
    """A socket for ldap3 that keeps the last request and answers each with a bare success."""

    def __init__(self) -> None:
        self.last = b""
        self._answers = b""

    def sendall(self, data: bytes) -> None:
        self.last = bytes(data)
        at = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
        size = data[at + 1]
        answer = _ANSWER[data[at + 2 + size]]
        done = bytes(data[at : at + 2 + size]) + bytes((answer, 7, 0x0A, 1, 0, 4, 0, 4, 0))
        self._answers += encoding.tlv(0x30, done)

    def recv(self, size: int) -> bytes:
        data, self._answers = self._answers[:size], self._answers[size:]
        return data

    def close(self) -> None:
        pass


def connection() -> ldap3.Connection:
    """An ldap3 connection as ``bridge.directory.ldap.servers.dial`` makes one, on a Recorder."""
    return offline_connection(Recorder())


def ldap3_request(message_type: str, request: Any, controls: Any) -> bytes:
    """ldap3's own request path after the ``*_operation`` call: what ``BaseStrategy.send`` does."""
    message = LDAPMessage()
    message["messageID"] = MessageID(7)
    message["protocolOp"] = ProtocolOp().setComponentByName(message_type, request)
    built = build_controls_list(controls)
    if built is not None:
        message["controls"] = built
    BaseStrategy.decode_request(message_type, request, controls)
    return bytes(encode(message))


Shape = tuple[
    Callable[[ldap3.Connection], object],
    Callable[[ldap3.Connection], object],
    Callable[[], object],
    Callable[[], object],
]


def shapes() -> dict[str, Shape]:
    """Each shape: ldap3's whole call, the encoder's whole call, ldap3's request alone, the encoder's."""
    lookup, by_id = render_filter(LOOKUP), render_filter(BY_ID)
    written = post_read(ATTRIBUTES)
    guarded = [PERMISSIVE, assertion_equal("entryCSN", CSN), written]
    unread = [PERMISSIVE, assertion_equal("entryCSN", CSN)]
    changes = {name: [(ldap3.MODIFY_REPLACE, values)] for _, name, values in CHANGES}

    def paged() -> list[Any]:
        return [paged_search_control(False, 500, None)]

    def search_op(flt: str, size_limit: int) -> Any:
        # As Connection.search calls it: subtree, deref always, auto-escape, auto-encode, check names.
        return search_operation(
            BASE, flt, 2, 3, ATTRIBUTES, size_limit, 0, False, True, True, None, None, True
        )

    def modify_op() -> Any:
        return modify_operation(DN, changes, True, None, None, True)

    return {
        "paged search by filter": (
            lambda conn: conn.search(BASE, lookup, ldap3.SUBTREE, attributes=ATTRIBUTES, paged_size=500),
            lambda conn: wire.search(conn, BASE, ldap3.SUBTREE, LOOKUP, ATTRIBUTES, paged_size=500),
            lambda: ldap3_request("searchRequest", search_op(lookup, 0), paged()),
            lambda: encoding.search_request(
                7, BASE, encoding.SUBTREE, LOOKUP, ATTRIBUTES, given=[encoding.paged_results(500)]
            ),
        ),
        "search for one entry": (
            lambda conn: conn.search(BASE, by_id, ldap3.SUBTREE, attributes=ATTRIBUTES, size_limit=1),
            lambda conn: wire.search(conn, BASE, ldap3.SUBTREE, BY_ID, ATTRIBUTES, size_limit=1),
            lambda: ldap3_request("searchRequest", search_op(by_id, 1), None),
            lambda: encoding.search_request(7, BASE, encoding.SUBTREE, BY_ID, ATTRIBUTES, size_limit=1),
        ),
        "modify, 3 controls": (
            lambda conn: conn.modify(DN, changes, controls=guarded),
            lambda conn: wire.modify(conn, DN, changes, guarded),
            lambda: ldap3_request("modifyRequest", modify_op(), guarded),
            lambda: encoding.modify_request(7, DN, CHANGES, guarded),
        ),
        "modify, 2 controls": (
            lambda conn: conn.modify(DN, changes, controls=unread),
            lambda conn: wire.modify(conn, DN, changes, unread),
            lambda: ldap3_request("modifyRequest", modify_op(), unread),
            lambda: encoding.modify_request(7, DN, CHANGES, unread),
        ),
        "add with post-read": (
            lambda conn: conn.add(DN, attributes={k: list(v) for k, v in ENTRY.items()}, controls=[written]),
            lambda conn: wire.add(conn, DN, ENTRY, [written]),
            lambda: ldap3_request("addRequest", add_operation(DN, ENTRY, True, None, None, True), [written]),
            lambda: encoding.add_request(7, DN, ENTRY, [written]),
        ),
    }


def _operation(data: bytes) -> bytes:
    """A message's operation and controls: its bytes after the message id (which each connection takes
    from ldap3's one counter, so the two sides' differ)."""
    at = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    return data[at + 2 + data[at + 1] :]


def cpu_us(call: Callable[[], object], repeat: int) -> float:
    """The median over 5 runs of the CPU microseconds one ``call`` takes."""
    runs = []
    for _ in range(5):
        started = time.thread_time()
        for _ in range(repeat):
            call()
        runs.append((time.thread_time() - started) / repeat * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1000, help="calls per run (default 1000)")
    args = parser.parse_args()
    ours, theirs = connection(), connection()
    if not wire.encodable(ours):
        raise SystemExit("bridge.directory.ldap.wire would leave these requests to ldap3")
    print("CPU µs per LDAP request (median of 5 runs), ldap3 against bridge/directory/ldap/encoding.py")
    head = f"  {'request':<24}{'ldap3 call':>12}{'encoder call':>14}{'saved':>8}"
    print(head + f"{'ldap3 request':>15}{'encoder':>9}")
    saved = 0.0
    for name, (ldap3_call, encoder_call, ldap3_alone, encoder_alone) in shapes().items():
        ldap3_call(theirs)
        encoder_call(ours)
        if _operation(theirs.socket.last) != _operation(ours.socket.last) or ours.result["result"] != 0:
            raise SystemExit(f"{name}: the encoder's bytes differ from ldap3's")
        whole = cpu_us(functools.partial(ldap3_call, theirs), args.repeat)
        wired = cpu_us(functools.partial(encoder_call, ours), args.repeat)
        alone = cpu_us(ldap3_alone, args.repeat)
        mine = cpu_us(encoder_alone, args.repeat)
        saved += (whole - wired) * PER_REQUEST[name]
        print(f"  {name:<24}{whole:>12.1f}{wired:>14.1f}{whole - wired:>8.1f}{alone:>15.1f}{mine:>9.1f}")
    print(f"  saved per SCIM request over the Entra mix: {saved:.0f} µs of CPU")
    print("CPU µs per answer (median of 5 runs), ldap3's decoding against bridge/directory/ldap/decoding.py")
    print(f"  {'answer':<24}{'ldap3':>12}{'decoder':>14}{'saved':>8}")
    read_saved = 0.0
    for name, messages in answers().items():
        theirs_read = cpu_us(functools.partial(ldap3_reads, theirs, messages), args.repeat)
        ours_read = cpu_us(functools.partial(decoder_reads, messages), args.repeat)
        read_saved += (theirs_read - ours_read) * ANSWERS_PER_REQUEST[name]
        print(f"  {name:<24}{theirs_read:>12.1f}{ours_read:>14.1f}{theirs_read - ours_read:>8.1f}")
    print(f"  saved per SCIM request over the Entra mix: {read_saved:.0f} µs of CPU")


if __name__ == "__main__":
    main()
