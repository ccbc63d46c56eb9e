"""A provider dies mid-load (issue 21, point 4): Entra-like flows at concurrency 8 through HAProxy to two
bridge instances, both listing providers a then b; ``kill -9`` of provider a during the load, which runs on
b for a few seconds (a is stopped with SIGSTOP for ``STALL`` seconds first, so that, as on a busy
server, requests are in flight when it dies); a is restarted, the instances go back to it, and the
providers converge. Then every request answered ``2xx`` is on both providers, none was answered ``500``,
every failure is a ``503`` with ``Retry-After``, and the instances served from b within about a second of
the kill.

The pair and the instances are this module's own: a provider is killed. The load is bounded in count and
time: users are provisioned (each created, updated, added to a group and disabled, one request every
``PAUSE`` seconds per worker) until ``AFTER_RESTART`` seconds after a's restart, time for both instances to
go back to a and serve from it, and never more than ``MAX_USERS``. A user whose request fails gets no
further requests (Entra would retry it later): what is checked is what was acknowledged.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import ldap3
import pytest

from bridge.directory.ldap.watch import SETTLE
from bridge.testing.haproxy import SERVED_BY
from bridge.testing.replicated import ReplicatedPair
from bridge.testing.slapd import SlapdInfo, default_schema_path
from tests.e2e.test_replicated_bridges import Cluster, cluster_over

pytestmark = pytest.mark.slapd

MAX_USERS = 120
CONCURRENCY = 8
GROUPS = 4
PAUSE = 0.2  # seconds between two requests of one worker: 40 users x 5 requests / 8 workers, >= 5 s
KILL_AFTER = 1.0  # seconds of load on a, before a is killed
STALL = 0.3  # seconds a is stopped (SIGSTOP) just before the kill: requests are in flight when it dies
OUTAGE = 2.5  # seconds of load on b alone, before a is started again
AFTER_RESTART = SETTLE + 3.0  # seconds of load after a's restart: the instances go back to a meanwhile
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEPARTMENT = f"{ENTERPRISE}:department"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
STEPS = ("lookup", "create", "update", "member", "disable")


@dataclass(frozen=True, slots=True)
class Answer:
    user: int
    step: str
    status: int
    started: float
    ended: float
    instance: str  # the bridge instance that served it (X-Served-By)
    retry_after: str | None


@dataclass
class Run:
    """What the load was told, and when provider a was killed and started again (time.monotonic())."""

    answers: list[Answer] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)  # user number: SCIM id, for each 201
    groups: list[tuple[str, str]] = field(default_factory=list)  # (id, DN) of each group
    killed: float = 0.0  # just before the SIGKILL
    dead: float = 0.0  # once a was gone
    restarted: float = 0.0  # once a answered again
    stop: float = float("inf")  # no user is started after this
    converged_in: float = 0.0  # seconds from the end of the load to the providers' convergence
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self, step: str) -> set[int]:
        return {a.user for a in self.answers if a.step == step and 200 <= a.status < 300}


def user_name(n: int) -> str:
    return f"outage{n:03d}@contoso.com"


def patch(*operations: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": op, "path": path, "value": value} for op, path, value in operations],
    }


def send(cluster: Cluster, run: Run, user: int, step: str, request: tuple[str, str, Any]) -> Any:
    """One request (method, path, body) through the proxy, recorded; whether it was answered 2xx, and its
    body."""
    method, path, body = request
    started = time.monotonic()
    status, answer, headers = cluster.proxy.call(method, path, body)
    lower = {name.lower(): value for name, value in headers.items()}
    with run.lock:
        run.answers.append(
            Answer(
                user,
                step,
                status,
                started,
                time.monotonic(),
                lower.get(SERVED_BY.lower(), ""),
                lower.get("retry-after"),
            )
        )
    return 200 <= status < 300, answer


def provision(cluster: Cluster, run: Run, user: int) -> None:
    """Entra's flow for one user: look up, create, update, add to a group, disable; stops at a failure."""
    name = user_name(user)
    if not send(cluster, run, user, "lookup", ("GET", f'/Users?filter=userName+eq+"{name}"', None))[0]:
        return
    time.sleep(PAUSE)
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": f"outage-{user}",
        "userName": name,
        "active": True,
        "displayName": f"Outage {user}",
        "name": {"familyName": f"Outage{user}", "givenName": "Test"},
        "title": "Engineer",
        ENTERPRISE: {"department": "R&D"},
    }
    ok, created = send(cluster, run, user, "create", ("POST", "/Users", body))
    if not ok:
        return
    user_id = created["id"]
    with run.lock:
        run.ids[user] = user_id
    user_path, group_path = f"/Users/{user_id}", f"/Groups/{run.groups[user % GROUPS][0]}"
    title = f"Senior Engineer {user}"
    steps = {
        "update": (
            "PATCH",
            user_path,
            patch(("Replace", "title", title), ("Replace", DEPARTMENT, "Research")),
        ),
        "member": ("PATCH", group_path, patch(("Add", "members", [{"value": user_id}]))),
        "disable": ("PATCH", user_path, patch(("Replace", "active", "False"))),
    }
    for step, request in steps.items():
        time.sleep(PAUSE)
        if not send(cluster, run, user, step, request)[0]:
            return


