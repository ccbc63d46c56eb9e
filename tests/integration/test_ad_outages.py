"""Active Directory failover with what runs on one machine (issue 21): a second Samba DC cannot replicate
here (docs/high-availability.md says why), so the bridge lists an unreachable loopback address first and
the session's Samba DC second, and the DC itself is stopped and started again under it.

Per way to reach the DC (LDAPS, StartTLS), one bridge and one subtree for the module's two tests, in order:
the Entra flows pass on the DC while the first server is down; then, while writers keep creating and
updating users, the DC dies (``kill -9``, or a clean stop). Every request then gets a SCIM 503 with
Retry-After, never a 500, and /readyz says the directory is unreachable; once the DC is back on its own
databases the bridge serves again without a restart, and every write it acknowledged is there, through
SCIM and through a connection and a bind of the test's own."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.config import AuthConfig, LdapConfig, Secret, Settings
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.directory.ldap.flavors import ACTIVE_DIRECTORY
from bridge.mapping.load import load_maps
from bridge.testing.samba import LDAP_PORT, LDAPS_PORT, Samba, SambaInfo
from tests.conftest import SCIM, TOKEN_HASH, ScimClient
from tests.integration.conftest import AD_MAP, AdInspector
from tests.log_capture import Lines, captured_logs
from tests.samba_fixtures import AdSubtree, make_ad_subtree

pytestmark = pytest.mark.samba

# Loopback, but no DC listens there (the test DC binds 127.0.0.1 and ::1 only): a DC whose host answers
# and whose LDAP service is down, so its port refuses the connection.
DEAD_HOST = "127.0.0.2"
SLOW = 5.0  # connect and operation timeouts: a request that waited on a dead DC instead of failing fast
FAST = 2.0  # the bound on a request that fails fast (generous: two cores shared with other work)
PROBE_BOUND = 3.0  # the probe's interval (0.5 s) and timeout (1 s), with slack
PASSWORD = "Trust-No-1-Ever!"  # a user's, to try a real bind with
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Each way to the DC is one bridge; the first with a crash of the DC, the second with a clean stop.
Way = Literal["ldaps", "starttls"]
WAYS: dict[Way, str] = {"ldaps": "kill -9", "starttls": "stop"}


@dataclass
class Written:
    """What the bridge acknowledged (2xx), to find again after the outage: user id -> userName, and the
    title last acknowledged for it."""

    users: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # userName -> password, for a real bind
    titles: dict[str, str] = field(default_factory=dict)
    # Titles whose update was answered 503: one in flight when the DC died may have been carried out.
    maybe_titles: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    members: dict[str, set[str]] = field(default_factory=dict)  # group id -> user ids
    deleted: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Bridge:
    """The app over a pool whose ``ldap.urls`` are the dead address, then the DC."""

    tls: Way
    client: ScimClient
    anonymous: falcon.testing.TestClient
    pool: ConnectionPool
    dead_url: str
    dc_url: str
    samba: SambaInfo
    subtree: AdSubtree
    logs: Lines
    written: Written

    def lookup(self, name: str = "nobody@example.test") -> falcon.testing.Result:
        return self.client.simulate_get(f"{SCIM}/Users", params={"filter": f'userName eq "{name}"'})

    def servers_down(self) -> float:
        text = self.anonymous.simulate_get("/metrics").text
        found = re.search(r"^scim_bridge_directory_servers_down ([0-9.]+)$", text, re.MULTILINE)
        assert found, "scim_bridge_directory_servers_down is not in /metrics"
        return float(found.group(1))

    def messages(self) -> list[str]:
        return [line["message"] for line in self.logs()]


def entra_user(upn: str, **more: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": upn,
        "externalId": str(uuid.uuid4()),
        "active": "True",
        "displayName": upn.partition("@")[0],
        "emails": [{"type": "work", "value": upn, "primary": True}],
        **more,
    }


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "Replace", "path": path, "value": value}


def refuses(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def until(condition: Callable[[], bool], within: float) -> float:
    """Seconds until ``condition()`` held, asked every 50 ms; fails after ``within`` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, f"not within {within} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture(scope="module", params=list(WAYS))
def bridge(request: pytest.FixtureRequest, samba_server: Samba) -> Iterator[Bridge]:
    tls: Way = request.param
    samba = samba_server.info
    port, dc_url = (LDAPS_PORT, samba.ldaps_url) if tls == "ldaps" else (LDAP_PORT, samba.starttls_url)
    dead_url = f"{dc_url.split('://')[0]}://{DEAD_HOST}:{port}"
    assert refuses(DEAD_HOST, port), f"{DEAD_HOST}:{port} must refuse connections for this test"
    with make_ad_subtree(samba) as subtree, captured_logs() as logs:
        pool, app = _app(samba, subtree, tls, (dead_url, dc_url))
        try:
            yield Bridge(
                tls,
                ScimClient(app),
                falcon.testing.TestClient(app),
                pool,
                dead_url,
                dc_url,
                samba,
                subtree,
                logs,
                Written(),
            )
        finally:
            pool.close()


