"""An Entra-like load against the real bridge and, interleaved in one run, the same work straight to LDAP.

```sh
python -m bench.entra_load [--users 300] [--concurrency 1,4,16] [--rounds 4] [--threads 8] [--pool-size 8]
python -m bench.entra_load --profile DIR [--profile-concurrency 4]   # py-spy on the server's workers
```

It starts a throwaway slapd (the test launcher, with its monitor backend) and ``scim-ldap-bridge serve`` as
a subprocess on loopback (``bench.common.serve_bridge``: the OpenLDAP map, no TLS, the production logging),
then, at each concurrency C, sends per user what Entra sends in a first cycle, each request type as its
own phase with C keep-alive HTTP connections (one thread each, ``bench.http_client``):

1. ``GET /Users?filter=userName eq "..."``, which misses (Entra's matching lookup);
2. ``POST /Users`` with Entra's body;
3. ``PATCH /Users/{id}``, Entra's form (``{"op": "Replace", "path": "title", ...}`` and the department);
4. ``GET /Users/{id}``;
5. ``POST /Groups``, one group per 20 users, created empty;
6. ``PATCH /Groups/{id}`` adding members (``{"op": "Add", "path": "members", "value": [...]}``);
7. ``PATCH /Users/{id}`` with ``{"op": "Replace", "path": "active", "value": "False"}``.

In between it runs the same logical work straight to the same slapd with ldap3 (``bench.raw_ldap``: one
bound connection per worker, one LDAP operation per request, nothing read back), the ceiling for a Python
client. After a warm-up of both, rounds alternate which goes first. For each it prints, per request type:
count, errors, ops/s, p50/p95/p99, the CPU milliseconds per request of the load client, the bridge and
slapd, and what slapd's monitor backend counted meanwhile (``cn=Operations,cn=Monitor``: LDAP operations
and binds per request). Then the ratio bridge / raw of the whole mix's ops/s, per round and overall, and
at the end the table of issue #22: at each concurrency, ops/s, the ratio, the CPU milliseconds per request
of the bridge (its processes summed, from ``/proc``) and of raw ldap3 doing the same LDAP work, slapd's,
the LDAP operations per request of each, and the p50 at concurrency 1 of a GET by filter and a PATCH, each
against its target; and how many access and audit lines the bridge's log holds (logging is on).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from bench.common import (
    CREATE,
    DISABLE,
    GROUP,
    HOST,
    LOOKUP,
    MEMBERS,
    PHASES,
    READ,
    REPO,
    TOKEN,
    UPDATE,
    LoadError,
    Monitor,
    Person,
    Phase,
    Plan,
    ServedBridge,
    cpu_split,
    percentile,
    plan,
    print_phases,
    run_phase,
    serve_bridge,
    total_phase,
)
from bench.http_client import HttpConnection, ResponseError
from bench.raw_ldap import RawLoad, slapd_pid
from bridge.testing.slapd import Slapd, default_schema_path

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# The targets of issue #22: bridge / raw ops/s by concurrency, the bridge's CPU milliseconds per request
# (its processes summed), and the p50 at concurrency 1 of a GET by filter and of a PATCH; and issue #9's
# LDAP operations per request over the mix, kept.
RATIO_TARGETS = {1: 0.5, 4: 0.7, 16: 0.7}
CPU_TARGET_MS = 1.2
P50_TARGET_MS = 1.5
OPS_TARGET = 1.2


class HttpWorker:
    """One keep-alive HTTP/1.1 connection to the bridge, used by one thread (:mod:`bench.http_client`: a
    client that costs little beside the server it measures)."""

    def __init__(self, bridge: ServedBridge) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
        self._conn = HttpConnection(HOST, bridge.port, headers=headers)
        self.sent = 0  # requests sent, warm-ups included: each should leave one access line

    def send(self, method: str, path: str, body: bytes | None, expect: int) -> bytes:
        self.sent += 1
        try:
            response = self._conn.request(method, path, body)
        except ResponseError as exc:
            raise LoadError(f"{method} {path}: {exc}") from exc
        if response.status != expect:
            raise LoadError(f"{method} {path}: {response.status} {response.body[:300]!r}")
        return response.body

    def close(self) -> None:
        self._conn.close()


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def create_body(person: Person) -> bytes:
    """Entra's POST /Users (bridge/ops/selftest/flows/entra-create-and-update-legacy.json)."""
    return _json(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "externalId": person.external_id,
            "userName": person.user_name,
            "active": "True",
            "displayName": person.display,
            "emails": [{"primary": True, "type": "work", "value": person.user_name}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": person.display, "familyName": person.family, "givenName": person.given},
            "title": person.title,
            ENTERPRISE: {"employeeNumber": person.employee_number, "department": person.department},
            "roles": [],
        }
    )


