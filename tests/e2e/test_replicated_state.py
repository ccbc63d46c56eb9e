"""Which state is per instance and which is in the directory, with two bridge instances over two replicating
providers (docs/high-availability.md, "Which state is where"; docs/safety.md, the circuit breaker;
docs/deprovisioning.md, disable now, delete later):

- the breaker's count is each instance's own: with two instances, twice the limit passes before one trips;
- the tripped marker is an entry in the directory: once one instance trips, the other refuses disables and
  deletes too (within the 5 s it may go without reading the entry), and `breaker release` frees both;
- the recently seen entries are each instance's own and never needed for correctness: an entry another
  instance changed meanwhile is written from a fresh read, nothing of the other's change is lost;
- the time of a disable is on the entry: `sweep` run from both instances' hosts at once deletes each user
  past the grace period once, with no error.

Requests go to one instance or the other directly, not through the proxy, so the test chooses which.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap3
import pytest

from bridge.testing.replicated import ReplicatedPair
from bridge.testing.slapd import SlapdInfo
from tests.e2e.conftest import Bridge
from tests.e2e.test_replicated_bridges import Cluster, cluster_over
from tests.slapd_fixtures import Subtree

pytestmark = pytest.mark.slapd

LIMIT = 2  # safety.deprovision_limit of each instance
CLEAR_FOR = 5.0  # seconds an instance may go without reading a breaker it found clear (docs/safety.md)
GRACE_DAYS = 30
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster(
    replicated_slapd: ReplicatedPair, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    """Instances a and b, both listing provider a then b, with the breaker's limit ``LIMIT`` (or the test's
    indirect parameter); fresh for each test, so that each starts with counts of zero and a clear
    breaker."""
    limit = getattr(request, "param", LIMIT)

    def sections(subtree: Subtree) -> dict[str, Any]:
        return {
            "safety": {"deprovision_limit": limit, "deprovision_window": 3600, "breaker_base": subtree.base},
            "deprovisioning": {
                "on_deactivate": "disable",
                "on_delete": "delete",
                "delete_after_days": GRACE_DAYS,
            },
        }

    urls = replicated_slapd.info.urls
    with cluster_over(replicated_slapd, tmp_path, {"a": urls, "b": urls}, sections) as made:
        yield made


def new_user(bridge: Bridge, name: str) -> str:
    status, body, _ = bridge.call("POST", "/Users", {"userName": name, "active": True})
    assert status == 201, body
    return str(body["id"])


def patch(bridge: Bridge, user_id: str, path: str, value: Any) -> tuple[int, Any, dict[str, str]]:
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": path, "value": value}]}
    return bridge.call("PATCH", f"/Users/{user_id}", body)


def disable(bridge: Bridge, user_id: str) -> tuple[int, str | None]:
    """Entra's unassign; the status and the Retry-After header."""
    status, _, headers = patch(bridge, user_id, "active", "False")
    return status, {k.lower(): v for k, v in headers.items()}.get("retry-after")


def active(bridge: Bridge, user_id: str) -> bool:
    status, body, _ = bridge.call("GET", f"/Users/{user_id}?attributes=active")
    assert status == 200, body
    return bool(body["active"])


def config_of(bridge: Bridge) -> Path:
    return bridge.stderr_path.parent / "bridge.yaml"


def cli(*args: str) -> subprocess.Popen[str]:
    """``scim-ldap-bridge ARGS`` as the host of an instance runs it (the sweep's timer, an operator)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bridge", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def entries(info: SlapdInfo, base: str, ldap_filter: str, attributes: list[str]) -> dict[str, Any]:
    """Entries under ``base`` on one provider, by DN (lower case)."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True, receive_timeout=10)
    try:
        conn.search(base, ldap_filter, ldap3.SUBTREE, attributes=attributes)
        return {str(item["dn"]).lower(): item["attributes"] for item in conn.response}
    finally:
        conn.unbind()


