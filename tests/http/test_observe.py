"""/healthz, /readyz and /metrics (issue #8, point 5; issue #20, points 4 and 6): unauthenticated, outside
the SCIM base, cheap; the metrics count requests by route template (never a path with an id) with bounded
labels, directory operations by outcome, provisioning events by kind and result, and the guardrails'
state; the access line of an error carries its scimType and a short detail."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import falcon.testing
import pytest

from bridge.app import create_app, create_services
from bridge.config import SafetyConfig
from bridge.directory.errors import DirectoryUnavailable
from bridge.directory.memory import InMemoryDirectory
from bridge.mapping.model import MapSet
from bridge.scim.schemas import PATCH_OP
from bridge.services.members import _common_parent
from tests.conftest import GROUP_BASE, SCIM, SUFFIX, USER_BASE, ScimClient, make_settings


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format, or None when it is not there."""
    escaped = {k: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for k, v in labels.items()}
    wanted = ",".join(f'{k}="{v}"' for k, v in escaped.items())  # as the text format escapes them
    pattern = rf"^{re.escape(name)}" + (rf"\{{{re.escape(wanted)}\}}" if labels else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


def ok_operations(text: str) -> float:
    """The directory operations that succeeded, of every kind, in a /metrics scrape ``text``."""
    kinds = ("get_by_id", "search", "update", "modify", "add", "move", "delete")
    total = "scim_bridge_directory_operations_total"
    return sum(metric(text, total, operation=k, outcome="ok") or 0.0 for k in kinds)


def test_health_and_readiness_answer_without_a_token(memory: InMemoryDirectory, maps: MapSet) -> None:
    anonymous = falcon.testing.TestClient(create_app(create_services(make_settings(), memory, maps)))
    health = anonymous.simulate_get("/healthz")
    assert (health.status_code, health.json) == (200, {"status": "ok"})
    ready = anonymous.simulate_get("/readyz")
    assert (ready.status_code, ready.json) == (200, {"status": "ready"})
    assert anonymous.simulate_get(f"{SCIM}/Users").status_code == 401  # the SCIM base still needs one


class Unreachable(InMemoryDirectory):
    def __init__(self, why: str) -> None:
        super().__init__([])
        self.why = why

    def ping(self) -> None:
        raise DirectoryUnavailable(
            "cannot bind as cn=admin,dc=example,dc=org to ldap://dc1: refused", self.why
        )


@pytest.mark.parametrize(
    ("why", "detail"),
    [
        ("unreachable", "no directory server can be reached"),
        ("bind refused", "the directory refuses the bridge's bind"),
        ("timeout", "no directory server answered in time"),
        ("busy", "the directory says it is busy or unavailable"),
        ("catching up", "the directory server is back but still lacks changes another server took"),
    ],
)
def test_readiness_is_503_with_the_reason_while_the_directory_does_not_answer(
    maps: MapSet, why: str, detail: str
) -> None:
    anonymous = falcon.testing.TestClient(
        create_app(create_services(make_settings(), Unreachable(why), maps))
    )
    ready = anonymous.simulate_get("/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"] == "10"
    assert ready.json == {"status": "unavailable", "reason": why, "detail": detail}
    assert "dc=example" not in ready.text and "dc1" not in ready.text  # the directory's words stay in the log
    assert anonymous.simulate_get("/healthz").status_code == 200  # alive, just not ready


def test_metrics_count_requests_by_route_and_directory_operations_by_outcome(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    client = ScimClient(create_app(create_services(make_settings(), memory, maps)))
    user = client.post_user({"userName": "mia"}).json["id"]
    client.simulate_get(f"{SCIM}/Users/{user}")
    client.simulate_get(f"{SCIM}/Users/{user}")
    client.simulate_get(f"{SCIM}/Users/not-an-id")
    scraped = falcon.testing.TestClient(client.app).simulate_get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    requests = "scim_bridge_http_requests_total"
    assert metric(text, requests, method="POST", route=f"{SCIM}/Users", status="201") == 1.0
    assert metric(text, requests, method="GET", route=f"{SCIM}/Users/{{user_id}}", status="200") == 2.0
    assert metric(text, requests, method="GET", route=f"{SCIM}/Users/{{user_id}}", status="404") == 1.0
    assert user not in text and "not-an-id" not in text  # routes are templates, never paths with ids
    seconds = "scim_bridge_http_request_duration_seconds_count"
    assert metric(text, seconds, method="GET", route=f"{SCIM}/Users/{{user_id}}") == 3.0
    operations = "scim_bridge_directory_operations_total"
    assert metric(text, operations, operation="add", outcome="ok") == 1.0
    assert metric(text, operations, operation="get_by_id", outcome="ok") == 2.0
    assert metric(text, operations, operation="get_by_id", outcome="error") == 1.0  # the unknown id
    assert metric(text, "scim_bridge_breaker_tripped") == 0.0
    assert metric(text, "scim_bridge_ldap_connections_in_use") is None  # no pool in memory


def test_the_breaker_gauge_follows_a_trip(memory: InMemoryDirectory, maps: MapSet) -> None:
    settings = replace(make_settings(), safety=SafetyConfig(deprovision_limit=1))
    client = ScimClient(create_app(create_services(settings, memory, maps)))
    for name in ("a", "b"):
        user = client.post_user({"userName": name}).json["id"]
        client.simulate_delete(f"{SCIM}/Users/{user}")
    text = falcon.testing.TestClient(client.app).simulate_get("/metrics").text
    assert metric(text, "scim_bridge_breaker_tripped") == 1.0


class Recording(InMemoryDirectory):
    """Records the bases of every search (the in-memory directory takes several in one call, where LDAP
    sends one search per base)."""

    searched: list[tuple[str, ...]]

    def search(self, bases: Any, flt: Any, attributes: Any, **more: Any) -> Any:
        self.searched.append(tuple(bases))
        return super().search(bases, flt, attributes, **more)


@pytest.mark.parametrize("seen", [True, False], ids=["group-seen-here", "group-made-elsewhere"])
def test_a_member_add_is_two_directory_operations_whether_the_group_was_seen_here_or_not(
    maps: MapSet, seen: bool
) -> None:
    """One search finding the members' ids and the group's own across the user and group bases (from
    their common parent, not one search per base) and one modify of the group at the DN it found, also
    for a group this instance has not seen (another instance made it): Entra's member PATCH (issues #9,
    #22)."""
    memory = Recording([USER_BASE, GROUP_BASE])
    memory.searched = []
    settings = make_settings()
    client = ScimClient(create_app(create_services(settings, memory, maps)))
    users = [client.post_user({"userName": name}).json["id"] for name in ("ida", "ivo")]
    group = client.simulate_post(f"{SCIM}/Groups", json={"displayName": "Ops"}).json["id"]
    if not seen:
        client = ScimClient(create_app(create_services(settings, memory, maps)))  # another instance
    scrape = falcon.testing.TestClient(client.app)

    def counts() -> dict[str, float]:
        text = scrape.simulate_get("/metrics").text
        names = ("get_by_id", "search", "update", "modify", "add")
        total = "scim_bridge_directory_operations_total"
        return {n: metric(text, total, operation=n, outcome="ok") or 0.0 for n in names}

    before, memory.searched = counts(), []
    members = [{"value": user} for user in users]
    add = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": members}]}
    assert client.simulate_patch(f"{SCIM}/Groups/{group}", json=add).status_code == 204
    after = counts()
    operations = {n: after[n] - before[n] for n in after}
    assert operations == {"get_by_id": 0, "search": 1, "update": 1, "modify": 0, "add": 0}
    assert memory.searched == [(SUFFIX,)]  # the members' ids and the group's, at once
    stored = memory.raw(f"cn=Ops,{GROUP_BASE}")["member"]
    assert {f"uid={n},{USER_BASE}".lower() for n in ("ida", "ivo")} <= {v.lower() for v in stored}


def test_the_common_parent_of_the_bases() -> None:
    assert _common_parent(["ou=people,ou=t1,dc=example,dc=org", "ou=groups,ou=t1,dc=example,dc=org"]) == (
        "ou=t1,dc=example,dc=org"
    )
    assert _common_parent(["ou=a\\,b,dc=example,dc=org", "ou=c,dc=example,dc=org"]) == "dc=example,dc=org"
    assert _common_parent(["ou=people,dc=one", "ou=groups,dc=two"]) is None  # two naming contexts
    assert _common_parent(["ou=people,dc=one"]) is None


def series(text: str, name: str) -> int:
    return len(re.findall(rf"^{re.escape(name)}\{{", text, re.MULTILINE))


# Falcon's test client checks the request with wsgiref's validator, which warns of the very methods sent here.
@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
def test_methods_and_routes_nobody_serves_fold_into_one_label_value(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    """Whatever a client sends, before or after authentication, the request counter's series stay few:
    an unknown method is ``other``, a request no route answered is ``unmatched``."""
    client = ScimClient(create_app(create_services(make_settings(), memory, maps)))
    anonymous = falcon.testing.TestClient(client.app)

    def scrape() -> str:
        return anonymous.simulate_get("/metrics").text

    def send(methods: tuple[str, ...], paths: tuple[str, ...]) -> None:
        for method in methods:
            for path in paths:
                client.simulate_request(method, path)  # with the token
                anonymous.simulate_request(method, path)  # without

    send(("FOO", "PROPFIND", "GET"), (f"{SCIM}/Users", f"{SCIM}/Nope/1", "/nope/1"))
    scrape()  # the scrape itself is counted
    first = scrape()
    requests = "scim_bridge_http_requests_total"
    counted = series(first, requests)
    send(("BAR", "BAZ", "MKCOL", "M-SEARCH", "get"), (f"{SCIM}/Users", f"{SCIM}/Nope/2", "/nope/2", "/x"))
    again = scrape()
    assert series(again, requests) == counted, again
    assert series(again, "scim_bridge_http_request_duration_seconds_count") == series(
        first, "scim_bridge_http_request_duration_seconds_count"
    )
    for unbounded in ("FOO", "BAR", "PROPFIND", "Nope", "/nope", "/x"):
        assert unbounded not in again
    assert metric(again, requests, method="other", route=f"{SCIM}/Users", status="405") is not None
    assert metric(again, requests, method="GET", route="unmatched", status="401") is not None  # no token
    assert metric(again, requests, method="GET", route="unmatched", status="404") is not None
    assert "_created" not in again


def provisioning(text: str) -> dict[tuple[str, ...], float]:
    """The provisioning events of a scrape, by (resource, kind, result)."""
    found: dict[tuple[str, ...], float] = {}
    for labels, value in re.findall(
        r"^scim_bridge_provisioning_events_total\{(.*)\} (\S+)$", text, re.MULTILINE
    ):
        named = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        found[(named["resource"], named["kind"], named["result"])] = float(value)
    return found


def test_read_only_mode_shows_and_its_refused_writes_count_as_failed(
    memory: InMemoryDirectory, maps: MapSet
) -> None:
    settings = make_settings()
    client = ScimClient(
        create_app(create_services(replace(settings, safety=SafetyConfig(read_only=True)), memory, maps))
    )
    assert client.post_user({"userName": "ro"}).status_code == 503
    assert client.simulate_get(f"{SCIM}/Users").status_code == 200  # a read is no event
    text = falcon.testing.TestClient(client.app).simulate_get("/metrics").text
    assert metric(text, "scim_bridge_read_only") == 1.0
    assert provisioning(text) == {("user", "create", "failed"): 1.0}
    writing = ScimClient(create_app(create_services(settings, memory, maps)))
    user = writing.post_user({"userName": "rw"}).json["id"]
    assert writing.patch_user(user, {"op": "replace", "path": "active", "value": False}).status_code == 200
    assert writing.simulate_put(f"{SCIM}/Users/{user}", json={"userName": "rw2"}).status_code == 200
    assert writing.simulate_put(f"{SCIM}/Users/{user}", json={"name": 1}).status_code == 400
    text = falcon.testing.TestClient(writing.app).simulate_get("/metrics").text
    assert metric(text, "scim_bridge_read_only") == 0.0
    assert provisioning(text) == {
        ("user", "create", "ok"): 1.0,
        ("user", "disable", "ok"): 1.0,
        ("user", "rename", "ok"): 1.0,
        ("user", "update", "refused"): 1.0,
    }


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.__dict__ for record in caplog.records if record.name == "bridge.access"]


def test_the_access_line_of_an_error_has_its_scim_type_and_a_short_detail(
    client: ScimClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bridge.access"):
        assert client.post_user({"userName": "kim"}).status_code == 201
        assert client.post_user({"userName": "kim"}).status_code == 409
        assert client.post_user({"userName": "lee", "active": "x" * 500}).status_code == 400
        assert client.post_user({"userName": "max", "password": 987654321}).status_code == 400
        assert client.simulate_get(f"{SCIM}/Users/nobody").status_code == 404
        assert falcon.testing.TestClient(client.app).simulate_get(f"{SCIM}/Users").status_code == 401
    created, taken, long, password, missing, anonymous = access_lines(caplog)
    assert "scimType" not in created and "detail" not in created
    assert (taken["status"], taken["scimType"]) == (409, "uniqueness")
    assert taken["detail"] == "userName kim is already taken"
    assert long["scimType"] == "invalidValue" and len(long["detail"]) == 200
    assert long["detail"].startswith("active must be true or false") and long["detail"].endswith("\u2026")
    assert password["scimType"] == "invalidValue" and "987654321" not in str(password)
    assert "scimType" not in missing and "nobody" in missing["detail"]
    assert "scimType" not in anonymous and "Bearer" in anonymous["detail"]