def patch_body(*operations: tuple[str, str, Any]) -> bytes:
    """A PatchOp with Entra's capitalised ops, one operation per attribute."""
    ops = [{"op": op, "path": path, "value": value} for op, path, value in operations]
    return _json({"schemas": [PATCH_OP], "Operations": ops})


class BridgeLoad:
    """The Entra-like load over HTTP, ``concurrency`` connections at once."""

    def __init__(self, bridge: ServedBridge, concurrency: int, monitor: Monitor | None = None) -> None:
        self._base = bridge.base_path
        self._monitor = monitor
        self.workers = [HttpWorker(bridge) for _ in range(concurrency)]

    def close(self) -> int:
        """Close the connections; the number of requests sent on them."""
        for worker in self.workers:
            worker.close()
        return sum(worker.sent for worker in self.workers)

    def run(self, work: Plan, *, watch: dict[str, int] | None = None) -> list[Phase]:
        """Every phase of ``work``, in order."""
        return list(self.phases(work, watch=watch))

    def phases(
        self,
        work: Plan,
        *,
        watch: dict[str, int] | None = None,
        around: Callable[[str], AbstractContextManager[object]] = lambda _: nullcontext(),
    ) -> Iterator[Phase]:
        """The phases of ``work``, each run when the next one is asked for; ``around(name)`` wraps each
        (a profiler)."""
        base, people = self._base, work.people
        ids: list[str] = [""] * len(people)
        group_ids: list[str] = [""] * len(work.groups)
        # Bodies are made before the timing starts: the client's share of the CPU is the HTTP alone.
        lookups = [f"{base}/Users?filter=" + quote_plus(f'userName eq "{p.user_name}"') for p in people]
        creates = [create_body(p) for p in people]
        updates = [
            patch_body(
                ("Replace", "title", p.new_title), ("Replace", f"{ENTERPRISE}:department", p.new_department)
            )
            for p in people
        ]
        disable = patch_body(("Replace", "active", "False"))
        groups = [
            _json(
                {
                    "schemas": [
                        "urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
                    ],
                    "externalId": f"ext-{name}",
                    "displayName": name,
                    "meta": {"resourceType": "Group"},
                    "members": [],
                }
            )
            for name in work.groups
        ]
        everyone = range(len(people))

        def lookup(worker: HttpWorker, n: int) -> None:
            found = json.loads(worker.send("GET", lookups[n], None, 200))
            if found.get("totalResults") != 0:
                raise LoadError(f"the lookup of {people[n].user_name} found {found.get('totalResults')}")

        def create(worker: HttpWorker, n: int) -> None:
            ids[n] = json.loads(worker.send("POST", f"{base}/Users", creates[n], 201))["id"]

        def update(worker: HttpWorker, n: int) -> None:
            worker.send("PATCH", f"{base}/Users/{ids[n]}", updates[n], 200)

        def read(worker: HttpWorker, n: int) -> None:
            worker.send("GET", f"{base}/Users/{ids[n]}", None, 200)

        def group(worker: HttpWorker, g: int) -> None:
            group_ids[g] = json.loads(worker.send("POST", f"{base}/Groups", groups[g], 201))["id"]

        member_adds: list[bytes] = []

        def members(worker: HttpWorker, index: int) -> None:
            worker.send(
                "PATCH", f"{base}/Groups/{group_ids[work.member_adds[index][0]]}", member_adds[index], 204
            )

        def off(worker: HttpWorker, n: int) -> None:
            worker.send("PATCH", f"{base}/Users/{ids[n]}", disable, 200)

        def phase(name: str, items: Sequence[int], call: Callable[[HttpWorker, int], None]) -> Phase:
            with around(name):
                return run_phase(name, items, self.workers, call, monitor=self._monitor, watch=watch)

        yield phase(LOOKUP, everyone, lookup)
        yield phase(CREATE, everyone, create)
        yield phase(UPDATE, everyone, update)
        yield phase(READ, everyone, read)
        yield phase(GROUP, range(len(work.groups)), group)
        member_adds.extend(
            patch_body(("Add", "members", [{"$ref": None, "value": ids[n]} for n in users]))
            for _, users in work.member_adds
        )
        yield phase(MEMBERS, range(len(work.member_adds)), members)
        yield phase(DISABLE, everyone, off)


