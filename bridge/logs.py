"""Logging: one JSON object per line on stderr, with the request id, and no secret ever.

Three streams share the format: ``bridge.access`` (one line per request), ``bridge.audit`` (one line
per directory write) and everything else. The redaction filter is the last line of defence: fields
whose names look secret are replaced, and messages never carry values (only attribute names).
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from contextvars import ContextVar
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from bridge.config import LoggingConfig

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_SECRET_NAME = re.compile(r"pass(word)?|secret|token|authorization|credential|unicodepwd", re.IGNORECASE)
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}
REDACTED = "[redacted]"


class RequestContext(logging.Filter):
    """Adds the current request id, and redacts extra fields with secret-looking names."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        for key in list(record.__dict__):
            if key not in _STANDARD and _SECRET_NAME.search(key):
                record.__dict__[key] = REDACTED
        return True


def formatter() -> logging.Formatter:
    """The JSON formatter every handler uses. ``pid`` tells the worker processes of ``server.processes``
    apart: journald gives their shared stderr the parent's PID."""
    return JsonFormatter(
        ["asctime", "levelname", "name", "message", "request_id", "process"],
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def setup_logging(config: LoggingConfig, stream: IO[str] | None = None) -> None:
    """Send every log record, as JSON, to ``stream`` (stderr by default)."""
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
    # ldap3 logs through its own machinery only when asked; waitress's queue warnings are useful.
    logging.getLogger("waitress").setLevel(max(logging.INFO, logging.getLevelName(config.level)))


def extra(**fields: Any) -> dict[str, Any]:
    """``extra=`` fields for a log call (a helper so call sites read as data)."""
    return fields
