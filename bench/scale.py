"""Two bridge instances behind HAProxy over two replicating slapd providers, beside one bridge over one slapd:
the Entra-like load's throughput and LDAP operations per request in each topology.

```sh
python -m bench.scale [--users 200] [--concurrency 8] [--rounds 2] [--threads 8] [--pool-size 8]
```

Both topologies run side by side on loopback, started the way the benchmarks and the tests start them
(``bench.common.serve_bridge``: the OpenLDAP map, no TLS, the production logging; the test launchers'
slapd with its monitor backend, :class:`~bridge.testing.replicated.ReplicatedPair` for the pair, with
delta-syncrepl, and :class:`~bridge.testing.haproxy.HAProxy`, round robin, one request per connection to
an instance). Each round sends the load of ``bench.entra_load`` (per user: the lookup that misses, the
create, an update, a read, the group creates and member adds, the disable) at ``--concurrency``
keep-alive connections, to the single bridge and through the proxy to the pair, the order alternating
from round to round so that whatever else the machine does hits both alike. It prints, for each: requests,
errors, requests a second over the mix, p50 and p95 latency, and the LDAP operations per request that each
slapd's monitor counted (the pair: both instances write to and read from provider a, the first of
``ldap.urls``; b gets the writes through replication, which its monitor does not count as operations),
and how long the providers took to converge after the last round. Every process runs on this one machine:
the two instances share its cores with the proxy, both providers and the load, so the figure says what
the topology costs per request, not how far more hosts would carry it.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.common import Monitor, Phase, ServedBridge, percentile, plan, serve_bridge, total_phase
from bench.entra_load import BridgeLoad, machine, merge
from bridge.testing.haproxy import HAProxy
from bridge.testing.replicated import ReplicatedPair
from bridge.testing.slapd import Slapd, default_schema_path


@dataclass
class Topology:
    """Where a load goes (one bridge, or the proxy), the monitors of its slapds, and what it did so far."""

    name: str
    entry: ServedBridge
    monitors: dict[str, Monitor]
    phases: dict[str, Phase] = field(default_factory=dict)
    ldap: dict[str, int] = field(default_factory=dict)  # LDAP work operations by slapd, over every round

    def round(self, tag: str, users: int, concurrency: int) -> None:
        load = BridgeLoad(self.entry, concurrency)
        try:
            before = {name: monitor.read() for name, monitor in self.monitors.items()}
            merge(self.phases, load.run(plan(tag, users)))
            for name, monitor in self.monitors.items():
                self.ldap[name] = self.ldap.get(name, 0) + monitor.since(before[name]).work
        finally:
            load.close()


@contextmanager
def single(workdir: Path, threads: int, pool_size: int) -> Iterator[Topology]:
    """One bridge over one slapd."""
    with ExitStack() as stack:
        server = Slapd(workdir / "slapd", extra_schema=[default_schema_path()], monitor=True)
        info = server.start()
        stack.callback(server.stop)
        (workdir / "bridge").mkdir()
        bridge = stack.enter_context(
            serve_bridge(info, workdir / "bridge", threads=threads, pool_size=pool_size)
        )
        monitor = Monitor(info)
        stack.callback(monitor.close)
        yield Topology("1 bridge, 1 slapd", bridge, {"slapd": monitor})


@contextmanager
def pair(workdir: Path, threads: int, pool_size: int) -> Iterator[tuple[Topology, ReplicatedPair]]:
    """Two bridges, both listing provider a then b, behind HAProxy."""
    with ExitStack() as stack:
        providers = ReplicatedPair(workdir / "pair", extra_schema=[default_schema_path()], monitor=True)
        info = stack.enter_context(providers)
        instances = []
        for name in ("bridge-1", "bridge-2"):
            (workdir / name).mkdir()
            served = serve_bridge(
                info.a,
                workdir / name,
                threads=threads,
                pool_size=pool_size,
                overrides={"ldap": {"urls": info.urls}},
            )
            instances.append(stack.enter_context(served))
        proxy = HAProxy(workdir / "haproxy", [f"127.0.0.1:{bridge.port}" for bridge in instances])
        stack.enter_context(proxy)
        monitors = {"provider a": Monitor(info.a), "provider b": Monitor(info.b)}
        for monitor in monitors.values():
            stack.callback(monitor.close)
        entry = replace(instances[0], port=proxy.port)  # the load goes to the proxy
        yield Topology("2 bridges, HAProxy, 2 providers", entry, monitors), providers


def report(topology: Topology) -> str:
    total = total_phase(list(topology.phases.values()))
    per = ", ".join(f"{name} {work / total.count:.2f}" for name, work in topology.ldap.items())
    latencies = [ms for phase in topology.phases.values() for ms in phase.latencies_ms]
    p50, p95 = (percentile(latencies, q) for q in (0.5, 0.95))
    return (
        f"{topology.name:32} {total.count:6d} requests, {total.errors} errors, {total.rate:7.1f} requests/s, "
        f"p50 {p50:6.1f} ms, p95 {p95:6.1f} ms; LDAP operations per request: {per}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=200, help="users per round (default 200)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections of the load (default 8)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per topology, alternating order (2)")
    parser.add_argument("--threads", type=int, default=8, help="server.threads of each bridge (8)")
    parser.add_argument("--pool-size", type=int, default=8, help="ldap.pool_size of each bridge (8)")
    args = parser.parse_args()
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        workdir = Path(tmp)
        (workdir / "single").mkdir()
        (workdir / "pair").mkdir()
        with (
            single(workdir / "single", args.threads, args.pool_size) as one,
            pair(workdir / "pair", args.threads, args.pool_size) as (two, providers),
        ):
            both = [one, two]
            for topology in both:  # warm: every pool's connections open
                topology.round("warm", 2 * args.concurrency, args.concurrency)
                topology.phases.clear()
                topology.ldap.clear()
            for n in range(args.rounds):
                for topology in both if n % 2 == 0 else reversed(both):
                    topology.round(f"round{n}", args.users, args.concurrency)
            converged = providers.wait_converged(60)
            print(f"\n{args.rounds} rounds of {args.users} users at concurrency {args.concurrency}:")
            for topology in both:
                print("  " + report(topology))
            print(f"  the providers converged {converged:.2f} s after the last round")


if __name__ == "__main__":
    main()