def _app(
    samba: SambaInfo, subtree: AdSubtree, tls: Way, urls: tuple[str, ...]
) -> tuple[ConnectionPool, falcon.App[Any, Any]]:
    settings = Settings(
        auth=AuthConfig((TOKEN_HASH,)),
        ldap=LdapConfig(
            urls=urls,
            bind_dn=samba.bind_dn,
            user_base=subtree.user_base,
            group_base=subtree.group_base,
            tls=tls,
            ca_file=samba.ca_file,
            directory="active_directory",
            connect_timeout=SLOW,
            operation_timeout=SLOW,
            pool_size=4,
        ),
        map=str(AD_MAP),
    )
    pool = ConnectionPool(settings.ldap, Secret(samba.password))
    services = create_services(
        settings,
        LdapDirectory(pool, ACTIVE_DIRECTORY),
        load_maps(AD_MAP),
        id_filter=ACTIVE_DIRECTORY.id_filter,
        dn_attribute=ACTIVE_DIRECTORY.dn_attribute,
    )
    return pool, create_app(services)


def test_the_entra_flows_are_served_by_the_dc_listed_after_an_unreachable_one(bridge: Bridge) -> None:
    client, written = bridge.client, bridge.written
    ready = bridge.anonymous.simulate_get("/readyz")
    assert ready.status_code == 200, ready.text
    assert bridge.lookup().json["totalResults"] == 0  # Entra's lookup before a create

    created = client.post_user(entra_user(f"dana-{bridge.tls}@example.test", password=PASSWORD))
    assert created.status_code == 201, created.text
    dana = created.json["id"]
    written.users[dana] = created.json["userName"]
    written.passwords[created.json["userName"]] = PASSWORD
    assert client.patch_user(dana, replace("title", "Agent")).status_code == 200
    written.titles[dana] = "Agent"

    group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": f"X Files {bridge.tls}"})
    assert group.status_code == 201, group.text
    add = {"op": "Add", "path": "members", "value": [{"value": dana}]}
    assert client.simulate_patch(f"{SCIM}/Groups/{group.json['id']}", json=patch(add)).status_code == 204
    written.members[group.json["id"]] = {dana}

    fox = client.post_user(entra_user(f"fox-{bridge.tls}@example.test")).json["id"]
    written.users[fox] = f"fox-{bridge.tls}@example.test"
    assert client.patch_user(fox, replace("active", "False")).json["active"] is False
    written.disabled.add(fox)

    gone = client.post_user(entra_user(f"krycek-{bridge.tls}@example.test")).json["id"]
    assert client.simulate_delete(f"{SCIM}/Users/{gone}").status_code == 204
    written.deleted.add(gone)

    assert_written(bridge)
    # The first server is known down, and said so once, by its URL; the DC serves.
    assert bridge.servers_down() == 1.0
    down = [m for m in bridge.messages() if m.startswith(f"directory server {bridge.dead_url} is down")]
    assert down and "(unreachable)" in down[0], bridge.messages()


def test_the_dc_dying_under_load_is_503_and_after_its_restart_every_acknowledged_write_is_there(
    bridge: Bridge, samba_server: Samba
) -> None:
    how = WAYS[bridge.tls]
    written, answers = bridge.written, Answers()
    stop = threading.Event()
    writers = [threading.Thread(target=write_users, args=(bridge, f"w{n}", stop, answers)) for n in range(2)]
    for writer in writers:
        writer.start()
    try:
        until(lambda: answers.statuses.count(201) >= 10, 30)  # the writers are under way on the DC
        if how == "kill -9":
            samba_server.kill()
        else:
            samba_server.stop()
        killed_with = len(answers.statuses)
        # Until the writers have met the outage (a request in flight when it came may be one of them).
        until(lambda: answers.statuses[killed_with:].count(503) >= 2, 10)
        assert_refused_fast(bridge)
        ready = bridge.anonymous.simulate_get("/readyz")
        assert ready.status_code == 503 and ready.json["reason"] == "unreachable", ready.text
        assert bridge.anonymous.simulate_get("/healthz").status_code == 200
        assert bridge.servers_down() == 2.0
    finally:
        stop.set()
        for writer in writers:
            writer.join(30)
    assert not any(writer.is_alive() for writer in writers), "a request hung"
    unexpected = [(what, status) for what, status in answers.all() if status not in (200, 201, 503)]
    assert not unexpected, unexpected  # no 500, no 404 or 409 from a half-seen outage

    samba_server.restart()  # on its own databases: what it acknowledged must be there
    # Requests try a refused server again themselves, so the first one after the return may already pass;
    # the probe sees it within its interval and /readyz follows.
    until(lambda: bridge.anonymous.simulate_get("/readyz").status_code == 200, PROBE_BOUND)
    created = bridge.client.post_user(entra_user(f"back-{bridge.tls}@example.test"))
    assert created.status_code == 201, created.text
    written.users[created.json["id"]] = created.json["userName"]
    assert bridge.servers_down() == 1.0  # only the dead address
    assert any(f"directory server {bridge.dc_url} answers again" in m for m in bridge.messages())
    assert_written(bridge)
    assert not [line for line in bridge.logs() if bridge.samba.password in str(line)]  # never logged


