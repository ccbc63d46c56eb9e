"""Logging: one JSON object per line on stderr, with the request id, and no secret ever.

Three streams share the format: ``bridge.access`` (one line per request), ``bridge.audit`` (one line
per directory write) and everything else. The redaction filter is the last line of defence: fields
whose names look secret are replaced, and messages never carry values (only attribute names).

Every request writes at least one line, so a line is made cheaply (issue #22, ``python -m bench.logs``):
one dict, built in the order python-json-logger wrote it before, encoded by one JSON encoder kept for the
process, with the time formatted once a second; and the record leaves out what no line shows (thread
names, the caller's file and line: logging's own switches for this, see its HOWTO, "Optimization").
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import logging.handlers
import re
import sys
import time
from contextvars import ContextVar
from typing import IO, Any

from bridge.config import LoggingConfig

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_SECRET_NAME = re.compile(r"pass(word)?|secret|token|authorization|credential|unicodepwd", re.IGNORECASE)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}
REDACTED = "[redacted]"


class RequestContext(logging.Filter):
    """Adds the current request id, and redacts extra fields with secret-looking names."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        for key in record.__dict__.keys() - _STANDARD:  # the extra fields alone, picked out in C
            if _secret(key):
                record.__dict__[key] = REDACTED
        return True


@functools.lru_cache(maxsize=1024)
def _secret(name: str) -> bool:
    """Whether a field's name looks secret; the few names the code logs are matched once each."""
    return _SECRET_NAME.search(name) is not None


def _plain(value: object) -> object:
    """What JSON cannot hold, as text: a time in ISO 8601, anything else as ``str`` does."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


_ENCODER = json.JSONEncoder(default=_plain)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class JsonLines(logging.Formatter):
    """One JSON object a record: ``time``, ``level``, ``logger``, ``message``, ``request_id`` and ``pid``,
    then ``exc_info`` and ``stack_info`` when there are, then the record's extra fields. ``pid`` tells the
    worker processes of ``server.processes`` apart: journald gives their shared stderr the parent's PID."""

    def __init__(self) -> None:
        super().__init__(datefmt=_DATE_FORMAT)
        self._second = (-1, "")  # the last whole second formatted, and its text

    def _time(self, created: float) -> str:
        second = int(created)
        last = self._second
        if last[0] != second:
            last = (second, time.strftime(_DATE_FORMAT, self.converter(second)))
            self._second = last  # one tuple, swapped whole: threads see the old or the new one
        return last[1]

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        line: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": fields.get("request_id"),
            "pid": record.process,
        }
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in fields.items():
            if key not in _STANDARD and key[:1] != "_":
                line[key] = value
        return _ENCODER.encode(line)


def formatter() -> logging.Formatter:
    """The JSON formatter every handler uses."""
    return JsonLines()


def setup_logging(config: LoggingConfig, stream: IO[str] | None = None) -> None:
    """Send every log record, as JSON, to ``stream`` (stderr by default)."""
    # What a record would gather that no line shows (logging HOWTO, "Optimization"); the pid stays.
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # no walk up the stack for the caller's line
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter())
    handler.addFilter(RequestContext())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    logging.getLogger("bridge.access").disabled = not config.access_log
    audit = logging.getLogger("bridge.audit")
    audit.disabled = not config.audit_log
    logging.getLogger("bridge.audit.events").disabled = not config.audit_log
    for old in [h for h in audit.handlers if isinstance(h, logging.handlers.WatchedFileHandler)]:
        audit.removeHandler(old)
        old.close()
    if config.audit_file and config.audit_log:
        # The same JSON lines, also in a file of their own; WatchedFileHandler reopens it after logrotate.
        to_file = logging.handlers.WatchedFileHandler(config.audit_file, encoding="utf-8")
        to_file.setFormatter(formatter())
        to_file.addFilter(RequestContext())
        audit.addHandler(to_file)
    # ldap3 logs through its own machinery only when asked; the warnings of waitress's task (an app that
    # sent more or less than its Content-Length) are useful.
    logging.getLogger("waitress").setLevel(max(logging.INFO, logging.getLevelName(config.level)))


def extra(**fields: Any) -> dict[str, Any]:
    """``extra=`` fields for a log call (a helper so call sites read as data)."""
    return fields
