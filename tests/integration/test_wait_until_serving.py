"""``bridge.testing.wait_until_serving``, which the e2e tests and the benchmarks start the bridge with: it
returns once the port listens and every worker says it serves, and fails with the log otherwise."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.testing import NotServing, wait_until_serving
from bridge.testing.slapd import find_free_port

SERVE = """
import socket, sys, time
port, workers = int(sys.argv[1]), int(sys.argv[2])
with socket.socket() as listener:
    listener.bind(("127.0.0.1", port))
    listener.listen()
    for _ in range(workers):
        time.sleep(0.3)
        line = '{"message": "serving SCIM on http://127.0.0.1:%d/scim/v2"}' % port
        print(line, file=sys.stderr, flush=True)
    time.sleep(30)
"""


def start(tmp_path: Path, *argv: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        return subprocess.Popen([sys.executable, *argv], stderr=stderr), log


@pytest.mark.parametrize("processes", [1, 2])
def test_it_returns_once_the_port_listens_and_each_worker_serves(tmp_path: Path, processes: int) -> None:
    port = find_free_port()
    process, log = start(tmp_path, "-c", SERVE, str(port), str(processes))
    try:
        wait_until_serving(port, process, log, processes=processes)
        assert log.read_text().count("serving SCIM on") == processes
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        process.kill()
        process.wait()


def test_a_bridge_that_exits_fails_with_its_exit_code_and_log(tmp_path: Path) -> None:
    process, log = start(tmp_path, "-c", "import sys; print('bad config', file=sys.stderr); sys.exit(2)")
    with pytest.raises(NotServing, match=r"exited with 2:\nbad config"):
        wait_until_serving(find_free_port(), process, log)


def test_a_bridge_that_never_serves_fails_after_the_timeout(tmp_path: Path) -> None:
    port = find_free_port()
    process, log = start(tmp_path, "-c", SERVE, str(port), "1")
    try:
        with pytest.raises(NotServing, match="did not serve"):
            wait_until_serving(port, process, log, processes=2, timeout=1.5)  # only one says it serves
    finally:
        process.kill()
        process.wait()
