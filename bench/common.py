"""What the benchmarks share: a throwaway slapd loaded offline with users, and the bridge wired to it.

Every benchmark drives the bridge in-process through falcon.testing against a real slapd on loopback
(the test launcher, :mod:`bridge.testing.slapd`), with users added by slapadd while slapd is stopped:
creating 100,000 users over SCIM is not what any of them measures. The Entra-like load
(:mod:`bench.entra_load`) is the exception: it drives the real server, ``scim-ldap-bridge serve`` in a
subprocess (:func:`serve_bridge`), over HTTP, and counts slapd's own operations (:class:`Monitor`).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import falcon.testing
import ldap3
import yaml

from bridge.app import create_app, create_services
from bridge.config import AuthConfig, LdapConfig, Secret, Settings
from bridge.directory.ldap.adapter import LdapDirectory
from bridge.directory.ldap.connection import ConnectionPool
from bridge.mapping.load import parse_maps
from bridge.testing import stop_child, wait_until_serving
from bridge.testing.slapd import Slapd, SlapdInfo, find_free_port

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"  # a throwaway server on loopback


def user_name(n: int) -> str:
    """The uid (and SCIM userName) of the ``n``-th loaded user: ``u000042``."""
    return f"u{n:06d}"


def load_users(server: Slapd, info: SlapdInfo, stop: int, start: int = 0) -> None:
    """Add users ``start`` to ``stop - 1`` with slapadd while slapd is stopped (it generates entryUUID
    and the rest); users already there stay, so a directory can be grown in steps."""
    ldif = Path(info.workdir) / "users.ldif"
    with ldif.open("w") as out:
        for n in range(start, stop):
            out.write(
                f"dn: uid={user_name(n)},{info.user_base}\nobjectClass: inetOrgPerson\n"
                f"uid: {user_name(n)}\ncn: User {n}\nsn: {n}\n\n"
            )
    server.stop()
    subprocess.run(
        ["slapadd", "-q", "-F", f"{info.workdir}/slapd.d", "-b", info.suffix, "-l", str(ldif)], check=True
    )
    ldif.unlink()
    server.restart()


def user_ids(info: SlapdInfo) -> list[str]:
    """The entryUUID of every user, sorted, read straight from slapd with ldap3."""
    conn = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
    entries = conn.extend.standard.paged_search(
        info.user_base,
        "(objectClass=inetOrgPerson)",
        attributes=["entryUUID"],
        paged_size=1000,
        generator=True,
    )
    ids = sorted(str(e["attributes"]["entryUUID"]) for e in entries if e.get("type") == "searchResEntry")
    conn.unbind()
    return ids


def client_for(
    info: SlapdInfo, group: dict[str, Any] | None = None
) -> tuple[falcon.testing.TestClient, ConnectionPool]:
    """The bridge (the OpenLDAP map, no TLS) as a falcon.testing client that sends the bearer token;
    ``group`` replaces keys of the map's group section (another group shape)."""
    settings = Settings(
        auth=AuthConfig(("sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest(),)),
        ldap=LdapConfig(
            urls=(info.url,),
            bind_dn=info.bind_dn,
            user_base=info.user_base,
            group_base=info.group_base,
            tls="none",
        ),
        map=str(REPO / "config" / "maps" / "openldap.yaml"),
    )
    pool = ConnectionPool(settings.ldap, Secret(info.password))
    data = yaml.safe_load(Path(settings.map).read_text())
    data["group"].update(group or {})
    app = create_app(create_services(settings, LdapDirectory(pool), parse_maps(data, settings.map)))
    return falcon.testing.TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}), pool


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``samples`` (0.5 is the median), interpolated between neighbours."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=1000, method="inclusive")[round(fraction * 1000) - 1]


# --- the bridge as a server, slapd's own counters, and concurrent phases (entra_load, raw_ldap) ---------

HOST = "127.0.0.1"
# The operations slapd's monitor backend counts under cn=Operations,cn=Monitor that do directory work;
# Bind, Unbind and Abandon are counted apart.
WORK_OPERATIONS = ("Search", "Add", "Modify", "Modrdn", "Delete", "Compare", "Extended")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class LoadError(Exception):
    """One request or LDAP operation of a load did not get the answer it expects."""


@dataclass(frozen=True, slots=True)
class ServedBridge:
    """A ``scim-ldap-bridge serve`` subprocess on loopback."""

    port: int
    base_path: str
    pid: int
    log: Path
    threads: int
    pool_size: int


