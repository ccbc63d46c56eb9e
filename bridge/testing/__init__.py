"""Throwaway servers for the demo and the tests (a real slapd, a real Samba AD DC, on loopback)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import FrameType
from typing import Any


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on ``port`` on loopback."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def stop_child(process: subprocess.Popen[Any], grace: float) -> None:
    """SIGTERM a child server still running, and SIGKILL it if it has not exited within ``grace`` s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class NotServing(RuntimeError):
    """A bridge started for a test or a benchmark exited, or did not serve in time; with its log."""


def wait_until_serving(
    port: int, process: subprocess.Popen[Any], log: Path, *, processes: int = 1, timeout: float = 20.0
) -> None:
    """Return once ``python -m bridge serve`` (``process``, logging to ``log``) listens on ``port`` on
    loopback and each of its ``processes`` (``server.processes``) has logged that it serves."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotServing(f"the bridge exited with {process.returncode}:\n{log.read_text()}")
        if listening(port) and log.read_text().count('"message": "serving SCIM on') >= processes:
            return
        time.sleep(0.05)
    raise NotServing(f"the bridge did not serve on {port} within {timeout:.0f} s:\n{log.read_text()}")


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