def load(cluster: Cluster, run: Run) -> None:
    """``CONCURRENCY`` workers provisioning users one after the other, while provider a is killed and started
    again, until ``AFTER_RESTART`` seconds after the restart (at most ``MAX_USERS``)."""
    todo = list(range(MAX_USERS))
    take = threading.Lock()

    def work(worker: int) -> None:
        time.sleep(worker * PAUSE * len(STEPS) / CONCURRENCY)  # staggered: at any moment, every kind of step
        while True:
            with take:
                if not todo or time.monotonic() > run.stop:
                    return
                user = todo.pop(0)
            provision(cluster, run, user)
            time.sleep(PAUSE)

    workers = [threading.Thread(target=work, args=(w,), name=f"load-{w}") for w in range(CONCURRENCY)]
    start = time.monotonic()
    for worker in workers:
        worker.start()
    a = cluster.pair.a
    assert a is not None
    time.sleep(max(0.0, start + KILL_AFTER - time.monotonic()))
    a.pause()  # as a busy server: the requests that reach it now are in flight when it dies
    time.sleep(STALL)
    run.killed = time.monotonic()
    a.kill()
    run.dead = time.monotonic()
    time.sleep(max(0.0, run.dead + OUTAGE - time.monotonic()))
    a.restart()
    run.restarted = time.monotonic()
    run.stop = run.restarted + AFTER_RESTART
    for worker in workers:
        worker.join(60)
    assert not any(worker.is_alive() for worker in workers), "a load worker hung"
    run.converged_in = cluster.pair.wait_converged(30)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedPair]:
    """This module's own providers: one of them gets killed."""
    made = ReplicatedPair(tmp_path_factory.mktemp("outage-pair"), extra_schema=[default_schema_path()])
    with made:
        yield made


