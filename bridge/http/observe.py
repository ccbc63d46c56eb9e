"""Health, readiness and Prometheus metrics: ``/healthz``, ``/readyz`` and ``/metrics``, outside the SCIM
base path, so they need no token and cost no directory work beyond what each promises.

- ``/healthz``: the process answers (200), nothing else is asked;
- ``/readyz``: one round trip to the directory as the bind DN, on the background probe's own connection
  (bridge/directory/ldap/watch.py), so it answers within the probe's timeout: 200 when a server answers,
  503 with the reason (unreachable, bind refused, timeout, busy) when none does, for a load balancer or
  ``systemctl`` checks;
- ``/metrics``: the Prometheus text format (the prometheus-client library), from a registry of this app's
  own, so several apps in one process (the tests) never share counters. Under ``server.processes`` > 1
  the parent sets ``$PROMETHEUS_MULTIPROC_DIR`` before it starts the workers: every worker's values go to
  files there, and whichever worker answers a scrape reports the sum over all of them (prometheus-client's
  multiprocess mode). Gauges are then set after every request (a callback gauge would show only the
  worker that answers), and summed over the live workers, but the breaker's, which shows the highest.

None of them returns personal data, but ``/metrics`` shows request rates and routes: let the reverse proxy
forward only the SCIM base path to the world.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, Literal

import falcon
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from bridge import unmapped
from bridge.directory.errors import DirectoryError

logger = logging.getLogger(__name__)
# Seconds: from a cached lookup (about 2 ms) to a slow directory (the default operation timeout is 10 s).
_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The instruments of one app, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))  # several worker processes
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        self.requests = Counter(
            "scim_bridge_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scim_bridge_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.directory_operations = Counter(
            "scim_bridge_directory_operations",
            "Operations on the directory port (a search, an add, a modify and its read-back), by outcome.",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.unmapped = Counter(
            "scim_bridge_unmapped_attributes",
            "Values a client sent that the attribute map does not store (scim.unmapped: ignore), by "
            "resource type and path; a type outside RFC 7643's canonical ones reads (uncommon), a name "
            "outside the SCIM schema (not in the schema).",
            ["resource", "attribute"],
            registry=self.registry,
        )
        self.directory_latency = Histogram(
            "scim_bridge_directory_operation_duration_seconds",
            "Time of one operation on the directory port.",
            ["operation"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe_directory(self, operation: str, ok: bool, seconds: float) -> None:
        self.directory_operations.labels(operation, "ok" if ok else "error").inc()
        self.directory_latency.labels(operation).observe(seconds)

    def gauge(self, name: str, text: str, read: Callable[[], float], *, highest: bool = False) -> None:
        """A gauge whose value is read at each scrape; with workers, set after each request and summed
        over them, or (``highest``) their highest value."""
        if not self.shared:
            Gauge(name, text, registry=self.registry).set_function(read)
            return
        mode: Literal["livemax", "livesum"] = "livemax" if highest else "livesum"
        gauge = Gauge(name, text, registry=self.registry, multiprocess_mode=mode)
        self._gauges.append((gauge, read))
        gauge.set(read())

    def refresh(self) -> None:
        """Write this worker's gauge values (multiprocess mode only; a no-op otherwise)."""
        for gauge, read in self._gauges:
            gauge.set(read())

    def exposition(self) -> bytes:
        """The text a scrape answers: this app's registry, or, with workers, the sum over all of them."""
        if not self.shared:
            return bytes(generate_latest(self.registry))
        self.refresh()
        combined = CollectorRegistry()
        MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(combined))

    def middleware(self) -> RequestMetrics:
        return RequestMetrics(self)


class RequestMetrics:
    """Count and time every request by its route template (never its path, which holds ids)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        route = req.uri_template or "(no route)"
        self._metrics.requests.labels(req.method, route, str(resp.status_code)).inc()
        for ignored in unmapped.noted.get():
            self._metrics.unmapped.labels(ignored.resource, ignored.label).inc()
        if started is not None:  # set by the request id middleware, with time.monotonic
            self._metrics.latency.labels(req.method, route).observe(time.monotonic() - started)
        self._metrics.refresh()


class Health:
    """GET /healthz: the process answers."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.media = {"status": "ok"}


# What /readyz says for each kind of outage (DirectoryUnavailable.why): fixed words, never the
# directory's own message, which can name DNs and hosts.
_NOT_READY = {
    "unreachable": "no directory server can be reached",
    "bind refused": "the directory refuses the bridge's bind",
    "timeout": "no directory server answered in time",
    "busy": "the directory says it is busy or unavailable",
}


class Ready:
    """GET /readyz: a directory server answers the bind DN, within the probe's timeout."""

    def __init__(self, ping: Callable[[], None]) -> None:
        self._ping = ping

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        try:
            self._ping()
        except DirectoryError as exc:
            logger.warning("not ready: %s", exc.reason)
            why = getattr(exc, "why", "unreachable")
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "10")
            resp.media = {
                "status": "unavailable",
                "reason": why if why in _NOT_READY else "unreachable",
                "detail": _NOT_READY.get(why, "the directory does not answer"),
            }
            return
        resp.media = {"status": "ready"}


class MetricsEndpoint:
    """GET /metrics: the Prometheus text exposition format."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = self._metrics.exposition()


__all__ = ["Health", "Metrics", "MetricsEndpoint", "Ready", "RequestMetrics"]
