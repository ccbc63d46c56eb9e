"""/metrics as an operator's Prometheus reads it (issue #20, points 4 and 5): a scrape taken after an
Entra-like flow against slapd passes Prometheus's own linter (``promtool check metrics``), in one process
and with worker processes (prometheus-client's multiprocess mode); provisioning events are counted by
kind and result; and every query of the Grafana dashboard names a metric the scrape holds."""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
import yaml

from bridge.testing import wait_until_serving
from bridge.testing.slapd import SlapdInfo
from tests.conftest import SCIM, TOKEN, ScimClient
from tests.integration.conftest import REPO, write_config
from tests.slapd_fixtures import Subtree
from tests.unit.test_dashboard import DASHBOARD, exported_names, queried_names

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PROVISIONING = "scim_bridge_provisioning_events_total"
EVENT_LABELS = ("resource", "kind", "result")

# method, path (under the base), query, body -> (status, parsed body)
Send = Callable[[str, str, dict[str, str] | None, dict[str, Any] | None], tuple[int, Any]]


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def entra_like_flow(send: Send) -> None:
    """Test Connection, then a user's and a group's life as Entra provisions them, with two refusals."""

    def expect(status: int, method: str, path: str, body: Any = None, query: Any = None) -> Any:
        got, answer = send(method, f"{SCIM}{path}", query, body)
        assert got == status, (method, path, got, answer)
        return answer

    expect(200, "GET", "/Users", query={"filter": 'userName eq "probe-5c1f@contoso.com"'})
    user = {"userName": "ada@contoso.com", "active": True, "displayName": "Ada", "externalId": "ada-1"}
    ada = expect(201, "POST", "/Users", user)["id"]
    expect(409, "POST", "/Users", user)  # a create refused: the name is taken
    expect(200, "PATCH", f"/Users/{ada}", patch({"op": "Replace", "path": "displayName", "value": "Ada L"}))
    rename = {"op": "Replace", "path": "userName", "value": "ada.l@contoso.com"}
    expect(200, "PATCH", f"/Users/{ada}", patch(rename))
    expect(200, "PATCH", f"/Users/{ada}", patch({"op": "Replace", "path": "active", "value": "False"}))
    expect(200, "PATCH", f"/Users/{ada}", patch({"op": "Replace", "path": "active", "value": "True"}))
    expect(404, "PATCH", "/Users/no-such-user", patch({"op": "Replace", "path": "active", "value": "False"}))
    group = expect(201, "POST", "/Groups", {"displayName": "Ops", "externalId": "ops-1"})["id"]
    add = {"op": "Add", "path": "members", "value": [{"value": ada}]}
    expect(204, "PATCH", f"/Groups/{group}", patch(add))
    remove = {"op": "Remove", "path": f'members[value eq "{ada}"]'}
    expect(204, "PATCH", f"/Groups/{group}", patch(remove))
    expect(204, "DELETE", f"/Groups/{group}")
    expect(204, "DELETE", f"/Users/{ada}")


# What the flow must leave counted: (resource, kind, result).
FLOW_EVENTS = {
    ("user", "create", "ok"): 1.0,
    ("user", "create", "refused"): 1.0,
    ("user", "update", "ok"): 1.0,
    ("user", "rename", "ok"): 1.0,
    ("user", "disable", "ok"): 1.0,
    ("user", "enable", "ok"): 1.0,
    ("user", "update", "refused"): 1.0,
    ("user", "delete", "ok"): 1.0,
    ("group", "create", "ok"): 1.0,
    ("group", "member_add", "ok"): 1.0,
    ("group", "member_remove", "ok"): 1.0,
    ("group", "delete", "ok"): 1.0,
}