def mix_rate(phases: Sequence[Phase]) -> float:
    return total_phase(phases).rate


def merge(into: dict[str, Phase], phases: Sequence[Phase]) -> None:
    for phase in phases:
        into.setdefault(phase.name, Phase(phase.name)).merge(phase)


# --- the machine, for the record ----------------------------------------------------------------------


def _first_line(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)
    except OSError:
        return "?"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def machine(source: Path | None = None) -> str:
    """nproc, memory, CPU model, Debian, Python, slapd, and the bridge's commit (and modified files), or
    the other checkout ``source`` it serves."""
    memory = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?"
    slapd = _first_line(["/usr/sbin/slapd", "-VV"]).split("slapd", 1)[-1].split("(")[0].strip()
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    commit = "?" if commit.startswith("fatal") else commit  # a copy outside a checkout
    status = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "bridge", "config"],
        capture_output=True,
        text=True,
        check=False,
    )
    changed = [line[3:] for line in status.stdout.splitlines() if line.strip()]
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    where = f"bridge at {commit}" + (f", with uncommitted changes to {shown}" if changed else "")
    if source is not None:
        where = f"bridge served from {source} (the benchmark at {commit})"
    return (
        f"{os.cpu_count()} CPUs ({model}), {int(memory) / 1024 / 1024:.0f} GiB, Debian {debian}, "
        f"Python {platform.python_version()}, slapd {slapd}; {where}"
    )


