"""The metrics' shortcuts of issue #22 change no figure: a series looked up once counts as prometheus-client's
own, and a worker's gauge written only when its value changed still follows every change."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import generate_latest

from bridge.http.metrics import Metrics
from tests.conftest import REPO


def test_a_kept_series_is_prometheus_clients_own() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.request_series("GET", "/scim/v2/Users", "200").inc()
    metrics.requests.labels("GET", "/scim/v2/Users", "200").inc()
    metrics.latency_series("GET", "/scim/v2/Users").observe(0.003)
    metrics.observe_directory("search", True, 0.001)
    metrics.observe_directory("search", False, 0.001)
    text = generate_latest(metrics.registry).decode()
    assert 'scim_bridge_http_requests_total{method="GET",route="/scim/v2/Users",status="200"} 4.0' in text
    assert 'scim_bridge_http_request_duration_seconds_count{method="GET",route="/scim/v2/Users"} 1.0' in text
    assert 'scim_bridge_directory_operations_total{operation="search",outcome="ok"} 1.0' in text
    assert 'scim_bridge_directory_operations_total{operation="search",outcome="error"} 1.0' in text


WORKER = textwrap.dedent(
    """
    from bridge.http.metrics import Metrics

    class Pool:
        in_use = 0
        opened = 0
        servers_down = 0

    pool = Pool()
    metrics = Metrics()
    metrics.watch(breaker=lambda: False, read_only=False, pool=pool, pool_size=4)
    for in_use in (0, 3, 3, 1, 0, 0, 2):
        pool.in_use = in_use
        metrics.refresh()  # as after each request
        lines = metrics.exposition().decode().splitlines()
        print(next(l for l in lines if l.startswith("scim_bridge_ldap_connections_in_use ")).split()[1])
    """
)


def test_a_workers_gauge_follows_every_change(tmp_path: Path) -> None:
    """With worker processes (prometheus-client's multiprocess mode, set before it is imported)."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", WORKER], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["0.0", "3.0", "3.0", "1.0", "0.0", "0.0", "2.0"]
