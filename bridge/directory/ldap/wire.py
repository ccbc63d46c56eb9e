"""The searches, modifies and adds the adapter sends, as :mod:`bridge.directory.ldap.encoding`'s bytes
where it can, else through ldap3; either way the same bytes go out.

ldap3 spends some 200-450 µs of pure Python building and encoding each request, and 85-100 µs decoding
an answer that carries an entry (``python -m bench.encoding``). On a connection as
:func:`bridge.directory.ldap.servers.dial` opens one (ldap3's ``SYNC`` strategy, no SASL, no schema, no
referral chasing), a request the encoder covers is encoded here and written where ldap3's ``send``
writes; its answer is cut from the socket by ldap3's own ``receiving`` (its timeouts, its errors) and
read by :mod:`bridge.directory.ldap.decoding`, which sets ``conn.result`` and ``conn.response`` as ldap3's
``get_response`` does, less the text copies of the values nothing reads. A search on Active Directory,
which may answer an attribute in ranges that ldap3 follows, is read by ldap3. Anything else (an
extensible match, an add ldap3 would change, another strategy or connection setting, a value that is
neither text nor bytes) goes to ldap3 unchanged.

The pool lends a connection to one thread at a time; ldap3's connection lock is taken all the same, as
ldap3 takes it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from ldap3 import BASE, LEVEL, MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, SUBTREE, Connection
from ldap3.core.exceptions import (
    LDAPExceptionError,
    LDAPSessionTerminatedByServerError,
    LDAPSocketReceiveError,
    LDAPSocketSendError,
    communication_exception_factory,
)
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.dn import safe_dn

from bridge.directory.base import DirFilter
from bridge.directory.ldap import decoding, encoding
from bridge.directory.ldap.controls import Control
from bridge.directory.ldap.render import render_filter

Values = Sequence[str | bytes]
Changes = Mapping[str, Sequence[tuple[str, Values]]]  # as ldap3 takes them: {attribute: [(op, values)]}

_SCOPES = {BASE: encoding.BASE, LEVEL: encoding.ONE_LEVEL, SUBTREE: encoding.SUBTREE}
_DONE = (decoding.SEARCH_DONE, decoding.MODIFY_RESPONSE, decoding.ADD_RESPONSE)
_OPERATIONS = {MODIFY_ADD: encoding.ADD, MODIFY_DELETE: encoding.DELETE, MODIFY_REPLACE: encoding.REPLACE}


def encodable(conn: Connection) -> bool:
    """Whether ldap3 would send the encoder's bytes on ``conn``, and need nothing more of the request to
    read the answer: each setting below changes what it sends (a schema, a validator, SASL signing, name
    checks, escaping) or what it reads back (referrals, results raised, empty attributes, usage counts),
    and each is as ``dial`` leaves it."""
    return (
        type(conn.strategy) is SyncStrategy
        and conn.listening
        and not conn.lazy
        and not conn.read_only
        and conn.sasl_mechanism is None
        and not conn.sasl_in_progress
        and not conn.auto_referrals
        and not conn.raise_exceptions
        and not conn.empty_attributes
        and conn.check_names
        and conn.auto_escape
        and conn.auto_encode
        and conn.usage is None
        and conn.server.schema is None
        and conn.server.custom_validator is None
    )


@functools.lru_cache(maxsize=1024)
def _safe_dn(dn: str) -> str:
    """The DN as ldap3 sends it (its ``safe_dn`` re-escapes some values): 10-30 µs a DN without an '@',
    so kept for the bases and groups named again and again."""
    return str(safe_dn(dn))


def _send(conn: Connection, message_id: int, data: bytes, request: dict[str, Any]) -> None:
    """What ldap3's ``send`` and ``sending`` do with an encoded request. A failed write is ldap3's
    LDAPSocketSendError, the socket's exception class mixed in as ldap3 mixes it (a timeout stays a
    TimeoutError), so the pool sees a transport failure as before."""
    conn.request = request
    try:
        conn.socket.sendall(data)
    except OSError as exc:
        conn.last_error = "socket sending error" + str(exc)
        raise communication_exception_factory(LDAPSocketSendError, type(exc)(str(exc)))(
            conn.last_error
        ) from exc


def _terminated(conn: Connection) -> NoReturn:
    """The server closed the connection, or said it would (a notice of disconnection): as ldap3 does."""
    with contextlib.suppress(OSError, LDAPExceptionError):
        conn.strategy.close()
    conn.last_error = "session terminated by server"
    raise LDAPSessionTerminatedByServerError(conn.last_error)


def _read(conn: Connection, message_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The answer to request ``message_id``, as ldap3's ``get_response`` reads it on this connection: the
    messages cut from the socket by ldap3's own ``receiving`` (its timeouts and errors), decoded by
    :mod:`bridge.directory.ldap.decoding` instead of ldap3's decoder. The entries and references of a
    search, and its result."""
    entries: list[dict[str, Any]] = []
    while True:
        received = conn.strategy.receiving()
        if not received:
            _terminated(conn)
        done = None
        for data in received:
            found = decoding.message(data)
            if found.message_id == message_id:
                if found.operation == decoding.SEARCH_ENTRY:
                    entries.append(decoding.entry(found))
                elif found.operation == decoding.SEARCH_REFERENCE:
                    entries.append(decoding.reference(found))
                elif found.operation in _DONE:
                    done = decoding.result(found)
                else:  # an intermediate response: no request sent here asks for one
                    raise decoding.malformed(f"an answer of an unexpected kind (tag {found.operation:#x})")
            elif found.message_id == 0:  # an unsolicited notification (RFC 4511 section 4.4)
                notice = decoding.result(found) if found.operation == decoding.EXTENDED_RESPONSE else {}
                if notice.get("responseName") == decoding.NOTICE_OF_DISCONNECTION:
                    _terminated(conn)
                conn.last_error = "unknown unsolicited notification from server"
                raise LDAPSocketReceiveError(conn.last_error)
            else:
                conn.last_error = "invalid messageId received"
                raise LDAPSocketReceiveError(conn.last_error)
        if done is not None:
            return entries, done