# --- the profile: py-spy on the server, one recording per request type ----------------------------------


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy (into the benchmark's venv)")
    return found


@contextmanager
def py_spy(pid: int, output: Path, rate: int) -> Iterator[None]:
    """``py-spy record`` on ``pid`` and its worker processes (``--subprocesses``: with ``server.processes``
    the requests run there) while the block runs: collapsed stacks (one function a frame) of the thread
    that holds the GIL (``--gil``: the Python code running; a thread in a system call or waiting has let
    the GIL go), sampled without pausing the server (``--nonblocking``)."""
    argv = [_py_spy(), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--nolineno"]
    argv += ["--gil", "--nonblocking", "--subprocesses", "--output", str(output)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    started = process.stdout.readline()  # "py-spy> Sampling process 250 times a second ..."
    if "Sampling" not in started:
        process.kill()
        raise SystemExit(f"py-spy did not start: {started}{process.communicate()[0]}")
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def _frames(line: str) -> tuple[list[str], int]:
    stack, _, count = line.rpartition(" ")
    return [frame for frame in stack.split(";") if not frame.startswith(("process ", "thread "))], int(count)


def _area(frame: str) -> str:
    """Where a function lives: bridge's own module, another package, or a standard library module
    (py-spy names files relative to their ``sys.path`` entry: ``ldap3/strategy/base.py``, ``uuid.py``)."""
    where = frame.rpartition(" (")[2].rstrip(")")
    if where.startswith("bridge/"):
        return where.removesuffix(".py").replace("/", ".")
    return where.split("/", 1)[0] if "/" in where else where.removesuffix(".py")


def summarize(
    outputs: Sequence[Path], requests: int, rate: int, cpu: tuple[float, float], top: int = 12
) -> str:
    """The recording of one phase: the bridge's CPU per request (user and system, from /proc), the Python
    share of it (samples holding the GIL), self and inclusive time by area (bridge's own modules, other
    packages, standard library modules), the hottest functions, and the bridge's costliest functions."""
    samples = 0
    areas: Counter[str] = Counter()
    within: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in (line for output in outputs for line in output.read_text().splitlines()):
        frames, count = _frames(line) if line.strip() else ([], 0)
        if not frames:
            continue
        samples += count
        areas[_area(frames[-1])] += count
        leaves[frames[-1].split(" (")[0] + f" ({_area(frames[-1])})"] += count
        for area in {_area(frame) for frame in frames}:
            within[area] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not samples:
        return "  no samples"
    user, system = (1000 * spent / requests for spent in cpu)
    python = samples * 1000 / rate / requests

    def share(n: int) -> str:
        return f"{100 * n / samples:.0f}%"

    lines = [
        f"  bridge CPU per request: {user + system:.2f} ms ({user:.2f} user, {system:.2f} system); "
        f"Python holding the GIL: {python:.2f} ms ({samples} samples at {rate} Hz)",
        "  self, by area: " + ", ".join(f"{a} {share(n)}" for a, n in areas.most_common(top)),
        "  inclusive, by area: "
        + ", ".join(
            f"{a} {share(n)}" for a, n in within.most_common() if n < 0.95 * samples and a != "threading"
        )[:600],
        "  hottest functions (self): " + ", ".join(f"{f} {share(n)}" for f, n in leaves.most_common(top)),
        "  top cumulative (inclusive; the threads' entry points, in nearly every sample, left out):",
    ]
    outer = [(frame, n) for frame, n in inclusive.most_common() if n < 0.95 * samples]
    lines += [f"    {share(n):>4}  {frame.split(' (')[0]} ({_area(frame)})" for frame, n in outer[:top]]
    lines.append("  the bridge's functions (inclusive):")
    ours = [(frame, n) for frame, n in inclusive.most_common() if "(bridge/" in frame and n < 0.95 * samples]
    lines += [f"    {share(n):>4}  {frame.split(' (')[0]} ({_area(frame)})" for frame, n in ours[: top + 4]]
    return "\n".join(lines)


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def profile(bridge: ServedBridge, users: int, concurrency: int, directory: Path, rate: int) -> None:
    """One round at ``concurrency`` with py-spy on the server during each phase; prints the summaries."""
    directory.mkdir(parents=True, exist_ok=True)
    load = BridgeLoad(bridge, concurrency)
    load.run(plan("profile-warm", max(20, 2 * concurrency)))
    names = {name: directory / f"{n}-{_slug(name)}.txt" for n, name in enumerate(PHASES, 1)}
    cpu: dict[str, tuple[float, float]] = {}

    @contextmanager
    def recorded(name: str) -> Iterator[None]:
        with py_spy(bridge.pid, names[name], rate):
            before = cpu_split(bridge.pid, children=True)
            yield
            after = cpu_split(bridge.pid, children=True)
        cpu[name] = (after[0] - before[0], after[1] - before[1])

    phases = list(load.phases(plan("profile", users), around=recorded, watch={"bridge": bridge.pid}))
    load.close()
    print_phases(f"bridge under py-spy ({rate} Hz), {users} users, concurrency {concurrency}", phases)
    for phase in phases:
        print(f"\n{phase.name} ({names[phase.name]})")
        print(summarize([names[phase.name]], phase.count, rate, cpu[phase.name]))
    spent = (sum(cpu[p.name][0] for p in phases), sum(cpu[p.name][1] for p in phases))
    print(f"\nwhole mix ({directory})")
    print(summarize([names[p.name] for p in phases], sum(p.count for p in phases), rate, spent, top=25))


# --- the comparison --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Budget:
    """One concurrency's whole mix, the bridge's and raw ldap3's, for the table of issue #22."""

    concurrency: int
    bridge: Phase
    raw: Phase | None
    p50: dict[str, tuple[float, float | None]]  # request type -> p50 ms, bridge and raw
    p50_rounds: dict[str, list[float]]  # request type -> the bridge's p50 ms in each round


def _per_request(phase: Phase, label: str) -> float:
    return 1000 * phase.cpu.get(label, 0.0) / phase.count if phase.count else 0.0


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def print_budget(rows: Sequence[Budget], configuration: str) -> None:
    """The figures of issue #22 in one table: ops/s, the ratio, CPU milliseconds per request (the bridge's
    processes summed; raw ldap3's is the load client's own, which is all it runs), slapd's, and the LDAP
    operations per request, each side; then the p50s at concurrency 1, each with its target."""
    print(f"\nCPU budget per request (issue #22), {configuration}")
    print(
        f"  {'conc.':>5} {'bridge ops/s':>12} {'raw ops/s':>10} {'bridge/raw':>16} "
        f"{'bridge CPU ms':>19} {'raw ldap3 CPU ms':>16} {'slapd CPU ms b/r':>17} {'LDAP ops b/r':>13}"
    )
    for row in rows:
        cpu = _per_request(row.bridge, "bridge")
        cells = f"  {row.concurrency:>5} {row.bridge.rate:>12.1f}"
        ops = row.bridge.ldap.work / row.bridge.count if row.bridge.ldap is not None else float("nan")
        slapd = f"{_per_request(row.bridge, 'slapd'):.2f}"
        raw_ops = "-"
        if row.raw is not None:
            ratio = row.bridge.rate / row.raw.rate
            target = RATIO_TARGETS.get(row.concurrency, 0.0)
            cells += f" {row.raw.rate:>10.1f} {f'{ratio:.2f} ({_verdict(ratio >= target)})':>16}"
            raw_cpu = f"{_per_request(row.raw, 'client'):.2f}"
            slapd += f" / {_per_request(row.raw, 'slapd'):.2f}"
            if row.raw.ldap is not None:
                raw_ops = f"{row.raw.ldap.work / row.raw.count:.2f}"
        else:
            cells += f" {'-':>10} {'-':>16}"
            raw_cpu = "-"
        cells += f" {f'{cpu:.2f} ({_verdict(cpu <= CPU_TARGET_MS)})':>19} {raw_cpu:>16} {slapd:>17}"
        print(cells + f" {f'{ops:.2f} / {raw_ops}':>13}")
    targets = ", ".join(f"{c}: >= {t}" for c, t in RATIO_TARGETS.items())
    print(f"  targets: bridge/raw {targets}; bridge CPU <= {CPU_TARGET_MS} ms a request")
    for row in rows:
        if row.concurrency != 1:
            continue
        for name, (ours, theirs) in row.p50.items():
            raw = f", raw ldap3 {theirs:.2f} ms" if theirs is not None else ""
            each = " ".join(f"{p50:.2f}" for p50 in row.p50_rounds.get(name, ()))
            print(
                f"  p50 at concurrency 1, {name}: bridge {ours:.2f} ms{raw} "
                f"(target <= {P50_TARGET_MS}: {_verdict(ours <= P50_TARGET_MS)}; by round: {each})"
            )


def count_log_lines(log: Path) -> Counter[str]:
    """The bridge's log lines by logger (``bridge.access``, ``bridge.audit``, ...)."""
    counts: Counter[str] = Counter()
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                counts[str(json.loads(line).get("logger"))] += 1
            except (ValueError, AttributeError):
                counts["(not JSON)"] += 1
    return counts


def compare(
    bridge: ServedBridge,
    raw_info: Any,
    monitor: Monitor,
    watch: dict[str, int],
    *,
    concurrencies: Sequence[int],
    users: int,
    rounds: int,
    per_group: int,
    per_patch: int,
    raw: bool,
) -> tuple[list[Budget], int]:
    """At each concurrency: a warm-up of both loads, then ``rounds`` rounds that alternate which goes first;
    the tables, the ratios, and at the end the issue's targets. Returns each concurrency's whole mix and
    the number of HTTP requests sent, warm-ups included."""
    summary: list[str] = []
    budget: list[Budget] = []
    errors = 0
    sent = 0

    def work(tag: str, count: int) -> Plan:
        return plan(tag, count, per_group=per_group, per_patch=per_patch)

    for concurrency in concurrencies:
        scim = BridgeLoad(bridge, concurrency, monitor)
        direct = RawLoad(raw_info, concurrency, monitor) if raw else None
        scim.run(work(f"w{concurrency}b", max(20, 2 * concurrency)))  # opens the pool's connections
        if direct is not None:
            direct.run(work(f"w{concurrency}r", max(20, 2 * concurrency)))
        ours: dict[str, Phase] = {}
        theirs: dict[str, Phase] = {}
        ratios: list[float] = []
        p50_rounds: dict[str, list[float]] = {LOOKUP: [], UPDATE: []}
        raw_watch = {k: v for k, v in watch.items() if k != "bridge"}
        for round_ in range(rounds):
            # Phase by phase, each load's phase next to the other's, who goes first alternating: whatever
            # else the machine does meanwhile hits both alike.
            loads = {"bridge": scim.phases(work(f"c{concurrency}r{round_}b", users), watch=watch)}
            if direct is not None:
                loads["raw"] = direct.phases(work(f"c{concurrency}r{round_}r", users), watch=raw_watch)
            got: dict[str, list[Phase]] = {who: [] for who in loads}
            for step in range(len(PHASES)):
                order = list(loads) if (round_ + step) % 2 == 0 else list(reversed(loads))
                for who in order:
                    got[who].append(next(loads[who]))
            merge(ours, got["bridge"])
            for phase in got["bridge"]:
                if phase.name in p50_rounds:
                    p50_rounds[phase.name].append(percentile(phase.latencies_ms, 0.5))
            if "raw" in got:
                merge(theirs, got["raw"])
                ratios.append(mix_rate(got["bridge"]) / mix_rate(got["raw"]))
        sent += scim.close()
        if direct is not None:
            direct.close()
        title = f"concurrency {concurrency}: {rounds} rounds of {users} users"
        server = f"{bridge.threads} threads, pool of {bridge.pool_size}"
        print_phases(f"{title}, through the bridge ({server})", list(ours.values()))
        total = total_phase(list(ours.values()))
        errors += total.errors
        assert total.ldap is not None
        line = f"concurrency {concurrency:>2}: bridge {total.rate:6.1f} ops/s"
        raw_total = None
        if theirs:
            print_phases(f"{title}, raw ldap3 ({concurrency} connections)", list(theirs.values()))
            raw_total = total_phase(list(theirs.values()))
            errors += raw_total.errors
            ratio = total.rate / raw_total.rate
            target = RATIO_TARGETS.get(concurrency)
            verdict = "" if target is None else f" (target >= {target}: {_verdict(ratio >= target)})"
            each = ", ".join(f"{r:.2f}" for r in ratios)
            middle = statistics.median(ratios)
            line += f", raw {raw_total.rate:6.1f} ops/s, bridge / raw {ratio:.2f}{verdict}"
            line += f"\n    per round {each} (median {middle:.2f})"
            print(
                "\n  bridge / raw ops/s: "
                + ", ".join(f"{n} {ours[n].rate / theirs[n].rate:.2f}" for n in ours)
            )
            print(f"  whole mix, bridge / raw: {ratio:.2f} (per round: {each})")
        ops = total.ldap.work / total.count
        line += (
            f"\n    LDAP operations per SCIM request over the mix {ops:.2f} "
            f"(target <= {OPS_TARGET}: {_verdict(ops <= OPS_TARGET)}); "
            f"binds {total.ldap.binds} in {total.count} requests once warm "
            f"(target 0: {_verdict(total.ldap.binds == 0)})"
        )
        summary.append(line)
        p50 = {
            name: (
                percentile(ours[name].latencies_ms, 0.5),
                percentile(theirs[name].latencies_ms, 0.5) if name in theirs else None,
            )
            for name in (LOOKUP, UPDATE)
        }
        budget.append(Budget(concurrency, total, raw_total, p50, p50_rounds))
    print("\nsummary (ops/s of the whole mix: its requests over the sum of its phases' times)")
    for line in summary:
        print("  " + line)
    print(f"  errors: {errors} (target 0: {_verdict(errors == 0)})")
    return budget, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=300, help="users per round (default 300)")
    parser.add_argument("--concurrency", default="1,4,16", help="comma-separated (default 1,4,16)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per concurrency, alternating order (4)")
    parser.add_argument("--threads", type=int, default=8, help="server.threads (default 8)")
    parser.add_argument("--pool-size", type=int, default=8, help="ldap.pool_size (default 8)")
    parser.add_argument("--per-group", type=int, default=20, help="users per group (default 20)")
    parser.add_argument("--per-patch", type=int, default=1, help="members added per PATCH (default 1)")
    parser.add_argument(
        "--uniqueness",
        choices=("bridge", "directory"),
        default="bridge",
        help="ldap.uniqueness; directory also loads slapd's unique overlay (default bridge)",
    )
    parser.add_argument("--processes", type=int, default=1, help="server.processes (default 1)")
    parser.add_argument("--no-raw", action="store_true", help="only the bridge")
    parser.add_argument("--bridge-src", type=Path, help="serve the bridge from this checkout instead")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the server per request type")
    parser.add_argument("--profile-concurrency", type=int, default=4)
    parser.add_argument("--profile-rate", type=int, default=200, help="py-spy samples a second (200)")
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    print(machine(args.bridge_src), flush=True)
    configuration = (
        f"server.processes {args.processes}, server.threads {args.threads}, ldap.pool_size {args.pool_size}, "
        f"ldap.uniqueness {args.uniqueness}, access and audit lines on (to a file), /metrics on"
    )
    print(configuration, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-entra-") as workdir:
        unique = args.uniqueness == "directory"
        server = Slapd(
            Path(workdir) / "slapd", extra_schema=[default_schema_path()], monitor=True, unique=unique
        )
        info = server.start()
        try:
            with serve_bridge(
                info,
                Path(workdir),
                threads=args.threads,
                pool_size=args.pool_size,
                source=args.bridge_src,
                uniqueness=args.uniqueness,
                processes=args.processes,
            ) as bridge:
                if args.profile is not None:
                    profile(bridge, args.users, args.profile_concurrency, args.profile, args.profile_rate)
                    return
                monitor = Monitor(info)
                watch = {"client": os.getpid(), "bridge": bridge.pid, "slapd": slapd_pid(info)}
                budget, sent = compare(
                    bridge,
                    info,
                    monitor,
                    watch,
                    concurrencies=concurrencies,
                    users=args.users,
                    rounds=args.rounds,
                    per_group=args.per_group,
                    per_patch=args.per_patch,
                    raw=not args.no_raw,
                )
                monitor.close()
                print_budget(budget, configuration)
                logged = count_log_lines(bridge.log)
                print(
                    f"  log: {logged['bridge.access']} access lines for {sent} requests sent, "
                    f"{logged['bridge.audit']} audit lines, {logged['bridge.audit.events']} event lines"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
