"""The reverse-proxy examples of packaging/reverse-proxy/, each run from Debian's package as shipped (only
ports, certificate, bridge address and log paths changed: tests/proxies.py) in front of the real bridge
on loopback against slapd, and driven over HTTPS as Entra drives them: its Test Connection (with an OAuth
token fetched through the proxy, and with the secret token) and a create; what must never reach the
bridge (404 outside the SCIM base path, 413 past the body limit); and what the bridge's log then shows
(the request id, the client's address, the public URL in Location)."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge.testing.slapd import SlapdInfo
from tests.conftest import OPENLDAP_MAP, TOKEN, TOKEN_HASH
from tests.e2e.conftest import Bridge, serve_with
from tests.oauth_support import write_signing_key
from tests.proxies import CLIENT_ADDRESS, EXAMPLES, PROXIES, Answer, Client, Proxy, make_certificate, running
from tests.slapd_fixtures import Inspector, Subtree

ENTRA_CLIENT = "entra-test-connection"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MAX_BODY = 1_048_576  # server.max_body_bytes by default, and the examples' limit


@dataclass
class Proxied:
    """A bridge, a proxy in front of it, and a client of the proxy."""

    bridge: Bridge
    proxy: Proxy
    client: Client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        chunked: bool = False,
    ) -> Answer:
        """A request through the proxy with the secret token unless ``headers`` say otherwise; ``body`` is
        sent as JSON unless it is bytes already."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Authorization": f"Bearer {TOKEN}", **(headers or {})}
        if data is not None:
            sent.setdefault("Content-Type", "application/scim+json")
        return self.client.request(method, path, data, sent, chunked=chunked)

    def bridge_saw(self, request_id: str, wait: float = 5.0) -> list[dict[str, Any]]:
        """The bridge's access lines of the request ``request_id`` (``wait=0``: to check that it saw none)."""
        return self.bridge.access_lines(request_id, wait)


@pytest.fixture(params=PROXIES)
def proxied(
    request: pytest.FixtureRequest, slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path
) -> Iterator[Proxied]:
    """The bridge (trusting the proxies' address, with an OAuth client) behind one of the proxies."""
    assert slapd.ca_file
    ldap = {
        "urls": [slapd.url],
        "tls": "starttls",
        "ca_file": slapd.ca_file,
        "bind_dn": slapd.bind_dn,
        "user_base": ldap_subtree.user_base,
        "group_base": ldap_subtree.group_base,
    }
    write_signing_key(tmp_path / "oauth-signing.pem")
    oauth = {
        "signing_keys": [str(tmp_path / "oauth-signing.pem")],
        "clients": [{"id": ENTRA_CLIENT, "secret_hashes": [TOKEN_HASH]}],
    }
    certificate = make_certificate(tmp_path / "tls")
    serving = contextmanager(serve_with)(
        tmp_path,
        ldap,
        slapd.password,
        OPENLDAP_MAP,
        server={"trusted_proxies": ["127.0.0.1"]},
        auth={"oauth": oauth},
    )
    with serving as bridge:
        bridge_port = urllib.parse.urlsplit(bridge.url).port
        assert bridge_port is not None
        with running(request.param, tmp_path / request.param, bridge_port, certificate) as proxy:
            yield Proxied(bridge, proxy, Client(proxy.port, certificate))


def entra_probe(resource: str, attribute: str) -> str:
    """Test Connection's query for a random GUID [D1][R7]."""
    query = urllib.parse.quote(f'{attribute} eq "{uuid.uuid4()}"')
    extra = "excludedAttributes=members&" if resource == "Groups" else ""
    return f"/scim/v2/{resource}?{extra}filter={query}"


def assert_empty_list(answer: Answer) -> None:
    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("application/scim+json")
    listed = json.loads(answer.body)
    assert listed["totalResults"] == 0 and listed["Resources"] == [], listed


