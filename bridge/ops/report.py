"""``scim-ldap-bridge report``: provisioning activity from the audit log, like the provisioning reports of
SaaS identity products: how many users and groups were created, updated, disabled, enabled, renamed and
deleted, and member changes, over a period, and each event for one user or of one kind; and which
attributes clients sent that the map does not store (``scim.unmapped: ignore``), by how many requests.

It reads the JSON lines the bridge writes (``bridge.audit.events``, and the directory audit lines for failed
writes) from a file (``logging.audit_file``), standard input, or the journal.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.ops.check import settings_or_stop
from bridge.ops.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """``1d``, ``12h``, ``30m``, ``2w`` before ``now``, or an ISO 8601 date or time (UTC when it names no
    zone); ValueError says what is accepted."""
    relative = _RELATIVE.match(text.strip().lower())
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"--since {text!r}: give 30m, 12h, 1d or 2w, or a date such as 2026-11-01") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _time(line: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(line.get("time", "")), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


@dataclass
class Report:
    """What happened since ``since``: counts of events, the failed directory writes, and the events kept
    by the filters."""

    since: datetime
    counts: Counter[str] = field(default_factory=Counter)
    failed_writes: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    unmapped: Counter[str] = field(default_factory=Counter)  # "User nickName": requests that sent it


def build(lines: Iterable[str], since: datetime, *, user: str | None = None, op: str | None = None) -> Report:
    """The report over JSON log ``lines``: other lines (not JSON, other loggers, before ``since``) are
    skipped. ``user`` matches an event's target or SCIM id, in any case; ``op`` its action (``disable``)
    or whole name (``user.disable``)."""
    report = Report(since)
    wanted_user = user.lower() if user else None
    wanted_op = op.lower() if op else None
    for raw in lines:
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict) or not str(line.get("logger", "")).startswith("bridge.audit"):
            continue
        moment = _time(line)
        if moment is None or moment < since:
            continue
        if "event" not in line:
            report.failed_writes += line.get("outcome") == "failed"
            continue
        event = str(line["event"])
        report.counts[event] += 1
        if event.endswith(".unmapped"):
            kind = event.split(".", 1)[0].capitalize()
            report.unmapped.update(f"{kind} {path}" for path in line.get("attributes") or ())
        if wanted_user and wanted_user not in (
            str(line.get("target", "")).lower(),
            str(line.get("target_id", "")).lower(),
        ):
            continue
        if wanted_op and wanted_op not in (event, event.split(".", 1)[-1]):
            continue
        report.events.append(line)
    return report


def render(report: Report, source: str, *, details: bool) -> Iterator[str]:
    """The report as lines of text."""
    yield f"Provisioning activity since {report.since.astimezone(UTC):%Y-%m-%d %H:%M}Z ({source})"
    if not report.counts and not report.failed_writes:
        yield "  nothing"
    for event, count in sorted(report.counts.items()):
        yield f"  {event:<16}{count:>8}"
    if report.failed_writes:
        yield f"  {'failed writes':<16}{report.failed_writes:>8}  (see the directory audit lines)"
    if report.unmapped:
        yield ""
        yield "Sent by the client, not stored by the attribute map (scim.unmapped: ignore), in requests:"
        for name, count in sorted(report.unmapped.items(), key=lambda item: (-item[1], item[0])):
            yield f"  {count:>8}  {name}"
    if details:
        yield ""
        yield f"{len(report.events)} event(s):" if report.events else "No event matches."
        for line in report.events:
            more = " ".join(
                f"{key}={line[key]}" for key in ("by", "added", "removed", "active") if key in line
            )
            where = f"{line.get('target')}  {line.get('dn')}"
            yield f"  {line.get('time')}  {line['event']:<14} {where}  {more}".rstrip()


def command(args: argparse.Namespace) -> int:
    """Summarise provisioning activity from the audit log: a file, standard input, or the journal."""
    try:
        since = parse_since(args.since, datetime.now(UTC))
    except ValueError as exc:
        print(f"scim-ldap-bridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    source = args.file
    if source is None:
        source = settings_or_stop(args.config).logging.audit_file
    try:
        if source == "-":
            report, name = build(sys.stdin, since, user=args.user, op=args.op), "standard input"
        elif source:
            with Path(source).open(encoding="utf-8") as audit:  # read line by line: audit files grow large
                report, name = build(audit, since, user=args.user, op=args.op), source
        elif shutil.which("journalctl"):
            argv = [
                "journalctl",
                "-u",
                args.unit,
                "-o",
                "cat",
                "--no-pager",
                f"--since=@{int(since.timestamp())}",
            ]
            done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300)
            report = build(done.stdout.splitlines(), since, user=args.user, op=args.op)
            name = f"the journal of {args.unit}"
        else:
            print("scim-ldap-bridge: no audit file configured and no journalctl: use --file", file=sys.stderr)
            return EXIT_FAILED
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"scim-ldap-bridge: cannot read the audit log: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in render(report, name, details=bool(args.user or args.op or args.details)):
        print(line)
    return EXIT_OK


__all__ = ["Report", "build", "command", "parse_since", "render"]