@dataclass
class Answers:
    """Every status the writers got, in order, and by kind of request."""

    statuses: list[int] = field(default_factory=list)
    labelled: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, status: int) -> None:
        with self.lock:
            self.statuses.append(status)
            self.labelled.append((what, status))

    def all(self) -> list[tuple[str, int]]:
        with self.lock:
            return list(self.labelled)


def write_users(bridge: Bridge, tag: str, stop: threading.Event, answers: Answers) -> None:
    """Until ``stop`` (at most 200 users): create a user, then set its title; each acknowledged write is
    recorded. 503s are expected during the outage; every answer is kept for the test to judge."""
    written = bridge.written
    for n in range(200):
        if stop.is_set():
            return
        name = f"{tag}-{bridge.tls}-{n}@example.test"
        created = bridge.client.post_user(entra_user(name))
        answers.add("create", created.status_code)
        if created.status_code != 201:
            time.sleep(0.05)  # the outage: do not spin
            continue
        user = created.json["id"]
        with written.lock:
            written.users[user] = name
        title = f"Title {n}"
        updated = bridge.client.patch_user(user, replace("title", title))
        answers.add("update", updated.status_code)
        with written.lock:
            if updated.status_code == 200:
                written.titles[user] = title
            else:
                written.maybe_titles[user] = title


def assert_refused_fast(bridge: Bridge) -> None:
    """A lookup, a create, a member add and a delete are each refused with a SCIM 503 and Retry-After,
    at once, and say nothing of the directory's own words or of Python."""
    with bridge.written.lock:  # the writers may still be adding to it
        some_user = next(iter(bridge.written.users))
        group = next(iter(bridge.written.members), str(uuid.uuid4()))
    add = {"op": "Add", "path": "members", "value": [{"value": some_user}]}
    calls: dict[str, Callable[[], falcon.testing.Result]] = {
        "lookup": bridge.lookup,
        "create": lambda: bridge.client.post_user(entra_user(f"late-{bridge.tls}@example.test")),
        "member add": lambda: bridge.client.simulate_patch(f"{SCIM}/Groups/{group}", json=patch(add)),
        "delete": lambda: bridge.client.simulate_delete(f"{SCIM}/Users/{some_user}"),
    }
    for what, call in calls.items():
        started = time.monotonic()
        response = call()
        seconds = time.monotonic() - started
        assert response.status_code == 503, (what, response.status_code, response.text)
        assert response.headers.get("retry-after", "").isdigit(), (what, response.headers)
        assert response.json["schemas"] == [ERROR_SCHEMA] and response.json["status"] == "503", response.text
        assert "Traceback" not in response.text and DEAD_HOST not in response.text, response.text
        assert bridge.samba.password not in response.text
        assert seconds < FAST, f"{what}: a 503 took {seconds:.2f} s"


def assert_written(bridge: Bridge) -> None:
    """Every acknowledged write, read back through SCIM and on the DC with a connection of the test's own
    (opened now: the DC may have been restarted since the fixture's)."""
    written, client = bridge.written, bridge.client
    ad = AdInspector(bridge.samba, bridge.subtree)
    try:
        for user, name in written.users.items():
            got = client.simulate_get(f"{SCIM}/Users/{user}")
            assert got.status_code == 200, (name, got.text)
            titles = {written.titles.get(user), written.maybe_titles.get(user, written.titles.get(user))}
            assert got.json["userName"] == name and got.json.get("title") in titles, (titles, got.text)
            assert got.json["active"] is (user not in written.disabled), got.json
            _, entry = ad.by_id(user)
            assert entry["userprincipalname"] == [name]
            assert entry.get("title", [None])[0] in titles, (titles, entry.get("title"))
            assert entry["useraccountcontrol"] == (["514"] if user in written.disabled else ["512"])
        for group, members in written.members.items():
            got = client.simulate_get(f"{SCIM}/Groups/{group}")
            assert {m["value"] for m in got.json.get("members", [])} == members, got.text
            _, entry = ad.by_id(group)
            assert len(entry.get("member", [])) == len(members)
        for user in written.deleted:
            assert client.simulate_get(f"{SCIM}/Users/{user}").status_code == 404
            ad.conn.search(ad.subtree.base, f"(objectGUID={guid_filter(user)})", attributes=["cn"])
            assert not [e for e in ad.conn.response if e["type"] == "searchResEntry"]
        for name, password in written.passwords.items():  # a real bind on the DC, as the user
            assert ad.can_bind(name, password), name
    finally:
        ad.conn.unbind()


def guid_filter(entry_id: str) -> str:
    return "".join(f"\\{b:02x}" for b in uuid.UUID(entry_id).bytes_le)