@pytest.fixture(scope="module")
def cluster(pair: ReplicatedPair, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    urls = pair.info.urls
    with cluster_over(pair, tmp_path_factory.mktemp("outage-cluster"), {"a": urls, "b": urls}) as made:
        yield made


@pytest.fixture(scope="module")
def run(cluster: Cluster) -> Run:
    """The load, the kill and the restart, once for the module's tests; the providers converged after."""
    done = Run()
    for n in range(GROUPS):
        status, group, _ = cluster.proxy.call("POST", "/Groups", {"displayName": f"Outage group {n}"})
        assert status == 201, group
        done.groups.append((group["id"], f"cn=Outage group {n},{cluster.subtree.group_base}"))
    load(cluster, done)
    print(summary(done))  # shown with -s, and beside a failure
    return done


def stored(info: SlapdInfo, cluster: Cluster) -> dict[str, dict[str, list[str]]]:
    """Each user on one provider by uid, with the attributes the load wrote; groups' members by DN."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True, receive_timeout=10)
    try:
        found: dict[str, dict[str, list[str]]] = {}
        attributes = ["uid", "entryUUID", "title", "pwdAccountLockedTime", "scimDisabledAt"]
        conn.search(
            cluster.subtree.user_base, "(objectClass=inetOrgPerson)", ldap3.SUBTREE, attributes=attributes
        )
        for item in conn.response:
            raw = {k.lower(): sorted(v.decode() for v in vs) for k, vs in item["raw_attributes"].items()}
            found[raw["uid"][0]] = raw
        conn.search(
            cluster.subtree.group_base, "(objectClass=groupOfNames)", ldap3.SUBTREE, attributes=["member"]
        )
        for item in conn.response:
            found[str(item["dn"]).lower()] = {
                "member": sorted(str(m).lower() for m in item["attributes"]["member"])
            }
        return found
    finally:
        conn.unbind()


def first_on_b(run: Run) -> Answer | None:
    """The first answer 2xx after the kill: served from b, as a answered nothing since it was stopped."""
    after = [a for a in run.answers if 200 <= a.status < 300 and run.killed < a.ended < run.restarted]
    return min(after, key=lambda a: a.ended, default=None)


def timeline(run: Run, user: int) -> list[tuple[str, int, str, float]]:
    """One user's requests: step, status, instance, and when each was answered, in seconds after the
    restart of a (negative: before it)."""
    return [
        (a.step, a.status, a.instance, round(a.ended - run.restarted, 3))
        for a in run.answers
        if a.user == user
    ]


def summary(run: Run) -> str:
    """The run's figures, in a failing test's message and its captured output (``pytest -s`` shows them)."""
    statuses: dict[int, int] = {}
    for answer in run.answers:
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
    during = [a for a in run.answers if run.dead <= a.started and a.ended < run.restarted]
    first = first_on_b(run)
    failed = [a for a in run.answers if a.status >= 300]
    figures = {
        "requests": len(run.answers),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "2xx while a was down": sum(200 <= a.status < 300 for a in during),
        "first 2xx from b after the kill (s)": None if first is None else round(first.ended - run.killed, 3),
        "failures (step, status, Retry-After, s after the kill)": [
            (a.step, a.status, a.retry_after, round(a.ended - run.killed, 3)) for a in failed
        ],
        "load (s)": round(max(a.ended for a in run.answers) - min(a.started for a in run.answers), 2),
        "outage (s)": round(run.restarted - run.killed, 2),
        "in flight at the kill": sorted(a.step for a in run.answers if a.started < run.killed < a.ended),
        "converged after the load (s)": round(run.converged_in, 3),
    }
    return json.dumps(figures)


def switches(cluster: Cluster) -> dict[str, list[str]]:
    """For each instance, its log around each move between directory servers: the lines that say so, and
    the requests it answered just before and after (route and status, in the order it answered them)."""
    moves: dict[str, list[str]] = {}
    for name, bridge in cluster.instances.items():
        lines = [
            f"{line['message']}" if line["logger"] != "bridge.access" else f"  {line['message']}"
            for line in bridge.log_lines()
            if line["logger"] == "bridge.access" or line["message"].startswith("directory server")
        ]
        marks = [n for n, line in enumerate(lines) if line.startswith("directory server")]
        moves[name] = [
            lines[n] for n in sorted({m for k in marks for m in range(k - 3, k + 4)}) if n < len(lines)
        ]
    return moves


def failed_users(run: Run, cluster: Cluster) -> str:
    """What a failing test prints: the timeline of every user with an answer other than 2xx or 503, and
    each instance's moves between servers."""
    users = sorted({a.user for a in run.answers if not 200 <= a.status < 300 and a.status != 503})
    return json.dumps({"users": {u: timeline(run, u) for u in users}, "moves": switches(cluster)}, indent=1)


def test_no_500_and_every_failure_is_a_503_with_retry_after(run: Run, cluster: Cluster) -> None:
    assert any(a.started < run.killed < a.ended for a in run.answers), "no request was in flight at the kill"
    failures = [a for a in run.answers if not 200 <= a.status < 300]
    assert all(a.status == 503 and a.retry_after for a in failures), (failures, failed_users(run, cluster))
    assert len(run.answers) >= 40 * 2, summary(run)


def leaving_out(found: dict[str, dict[str, list[str]]], names: set[str], user_base: str) -> dict[str, Any]:
    """``found`` (see ``stored``) without the users named ``names``, in the groups' members too."""
    dns = {f"uid={name},{user_base}".lower() for name in names}
    return {
        key: {"member": [dn for dn in value["member"] if dn not in dns]} if "member" in value else value
        for key, value in found.items()
        if key not in names
    }


def test_every_acknowledged_write_is_on_both_providers(run: Run, cluster: Cluster) -> None:
    """Each write answered 2xx is on each provider, and they agree on everything else but the users a
    refused request was about: a write in flight when a was killed may have been carried out there and
    not logged for its peer (see docs/high-availability.md), and nobody was told it was done."""
    info = cluster.pair.info
    seen = {"a": stored(info.a, cluster), "b": stored(info.b, cluster)}
    refused = {user_name(a.user) for a in run.answers if not 200 <= a.status < 300}
    base = cluster.subtree.user_base
    assert leaving_out(seen["a"], refused, base) == leaving_out(seen["b"], refused, base)
    for provider, users in seen.items():
        for user in run.acknowledged("create"):
            entry = users.get(user_name(user))
            assert entry is not None, f"{user_name(user)} was created (201) but is not on {provider}"
            assert entry["entryuuid"] == [run.ids[user]]
        for user in run.acknowledged("update"):
            assert users[user_name(user)]["title"] == [f"Senior Engineer {user}"], provider
        for user in run.acknowledged("disable"):
            assert users[user_name(user)].get("pwdaccountlockedtime"), (provider, user_name(user))
            assert users[user_name(user)].get("scimdisabledat"), (provider, user_name(user))
        for user in run.acknowledged("member"):
            group_dn = run.groups[user % GROUPS][1].lower()
            user_dn = f"uid={user_name(user)},{base}".lower()
            assert user_dn in users[group_dn]["member"], (provider, user_name(user), timeline(run, user))
    # The load reached every step, before, during and after the outage.
    assert all(run.acknowledged(step) for step in STEPS), summary(run)


def test_the_instances_serve_from_b_within_about_a_second_of_the_kill(run: Run) -> None:
    first = first_on_b(run)
    assert first is not None, summary(run)
    assert first.ended - run.killed < 3.0, summary(run)
    on_b = [a for a in run.answers if 200 <= a.status < 300 and run.killed < a.ended < run.restarted]
    assert {a.instance for a in on_b} == {"a", "b"}, summary(run)  # both instances carried the load on b


def test_each_instance_saw_a_go_down_and_went_back_to_it(run: Run, cluster: Cluster) -> None:
    """Both instances logged a down, a wait once it answered (for its peer to pull from it again, and for
    it to hold what b took), its return, and answered 2xx after that return, during the load, back on a
    (the first server of ldap.urls)."""
    url = cluster.pair.info.a.url
    for name, bridge in cluster.instances.items():
        lines = [line for line in bridge.log_lines() if line["logger"] != "bridge.audit"]
        messages = [line["message"] for line in lines]
        assert any(m.startswith(f"directory server {url} is down") for m in messages), name
        assert any(m.startswith(f"directory server {url} answers again: not used until") for m in messages)
        back = next(
            n for n, m in enumerate(messages) if m.startswith(f"directory server {url} answers again,")
        )
        served = [line for line in lines[back:] if line["logger"] == "bridge.access" and line["status"] < 300]
        assert served, (name, summary(run), switches(cluster))
