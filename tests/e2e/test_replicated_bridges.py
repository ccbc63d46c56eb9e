"""Two bridge instances behind HAProxy (round robin, no stickiness) over two replicating slapd providers.

Both instances list the providers in the same order, so both write to and read from provider a while it
answers: whichever instance a request lands on sees what the one before wrote, however far b lags. Entra's
recorded flows are replayed through the proxy, each request on the other instance than the one before;
then the providers must hold the same entries. Creates of one userName, and member changes of one group,
race from both instances at once.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import ldap3
import pytest

from bridge.ops.selftest import Flow, flows, replay
from bridge.testing.haproxy import SERVED_BY, HAProxy
from bridge.testing.replicated import ReplicatedPair
from bridge.testing.slapd import SlapdInfo
from tests.conftest import OPENLDAP_MAP
from tests.e2e.conftest import Bridge, serve_with
from tests.replicated_fixtures import replicated_subtree
from tests.slapd_fixtures import Inspector, Subtree

pytestmark = pytest.mark.slapd

FLOWS = flows()
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Cluster:
    """The providers, the test's subtree in them, the instances by name and the proxy in front of them."""

    pair: ReplicatedPair
    subtree: Subtree
    instances: dict[str, Bridge]
    proxy: Bridge  # only its call() is used: the proxy's URL, with one instance's other fields
    served_by: list[str] = field(default_factory=list)  # the instance of each call through the proxy

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, answer, headers = self.proxy.call(method, path, body)
        # HAProxy sends header names in lower case
        self.served_by.append({k.lower(): v for k, v in headers.items()}[SERVED_BY.lower()])
        return status, answer

    def writes(self) -> int:
        """Directory writes so far, by every instance: their audit log lines of writes carried out. (A write
        an instance starts from the entry as it last saw it, which the other instance has changed since, is
        refused by its assertion, writes nothing, and is done again from a fresh read.)"""
        return sum(
            1
            for bridge in self.instances.values()
            for line in bridge.log_lines()
            if line["logger"] == "bridge.audit" and line["outcome"] == "ok"
        )


def ldap_section(info: SlapdInfo, urls: list[str], subtree: Subtree) -> dict[str, Any]:
    assert info.ca_file, "the providers must offer TLS"
    return {
        "urls": urls,
        "tls": "starttls",
        "ca_file": info.ca_file,  # one certificate for both providers
        "bind_dn": info.bind_dn,
        "user_base": subtree.user_base,
        "group_base": subtree.group_base,
        "connect_timeout": 2,
    }


@contextmanager
def cluster_over(
    pair: ReplicatedPair,
    workdir: Path,
    orders: Mapping[str, list[str]],
    sections: Callable[[Subtree], dict[str, Any]] | None = None,
) -> Iterator[Cluster]:
    """An instance per entry of ``orders`` (name: ``ldap.urls``) over a fresh subtree, behind HAProxy;
    ``sections`` gives more sections of their configuration (the same for each) from the subtree."""
    with ExitStack() as stack:
        subtree = stack.enter_context(replicated_subtree(pair))
        more = sections(subtree) if sections else None
        instances = {}
        for name, urls in orders.items():
            (workdir / name).mkdir(parents=True)
            section = ldap_section(pair.info.a, urls, subtree)
            serving = contextmanager(serve_with)(
                workdir / name, section, pair.info.a.password, OPENLDAP_MAP, sections=more
            )
            instances[name] = stack.enter_context(serving)
        backends = [bridge.url.removeprefix("http://").split("/", 1)[0] for bridge in instances.values()]
        proxy_url = stack.enter_context(HAProxy(workdir / "haproxy", backends))
        first = next(iter(instances.values()))
        yield Cluster(pair, subtree, instances, replace(first, url=f"{proxy_url}/scim/v2"))