def test_entras_test_connection_and_a_create_pass_through_with_the_clients_address_and_request_id(
    proxied: Proxied, inspector: Inspector, ldap_subtree: Subtree
) -> None:
    # Test Connection with OAuth: the token endpoint through the proxy, then the probes with its token.
    basic = base64.b64encode(f"{ENTRA_CLIENT}:{TOKEN}".encode()).decode()
    issued = proxied.call(
        "POST",
        "/oauth/token",
        b"grant_type=client_credentials",
        {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert issued.status == 200, issued
    access_token = json.loads(issued.body)["access_token"]
    bearer = f"Bearer {access_token}"
    assert_empty_list(proxied.call("GET", entra_probe("Users", "userName"), {"Authorization": bearer}))
    assert_empty_list(proxied.call("GET", entra_probe("Groups", "displayName"), {"Authorization": bearer}))
    # And with the secret token; a client's forged forwarding headers change nothing.
    forged = {
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "http",
    }
    probe = proxied.call("GET", entra_probe("Users", "userName"), headers=forged)
    assert_empty_list(probe)
    assert proxied.call("GET", "/scim/v2/Users", headers={"Authorization": "Bearer wrong"}).status == 401

    user = {"userName": "ada@contoso.com", "active": True, "name": {"givenName": "Ada", "familyName": "L"}}
    created = proxied.call("POST", "/scim/v2/Users", user, {**forged, "X-Request-ID": "entra-create.1"})
    assert created.status == 201, created
    user_id = json.loads(created.body)["id"]
    # The public URL, from the proxy's X-Forwarded-Proto and -Host, not the client's forged ones.
    assert created.headers["location"] == f"{proxied.client.origin}/scim/v2/Users/{user_id}"
    assert created.headers["x-request-id"] == "entra-create.1"
    assert inspector.entry(f"uid=ada@contoso.com,{ldap_subtree.user_base}") is not None

    # The bridge logged the client's own id and address (not the proxy's, not the forged one).
    (line,) = proxied.bridge_saw("entra-create.1")
    assert (line["route"], line["status"], line["client"]) == ("/scim/v2/Users", 201, CLIENT_ADDRESS)
    # Without an id from the client, the proxy's (or the bridge's) is logged and sent back.
    generated = probe.headers["x-request-id"]
    (line,) = proxied.bridge_saw(generated)
    assert (line["status"], line["client"]) == (200, CLIENT_ADDRESS)
    # One the bridge would not keep is replaced, so the proxy and the bridge still agree.
    replaced = proxied.call("GET", entra_probe("Users", "userName"), {"X-Request-ID": "not kept!"})
    assert replaced.headers["x-request-id"] != "not kept!"
    assert len(proxied.bridge_saw(replaced.headers["x-request-id"])) == 1
    if proxied.proxy.access_log is not None:  # Caddy keeps no access log in the example
        ids = ("entra-create.1", generated, replaced.headers["x-request-id"])
        logged = proxied.proxy.access_lines(*ids)
        assert all(rid in logged for rid in ids), logged
        assert "userName" not in logged  # the path only: a filter holds personal data


OUTSIDE = ["/", "/index.html", "/metrics", "/healthz", "/readyz", "/scim/v2", "/oauth/token/x", "/scimx"]
# The bridge resolves no "..": these reach it at worst, and it has no route for them.
TRAVERSALS = ["/scim/v2/../metrics", "/scim/v2/%2e%2e/metrics", "/scim/v2/Users/..%2f..%2fmetrics"]


def test_only_the_scim_base_path_and_the_token_endpoint_are_served_and_big_bodies_stop_at_the_proxy(
    proxied: Proxied,
) -> None:
    for n, path in enumerate(OUTSIDE):
        answer = proxied.call("GET", path, headers={"X-Request-ID": f"outside-{n}"})
        assert answer.status == 404, (path, answer)
        assert b"scim_bridge_" not in answer.body and b"DocumentRoot" not in answer.body
        assert not proxied.bridge_saw(f"outside-{n}", wait=0), path
    for path in TRAVERSALS:
        answer = proxied.call("GET", path)
        assert answer.status == 404, (path, answer)
        assert b"scim_bridge_" not in answer.body, path

    # A search body of exactly the limit (JSON padded with spaces) reaches the bridge; one byte more stops
    # at the proxy, unseen by the bridge.
    search = json.dumps({"schemas": [SEARCH_REQUEST], "filter": 'userName eq "nobody"'}).encode()
    largest = search + b" " * (MAX_BODY - len(search))
    answer = proxied.call("POST", "/scim/v2/Users/.search", largest, {"X-Request-ID": "largest"})
    assert answer.status == 200, answer
    assert len(proxied.bridge_saw("largest")) == 1
    answer = proxied.call("POST", "/scim/v2/Users/.search", largest + b" ", {"X-Request-ID": "too-large"})
    assert answer.status == 413, answer
    assert not proxied.bridge_saw("too-large", wait=0)
    # Sent without a length (chunked), it is refused too: by nginx and Caddy as it arrives, by the bridge
    # behind Apache and HAProxy, which pass it on.
    answer = proxied.call(
        "POST", "/scim/v2/Users/.search", largest + b" ", {"X-Request-ID": "chunked"}, chunked=True
    )
    assert answer.status == 413, answer
    assert [line["status"] for line in proxied.bridge_saw("chunked", wait=0.5)] in ([], [413])


def test_the_docs_link_to_the_examples_and_keep_no_copies_of_their_own() -> None:
    """One set of examples: a copy in a page would drift from the tested files."""
    repo = EXAMPLES.parents[1]
    pages = [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]
    copies = re.compile(r"^[ \t]*```[ \t]*(nginx|caddy\w*|apache\w*|haproxy)\b", re.MULTILINE | re.IGNORECASE)
    directives = re.compile(r"proxy_pass|reverse_proxy\s|ProxyPass")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        fenced = "".join(re.findall(r"^[ \t]*```.*?^[ \t]*```", text, re.MULTILINE | re.DOTALL))
        assert not copies.search(text) and not directives.search(fenced), f"{page.name} keeps a proxy config"
    guide = (repo / "docs" / "reverse-proxy.md").read_text(encoding="utf-8")
    for example in ("nginx.conf", "Caddyfile", "apache.conf", "haproxy.cfg"):
        assert f"(../packaging/reverse-proxy/{example})" in guide, example


def _established_to(port: int) -> int:
    """TCP connections of this host in state ESTABLISHED whose remote end is ``port`` on loopback."""
    count = 0
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for row in table.read_text().splitlines()[1:]:
            fields = row.split()
            remote_port, state = int(fields[2].rsplit(":", 1)[1], 16), fields[3]
            count += remote_port == port and state == "01"
    return count


def test_the_proxies_keep_their_connections_to_the_bridge_as_their_files_say(proxied: Proxied) -> None:
    """nginx (through its upstream block's keepalive), Caddy and Apache keep an idle connection to the
    bridge for the next request, whichever client sends it; HAProxy ties one to each client connection
    (``http-reuse never``), so none is left once the client's have closed (this client opens one a
    request)."""
    bridge_port = urllib.parse.urlsplit(proxied.bridge.url).port
    assert bridge_port is not None
    for _ in range(3):
        assert_empty_list(proxied.call("GET", entra_probe("Users", "userName")))
    if proxied.proxy.name == "haproxy":
        deadline = time.monotonic() + 5
        while _established_to(bridge_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _established_to(bridge_port) == 0
    else:
        assert _established_to(bridge_port) >= 1
