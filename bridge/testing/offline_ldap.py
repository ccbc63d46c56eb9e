"""An ldap3 connection on a socket of the caller's (a recorder, a scripted responder), set up as
``bridge.directory.ldap.servers.dial`` sets up a pooled one: for the tests and the benchmark of the bridge's
own request encoding and answer decoding, which compare bytes with ldap3's without a server."""

from __future__ import annotations

from typing import Any

import ldap3

# What servers.dial passes to ldap3.Connection (wire.encodable checks the same).
DIAL_SETTINGS: dict[str, Any] = {
    "client_strategy": ldap3.SYNC,
    "auto_bind": False,
    "raise_exceptions": False,
    "auto_referrals": False,
    "return_empty_attributes": False,
}


def offline_connection(socket: Any, **settings: Any) -> ldap3.Connection:
    """A bound, listening connection whose socket is ``socket`` (anything with ``sendall``, ``recv`` and
    ``close``); ``settings`` override :data:`DIAL_SETTINGS`."""
    server = ldap3.Server("ldap://127.0.0.1:1", get_info=ldap3.NONE)
    conn = ldap3.Connection(server, **{**DIAL_SETTINGS, **settings})
    conn.socket = socket
    conn.closed = False
    conn.listening = True
    conn.bound = True
    conn.strategy._outstanding = {}
    return conn
