"""The HTTP side alone: the server's CPU per request with the directory taken out (issue #22).

```sh
python -m bench.http_side [--requests 4000] [--concurrency 4] [--request get|filter|patch] [--runs 4]
                          [--fresh]
python -m bench.http_side --bridge-src DIR [--bridge-src DIR2 ...]   # a before and after, interleaved
```

It serves the bridge as ``serve`` does for one process (the server of ``create_server``, the
``ReloadableApp`` and ``Service`` loop, the app's middleware, JSON access lines to a file, ``/metrics``) in a
subprocess on loopback, over the in-memory directory instead of LDAP, so that what is left is the HTTP server,
Falcon, the middleware, logging, metrics, JSON and the mapping. It creates one user, warms up, then sends
``--requests`` requests of one kind over ``--concurrency`` keep-alive connections (``http.client``, one
thread each; with ``--fresh`` a new connection for every request, as nginx opens them without upstream
``keepalive``), and reads the server's CPU (user and system, from ``/proc``) before and after. Each source
(``--bridge-src``: another checkout's ``bridge`` and ``config``; this one by default) is served ``--runs``
times, the order alternating, and the median printed, as the spread of a shared machine is large.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import inspect
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"  # a throwaway server on loopback
SUFFIX = "dc=example,dc=org"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "ann@example.org",
    "name": {"givenName": "Ann", "familyName": "Lee"},
}
TITLE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "title", "value": "Engineer"}],
}


def serve(port: int, log: str) -> None:
    """The server side: runs in the subprocess, with ``bridge`` imported from the source measured."""
    from bridge.app import create_app, create_services  # noqa: PLC0415 - the source's, not the benchmark's
    from bridge.config import AuthConfig, LdapConfig, Settings  # noqa: PLC0415
    from bridge.directory.memory import InMemoryDirectory  # noqa: PLC0415
    from bridge.http.connections import create_server  # noqa: PLC0415
    from bridge.logs import setup_logging  # noqa: PLC0415
    from bridge.mapping.load import load_maps  # noqa: PLC0415
    from bridge.ops.systemd import ReloadableApp, Service  # noqa: PLC0415

    settings = Settings(
        auth=AuthConfig(("sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest(),)),
        ldap=LdapConfig(
            urls=("ldap://127.0.0.1:1",),  # never dialled: the directory is in memory
            bind_dn=f"cn=admin,{SUFFIX}",
            user_base=f"ou=people,{SUFFIX}",
            group_base=f"ou=groups,{SUFFIX}",
        ),
        map=str(Path.cwd() / "config" / "maps" / "openldap.yaml"),
    )
    setup_logging(settings.logging, open(log, "w"))  # noqa: SIM115 - the server's stderr, open until exit
    bases = [SUFFIX, f"ou=people,{SUFFIX}", f"ou=disabled,{SUFFIX}", f"ou=groups,{SUFFIX}"]
    services = create_services(settings, InMemoryDirectory(bases), load_maps(settings.map_path))
    app = ReloadableApp(create_app(services), lambda: None)
    if "socket_map" in inspect.signature(create_server).parameters:  # a source from before the own server
        sockets: dict[int, object] = {}
        service = Service(create_server(app, sockets, settings.server, host="127.0.0.1", port=port), sockets)
    else:
        service = Service(create_server(app, settings.server, host="127.0.0.1", port=port))
    signal.signal(signal.SIGTERM, service.request_stop)
    print("serving", flush=True)
    service.run()


def _cpu(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def measure(
    source: Path, kind: str, requests: int, concurrency: int, log: Path, *, fresh: bool = False
) -> tuple[float, float, float]:
    """One run: the server's CPU microseconds per request (all, and system) and the requests a second."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.http_side", "--serve", str(port), str(log)],
        cwd=source,  # first on sys.path: the source's bridge; the benchmark from this checkout
        env={**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{REPO}"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "serving"
        first = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        first.request("POST", "/scim/v2/Users", json.dumps(USER), HEADERS)
        user_id = json.loads(first.getresponse().read())["id"]
        method, path, body = {
            "get": ("GET", f"/scim/v2/Users/{user_id}", None),
            "filter": ("GET", "/scim/v2/Users?filter=userName%20eq%20%22nobody%40example.org%22", None),
            "patch": ("PATCH", f"/scim/v2/Users/{user_id}", json.dumps(TITLE)),
        }[kind]
        failures: list[int] = []

        def send(count: int, conn: http.client.HTTPConnection) -> None:
            for _ in range(count):
                if fresh:
                    conn.close()  # the next request opens a connection of its own
                conn.request(method, path, body, HEADERS)
                answer = conn.getresponse()
                answer.read()
                if answer.status >= 300:
                    failures.append(answer.status)

        send(200, first)  # warm-up
        before, started = _cpu(server.pid), time.perf_counter()
        workers = [
            threading.Thread(
                target=send, args=(requests // concurrency, http.client.HTTPConnection("127.0.0.1", port))
            )
            for _ in range(concurrency)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seconds, after = time.perf_counter() - started, _cpu(server.pid)
        if failures:
            raise SystemExit(f"{len(failures)} requests failed: {sorted(set(failures))}")
        sent = requests // concurrency * concurrency
        user, system = after[0] - before[0], after[1] - before[1]
        return 1e6 * (user + system) / sent, 1e6 * system / sent, sent / seconds
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="requests a run (4000)")
    parser.add_argument("--concurrency", type=int, default=4, help="keep-alive connections (4)")
    parser.add_argument("--request", choices=("get", "filter", "patch"), default="get")
    parser.add_argument("--runs", type=int, default=4, help="runs of each source, alternating (4)")
    parser.add_argument("--bridge-src", type=Path, action="append", help="a checkout to serve (repeatable)")
    parser.add_argument(
        "--fresh", action="store_true", help="a connection per request, as nginx without upstream keepalive"
    )
    args = parser.parse_args()
    sources = [path.resolve() for path in args.bridge_src or [REPO]]
    results: dict[Path, list[tuple[float, float, float]]] = {source: [] for source in sources}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as workdir:
        for run in range(args.runs):
            for source in sources if run % 2 == 0 else sources[::-1]:
                log = Path(workdir) / "bridge.log"
                results[source].append(
                    measure(source, args.request, args.requests, args.concurrency, log, fresh=args.fresh)
                )
    connections = "a connection per request" if args.fresh else "keep-alive connections"
    print(
        f"{args.request} requests, {args.requests} a run, concurrency {args.concurrency}, {connections}, "
        f"{args.runs} runs "
        f"(load {os.getloadavg()[0]:.1f} at the end)"
    )
    for source, runs in results.items():
        cpu = statistics.median(run[0] for run in runs)
        system = statistics.median(run[1] for run in runs)
        rate = statistics.median(run[2] for run in runs)
        every = " ".join(f"{run[0]:.0f}" for run in sorted(runs))
        print(f"  {source}: CPU {cpu:.0f} us a request ({system:.0f} system), {rate:.0f} requests/s")
        print(f"    each run, CPU us a request: {every}")


if __name__ == "__main__":
    main()
