"""The bridge's resident memory after 1,000 requests and after 100,000 (issue #9): it should not grow.

    python -m bench.memory [--requests 100000] [--users 3000] [--concurrency 4] [--processes 1]

It starts a throwaway slapd and the real server (``python -m bridge serve``, as ``bench.entra_load`` does),
creates ``--users`` users through SCIM (more than the 1,024 users one process remembers for writes without a
read, and than the 2,048 entries of the table worker processes share, so either is full and turning over),
then sends Entra's incremental cycle over them, round and round, with ``--concurrency`` keep-alive
connections: a ``userName eq`` lookup that finds the user, a GET by id, and a PATCH of the title (a new
value each time, so every PATCH writes). It prints the bridge's VmRSS and Pss (from /proc) at checkpoints,
and the ratio of the last to the one after 1,000 requests (target at most 1.10): of VmRSS for one process;
with ``--processes N`` (``server.processes``), of the Pss summed over the main process and its workers.
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

from bench.common import ServedBridge, process_tree, serve_bridge
from bench.entra_load import HttpWorker, _json, patch_body
from bridge.testing.slapd import Slapd, default_schema_path

CHECKPOINTS = (1_000, 10_000, 50_000, 100_000)
TARGET = 1.10


def memory_mib(pid: int) -> tuple[float, float]:
    """VmRSS and Pss of ``pid`` and its children (the workers of ``server.processes``), summed, in MiB.

    Pss counts a page shared by n processes as 1/n in each, so the sum over the processes is what they hold
    together: the workers' shared table of remembered entries (``bridge.recent``) once, not once a worker.
    """
    rss = pss = 0
    for proc, _ in process_tree(pid):
        try:
            status = (proc / "status").read_text()
            rollup = (proc / "smaps_rollup").read_text()
        except OSError:
            continue  # gone meanwhile
        rss += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        pss += sum(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    if not rss:
        raise SystemExit(f"no VmRSS for process {pid}")
    return rss / 1024, pss / 1024


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
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1, help="server.processes (default 1)")
    args = parser.parse_args()
    checkpoints = [c for c in CHECKPOINTS if c < args.requests] + [args.requests]
    if not checkpoints[0] < args.users < args.requests:
        raise SystemExit(f"--users must be more than {checkpoints[0]} and fewer than --requests")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir:
        server = Slapd(Path(workdir) / "slapd", extra_schema=[default_schema_path()])
        info = server.start()
        try:
            with serve_bridge(info, Path(workdir), processes=args.processes) as bridge:
                started = time.perf_counter()
                figures: list[tuple[int, float]] = []
                # One process: its VmRSS. Several: their Pss, summed (VmRSS counts a shared page in each).
                judged = 0 if args.processes == 1 else 1

                def record(requests: int) -> None:
                    rss, pss = memory_mib(bridge.pid)
                    figures.append((requests, (rss, pss)[judged]))
                    rate = requests / (time.perf_counter() - started)
                    print(f"  after {requests:>7,} requests: VmRSS {rss:7.1f} MiB,", end="")
                    print(f" Pss {pss:7.1f} MiB ({rate:.0f} requests/s)", flush=True)

                print(f"{args.users} users created, one POST each, then a lookup, a GET and a PATCH in turn")
                where = f" ({args.processes} processes, summed)" if args.processes > 1 else ""
                print(f"over them, {args.concurrency} connections; the bridge's memory{where}:", flush=True)
                ids = create_users(bridge, args.users, checkpoints[0], record)
                driver = Driver(bridge, ids, args.concurrency, start=len(ids) + 1)
                for checkpoint in checkpoints[1:]:
                    driver.run_to(checkpoint)
                    record(checkpoint)
                ratio = figures[-1][1] / figures[0][1]
                verdict = "met" if ratio <= TARGET else "NOT met"
                name = ("VmRSS", "Pss")[judged]
                print(f"  {name} after {figures[-1][0]:,} / after {figures[0][0]:,} requests:", end=" ")
                print(f"{ratio:.3f}", end=" ")
                print(f"(target at most {TARGET}: {verdict}); errors: {driver.errors}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