def samples(text: str, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """Every sample of ``name`` in a scrape, by the values of ``labels``, in that order."""
    found = {}
    for inside, value in re.findall(rf"^{re.escape(name)}\{{(.*)\}} (\S+)$", text, re.MULTILINE):
        named = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', inside))
        found[tuple(named[label] for label in labels)] = float(value)
    return found


def promtool(text: str) -> tuple[int, str]:
    """``promtool check metrics`` of a scrape: its exit code and everything it printed."""
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: packaging/install-dev-deps.sh installs Debian's prometheus package"
    done = subprocess.run(
        [tool, "check", "metrics"], input=text, capture_output=True, text=True, check=False, timeout=60
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def test_promtool_finds_what_it_is_asked_to_find() -> None:
    """The linter the scrapes below pass does refuse a counter named like a gauge."""
    code, said = promtool("# HELP jobs_done Jobs.\n# TYPE jobs_done counter\njobs_done 1\n")
    assert code != 0 and "_total" in said


def in_process_send(client: ScimClient) -> Send:
    def send(method: str, path: str, query: dict[str, str] | None, body: Any) -> tuple[int, Any]:
        result = client.simulate_request(method, path, params=query, json=body)
        return result.status_code, result.json if result.content else None

    return send


@pytest.fixture
def scraped(ldap_client: Callable[..., ScimClient]) -> str:
    """A scrape of an app over slapd, in this process, after the Entra-like flow."""
    client = ldap_client()
    entra_like_flow(in_process_send(client))
    answer = falcon.testing.TestClient(client.app).simulate_get("/metrics")
    assert answer.status_code == 200
    return answer.text


def test_a_scrape_after_an_entra_flow_passes_promtool(scraped: str) -> None:
    assert promtool(scraped) == (0, "")
    assert "_created" not in scraped  # no timestamp twin of each counter
    assert samples(scraped, PROVISIONING, *EVENT_LABELS) == FLOW_EVENTS
    # Counters are counters, and the pool's gauges are there.
    assert "# TYPE scim_bridge_ldap_connections_opened_total counter" in scraped
    opened = re.search(r"^scim_bridge_ldap_connections_opened_total (\S+)$", scraped, re.MULTILINE)
    assert opened and float(opened.group(1)) >= 1
    for gauge in ("ldap_pool_size 8.0", "ldap_connections_in_use 0.0", "directory_servers_down 0.0"):
        assert f"scim_bridge_{gauge}" in scraped.splitlines()
    assert "scim_bridge_read_only 0.0" in scraped.splitlines()
    build = samples(scraped, "scim_bridge_build_info", "version", "python")
    assert list(build) == [("0.1.0", platform.python_version())] and list(build.values()) == [1.0]
    latency = samples(scraped, "scim_bridge_directory_operation_duration_seconds_count", "operation")
    assert {("add",), ("modify",), ("delete",), ("search",)} <= set(latency)


def test_every_query_of_the_dashboard_names_a_metric_the_bridge_exports(scraped: str) -> None:
    queried = queried_names(json.loads(DASHBOARD.read_text()))
    assert queried, "the dashboard has no query"
    assert queried - exported_names(scraped) == set()


def test_the_operators_page_names_every_metric_and_only_those(scraped: str) -> None:
    documented = set(re.findall(r"`(scim_bridge_\w+)", (REPO / "docs" / "operate.md").read_text()))
    exported = set(re.findall(r"^# TYPE (\S+) ", scraped, re.MULTILINE))
    assert documented == exported


# --- with worker processes: the real `serve`, each worker with its own pool ---------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def workers(tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree) -> Iterator[int]:
    """``serve`` with two worker processes over the test's subtree; its port."""
    config_path = write_config(tmp_path, slapd, ldap_subtree)
    config = yaml.safe_load(config_path.read_text())
    port = _free_port()
    config["server"] = {"host": "127.0.0.1", "port": port, "threads": 2, "processes": 2}
    config["ldap"]["pool_size"] = 2
    config_path.write_text(yaml.safe_dump(config))
    log = tmp_path / "stderr.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "serve", "--config", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
    )
    try:
        wait_until_serving(port, process, log, processes=2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def http_send(port: int) -> Send:
    def send(method: str, path: str, query: dict[str, str] | None, body: Any) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # a new one: either worker
        target = path + ("?" + urllib.parse.urlencode(query) if query else "")
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
        conn.request(method, target, body=json.dumps(body) if body is not None else None, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        return answer.status, json.loads(data) if data else None

    return send


def test_a_scrape_of_worker_processes_passes_promtool_and_sums_them(workers: int) -> None:
    entra_like_flow(http_send(workers))
    conn = http.client.HTTPConnection("127.0.0.1", workers, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    assert promtool(text) == (0, "")
    assert "_created" not in text
    assert samples(text, PROVISIONING, *EVENT_LABELS) == FLOW_EVENTS  # whichever worker served each request
    assert "scim_bridge_ldap_pool_size 4.0" in text.splitlines()  # two workers' pools of 2
    assert "scim_bridge_read_only 0.0" in text.splitlines()  # the highest of the workers, not a sum
    assert list(samples(text, "scim_bridge_build_info", "version").values()) == [1.0]