@contextmanager
def serve_bridge(
    info: SlapdInfo,
    workdir: Path,
    *,
    threads: int = 8,
    pool_size: int = 8,
    source: Path | None = None,
    uniqueness: str = "bridge",
    processes: int = 1,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[ServedBridge]:
    """``python -m bridge serve`` against ``info`` (the OpenLDAP map, no TLS on loopback), as the e2e tests
    start it, with the production logging (access and audit lines, to a file here). ``source`` is another
    checkout of the bridge to serve (``git archive HEAD bridge config | tar -x -C DIR``), for a before and
    after; the benchmark's own checkout by default. The circuit breaker stays on, as by default, with a
    limit no run reaches, so a disable costs what it costs in production. ``overrides`` sets more keys,
    by section (``{"ldap": {"operation_timeout": 2}}``)."""
    source = (source or REPO).resolve()
    port = find_free_port()
    (workdir / "bind-password").write_text(info.password + "\n")
    config: dict[str, Any] = {
        "server": {"host": HOST, "port": port, "threads": threads, "processes": processes},
        "auth": {"token_hashes": ["sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest()]},
        "ldap": {
            "urls": [info.url],
            "tls": "none",
            "bind_dn": info.bind_dn,
            "bind_password_file": "bind-password",
            "user_base": info.user_base,
            "group_base": info.group_base,
            "pool_size": pool_size,
            **({"uniqueness": uniqueness} if uniqueness != "bridge" else {}),
        },
        "map": str(source / "config" / "maps" / "openldap.yaml"),
        "safety": {"deprovision_limit": 1_000_000_000},
    }
    for section, keys in (overrides or {}).items():
        config[section] = {**config.get(section, {}), **keys}
    (workdir / "bridge.yaml").write_text(json.dumps(config, indent=2))  # JSON is YAML
    log = workdir / "bridge.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--config", str(workdir / "bridge.yaml")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=source,  # ``-m`` puts the working directory first on sys.path
            env={**os.environ, "PYTHONPATH": str(source)},
        )
    try:
        wait_until_serving(port, process, log, processes=processes)
        yield ServedBridge(port, "/scim/v2", process.pid, log, threads, pool_size)
    finally:
        stop_child(process, 10)


@dataclass(frozen=True, slots=True)
class LdapCounts:
    """Operations slapd completed (per type, from cn=Operations,cn=Monitor), binds, and connections
    accepted (cn=Total,cn=Connections,cn=Monitor)."""

    operations: dict[str, int]
    binds: int
    connections: int

    @property
    def work(self) -> int:
        """The directory operations (searches, adds, modifies, ...): everything but binds and unbinds."""
        return sum(self.operations.get(name, 0) for name in WORK_OPERATIONS)

    def __sub__(self, other: LdapCounts) -> LdapCounts:
        names = self.operations.keys() | other.operations.keys()
        ops = {name: self.operations.get(name, 0) - other.operations.get(name, 0) for name in names}
        return LdapCounts(ops, self.binds - other.binds, self.connections - other.connections)

    def __add__(self, other: LdapCounts) -> LdapCounts:
        names = self.operations.keys() | other.operations.keys()
        ops = {name: self.operations.get(name, 0) + other.operations.get(name, 0) for name in names}
        return LdapCounts(ops, self.binds + other.binds, self.connections + other.connections)


NO_COUNTS = LdapCounts({}, 0, 0)


class Monitor:
    """Reads slapd's counters (the launcher's ``monitor=True``) over one connection bound once.

    slapd counts an operation as completed a moment after it sent the answer, so a read waits until
    every operation initiated is completed but its own search; that search is counted by the next read,
    and taken off there, so what :meth:`since` returns is the work of others alone."""

    _OWN = LdapCounts({"Search": 1}, 0, 0)

    def __init__(self, info: SlapdInfo) -> None:
        server = ldap3.Server(info.url, get_info=ldap3.NONE)
        self._conn = ldap3.Connection(server, info.bind_dn, info.password, auto_bind=True)

    def _counters(self) -> tuple[dict[str, int], dict[str, int], int]:
        self._conn.search(
            "cn=Monitor",
            "(|(objectClass=monitorOperation)(objectClass=monitorCounterObject))",
            ldap3.SUBTREE,
            attributes=["monitorOpInitiated", "monitorOpCompleted", "monitorCounter"],
        )
        initiated: dict[str, int] = {}
        completed: dict[str, int] = {}
        connections = None
        for item in self._conn.response or ():
            if item.get("type") != "searchResEntry":
                continue
            dn, attributes = str(item["dn"]).lower(), item["attributes"]
            if dn.endswith(",cn=operations,cn=monitor") and attributes.get("monitorOpCompleted"):
                name = dn.split(",", 1)[0].removeprefix("cn=").capitalize()
                initiated[name] = int(attributes["monitorOpInitiated"][0])
                completed[name] = int(attributes["monitorOpCompleted"][0])
            elif dn == "cn=total,cn=connections,cn=monitor":
                connections = int(attributes["monitorCounter"][0])
        if "Search" not in completed or connections is None:
            raise SystemExit("slapd shows no operation counters: start it with Slapd(..., monitor=True)")
        return initiated, completed, connections

    def read(self) -> LdapCounts:
        """The counters once slapd has counted every operation answered so far (at most 2 s of waiting)."""
        deadline = time.monotonic() + 2.0
        while True:
            initiated, completed, connections = self._counters()
            # Unbinds get no answer, and binds on other connections may be in flight: not waited for.
            pending = {
                name: initiated[name] - completed[name] for name in WORK_OPERATIONS if name in initiated
            }
            settled = pending.pop("Search", 0) <= 1 and not any(pending.values())
            if settled or time.monotonic() > deadline:
                return LdapCounts(completed, completed.get("Bind", 0), connections)
            time.sleep(0.005)

    def since(self, before: LdapCounts) -> LdapCounts:
        """What slapd did since ``before`` was read, the reads themselves left out."""
        return self.read() - before - self._OWN

    def close(self) -> None:
        self._conn.unbind()


def process_tree(pid: int, *, children: bool = True) -> Iterator[tuple[Path, list[str]]]:
    """``/proc/PID`` of process ``pid`` and, with ``children``, of its live child processes (the workers
    of ``server.processes``), each with the fields of its ``stat`` after the command name."""
    stats = Path("/proc").glob("[0-9]*/stat") if children else [Path(f"/proc/{pid}/stat")]
    for stat in stats:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            yield stat.parent, fields


def cpu_split(pid: int, *, children: bool = False) -> tuple[float, float]:
    """The user and the system CPU seconds process ``pid`` has used, all its threads together; with
    ``children``, its live child processes' too (the workers of ``server.processes``)."""
    user = system = 0.0
    for _, fields in process_tree(pid, children=children):
        user += int(fields[11]) / _CLOCK_TICKS
        system += int(fields[12]) / _CLOCK_TICKS
    return user, system


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """The CPU seconds process ``pid`` (and with ``children`` its child processes) has used."""
    return sum(cpu_split(pid, children=children))


@dataclass(slots=True)
class Phase:
    """One kind of request sent ``count`` times by concurrent workers: its latencies, errors, the LDAP
    operations slapd did meanwhile and the CPU seconds of the processes watched."""

    name: str
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ldap: LdapCounts | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    first_error: str | None = None

    def merge(self, other: Phase) -> None:
        """Add ``other`` (the same kind, another round) to this one."""
        self.count += other.count
        self.errors += other.errors
        self.seconds += other.seconds
        self.latencies_ms.extend(other.latencies_ms)
        if other.ldap is not None:
            self.ldap = other.ldap if self.ldap is None else self.ldap + other.ldap
        for name, spent in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + spent
        self.first_error = self.first_error or other.first_error

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


W = TypeVar("W")
I = TypeVar("I")  # noqa: E741 - an item of a phase


def run_phase(
    name: str,
    items: Sequence[I],
    workers: Sequence[W],
    call: Callable[[W, I], None],
    *,
    monitor: Monitor | None = None,
    watch: Mapping[str, int] | None = None,
) -> Phase:
    """Send ``call(worker, item)`` for every item, one thread per worker taking the next item as it goes,
    and time each; a :class:`LoadError` (or a broken connection) counts as an error. With ``monitor``,
    the LDAP operations slapd completed meanwhile; with ``watch`` (label: pid), their CPU seconds."""
    phase = Phase(name)
    lock = threading.Lock()
    following = iter(range(len(items)))
    watched = dict(watch or {})

    def work(worker: W) -> None:
        latencies: list[float] = []
        errors, first = 0, None
        while True:
            with lock:
                index = next(following, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                call(worker, items[index])
            except (LoadError, OSError, ldap3.core.exceptions.LDAPException) as exc:
                errors += 1
                first = first or f"{type(exc).__name__}: {exc}"
            latencies.append((time.perf_counter() - started) * 1000)
        with lock:
            phase.latencies_ms.extend(latencies)
            phase.errors += errors
            phase.first_error = phase.first_error or first

    threads = [
        threading.Thread(target=work, args=(worker,), name=f"load-{n}") for n, worker in enumerate(workers)
    ]
    before = monitor.read() if monitor is not None else None
    # The bridge's workers (server.processes) count as the bridge; the load client's children do not.
    cpu_before = {label: cpu_seconds(pid, children=label == "bridge") for label, pid in watched.items()}
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - started
    phase.cpu = {
        label: cpu_seconds(pid, children=label == "bridge") - cpu_before[label]
        for label, pid in watched.items()
    }
    if monitor is not None and before is not None:
        phase.ldap = monitor.since(before)
    phase.count = len(items)
    return phase


def describe_ldap(counts: LdapCounts, requests: int) -> str:
    """``2.00 (1 search, 1 add)``: operations per request, and the mix by type."""
    parts = [
        f"{counts.operations.get(name, 0) / requests:.2g} {name.lower()}"
        for name in WORK_OPERATIONS
        if counts.operations.get(name, 0)
    ]
    return f"{counts.work / requests:.2f}" + (f" ({', '.join(parts)})" if parts else "")


def print_phases(title: str, phases: Sequence[Phase]) -> None:
    """A table of ``phases``: count, errors, ops/s, latency percentiles, LDAP operations and binds per
    request, and CPU ms per request of each watched process."""
    labels = sorted({label for phase in phases for label in phase.cpu})
    print(f"\n{title}")
    head = f"  {'operation':<22}{'count':>7}{'errors':>7}{'ops/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    head += "".join(f"{'cpu ' + label:>12}" for label in labels)
    head += "  LDAP ops/request; binds/request; connections opened"
    print(head)
    for phase in [*phases, total_phase(phases)]:
        lat = phase.latencies_ms
        cells = f"  {phase.name:<22}{phase.count:>7}{phase.errors:>7}{phase.rate:>9.1f}"
        if phase.name == "whole mix":
            cells += f"{'':>27}"
        else:
            cells += "".join(f"{percentile(lat, q):>9.2f}" for q in (0.5, 0.95, 0.99))
        cells += "".join(f"{1000 * phase.cpu.get(label, 0.0) / phase.count:>12.2f}" for label in labels)
        if phase.ldap is not None:
            cells += f"  {describe_ldap(phase.ldap, phase.count)}; {phase.ldap.binds / phase.count:.3f}"
            cells += f"; {phase.ldap.connections}"
        print(cells)
        if phase.first_error:
            print(f"    first error: {phase.first_error[:300]}")
    if labels:
        print("  (cpu columns: CPU milliseconds per request of each process)")


def total_phase(phases: Sequence[Phase]) -> Phase:
    """The whole mix as one line: every request, the sum of the phases' times and counters."""
    total = Phase("whole mix")
    for phase in phases:
        total.merge(
            Phase(phase.name, phase.count, phase.errors, phase.seconds, [], phase.ldap, dict(phase.cpu))
        )
    return total


# --- the Entra-like work, as data both loads send (bench.entra_load over SCIM, bench.raw_ldap with ldap3) --

LOOKUP, CREATE, UPDATE, READ, GROUP, MEMBERS, DISABLE = (
    "GET filter (miss)",
    "POST /Users",
    "PATCH /Users",
    "GET /Users/{id}",
    "POST /Groups",
    "PATCH members add",
    "PATCH active=false",
)
PHASES = (LOOKUP, CREATE, UPDATE, READ, GROUP, MEMBERS, DISABLE)


@dataclass(frozen=True, slots=True)
class Person:
    """One user of a load, with the values Entra sends at create and at the first update."""

    user_name: str
    external_id: str
    given: str
    family: str
    title: str
    department: str
    employee_number: str
    new_title: str
    new_department: str

    @property
    def display(self) -> str:
        return f"{self.given} {self.family}"


@dataclass(frozen=True, slots=True)
class Plan:
    """The users and groups of one round, and which users each member PATCH adds to which group."""

    people: tuple[Person, ...]
    groups: tuple[str, ...]
    member_adds: tuple[tuple[int, tuple[int, ...]], ...]  # (group index, user indexes)


def plan(tag: str, users: int, *, per_group: int = 20, per_patch: int = 1) -> Plan:
    """``users`` users named ``<tag>-00042@contoso.com``, one group per ``per_group`` users (at least one),
    and member adds of ``per_patch`` users each, every user joining one group."""
    people = tuple(
        Person(
            user_name=f"{tag}-{n:05d}@contoso.com",
            external_id=f"{tag}-{n:05d}",
            given=f"Given{n}",
            family=f"Family-{tag}-{n}",
            title="Engineer",
            department="R&D",
            employee_number=str(100_000 + n),
            new_title="Senior Engineer",
            new_department="Research",
        )
        for n in range(users)
    )
    count = max(1, users // per_group)
    groups = tuple(f"{tag} group {g:03d}" for g in range(count))
    by_group: dict[int, list[int]] = {}
    for n in range(users):
        by_group.setdefault(n % count, []).append(n)
    # Round robin over the groups, so that concurrent adds seldom queue for the same entry in slapd.
    chunks = [
        (i, group, tuple(members[i : i + per_patch]))
        for group, members in by_group.items()
        for i in range(0, len(members), per_patch)
    ]
    adds = tuple((group, chunk) for _, group, chunk in sorted(chunks))
    return Plan(people, groups, adds)
