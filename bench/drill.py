"""The fault and fuzz drill (issue 16): the real bridge under an Entra-like load while its directory fails
in turn, its connections are flooded and 10,000 fuzzed requests arrive; then every acknowledged write is
looked for in the directory.

```sh
make drill        # or: python -m bench.drill [--concurrency 8] [--hold 6] [--settle 5] [--fuzz 10000]
```

It starts a throwaway slapd and ``scim-ldap-bridge serve`` (``bench.common.serve_bridge``) on loopback,
the bridge reaching slapd through a TCP proxy of the drill's own (``bench.blackhole``), and keeps an
Entra-like load on it (per user: a lookup that misses, a create, an update, a read, a disable; C
keep-alive connections, a 503 retried after 50 ms rather than after its Retry-After, to see the bridge
recover). Then, one after the other, each held ``--hold`` seconds and followed by ``--settle`` seconds
of load:

1. ``kill -9`` of slapd, then a start on the same data;
2. ``SIGSTOP`` of slapd, then ``SIGCONT``;
3. the proxy swallows every byte (a blackholed port), then forwards again;
4. more idle and trickling connections than ``server.connection_limit`` (a slowloris), while fresh
   connections ask ``/healthz`` and a lookup every half second;
5. 10,000 fuzzed requests (``bench.fuzz_requests``), beside the load.

It prints, per fault, the answers by status, the time from the fault to the first 503, from the
directory's return to the first success, and the slowest answer; for the flood, how the fresh connections
fared; for the fuzz, the answers by status; and at the end the acknowledged writes lost (every 2xx write
checked in the directory), the 5xx by code, and the writes done by requests that were refused. Nothing
here is a test: the figures are for bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote_plus

import ldap3

from bench.blackhole import Blackhole
from bench.common import HOST, TOKEN, Person, ServedBridge, plan, serve_bridge
from bench.entra_load import ENTERPRISE, create_body, machine, patch_body
from bench.fuzz_requests import Aim, Fuzzed, fuzzed
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path

LOAD_KINDS = ("lookup", "create", "update", "read", "disable")
CONNECTION_LIMIT = 50
RETRY_PAUSE = 0.05  # after a 503: Entra would wait Retry-After; the drill wants to see the recovery
# The bridge as configured for the drill: the defaults, but for the connection limits, set low enough
# to fill in a few seconds (server.read_timeout and channel_timeout bound how long a slow or idle
# connection keeps its place).
OVERRIDES = {"server": {"connection_limit": CONNECTION_LIMIT, "channel_timeout": 5, "read_timeout": 10}}
# How long a fuzz thread waits for an answer to raw bytes (most get none): under channel_timeout, so that
# its keep-alive connection, idle meanwhile, is not closed by the bridge just as its next request leaves
# (a race every keep-alive client has at that boundary, not a fault of the bridge).
RAW_WAIT = 4.0
# How long a fresh connection of the flood may wait for its answer: more than read_timeout, the longest a
# slow connection keeps its place, so that the figures show the whole wait.
PROBE_WAIT = 15.0
BIND_PASSWORD = "drill-Bind-Secret-16"  # a throwaway slapd's; looked for in the bridge's log afterwards
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}


@dataclass(frozen=True, slots=True)
class Answer:
    """One request and its answer: ``status`` 0 when none came (the connection failed or timed out)."""

    kind: str
    status: int
    started: float
    ended: float
    write: bool = False
    failure: str = ""  # with status 0: why no answer came

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Record:
    """Every answer the drill got, from every thread."""

    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def between(
        self, start: float, end: float, kinds: Callable[[str], bool] = lambda _: True
    ) -> list[Answer]:
        with self.lock:
            return [a for a in self.answers if start <= a.ended <= end and kinds(a.kind)]


class Client:
    """One keep-alive HTTP/1.1 connection to the bridge, opened again after a failure."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self._port, self._timeout = port, timeout
        self._conn: http.client.HTTPConnection | None = None
        self.failure = ""  # why the last request got no answer: the exception's class

    def send(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """The status and body of the answer; status 0 when the connection failed or timed out."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(HOST, self._port, timeout=self._timeout)
        try:
            self._conn.request(method, path, body, headers if headers is not None else HEADERS)
            response = self._conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            self.failure = type(exc).__name__
            return 0, b""
        if response.will_close:
            self.close()
        return response.status, data

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- the Entra-like load ------------------------------------------------------------------------------


@dataclass
class UserOutcome:
    """What the load was told about one user: the status of each step (None: not sent)."""

    person: Person
    created: int | None = None
    user_id: str = ""
    updated: int | None = None
    disabled: int | None = None


class EntraLoad:
    """``concurrency`` threads, each creating and changing users as Entra does, until :meth:`stop`."""

    def __init__(self, bridge: ServedBridge, record: Record, concurrency: int) -> None:
        self._bridge, self._record = bridge, record
        self._stop = threading.Event()
        self.users: list[UserOutcome] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, args=(w,), name=f"load-{w}", daemon=True)
            for w in range(concurrency)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        if any(thread.is_alive() for thread in self._threads):
            raise SystemExit("a load thread hung for a minute after the drill ended")

    def _send(
        self, client: Client, kind: str, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        started = time.monotonic()
        status, data = client.send(method, path, body)
        self._record.add(Answer(kind, status, started, time.monotonic(), method != "GET", client.failure))
        if status in {503, 0}:
            time.sleep(RETRY_PAUSE)
        return status, data

    def _work(self, worker: int) -> None:
        client, base, round_ = Client(self._bridge.port), self._bridge.base_path, 0
        while not self._stop.is_set():
            people = plan(f"dr{worker}r{round_}", 50).people
            round_ += 1
            for person in people:
                if self._stop.is_set():
                    break
                self._user(client, base, UserOutcome(person))
        client.close()

    def _user(self, client: Client, base: str, outcome: UserOutcome) -> None:
        with self._lock:
            self.users.append(outcome)
        person = outcome.person
        lookup = f"{base}/Users?filter=" + quote_plus(f'userName eq "{person.user_name}"')
        self._send(client, "lookup", "GET", lookup)
        outcome.created, data = self._send(client, "create", "POST", f"{base}/Users", create_body(person))
        if outcome.created != 201:
            return
        outcome.user_id = json.loads(data)["id"]
        path = f"{base}/Users/{outcome.user_id}"
        changes = patch_body(
            ("Replace", "title", person.new_title),
            ("Replace", f"{ENTERPRISE}:department", person.new_department),
        )
        outcome.updated, _ = self._send(client, "update", "PATCH", path, changes)
        self._send(client, "read", "GET", path)
        outcome.disabled, _ = self._send(
            client, "disable", "PATCH", path, patch_body(("Replace", "active", "False"))
        )


class Watch:
    """Every 0.1 s a lookup on a fresh connection, whatever the load's threads are waiting for: the
    moment the bridge starts answering 503, and stops, shows even while every load thread waits on the
    directory. At most 50 wait at once."""

    def __init__(self, bridge: ServedBridge, record: Record) -> None:
        self._bridge, self._record = bridge, record
        self._stop = threading.Event()
        self._slots = threading.Semaphore(50)
        self._path = f"{bridge.base_path}/Users?filter=" + quote_plus('userName eq "watch@contoso.com"')
        self._thread = threading.Thread(target=self._run, name="watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            if self._slots.acquire(blocking=False):
                threading.Thread(target=self._ask, daemon=True).start()

    def _ask(self) -> None:
        started = time.monotonic()
        status, _ = Client(self._bridge.port, timeout=30).send("GET", self._path)
        self._record.add(Answer("watch", status, started, time.monotonic()))
        self._slots.release()


# --- the faults ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault: its name, when it began and when the directory was back (time.monotonic())."""

    name: str
    began: float
    ended: float


def hold_fault(name: str, start: Callable[[], None], end: Callable[[], None], hold: float) -> Fault:
    start()
    began = time.monotonic()
    time.sleep(hold)
    end()
    return Fault(name, began, time.monotonic())


@dataclass
class Flood:
    """The connection flood's fresh probes: (kind, status, seconds) each."""

    probes: list[tuple[str, int, float]] = field(default_factory=list)
    attackers: int = 0
    reopened: int = 0


def flood(bridge: ServedBridge, record: Record, hold: float) -> Flood:
    """Hold more connections than the limit, each sending a request a header line every 2 s and never
    finishing it, and reopen each one the bridge closes; meanwhile every 0.5 s a fresh connection asks
    /healthz and another a lookup, each allowed :data:`PROBE_WAIT` seconds."""
    result = Flood(attackers=CONNECTION_LIMIT + 20)
    stop = threading.Event()

    def attacker() -> socket.socket:
        sock = socket.create_connection((HOST, bridge.port), timeout=5)
        sock.sendall(b"GET /scim/v2/Users HTTP/1.1\r\nHost: drill\r\n")
        return sock

    def closed(sock: socket.socket) -> bool:
        try:
            return sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def attack() -> None:
        sockets = [attacker() for _ in range(result.attackers)]
        while not stop.wait(2.0):
            for i, sock in enumerate(sockets):
                try:
                    if closed(sock):
                        raise ConnectionResetError  # the bridge dropped it (or answered it): reopen
                    sock.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    sock.close()
                    result.reopened += 1
                    try:
                        sockets[i] = attacker()
                    except OSError:
                        continue
        for sock in sockets:
            sock.close()

    def probe(kind: str, path: str) -> None:
        started = time.monotonic()
        status, _ = Client(bridge.port, timeout=PROBE_WAIT).send("GET", path)
        result.probes.append((kind, status, time.monotonic() - started))
        record.add(Answer(f"fresh {kind}", status, started, time.monotonic()))

    threads = [threading.Thread(target=attack, daemon=True)]
    threads[0].start()
    time.sleep(0.5)  # the flood is in place
    lookup = f"{bridge.base_path}/Users?filter=" + quote_plus('userName eq "nobody@contoso.com"')
    deadline = time.monotonic() + hold
    while time.monotonic() < deadline:
        for kind, path in (("/healthz", "/healthz"), ("lookup", lookup)):
            thread = threading.Thread(target=probe, args=(kind, path), daemon=True)
            thread.start()
            threads.append(thread)
        time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(15)
    return result


# --- the fuzz -----------------------------------------------------------------------------------------


@dataclass
class FuzzRun:
    """The fuzzed requests sent, each with its status (0: no answer), and the targets' ids by index."""

    sent: list[tuple[Fuzzed, int]] = field(default_factory=list)
    target_ids: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    unsendable: int = 0


def raw_status(port: int, data: bytes) -> int:
    """Send bytes that are not (all) HTTP; the status of the answer, 0 when the bridge closes or says
    nothing within :data:`RAW_WAIT` seconds."""
    try:
        with socket.create_connection((HOST, port), timeout=RAW_WAIT) as sock:
            sock.sendall(data)
            head = sock.recv(64)
    except OSError:
        return 0
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else 0


def fuzz(
    bridge: ServedBridge, record: Record, *, total: int, workers: int, seed: int, budget: float
) -> FuzzRun:
    """``total`` fuzzed requests from ``workers`` threads; each thread writes its own 4 target users."""
    run = FuzzRun()
    setup = Client(bridge.port)
    base = bridge.base_path

    def make_user(name: str) -> str:
        status, data = setup.send(
            "POST", f"{base}/Users", json.dumps({"userName": name, "title": "start"}).encode()
        )
        if status != 201:
            raise SystemExit(f"could not create the fuzz target {name}: {status} {data[:200]!r}")
        return str(json.loads(data)["id"])

    victim = make_user("fuzz-victim@contoso.com")
    aims = []
    for w in range(workers):
        targets = []
        for k in range(4):
            index, name = w * 4 + k, f"fuzz-target-{w}-{k}@contoso.com"
            run.target_ids[index] = make_user(name)
            targets.append((index, run.target_ids[index], name))
        aims.append(Aim(base, targets, victim, TOKEN))
    setup.close()
    lock = threading.Lock()
    deadline = time.monotonic() + budget

    def work(w: int) -> None:
        rng = random.Random(seed * 1000 + w)  # noqa: S311 - seeded, for a run that can be repeated
        client = Client(bridge.port, timeout=30)
        for n in range(w, total, workers):
            if time.monotonic() > deadline:
                break
            request = fuzzed(n, rng, aims[w])
            started = time.monotonic()
            client.failure = ""
            if request.raw is not None:
                status = raw_status(bridge.port, request.raw)
            else:
                try:
                    status, _ = client.send(request.method, request.path, request.body, request.headers)
                except ValueError:  # http.client refused to send it (InvalidURL, UnicodeError among them)
                    client.close()  # its connection is left mid-request
                    with lock:
                        run.unsendable += 1
                    continue
            ended = time.monotonic()
            record.add(Answer(f"fuzz {request.kind}", status, started, ended, request.writes, client.failure))
            with lock:
                run.sent.append((request, status))
        client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    return run


# --- what the directory holds ---------------------------------------------------------------------------


@dataclass
class Stored:
    """The users (by uid, lower case, and by entryUUID) and group names in the directory afterwards."""

    by_uid: dict[str, dict[str, list[str]]]
    by_id: dict[str, dict[str, list[str]]]
    groups: set[str]


def stored(info: SlapdInfo) -> Stored:
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    users = conn.extend.standard.paged_search(
        info.user_base,
        "(objectClass=inetOrgPerson)",
        attributes=["uid", "title", "pwdAccountLockedTime", "entryUUID"],
        paged_size=1000,
    )
    by_uid: dict[str, dict[str, list[str]]] = {}
    by_id: dict[str, dict[str, list[str]]] = {}
    for entry in users:
        if entry.get("type") != "searchResEntry":
            continue
        attributes = {
            k.lower(): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
            for k, vs in entry["attributes"].items()
        }
        for uid in attributes.get("uid", []):
            by_uid[uid.lower()] = attributes
        by_id[attributes["entryuuid"][0].lower()] = attributes
    groups = conn.extend.standard.paged_search(
        info.group_base, "(objectClass=groupOfNames)", attributes=["cn"], paged_size=1000
    )
    names = {
        str(cn) for g in groups if g.get("type") == "searchResEntry" for cn in g["attributes"].get("cn", [])
    }
    conn.unbind()
    return Stored(by_uid, by_id, names)


@dataclass
class Verdict:
    """Acknowledged writes found missing, and writes found done although their request was refused."""

    checked: int = 0
    lost: list[str] = field(default_factory=list)
    refused_but_done: list[str] = field(default_factory=list)


def check_load(users: list[UserOutcome], found: Stored, verdict: Verdict) -> None:
    for user in users:
        entry = found.by_uid.get(user.person.user_name.lower())
        if user.created == 201:
            verdict.checked += 1
            if entry is None:
                verdict.lost.append(f"create of {user.person.user_name}")
                continue
        elif user.created is not None and entry is not None:
            verdict.refused_but_done.append(f"create of {user.person.user_name} (answered {user.created})")
        if entry is None:
            continue
        title_set = entry.get("title") == [user.person.new_title]
        locked = bool(entry.get("pwdaccountlockedtime"))
        for step, status, done in (("update", user.updated, title_set), ("disable", user.disabled, locked)):
            if status == 200:
                verdict.checked += 1
                if not done:
                    verdict.lost.append(f"{step} of {user.person.user_name}")
            elif status is not None and done:
                verdict.refused_but_done.append(f"{step} of {user.person.user_name} (answered {status})")


def check_fuzz(run: FuzzRun, found: Stored, verdict: Verdict) -> None:
    user_tags = {m.group(1) for uid in found.by_uid if (m := re.match(r"(fz\d{5})", uid))}
    group_tags = {
        m.group(1).lower() for cn in found.groups if (m := re.match(r"(fzg\d{5})", cn, re.IGNORECASE))
    }
    last_acknowledged: dict[int, str] = {}
    by_tag: dict[str, int] = {}
    for request, status in sorted(run.sent, key=lambda sent: sent[0].n):
        if request.tag is None:
            continue
        by_tag[request.tag] = status
        ok = 200 <= status < 300
        if request.kind in ("create user", "create group"):
            present = request.tag in (user_tags if request.kind == "create user" else group_tags)
            verdict.checked += ok
            if ok and not present:
                verdict.lost.append(f"fuzz {request.kind} {request.n}")
            if not ok and present:
                verdict.refused_but_done.append(f"fuzz {request.kind} {request.n} (answered {status})")
        elif ok and request.target is not None:
            last_acknowledged[request.target] = request.tag  # each target is written by one thread, in order
    for index, user_id in run.target_ids.items():
        entry = found.by_id.get(user_id.lower())
        title = (entry or {}).get("title", [""])[0]
        expected = last_acknowledged.get(index)
        if expected is not None:
            verdict.checked += 1
            if title != expected and not (title in by_tag and not 200 <= by_tag[title] < 300):
                verdict.lost.append(
                    f"fuzz write of target {index}: {expected} acknowledged, {title!r} stored"
                )
        if title in by_tag and not 200 <= by_tag[title] < 300:
            verdict.refused_but_done.append(
                f"fuzz write {title} to target {index} (answered {by_tag[title]})"
            )


# --- printing -------------------------------------------------------------------------------------------


def describe_fault(fault: Fault, record: Record, settle: float) -> list[str]:
    """The load's and the watch's answers from the fault to the end of its settling time."""
    seen = record.between(fault.began, fault.ended + settle, lambda kind: kind in (*LOAD_KINDS, "watch"))
    load = [a for a in seen if a.kind != "watch"]
    first_503 = min((a.ended for a in seen if a.status == 503), default=None)
    back = min((a.ended for a in seen if 200 <= a.status < 300 and a.started >= fault.ended), default=None)
    refused_after = sum(1 for a in seen if a.started >= (back or fault.ended + settle) and a.status >= 500)
    watched = [a for a in seen if a.kind == "watch" and a.started < fault.ended]
    refused = [a.seconds for a in watched if a.status == 503]
    statuses = dict(sorted(Counter(a.status for a in load).items()))
    return [
        f"  {fault.name}: the load's {len(load)} answers {statuses}, "
        f"slowest {max((a.seconds for a in load), default=0.0):.2f} s",
        f"    first 503 {_secs(first_503, fault.began)} after the fault; first success "
        f"{_secs(back, fault.ended)} after the directory was back; 5xx after that: {refused_after}",
        f"    the watch's lookups sent during the fault: {len(watched)}, "
        f"{dict(sorted(Counter(a.status for a in watched).items()))}; their 503s took median "
        f"{statistics.median(refused) if refused else 0:.3f} s, at most {max(refused, default=0):.3f} s",
    ]


def _secs(at: float | None, since: float) -> str:
    return "never" if at is None else f"{at - since:.2f} s"


def describe_flood(result: Flood, record: Record, began: float, ended: float) -> list[str]:
    lines = [
        f"  flood: {result.attackers} slow connections (limit {CONNECTION_LIMIT}), "
        f"{result.reopened} reopened after the bridge closed them"
    ]
    for kind in ("/healthz", "lookup"):
        mine = [(status, seconds) for k, status, seconds in result.probes if k == kind]
        served = [seconds for status, seconds in mine if status == 200]
        times = sorted(seconds for _, seconds in mine)
        lines.append(
            f"    fresh {kind:<9} {len(served)} of {len(mine)} answered 200; "
            f"median {statistics.median(times) if times else 0:.3f} s, "
            f"slowest {max(times, default=0):.3f} s; "
            f"statuses {dict(Counter(status for status, _ in mine))}"
        )
    load = record.between(began, ended, lambda kind: kind in LOAD_KINDS)
    lines.append(f"    the load meanwhile: {dict(Counter(a.status for a in load))}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=8, choices=range(4, 17), metavar="4..16")
    parser.add_argument("--hold", type=float, default=6.0, help="seconds each fault lasts (6)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds of load after each fault (5)")
    parser.add_argument("--fuzz", type=int, default=10_000, help="fuzzed requests (10,000)")
    parser.add_argument("--fuzz-budget", type=float, default=600.0, help="most seconds the fuzz may take")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    print(machine(), flush=True)
    print(
        f"load: concurrency {args.concurrency}; faults held {args.hold:g} s, then {args.settle:g} s of "
        f"load; bridge {OVERRIDES}",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="drill-") as workdir,
        running_slapd(Path(workdir)) as (server, info),
    ):
        proxy = Blackhole("127.0.0.1", int(info.url.rsplit(":", 1)[1]))
        try:
            drill(server, info, proxy, Path(workdir), args)
        finally:
            proxy.close()


@contextmanager
def running_slapd(workdir: Path) -> Iterator[tuple[Slapd, SlapdInfo]]:
    server = Slapd(workdir / "slapd", extra_schema=[default_schema_path()], password=BIND_PASSWORD)
    info = server.start()
    try:
        yield server, info
    finally:
        server.stop()


def drill(server: Slapd, info: SlapdInfo, proxy: Blackhole, workdir: Path, args: argparse.Namespace) -> None:
    record = Record()
    with serve_bridge(replace(info, url=proxy.url), workdir, overrides=OVERRIDES) as bridge:
        load, watch = EntraLoad(bridge, record, args.concurrency), Watch(bridge, record)
        load.start()
        watch.start()
        time.sleep(args.settle)
        faults = []
        for name, start, end in (
            ("kill -9", server.kill, server.restart),
            ("SIGSTOP", server.pause, server.resume),
            ("blackhole", proxy.swallow, proxy.forward),
        ):
            faults.append(hold_fault(name, start, end, args.hold))
            print(f"{name}: held {args.hold:g} s", flush=True)
            time.sleep(args.settle)
        flood_began = time.monotonic()
        flooded = flood(bridge, record, args.hold * 2)
        flood_ended = time.monotonic()
        print("flood: done", flush=True)
        time.sleep(args.settle)
        run = fuzz(bridge, record, total=args.fuzz, workers=8, seed=args.seed, budget=args.fuzz_budget)
        print(f"fuzz: {len(run.sent)} requests in {run.seconds:.0f} s", flush=True)
        load.stop()
        watch.stop()
        log = bridge.log.read_text(errors="replace")
    found = stored(info)
    verdict = Verdict()
    check_load(load.users, found, verdict)
    check_fuzz(run, found, verdict)
    report(Outcome(record, faults, args.settle, flooded, (flood_began, flood_ended), run, verdict, log))


@dataclass(frozen=True)
class Outcome:
    """Everything the drill saw, for :func:`report`."""

    record: Record
    faults: list[Fault]
    settle: float
    flooded: Flood
    flood_window: tuple[float, float]
    run: FuzzRun
    verdict: Verdict
    log: str


def report(outcome: Outcome) -> None:
    record, run, verdict = outcome.record, outcome.run, outcome.verdict
    print("\nfaults (answers from the fault to the end of its settling time)")
    for fault in outcome.faults:
        for line in describe_fault(fault, record, outcome.settle):
            print(line)
    print("\nconnection flood")
    for line in describe_flood(outcome.flooded, record, *outcome.flood_window):
        print(line)
    by_kind: dict[str, Counter[int]] = {}
    for request, status in run.sent:
        by_kind.setdefault(request.kind, Counter())[status] += 1
    print(
        f"\nfuzz: {len(run.sent)} requests in {run.seconds:.1f} s "
        f"({run.unsendable} that http.client refused to send)"
    )
    for kind, statuses in sorted(by_kind.items()):
        print(f"  {kind:<14} {sum(statuses.values()):>5}  {dict(sorted(statuses.items()))}")
    answers = record.answers
    server_errors = Counter(a.status for a in answers if a.status >= 500)
    print("\nsummary")
    unanswered = Counter(f"{a.kind}: {a.failure or 'closed'}" for a in answers if not a.status)
    print(
        f"  requests answered: {sum(1 for a in answers if a.status)}; without an answer (the connection "
        f"closed, or no answer within the client's timeout): {sum(unanswered.values())} {dict(unanswered)}"
    )
    print(f"  acknowledged writes checked in the directory: {verdict.checked}; lost: {len(verdict.lost)}")
    for line in verdict.lost[:10]:
        print(f"    lost: {line}")
    print(f"  5xx by code: {dict(sorted(server_errors.items()))}; responses 500: {server_errors.get(500, 0)}")
    print(f"  writes by refused requests: {len(verdict.refused_but_done)}")
    for line in verdict.refused_but_done[:10]:
        print(f"    {line}")
    secrets = [word for word in (TOKEN, BIND_PASSWORD) if word in outcome.log]
    print(f"  secrets in the bridge's log: {len(secrets)} (looked for: the token, the bind password)")


if __name__ == "__main__":
    main()