def _exchange(
    conn: Connection, message_id: int, data: bytes, request: dict[str, Any], *, search: bool
) -> None:
    """Send an encoded request and read its answer into ``conn.result`` (and, for a search,
    ``conn.response``), under ldap3's connection lock as ldap3 takes it."""
    with conn.connection_lock:
        _send(conn, message_id, data, request)
        entries, done = _read(conn, message_id)
        conn.result = done
        conn.response = entries if search else None


def _exchange_ranged(conn: Connection, message_id: int, data: bytes, request: dict[str, Any]) -> None:
    """A search whose answer ldap3 reads itself: Active Directory answers a long multi-valued attribute
    in ranges (``member;range=0-1499``), which ldap3 follows with searches of its own."""
    with conn.connection_lock:
        conn.strategy._outstanding[message_id] = request
        _send(conn, message_id, data, request)
        conn.strategy.post_send_search(message_id)


def search(
    conn: Connection,
    base: str,
    scope: str,
    flt: DirFilter,
    attributes: Sequence[str],
    *,
    size_limit: int = 0,
    paged_size: int | None = None,
    paged_cookie: bytes | None = None,
    controls: Sequence[Control] = (),
    ranged: bool = False,
) -> None:
    """``conn.search(base, render_filter(flt), scope, attributes=..., size_limit=..., paged_size=...,
    paged_cookie=..., controls=...)``; ``conn.result`` and ``conn.response`` as it sets them, each entry's
    ``dn`` and ``raw_attributes`` (see :func:`bridge.directory.ldap.decoding.entry`). ``ranged``: the
    server may answer an attribute in ranges (Active Directory), which ldap3 reads and follows."""
    if encodable(conn) and scope in _SCOPES:
        given = [*controls]
        if paged_size is not None:  # ldap3 puts the paged-results control last
            given.append(encoding.paged_results(paged_size, paged_cookie))
        sent_base = _safe_dn(base) if base else base
        message_id = conn.server.next_message_id()
        try:
            data = encoding.search_request(
                message_id, sent_base, _SCOPES[scope], flt, attributes, size_limit=size_limit, given=given
            )
        except encoding.NotEncodable:
            pass
        else:
            request = {
                "type": "searchRequest",
                "base": sent_base,
                "scope": _SCOPES[scope],
                "dereferenceAlias": encoding.DEREF_ALWAYS,  # ldap3 reads it to follow a ranged attribute
                "sizeLimit": size_limit,
                "timeLimit": 0,
                "typesOnly": False,
                "filter": render_filter(flt),
                "attributes": [*attributes] or [encoding.NO_ATTRIBUTES],
                "controls": given,
            }
            if ranged:
                _exchange_ranged(conn, message_id, data, request)
            else:
                _exchange(conn, message_id, data, request, search=True)
            return
    conn.search(
        base,
        render_filter(flt),
        scope,
        attributes=attributes,
        size_limit=size_limit,
        paged_size=paged_size,
        paged_cookie=paged_cookie,
        controls=controls or None,
    )


def _flat(changes: Changes) -> list[tuple[int, str, Values]] | None:
    """``changes`` as the encoder takes them, in the order ldap3 sends them; None for what it does not
    encode (an increment, ldap3's short form of one change per attribute)."""
    flat = []
    for name, operations in changes.items():
        for change in operations:
            code = _OPERATIONS.get(change[0]) if isinstance(change, tuple) and len(change) == 2 else None
            if code is None:
                return None
            flat.append((code, name, change[1]))
    return flat


def modify(conn: Connection, dn: str, changes: Changes, controls: Sequence[Control] = ()) -> None:
    """``conn.modify(dn, changes, controls=...)``; ``conn.result`` as it sets it."""
    flat = _flat(changes) if encodable(conn) else None
    if flat:  # ldap3 refuses a modify of no change itself
        sent_dn = _safe_dn(dn)
        message_id = conn.server.next_message_id()
        try:
            data = encoding.modify_request(message_id, sent_dn, flat, controls)
        except encoding.NotEncodable:
            pass
        else:
            request = {"type": "modifyRequest", "entry": sent_dn, "changes": changes, "controls": controls}
            _exchange(conn, message_id, data, request, search=False)
            return
    conn.modify(dn, changes, controls=controls or None)


def add(
    conn: Connection, dn: str, attributes: Mapping[str, Values], controls: Sequence[Control] = ()
) -> None:
    """``conn.add(dn, attributes=..., controls=...)``; ``conn.result`` as it sets it."""
    if encodable(conn):
        sent_dn = _safe_dn(dn)
        message_id = conn.server.next_message_id()
        try:
            data = encoding.add_request(message_id, sent_dn, attributes, controls)
        except encoding.NotEncodable:
            pass
        else:
            request = {"type": "addRequest", "entry": sent_dn, "attributes": attributes, "controls": controls}
            _exchange(conn, message_id, data, request, search=False)
            return
    conn.add(dn, attributes=attributes, controls=controls or None)
