"""Which address a request came from (bridge/http/middleware.py): the peer, or behind a trusted proxy the
client X-Forwarded-For names; parsed once per address, and never for a string no address can be."""

from __future__ import annotations

import ipaddress

import falcon.testing

from bridge.http.middleware import RequestId, is_trusted

EVERYWHERE = [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]


def _client(peer: str, trusted: tuple[str, ...], forwarded: str | None = None) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    req, resp = (
        falcon.Request(falcon.testing.create_environ(remote_addr=peer, headers=headers)),
        falcon.Response(),
    )
    middleware = RequestId(trusted)
    middleware.process_request(req, resp)
    middleware.process_response(req, resp, None, True)  # the request id back to "-" for the next test
    return str(req.context.client)


def test_with_no_trusted_proxy_the_peer_is_the_client_whatever_it_forwards() -> None:
    assert _client("10.1.2.3", (), "203.0.113.9") == "10.1.2.3"
    assert not is_trusted("10.1.2.3", [])


def test_behind_trusted_proxies_the_last_untrusted_hop_is_the_client() -> None:
    trusted = ("127.0.0.1", "10.0.0.0/8")
    assert _client("127.0.0.1", trusted, "1.1.1.1, 203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert _client("127.0.0.1", trusted, "10.9.9.9") == "10.9.9.9"  # every hop trusted: the first
    assert _client("192.0.2.1", trusted, "203.0.113.9") == "192.0.2.1"  # an untrusted peer's own word


def test_what_is_no_address_is_never_trusted_however_long() -> None:
    assert is_trusted(" 192.0.2.1 ", EVERYWHERE) and is_trusted("2001:db8::1", EVERYWHERE)
    assert is_trusted("0000:0000:0000:0000:0000:ffff:192.168.100.200", EVERYWHERE)  # 45 characters
    for text in ("proxy.example.com", "1.2.3", "", "1" * 65, "2001:db8::1" + " " * 60 + "x"):
        assert not is_trusted(text, EVERYWHERE)
    assert _client("127.0.0.1", ("127.0.0.1",), "x" * 5000) == "x" * 5000  # as before: the hop, unparsed