def test_the_count_is_each_instances_own_and_the_tripped_breaker_stops_both(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    users = [new_user(a, f"breaker{n}@contoso.com") for n in range(2 * LIMIT + 3)]
    first_read_by_b = time.monotonic()  # b reads the breaker entry at its first disable, then may not for 5 s
    for user_id in users[LIMIT : 2 * LIMIT]:
        assert disable(b, user_id)[0] == 200
    for user_id in users[:LIMIT]:
        assert disable(a, user_id)[0] == 200
    # Twice the limit passed, LIMIT on each instance. One more on a trips it.
    tripping = users[2 * LIMIT]
    assert disable(a, tripping) == (503, "600")
    assert active(a, tripping)
    cluster.pair.wait_converged()
    breaker = f"cn=scim-ldap-bridge-breaker,{cluster.subtree.base}".lower()
    for info in (cluster.pair.info.a, cluster.pair.info.b):  # the marker is in the directory, replicated
        found = entries(info, cluster.subtree.base, "(cn=scim-ldap-bridge-breaker)", ["description"])
        assert list(found) == [breaker]
        assert "more than 2 disables and deletes" in str(found[breaker]["description"])
    # b has counted only LIMIT, but reads the marker once its 5 s are over: it refuses too.
    time.sleep(max(0.0, first_read_by_b + CLEAR_FOR + 0.1 - time.monotonic()))
    refused = users[2 * LIMIT + 1]
    assert disable(b, refused) == (503, "600")
    assert active(b, refused)
    assert b.call("DELETE", f"/Users/{refused}")[0] == 503
    assert any("deprovisioning is paused" in line["message"] for line in b.log_lines())
    # Other writes go on.
    assert patch(b, refused, "title", "Still here")[0] == 200
    # One release, from one host, frees every instance.
    released = cli("breaker", "release", "--config", str(config_of(a)))
    assert released.wait(30) == 0, released.communicate()
    assert disable(b, refused)[0] == 200
    assert disable(a, users[-1])[0] == 200


def test_an_entry_the_other_instance_changed_is_written_from_a_fresh_read(cluster: Cluster) -> None:
    """a remembers the entry it created; b changes it; a's PATCH, which would write from what a saw,
    fails its assertion, reads the entry afresh and writes again: both changes are kept."""
    a, b = cluster.instances["a"], cluster.instances["b"]
    user_id = new_user(a, "remembered@contoso.com")
    assert patch(b, user_id, "title", "Changed on b")[0] == 200
    status, body, _ = patch(a, user_id, "displayName", "Changed on a")
    assert status == 200, body
    assert (body.get("title"), body.get("displayName")) == ("Changed on b", "Changed on a")
    # a did start from what it remembered: that write was refused by its assertion, then done again.
    audit = [line for line in a.log_lines() if line["logger"] == "bridge.audit"]
    assert [line.get("error") for line in audit if line["outcome"] == "failed"] == ["Changed"]
    cluster.pair.wait_converged()
    for info in (cluster.pair.info.a, cluster.pair.info.b):
        found = entries(
            info, cluster.subtree.user_base, "(uid=remembered@contoso.com)", ["title", "displayName"]
        )
        (attributes,) = found.values()
        assert (attributes["title"], attributes["displayName"]) == (["Changed on b"], "Changed on a")


@pytest.mark.parametrize("cluster", [1000], indirect=True)  # a breaker that lets the sweep through
def test_a_sweep_from_both_hosts_at_once_deletes_each_expired_user_once(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    expired = [new_user(a, f"expired{n}@contoso.com") for n in range(24)]
    recent = new_user(b, "recent@contoso.com")
    for n, user_id in enumerate([*expired, recent]):  # disabled through either instance
        assert disable((a, b)[n % 2], user_id)[0] == 200
    # The disable time is on each entry: move the expired ones' back past the grace period, on provider a.
    info, user_base = cluster.pair.info.a, cluster.subtree.user_base
    long_ago = (datetime.now(UTC) - timedelta(days=GRACE_DAYS + 5)).strftime("%Y%m%d%H%M%SZ")
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True, receive_timeout=10)
    try:
        for n in range(len(expired)):
            dn = f"uid=expired{n}@contoso.com,{user_base}"
            assert conn.modify(dn, {"scimDisabledAt": [(ldap3.MODIFY_REPLACE, [long_ago])]}), conn.result
    finally:
        conn.unbind()
    cluster.pair.wait_converged()
    # Each host's timer starts its sweep; here both at the same moment.
    sweeps = [cli("sweep", "--config", str(config_of(bridge))) for bridge in (a, b)]
    outputs = [sweep.communicate(timeout=60) for sweep in sweeps]
    assert [sweep.returncode for sweep in sweeps] == [0, 0], outputs
    # Their logs (JSON lines on stderr): a delete the other sweep made first is skipped with an info line.
    records = [json.loads(line) for _, err in outputs for line in err.splitlines()]
    assert not [record for record in records if record["level"] in ("ERROR", "CRITICAL")], outputs
    deleted = [line for out, _ in outputs for line in out.splitlines() if line.startswith("deleted ")]
    named = sorted(
        line.removeprefix("deleted ").rsplit(" (disabled since ", 1)[0].lower() for line in deleted
    )
    assert named == sorted(f"uid=expired{n}@contoso.com,{user_base}".lower() for n in range(len(expired)))
    cluster.pair.wait_converged()
    for provider in (cluster.pair.info.a, cluster.pair.info.b):
        left = entries(provider, user_base, "(objectClass=inetOrgPerson)", ["uid"])
        assert list(left) == [f"uid=recent@contoso.com,{user_base}".lower()]
    assert not active(b, recent)
