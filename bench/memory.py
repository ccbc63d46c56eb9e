"""The bridge's resident memory after 1,000 requests and after 100,000 (issue #9): it should not grow.

    python -m bench.memory [--requests 100000] [--users 2000] [--concurrency 4]

It starts a throwaway slapd and the real server (``python -m bridge serve``, as ``bench.entra_load`` does),
creates ``--users`` users through SCIM (more than the 1,024 entries each instance remembers, so that cache
is full and turning over), then sends Entra's incremental cycle over them, round and round, with
``--concurrency`` keep-alive connections: a ``userName eq`` lookup that finds the user, a GET by id, and a
PATCH of the title (a new value each time, so every PATCH writes). It prints the bridge's VmRSS (from
/proc) at checkpoints, and the ratio of the last to the one after 1,000 requests (target at most 1.10).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from bench.common import ServedBridge, serve_bridge
from bench.entra_load import HttpWorker, _json, patch_body
from bridge.testing.slapd import Slapd, default_schema_path

CHECKPOINTS = (1_000, 10_000, 50_000, 100_000)
TARGET = 1.10


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for process {pid}")


class Driver:
    """Requests numbered from 1 on ``concurrency`` threads; ``run_to(n)`` returns once request n is done."""

    def __init__(
        self, bridge: ServedBridge, ids: list[tuple[str, str]], concurrency: int, start: int
    ) -> None:
        self._bridge, self._ids, self._concurrency = bridge, ids, concurrency
        self._next, self._lock = start, threading.Lock()
        self.errors = 0

    def _take(self, stop: int) -> int | None:
        with self._lock:
            if self._next > stop:
                return None
            self._next += 1
            return self._next - 1

    def _work(self, stop: int) -> None:
        worker = HttpWorker(self._bridge)
        base = self._bridge.base_path
        try:
            while (n := self._take(stop)) is not None:
                name, user_id = self._ids[(n // 3) % len(self._ids)]
                try:
                    if n % 3 == 0:
                        flt = quote(f'userName eq "{name}"')
                        worker.send("GET", f"{base}/Users?filter={flt}", None, 200)
                    elif n % 3 == 1:
                        worker.send("GET", f"{base}/Users/{user_id}", None, 200)
                    else:
                        body = patch_body(("Replace", "title", f"Title {n}"))
                        worker.send("PATCH", f"{base}/Users/{user_id}", body, 200)
                except Exception:  # counted and printed; the run goes on
                    with self._lock:
                        self.errors += 1
        finally:
            worker.close()

    def run_to(self, stop: int) -> None:
        threads = [threading.Thread(target=self._work, args=(stop,)) for _ in range(self._concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def create_users(
    bridge: ServedBridge, count: int, at: int, seen: Callable[[int], None]
) -> list[tuple[str, str]]:
    """``count`` users, one POST each; ``seen(at)`` is called once ``at`` requests have been answered."""
    worker = HttpWorker(bridge)
    ids = []
    for n in range(count):
        if n == at:
            seen(at)
        name = f"mem{n:06d}@contoso.com"
        body = _json({"userName": name, "displayName": f"Mem {n}", "title": "Start"})
        data = worker.send("POST", f"{bridge.base_path}/Users", body, 201)
        ids.append((name, json.loads(data)["id"]))
    worker.close()
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=CHECKPOINTS[-1])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    checkpoints = [c for c in CHECKPOINTS if c < args.requests] + [args.requests]
    if not checkpoints[0] < args.users < args.requests:
        raise SystemExit(f"--users must be more than {checkpoints[0]} and fewer than --requests")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir:
        server = Slapd(Path(workdir) / "slapd", extra_schema=[default_schema_path()])
        info = server.start()
        try:
            with serve_bridge(info, Path(workdir)) as bridge:
                started = time.perf_counter()
                figures: list[tuple[int, float]] = []

                def record(requests: int) -> None:
                    figures.append((requests, rss_mib(bridge.pid)))
                    rate = requests / (time.perf_counter() - started)
                    print(
                        f"  after {requests:>7,} requests: {figures[-1][1]:7.1f} MiB ({rate:.0f} requests/s)"
                    )

                print(f"{args.users} users created, one POST each, then a lookup, a GET and a PATCH in turn")
                print(f"over them, {args.concurrency} connections; the bridge's VmRSS:", flush=True)
                ids = create_users(bridge, args.users, checkpoints[0], record)
                driver = Driver(bridge, ids, args.concurrency, start=len(ids) + 1)
                for checkpoint in checkpoints[1:]:
                    driver.run_to(checkpoint)
                    record(checkpoint)
                ratio = figures[-1][1] / figures[0][1]
                verdict = "met" if ratio <= TARGET else "NOT met"
                print(f"  after {figures[-1][0]:,} / after {figures[0][0]:,} requests: {ratio:.3f}", end=" ")
                print(f"(target at most {TARGET}: {verdict}); errors: {driver.errors}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
