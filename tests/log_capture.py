"""Everything the bridge logs during a test, as parsed JSON lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bridge.config import LoggingConfig
from bridge.logs import setup_logging

Lines = Callable[[], list[dict[str, Any]]]


@contextmanager
def captured_stream(level: str = "DEBUG", **switches: bool) -> Iterator[io.StringIO]:
    """The stream everything logged goes to, through ``setup_logging`` at ``level`` (``switches``: more
    of ``LoggingConfig``, such as ``access_log=False``); the root logger's handlers, level and the
    access/audit switches are restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    names = ("bridge.access", "bridge.audit", "bridge.audit.events")
    disabled = {name: logging.getLogger(name).disabled for name in names}
    waitress_level = logging.getLogger("waitress").level
    stream = io.StringIO()
    setup_logging(LoggingConfig(level=level, **switches), stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, was in disabled.items():
            logging.getLogger(name).disabled = was
        logging.getLogger("waitress").setLevel(waitress_level)


@contextmanager
def captured_logs() -> Iterator[Lines]:
    """Everything logged, through ``setup_logging`` at DEBUG, as parsed JSON lines (see
    :func:`captured_stream`)."""
    with captured_stream() as stream:

        def lines() -> list[dict[str, Any]]:
            return [json.loads(line) for line in stream.getvalue().splitlines()]

        yield lines
