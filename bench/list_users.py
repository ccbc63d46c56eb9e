"""Page through 100,000 users in pages of 100, and look one user up by userName and by id, at 1,000 and
at 100,000 users (issue #6). A page should cost the same memory and time wherever it is in the list and
however long the list is, and a lookup should be as fast at 100,000 users as at 1,000.

    python -m bench.list_users [--users 100000] [--baseline 1000] [--sample P] [--lookups 2000]

It starts two throwaway slapds (the test launcher, which indexes uid and entryUUID for equality), loads
``--baseline`` users into one and ``--users`` into the other with slapadd, and drives the bridge
in-process through falcon.testing, so the bridge's memory is this process's:

- listing: ``GET /Users?startIndex=k&count=100`` for every page (``--sample P``: P pages spread evenly,
  first and last included), checking every page's size, ``totalResults``, and that the ids are distinct
  and, when every page was read, number exactly the users. At the first page, 10 %, 50 % and the last
  page it records the request's time, its tracemalloc peak (a second, traced request of the same page:
  tracing slows Python down, so the time is taken untraced) and the process's peak RSS during the
  untraced request (VmHWM after resetting it through /proc/self/clear_refs);
- lookups: ``GET /Users?filter=userName eq "u000042"`` and ``GET /Users/{id}`` for random users, and the
  same userName search straight to slapd with ldap3, after a warm-up, alternating between the two sizes
  in blocks; p50 and p95 at both sizes, their ratio, and that ratio's range over the blocks.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import falcon.testing
import ldap3

from bench.common import client_for, load_users, percentile, user_ids, user_name
from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path

PAGE = 100
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PageFigures:
    """One recorded page: where it is, how long the request took, and the memory it used."""

    label: str
    start: int
    ms: float
    traced_mib: float  # tracemalloc peak of the request: what Python allocated at most, at once
    rss_mib: float  # the process's peak RSS during the request
    rss_growth_mib: float  # that peak minus the RSS just before the request


def _status_kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux: 5 into clear_refs), so it is this request's."""
    with suppress(OSError):  # then VmHWM is the peak since the process started: still an upper bound
        Path("/proc/self/clear_refs").write_text("5")


