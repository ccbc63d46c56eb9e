"""Logs: JSON lines with the request id, secret-looking fields redacted, and what ``setup_logging``
switches (bridge/logs.py). The access and audit lines a request writes are tested through the app in
tests/http/test_logs.py."""

from __future__ import annotations

import datetime
import io
import json
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pythonjsonlogger.json import JsonFormatter

from bridge.config import LoggingConfig
from bridge.logs import REDACTED, RequestContext, formatter, request_id, setup_logging
from tests.log_capture import Lines, captured_logs, captured_stream


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Everything logged, through ``setup_logging`` at DEBUG, as parsed JSON lines (tests/log_capture.py)."""
    with captured_logs() as lines:
        yield lines


def formatted(record: logging.LogRecord) -> dict[str, Any]:
    RequestContext().filter(record)
    return json.loads(formatter().format(record))


def record(**extra: Any) -> logging.LogRecord:
    log = logging.LogRecord("bridge.test", logging.INFO, __file__, 1, "user %s changed", ("u1",), None)
    log.__dict__.update(extra)
    return log


# --- shape and redaction -------------------------------------------------------------------------


def test_a_record_is_one_json_object_with_time_level_logger_message_and_request_id() -> None:
    """Fields are renamed for humans and tools; the message is formatted lazily from %s arguments."""
    token = request_id.set("req-42")
    try:
        line = formatted(record(dn="uid=u1,ou=people,dc=example,dc=org"))
    finally:
        request_id.reset(token)
    assert line["level"] == "INFO"
    assert line["logger"] == "bridge.test"
    assert line["message"] == "user u1 changed"
    assert line["request_id"] == "req-42"
    assert line["dn"] == "uid=u1,ou=people,dc=example,dc=org"
    assert line["time"][:2] == "20" and "T" in line["time"]


def test_outside_a_request_the_request_id_is_a_dash() -> None:
    """Start-up and shutdown lines carry request_id "-" rather than a stale id."""
    assert formatted(record())["request_id"] == "-"


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "Password",
        "bind_password",
        "token",
        "token_hashes",
        "authorization",
        "client_secret",
        "credential",
        "bind_password_credential",
        "unicodePwd",
        "pass",
    ],
)
def test_extra_fields_with_secret_looking_names_are_redacted(name: str) -> None:
    """The last line of defence: a field whose name looks secret never shows its value (bridge/logs.py)."""
    line = formatted(record(**{name: "hunter2"}))
    assert line[name] == REDACTED
    assert "hunter2" not in json.dumps(line)


@pytest.mark.parametrize(
    ("name", "value"), [("dn", "uid=a,dc=x"), ("attributes", ["cn", "mail"]), ("status", 201)]
)
def test_ordinary_extra_fields_are_kept(name: str, value: Any) -> None:
    """Only secret-looking names are redacted: DNs, attribute names and statuses stay readable."""
    assert formatted(record(**{name: value}))[name] == value


def _before() -> logging.Formatter:
    """bridge/logs.py's formatter before issue #22, which a line must still match."""
    return JsonFormatter(
        ["asctime", "levelname", "name", "message", "request_id", "process"],
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def _raised() -> Any:
    try:
        raise ValueError("no such entry")
    except ValueError:
        return sys.exc_info()


LINES: list[dict[str, Any]] = [
    {},
    {"method": "PATCH", "route": "/scim/v2/Users/{user_id}", "status": 200, "ms": 2.41, "client": "::1"},
    {"op": "modify", "dn": "uid=zoë,dc=x", "attributes": ["cn", "title"], "outcome": "ok", "ms": 0.5},
    {"unmapped": ["roles", "x-é名"], "count": None, "flag": True, "nested": {"a": [1, 2.5, "b"]}},
    {"bind_password": "hunter2", "token": "t", "dn": "cn=x"},  # redacted, by both
    {"exc_info": _raised()},
    {"stack_info": "Stack (most recent call last):\n  here"},
    {"exc_text": "a traceback text", "error": "NoSuchEntry"},
    {"_private": "left out", "args_seen": 3},
]


@pytest.mark.parametrize("fields", LINES, ids=lambda fields: ",".join(fields) or "plain")
@pytest.mark.parametrize("rid", ["-", "5f0c2a9e6b7d4e21a3c8f1d2b4e6a8c0"])
def test_a_line_is_what_python_json_logger_wrote_before_byte_for_byte(
    fields: dict[str, Any], rid: str
) -> None:
    """Issue #22 made a line cheaper, not different: the same fields in the same order, the same
    text, so every reader of the journal and the audit file (``report`` among them) reads it as before."""
    token = request_id.set(rid)
    try:
        line = record(**fields)
        RequestContext().filter(line)
        assert formatter().format(line) == _before().format(line)
    finally:
        request_id.reset(token)


def test_the_time_is_that_of_each_record_though_formatted_once_a_second() -> None:
    """The formatter keeps the last second's text: records a second apart, or back in time, differ."""
    made = formatter()
    times = []
    for created in (1_800_000_000.25, 1_800_000_000.75, 1_800_000_001.0, 1_799_999_999.9):
        line = record()
        line.created = created
        times.append(json.loads(made.format(line))["time"])
    assert times[0] == times[1] != times[2] != times[3] != times[0]
    for created, text in zip((1_800_000_001.0, 1_799_999_999.9), times[2:], strict=True):
        assert text == time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(created))


def test_a_value_json_cannot_hold_is_written_as_text() -> None:
    """A time as ISO 8601, anything else as ``str`` gives it: a line is never lost to its values."""
    line = json.loads(formatter().format(record(at=datetime.date(2026, 12, 6), who=object)))
    assert line["at"] == "2026-12-06"
    assert line["who"] == str(object)


def test_setup_logging_writes_json_lines_and_honours_the_level(log_lines: Lines) -> None:
    """Every stream (access, audit, the rest) shares one JSON format on one handler."""
    logging.getLogger("bridge.audit").info("directory %s", "add", extra={"op": "add"})
    logging.getLogger("bridge.service").debug("debug line")
    setup_logging(LoggingConfig(level="WARNING"), io.StringIO())  # replaces, never duplicates, the handler
    assert len(logging.getLogger().handlers) == 1
    assert [(line["logger"], line["message"]) for line in log_lines()] == [
        ("bridge.audit", "directory add"),
        ("bridge.service", "debug line"),
    ]


def test_access_and_audit_lines_can_be_switched_off() -> None:
    """logging.access_log / audit_log false silence their streams (bridge.config LoggingConfig), the
    provisioning events with the audit lines."""
    with captured_stream("INFO", access_log=False, audit_log=False) as stream:
        logging.getLogger("bridge.access").info("GET /x 200")
        logging.getLogger("bridge.audit").info("directory add")
        logging.getLogger("bridge.audit.events").info("user.created")
        logging.getLogger("bridge.service").info("kept")
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == ["kept"]
