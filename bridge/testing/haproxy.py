"""A throwaway HAProxy on loopback, in front of several bridge instances, for the high-availability tests.

``HAProxy(workdir, backends).start()`` writes ``workdir/haproxy.cfg`` and runs ``haproxy`` in the
foreground as a child of this process: HTTP mode, round robin over ``backends`` with no stickiness and no
health checks, so consecutive requests go to consecutive instances, in order, whatever the client does
with its connections (a connection to the proxy is not tied to one instance). Each answer names the
instance that served it in the ``X-Served-By`` header (``a``, ``b``, ...), for tests that check who
served what. Needs the Debian package ``haproxy``; it never skips: a missing binary raises
:class:`HAProxyError`. Only the process it started is ever signalled.
"""

from __future__ import annotations

import atexit
import os
import shutil
import string
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from bridge.testing import listening, stop_child
from bridge.testing.slapd import find_free_port

__all__ = ["SERVED_BY", "HAProxy", "HAProxyError"]

SERVED_BY = "X-Served-By"
_CONF = """\
global
    maxconn 512

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # One request per connection to an instance: each request is balanced on its own.
    option http-server-close

frontend scim
    bind 127.0.0.1:{port}
    default_backend bridges

backend bridges
    balance roundrobin
    http-response set-header {served_by} %[srv_name]
{servers}"""


class HAProxyError(RuntimeError):
    """haproxy could not be found, configured or started; the message carries its own output."""


def _tool() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None
    )
    if found is None:
        raise HAProxyError("haproxy not found; install the Debian package: apt-get install haproxy")
    return found


class HAProxy:
    """One haproxy balancing over ``backends`` (``host:port`` of each instance, named a, b, ... in order)."""

    def __init__(self, workdir: str | Path, backends: Sequence[str]) -> None:
        if not 0 < len(backends) <= len(string.ascii_lowercase):
            raise HAProxyError(f"between 1 and 26 backends, not {len(backends)}")
        self.workdir = Path(workdir).resolve()
        self._backends = tuple(backends)
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        """Start haproxy on a free port and return its URL once it accepts connections."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = find_free_port()
        servers = "".join(
            f"    server {name} {address}\n"
            for name, address in zip(string.ascii_lowercase, self._backends, strict=False)
        )
        config = self.workdir / "haproxy.cfg"
        config.write_text(_CONF.format(port=self.port, served_by=SERVED_BY, servers=servers))
        log = self.workdir / "haproxy.log"
        tool = _tool()
        checked = subprocess.run(
            [tool, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
        )
        if checked.returncode != 0:
            raise HAProxyError(f"haproxy refused {config}:\n{checked.stderr}{checked.stdout}")
        with log.open("wb") as out:  # -db: stay in the foreground, our child, stopped by its pid
            self._process = subprocess.Popen([tool, "-db", "-f", str(config)], stdout=out, stderr=out)
        atexit.register(self.stop)  # a test run that dies leaves no proxy behind
        deadline = time.monotonic() + 5.0
        while not listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise HAProxyError(f"haproxy did not listen on {self.port}:\n{log.read_text()}")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        """Terminate the haproxy this object started, if it still runs. Idempotent."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None:
            stop_child(process, 5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