@pytest.fixture(scope="module")
def cluster(replicated_slapd: ReplicatedPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Instances a and b, both listing provider a then b, for the whole module (tests use distinct names)."""
    urls = replicated_slapd.info.urls
    with cluster_over(replicated_slapd, tmp_path_factory.mktemp("cluster"), {"a": urls, "b": urls}) as made:
        yield made


def replay_through(cluster: Cluster, flow: Flow) -> None:
    inspector = Inspector(cluster.pair.info.a, cluster.subtree)  # the provider both instances use

    def seed(parent: str, rdn: tuple[str, str], attributes: Mapping[str, Any]) -> None:
        inspector.add(f"{rdn[0]}={rdn[1]},{parent}", dict(attributes))

    names = {"user_base": cluster.subtree.user_base, "group_base": cluster.subtree.group_base}
    try:
        steps = replay(
            flow, call=cluster.call, read=inspector.entry, seed=seed, writes=cluster.writes, names=names
        )
        assert len(list(steps)) == len(flow.data["steps"])
    finally:
        inspector.conn.unbind()


def entries(info: SlapdInfo, base: str) -> list[str]:
    """Every entry under ``base`` on one provider, with its id and version, sorted."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    try:
        conn.search(base, "(objectClass=*)", ldap3.SUBTREE, attributes=["entryUUID", "entryCSN"])
        found = [(item["dn"], item["raw_attributes"]) for item in conn.response]
        return sorted(f"{dn}|{raw['entryUUID']}|{raw['entryCSN']}" for dn, raw in found)
    finally:
        conn.unbind()


def test_the_proxy_sends_each_request_to_the_other_instance(cluster: Cluster) -> None:
    start = len(cluster.served_by)
    for _ in range(6):
        assert cluster.call("GET", "/ServiceProviderConfig")[0] == 200
    served = cluster.served_by[start:]
    assert set(served) == {"a", "b"}
    assert all(one != two for one, two in itertools.pairwise(served))


@pytest.mark.parametrize("flow", FLOWS, ids=[flow.name for flow in FLOWS])
def test_an_entra_flow_through_two_instances_gets_every_expected_answer(cluster: Cluster, flow: Flow) -> None:
    """No spurious 404 or 409: each step's status is the recorded one, with every request of the flow on
    the other instance than the one before; afterwards both providers hold the same entries."""
    start = len(cluster.served_by)
    replay_through(cluster, flow)
    served = cluster.served_by[start:]
    assert all(one != two for one, two in itertools.pairwise(served))
    cluster.pair.wait_converged()
    base = cluster.subtree.base
    assert entries(cluster.pair.info.a, base) == entries(cluster.pair.info.b, base)


def test_flows_pass_while_the_second_provider_lags_far_behind(
    replicated_slapd: ReplicatedPair, tmp_path: Path
) -> None:
    """Read-your-writes holds through the first server, whatever the replica's lag; an instance that lists
    the servers in the other order reads the lagging one and misses what the others just wrote: the rule
    (the same order everywhere) is what keeps the guarantee."""
    info = replicated_slapd.info
    with ExitStack() as stack:
        cluster = stack.enter_context(
            cluster_over(replicated_slapd, tmp_path, {"a": info.urls, "b": info.urls})
        )
        section = ldap_section(info.a, info.urls[::-1], cluster.subtree)
        (tmp_path / "reversed").mkdir()
        serving = contextmanager(serve_with)(tmp_path / "reversed", section, info.a.password, OPENLDAP_MAP)
        other_order = stack.enter_context(serving)
        with replicated_slapd.held("b"):
            for flow in FLOWS:
                replay_through(cluster, flow)
            status, created = cluster.call("POST", "/Users", {"userName": "lagging@contoso.com"})
            assert status == 201
            assert cluster.call("GET", f"/Users/{created['id']}")[0] == 200  # on the other instance
            assert other_order.call("GET", f"/Users/{created['id']}")[0] == 404
            assert entries(info.a, cluster.subtree.base) != entries(info.b, cluster.subtree.base)
        replicated_slapd.wait_converged()
        assert other_order.call("GET", f"/Users/{created['id']}")[0] == 200


def both_at_once(*calls: Callable[[], tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Run ``calls`` in threads released together; their answers in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[tuple[int, Any]] = [(0, None)] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        answers[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def create(bridge: Bridge, body: dict[str, Any]) -> tuple[int, Any]:
    return bridge.call("POST", "/Users", body)[:2]


def test_two_instances_creating_one_user_name_at_once_make_one_entry(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    for n in range(10):
        body = {"userName": f"race{n}@contoso.com"}
        answers = both_at_once(*(functools.partial(create, bridge, body) for bridge in (a, b)))
        assert sorted(status for status, _ in answers) == [201, 409], answers
    cluster.pair.wait_converged()
    for info in (cluster.pair.info.a, cluster.pair.info.b):
        conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
        conn.search(cluster.subtree.base, "(uid=race*)", ldap3.SUBTREE, attributes=["uid"])
        assert sorted(str(item["dn"]).split(",")[0] for item in conn.response) == sorted(
            f"uid=race{n}@contoso.com" for n in range(10)
        )
        conn.unbind()


def test_member_changes_racing_from_both_instances_end_in_the_right_member_set(cluster: Cluster) -> None:
    a, b = cluster.instances["a"], cluster.instances["b"]
    ids = []
    for n in range(16):
        status, user, _ = a.call("POST", "/Users", {"userName": f"member{n}@contoso.com"})
        assert status == 201, user
        ids.append(user["id"])
    status, group, _ = b.call(
        "POST", "/Groups", {"displayName": "Racers", "members": [{"value": i} for i in ids[:8]]}
    )
    assert status == 201, group

    def change(op: str, user_id: str) -> dict[str, Any]:
        if op == "add":
            operation = {"op": "Add", "path": "members", "value": [{"value": user_id}]}
        else:
            operation = {"op": "remove", "path": f'members[value eq "{user_id}"]'}
        return {"schemas": [PATCH_OP], "Operations": [operation]}

    def run(bridge: Bridge, changes: list[tuple[str, str]]) -> Callable[[], tuple[int, Any]]:
        def go() -> tuple[int, Any]:
            statuses = [bridge.call("PATCH", f"/Groups/{group['id']}", change(op, i))[0] for op, i in changes]
            return max(statuses), statuses

        return go

    # a removes members 0-3 and adds 8-11; b removes 4-5 and adds 12-15; both add 6 (a member already) and
    # remove 7: interleaved one PATCH at a time, each a separate request.
    on_a = [("remove", ids[n]) for n in range(4)] + [("add", ids[n]) for n in range(8, 12)]
    on_b = [("remove", ids[n]) for n in range(4, 6)] + [("add", ids[n]) for n in range(12, 16)]
    on_a += [("add", ids[6]), ("remove", ids[7])]
    on_b += [("add", ids[6]), ("remove", ids[7])]
    answers = both_at_once(run(a, on_a), run(b, on_b))
    assert all(status == 204 for _, statuses in answers for status in statuses), answers
    expected = sorted(ids[n] for n in (6, *range(8, 16)))
    status, read, _ = a.call("GET", f"/Groups/{group['id']}")
    assert status == 200
    assert sorted(member["value"] for member in read["members"]) == expected
    cluster.pair.wait_converged()
    for info in (cluster.pair.info.a, cluster.pair.info.b):
        conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
        conn.search(
            cluster.subtree.user_base, "(uid=member*)", ldap3.SUBTREE, attributes=["entryUUID", "memberOf"]
        )
        in_group = sorted(
            str(item["attributes"]["entryUUID"]) for item in conn.response if item["attributes"]["memberOf"]
        )
        assert in_group == expected, info.url
        conn.unbind()
