"""What one access line and one audit line cost the bridge, written as ``serve`` writes them.

```sh
python -m bench.logs [--lines 10000]
```

Through the bridge's own logging setup (``bridge.logs.setup_logging``, to a file, as the benchmarks send
stderr to one), it logs the lines a request writes: an access line with the fields of
``bridge.http.middleware.AccessLog`` and an audit line with those of ``bridge.directory.audit``, inside a
request (a request id set). Beside it, the same lines as bridge/logs.py made them before issue #22
(python-json-logger's ``JsonFormatter`` as it was configured, the redaction filter as it was, logging's
default record fields): the "before". It prints the CPU microseconds per line (``time.thread_time``,
median of 5 runs) and checks that both write the same JSON, fields in the same order, the time aside.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

from bridge.config import LoggingConfig
from bridge.logs import _SECRET_NAME, _STANDARD, REDACTED, RequestContext, request_id, setup_logging

ACCESS = {
    "method": "PATCH",
    "route": "/scim/v2/Users/{user_id}",
    "status": 200,
    "ms": 2.41,
    "client": "127.0.0.1",
}
AUDIT = {
    "op": "modify",
    "dn": "uid=ann@contoso.com,ou=people,dc=example,dc=org",
    "attributes": ["departmentNumber", "title"],
    "outcome": "ok",
    "ms": 0.93,
}
_FLAGS = ("logThreads", "logProcesses", "logMultiprocessing", "_srcfile")


def before_formatter() -> logging.Formatter:
    """bridge/logs.py's formatter before issue #22."""
    return JsonFormatter(
        ["asctime", "levelname", "name", "message", "request_id", "process"],
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


class BeforeContext(logging.Filter):
    """bridge/logs.py's RequestContext before issue #22: every field's name looked at, by the regex."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        for key in list(record.__dict__):
            if key not in _STANDARD and _SECRET_NAME.search(key):
                record.__dict__[key] = REDACTED
        return True


def write_lines() -> tuple[Callable[[], None], Callable[[], None]]:
    access, audit = logging.getLogger("bridge.access"), logging.getLogger("bridge.audit")

    def one_access() -> None:
        access.info("%s %s %s", "PATCH", "/scim/v2/Users/{user_id}", 200, extra=dict(ACCESS))

    def one_audit() -> None:
        audit.info("directory %s", "modify", extra={**AUDIT})

    return one_access, one_audit


def cpu_us(call: Callable[[], None], lines: int) -> float:
    runs = []
    for _ in range(5):
        started = time.thread_time()
        for _ in range(lines):
            call()
        runs.append((time.thread_time() - started) / lines * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lines", type=int, default=10000, help="lines per run (default 10000)")
    args = parser.parse_args()
    defaults = {flag: getattr(logging, flag) for flag in _FLAGS}
    token = request_id.set("5f0c2a9e6b7d4e21a3c8f1d2b4e6a8c0")
    results: dict[str, tuple[float, float]] = {}
    written: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as workdir:
        for name in ("before (python-json-logger)", "bridge.logs now"):
            path = Path(workdir) / f"{len(results)}.jsonl"
            with path.open("w", encoding="utf-8") as stream:
                setup_logging(LoggingConfig(level="INFO"), stream)
                if name.startswith("before"):
                    for flag, value in defaults.items():
                        setattr(logging, flag, value)
                    (handler,) = logging.getLogger().handlers
                    handler.setFormatter(before_formatter())
                    (now,) = handler.filters
                    assert isinstance(now, RequestContext)
                    handler.removeFilter(now)
                    handler.addFilter(BeforeContext())
                one_access, one_audit = write_lines()
                results[name] = (cpu_us(one_access, args.lines), cpu_us(one_audit, args.lines))
            written[name] = [json.loads(line) for line in path.read_text().splitlines()[:: args.lines]]
    request_id.reset(token)
    print("CPU µs per line, to a file, with a request id")
    print(f"  {'':<30}{'access line':>12}{'audit line':>12}")
    for name, (access, audit) in results.items():
        print(f"  {name:<30}{access:>12.1f}{audit:>12.1f}")
    old, new = written.values()
    for line in (*old, *new):
        line.pop("time")
    if old != new or [list(line) for line in old] != [list(line) for line in new]:
        raise SystemExit(f"the lines differ:\n{old}\n{new}")
    print("  both wrote the same JSON lines, fields in the same order (the time aside)")


if __name__ == "__main__":
    main()