def get_page(client: falcon.testing.TestClient, start: int) -> dict[str, Any]:
    response = client.simulate_get("/scim/v2/Users", params={"startIndex": str(start), "count": str(PAGE)})
    if response.status_code != 200:
        raise SystemExit(f"GET /Users?startIndex={start} failed: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json
    return body


def check_page(body: dict[str, Any], start: int, users: int) -> list[str]:
    """The ids of a page, after checking its size and totalResults (RFC 7644 3.4.2.4)."""
    expected = max(0, min(PAGE, users - start + 1))
    resources = body.get("Resources", [])
    if body.get("totalResults") != users or len(resources) != expected:
        raise SystemExit(
            f"page at startIndex={start}: totalResults {body.get('totalResults')} (expected {users}), "
            f"{len(resources)} resources (expected {expected})"
        )
    return [str(resource["id"]) for resource in resources]


def pages(users: int) -> int:
    return max(1, -(-users // PAGE))


def page_starts(users: int, sample: int | None) -> tuple[list[int], dict[int, str]]:
    """The startIndex of every page to read, and the recorded ones with their labels."""
    count = pages(users)
    marks: dict[int, str] = {}
    for label, index in (("first", 0), ("10%", count // 10), ("50%", count // 2), ("last", count - 1)):
        marks.setdefault(index * PAGE + 1, label)
    if sample is None or sample >= count:
        indexes = set(range(count))
    else:
        indexes = {round(i * (count - 1) / max(1, sample - 1)) for i in range(sample)}
    starts = sorted({i * PAGE + 1 for i in indexes} | set(marks))
    return starts, marks


def record(
    client: falcon.testing.TestClient, start: int, users: int, label: str
) -> tuple[PageFigures, list[str]]:
    """Read one page untraced (time, peak RSS), then again under tracemalloc (peak allocation)."""
    before = _status_kib("VmRSS")
    _reset_peak_rss()
    started = time.perf_counter()
    body = get_page(client, start)
    ms = (time.perf_counter() - started) * 1000
    peak_rss = max(_status_kib("VmHWM"), before)
    ids = check_page(body, start, users)
    del body
    tracemalloc.start()
    try:
        check_page(get_page(client, start), start, users)
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    figures = PageFigures(label, start, ms, traced / MIB, peak_rss / 1024, (peak_rss - before) / 1024)
    return figures, ids


def walk(
    client: falcon.testing.TestClient, users: int, known: set[str], sample: int | None, budget: float
) -> list[PageFigures]:
    """Read the pages, check them, print what the walk saw, and return the recorded pages."""
    starts, marks = page_starts(users, sample)
    recorded: list[PageFigures] = []
    seen: set[str] = set()
    times: list[float] = []
    # The first request of a new bridge reads the directory's schema and opens the pool: not a page's cost.
    client.simulate_get("/scim/v2/Users", params={"filter": f'userName eq "{user_name(0)}"'})
    began = time.perf_counter()
    skipped = 0
    for start in starts:
        if start not in marks and time.perf_counter() - began > budget:
            skipped += 1  # over the time budget: only the recorded pages are still read
            continue
        if start in marks:
            figures, ids = record(client, start, users, marks[start])
            recorded.append(figures)
            times.append(figures.ms)
        else:
            started = time.perf_counter()
            ids = check_page(get_page(client, start), start, users)
            times.append((time.perf_counter() - started) * 1000)
        if not seen.isdisjoint(ids) or not known.issuperset(ids):
            raise SystemExit(f"page at startIndex={start} repeats an id or returns an unknown one")
        seen.update(ids)
    read = len(starts) - skipped
    every = read == pages(users)
    if every and len(seen) != users:
        raise SystemExit(f"read every page but saw {len(seen)} distinct ids, not {users}")
    elapsed = time.perf_counter() - began
    what = "every page" if every else f"{read} of {pages(users)} pages"
    stop = f" (the rest skipped: over the {budget:.0f} s budget)" if skipped else ""
    print(
        f"  read {what}{stop} in {elapsed:.1f} s: {len(seen)} distinct ids, all pages full and "
        f"totalResults {users}; per page p50 {percentile(times, 0.5):.1f} ms, max {max(times):.1f} ms"
    )
    return recorded


@dataclass(slots=True)
class Directory:
    """One loaded slapd and the bridge in front of it."""

    users: int
    info: SlapdInfo
    client: falcon.testing.TestClient
    ids: list[str]
    raw: ldap3.Connection
    rng: random.Random

    def by_name(self) -> None:
        name = user_name(self.rng.randrange(self.users))
        response = self.client.simulate_get("/scim/v2/Users", params={"filter": f'userName eq "{name}"'})
        found = response.json.get("Resources", []) if response.status_code == 200 else []
        if len(found) != 1 or found[0].get("userName") != name:
            raise SystemExit(f"lookup of {name} failed: {response.status_code} {response.text}")

    def by_id(self) -> None:
        wanted = self.rng.choice(self.ids)
        response = self.client.simulate_get(f"/scim/v2/Users/{wanted}")
        if response.status_code != 200 or response.json.get("id") != wanted:
            raise SystemExit(f"GET /Users/{wanted} failed: {response.status_code} {response.text}")

    def by_name_raw(self) -> None:
        """The bridge's LDAP search for a userName, straight to slapd: slapd's own share."""
        flt = f"(&(objectClass=inetOrgPerson)(uid={user_name(self.rng.randrange(self.users))}))"
        self.raw.search(self.info.user_base, flt, attributes=["*", "+"])
        if len(self.raw.entries) != 1:
            raise SystemExit(f"raw search {flt} found {len(self.raw.entries)} entries")


LOOKUPS: dict[str, Callable[[Directory], None]] = {
    "userName eq": Directory.by_name,
    "GET /Users/{id}": Directory.by_id,
    "raw ldap3 uid eq": Directory.by_name_raw,
}


def _timed_block(call: Callable[[Directory], None], directory: Directory, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call(directory)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def lookups(directories: list[Directory], repeat: int, warmup: int, block: int) -> None:
    """Time each kind of lookup at every size, in alternating blocks so that the machine's own drift
    (other work on its 2 cores) hits every size alike; print p50, p95 and the ratio of the p50s, with
    the spread of that ratio over the blocks as the noise to judge it by."""
    times: dict[tuple[str, int], list[float]] = {(kind, d.users): [] for kind in LOOKUPS for d in directories}
    ratios: dict[str, list[float]] = {kind: [] for kind in LOOKUPS}
    warm = -(-warmup // block)
    for round_ in range(warm + -(-repeat // block)):
        for kind, call in LOOKUPS.items():
            blocks = [_timed_block(call, directory, block) for directory in directories]
            if round_ < warm:
                continue
            for directory, samples in zip(directories, blocks, strict=True):
                times[kind, directory.users].extend(samples)
            ratios[kind].append(percentile(blocks[-1], 0.5) / percentile(blocks[0], 0.5))
    small, large = directories[0].users, directories[-1].users
    print(f"\nlookups of random users, ms over {len(times[next(iter(times))]):,} of each per size")
    columns = [f"{d.users:,} {q}" for d in directories for q in ("p50", "p95")]
    print(f"  {'':>17}  " + "  ".join(f"{c:>12}" for c in columns) + f"  {'p50 ratio':>10}  per-block ratio")
    for kind in LOOKUPS:
        cells = [f"{percentile(times[kind, d.users], q):.2f}" for d in directories for q in (0.5, 0.95)]
        ratio = percentile(times[kind, large], 0.5) / percentile(times[kind, small], 0.5)
        spread = f"{min(ratios[kind]):.2f}-{max(ratios[kind]):.2f}"
        print(f"  {kind:>17}  " + "  ".join(f"{c:>12}" for c in cells) + f"  {ratio:>10.2f}  {spread}")


def check_indexes(info: SlapdInfo) -> str:
    """The eq indexes of the launcher's database; a lookup is flat only if uid and entryUUID have one."""
    conf = (Path(info.workdir) / "slapd.conf").read_text()
    indexed = {
        name.lower()
        for attrs, kinds in re.findall(r"^index\s+(\S+)\s+(\S+)", conf, re.MULTILINE)
        if "eq" in kinds.split(",")
        for name in attrs.split(",")
    }
    missing = {"uid", "entryuuid"} - indexed
    if missing:
        raise SystemExit(f"slapd has no eq index on {', '.join(sorted(missing))}: lookups would scan")
    return ", ".join(sorted(indexed))


def print_pages(recorded: list[PageFigures]) -> None:
    header = ("page", "startIndex", "ms", "traced MiB", "peak RSS MiB", "RSS growth MiB")
    print("  " + "  ".join(f"{h:>14}" for h in header))
    for f in recorded:
        cells = (f.label, f"{f.start:,}", f"{f.ms:.1f}", f"{f.traced_mib:.2f}", f"{f.rss_mib:.1f}")
        print("  " + "  ".join(f"{c:>14}" for c in (*cells, f"{f.rss_growth_mib:.1f}")), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000, help="the large directory (default 100,000)")
    parser.add_argument("--baseline", type=int, default=1_000, help="the small directory (default 1,000)")
    parser.add_argument("--sample", type=int, help="read only this many evenly spread pages")
    parser.add_argument("--lookups", type=int, default=2_000, help="timed lookups of each kind per size")
    parser.add_argument("--warmup", type=int, default=200, help="untimed lookups of each kind first")
    parser.add_argument("--block", type=int, default=100, help="lookups in a row before switching size")
    parser.add_argument("--budget", type=float, default=1800, help="seconds before a walk reads only marks")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    directories: list[Directory] = []
    with tempfile.TemporaryDirectory(prefix="bench-list-") as workdir, ExitStack() as stack:
        for size in sorted({args.baseline, args.users}):
            started = time.perf_counter()
            server = Slapd(Path(workdir) / str(size), extra_schema=[default_schema_path()])
            info = server.start()
            stack.callback(server.stop)
            load_users(server, info, size)
            ids = user_ids(info)
            client, pool = client_for(info)
            stack.callback(pool.close)
            raw = ldap3.Connection(info.url, info.bind_dn, info.password, auto_bind=True)
            stack.callback(raw.unbind)
            directories.append(Directory(size, info, client, ids, raw, random.Random(args.seed)))  # noqa: S311 - picks users
            print(f"slapd with {len(ids):,} users: loaded in {time.perf_counter() - started:.1f} s")
        print(f"slapd eq indexes: {check_indexes(directories[0].info)}")
        peaks = {}
        for directory in directories:
            print(f"\nlisting {directory.users:,} users, {PAGE} a page")
            recorded = walk(directory.client, directory.users, set(directory.ids), args.sample, args.budget)
            print_pages(recorded)
            peaks[directory.users] = max(f.traced_mib for f in recorded)
        lookups(directories, args.lookups, args.warmup, args.block)
    print("\nlargest tracemalloc peak of one page request: ", end="")
    print(", ".join(f"{peak:.2f} MiB at {users:,} users" for users, peak in peaks.items()))


if __name__ == "__main__":
    main()
