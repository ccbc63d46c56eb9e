"""Throwaway servers for the demo and the tests (a real slapd, a real Samba AD DC, on loopback)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from types import FrameType
from typing import Any


def serve_until_stopped(
    start: Callable[[], Any], stop: Callable[[], None], name: str, failure: type[Exception]
) -> int:
    """Start a server, print its info as ``field: value`` lines, and stop it on SIGTERM or SIGINT.

    The command-line entry of each launcher; returns the process exit code.
    """

    def _stop_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGINT):  # a background job may have SIGINT ignored
        signal.signal(signum, _stop_signal)
    try:
        info = start()
        assert is_dataclass(info)
        for f in fields(info):
            print(f"{f.name}: {getattr(info, f.name)}", flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        return 0
    except failure as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    finally:
        stop()
