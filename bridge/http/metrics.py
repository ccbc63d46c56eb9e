"""The Prometheus instruments of one app, and how they are exported (``/metrics``, bridge/http/observe.py).

Every label takes a value from a fixed set, so that nothing a client sends can make a new series: an HTTP
method outside :data:`METHODS` is counted as ``other`` and a request no route answered (an unknown path,
or one refused before routing, as an unauthenticated one is) as route ``unmatched``.

Counters are counters (``_total``), with no ``_created`` twin (prometheus-client's default adds one per
series, which doubles what Prometheus stores and no query here uses). A cumulative count kept elsewhere
(the pool's binds) is followed by a counter that grows by the difference at each request and scrape.

Under ``server.processes`` > 1 the parent sets ``$PROMETHEUS_MULTIPROC_DIR`` before it starts the
workers: every worker's values go to files there, and whichever worker answers a scrape reports all of
them (prometheus-client's multiprocess mode): counters and histograms summed. A gauge read from this
process's state (a callback gauge would show only the worker that answers) is then written after every
request and at each scrape, and combined over the live workers as its :data:`Combine` says: ``sum``
(connections in use, pool size), or ``max`` (the breaker, read-only mode, servers down, build info).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, Literal, Protocol, TypeVar

import falcon
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

import bridge
from bridge.services import events, unmapped

# Process-wide, before any instrument exists; every worker imports this module too.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Seconds: from a cached lookup (about 2 ms) to a slow directory (the default operation timeout is 10 s).
BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"
# A provisioning event's result: made; refused (4xx: not made as sent, a retry of the same fails too);
# failed (5xx: not made now: the directory, read-only mode or the breaker; the client retries).
RESULTS = ("ok", "refused", "failed")

Combine = Literal["sum", "max"]
M = TypeVar("M", Counter, Histogram)


class Children(Generic[M]):
    """The series of one instrument by their label values, each looked up by prometheus-client once: its
    ``labels()`` checks and joins the values and takes a lock every time (a few µs, several times a
    request). The label values come from fixed sets (see above), so this holds no more than the series."""

    def __init__(self, instrument: M) -> None:
        self._instrument: M = instrument
        self._series: dict[tuple[str, ...], M] = {}

    def __call__(self, *values: str) -> M:
        series = self._series.get(values)
        if series is None:
            series = self._series.setdefault(values, self._instrument.labels(*values))
        return series


class PoolState(Protocol):
    """What the metrics read of an LDAP connection pool (bridge/directory/ldap/connection.py)."""

    in_use: int  # connections borrowed now
    opened: int  # connections opened and bound since the start

    @property
    def servers_down(self) -> int: ...


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER_METHOD


def route_label(template: str | None) -> str:
    return template or UNMATCHED


class Metrics:
    """The instruments of one app, in a registry of its own (several apps in one process, as in the tests,
    never share counters)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))  # several worker processes
        self._gauges: list[tuple[Gauge, Callable[[], float], list[float]]] = []
        self._followed: list[tuple[Counter, Callable[[], float], list[float]]] = []
        registry = self.registry
        self.requests = Counter(
            "scim_bridge_http_requests",
            "HTTP requests answered, by method (other: not a standard one), route template (unmatched: "
            "no route answered) and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "scim_bridge_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.provisioning = Counter(
            "scim_bridge_provisioning_events",
            "Changes asked of the bridge, in the client's terms, by resource (user, group), kind (create, "
            "update, rename, disable, enable, delete, member_add, member_remove) and result (ok: made; "
            "refused: answered 4xx; failed: answered 5xx).",
            ["resource", "kind", "result"],
            registry=registry,
        )
        self.directory_operations = Counter(
            "scim_bridge_directory_operations",
            "Operations on the directory port (a search, an add, a modify and its read-back), by outcome.",
            ["operation", "outcome"],
            registry=registry,
        )
        self.directory_latency = Histogram(
            "scim_bridge_directory_operation_duration_seconds",
            "Time of one operation on the directory port, by operation, whatever its outcome.",
            ["operation"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.unmapped = Counter(
            "scim_bridge_unmapped_attributes",
            "Values a client sent that the attribute map does not store (scim.unmapped: ignore), by "
            "resource type and path; a type outside RFC 7643's canonical ones reads (uncommon), a name "
            "outside the SCIM schema (not in the schema).",
            ["resource", "attribute"],
            registry=registry,
        )
        build = self._gauge(
            "scim_bridge_build_info",
            "Always 1: the bridge's version and the Python that runs it, as labels.",
            "max",
            ["version", "python"],
        )
        build.labels(bridge.__version__, platform.python_version()).set(1)
        self.request_series = Children(self.requests)
        self.latency_series = Children(self.latency)
        self._provisioning_series = Children(self.provisioning)
        self._operation_series = Children(self.directory_operations)
        self._operation_latency_series = Children(self.directory_latency)
        self.unmapped_series = Children(self.unmapped)

    def observe_directory(self, operation: str, ok: bool, seconds: float) -> None:
        self._operation_series(operation, "ok" if ok else "error").inc()
        self._operation_latency_series(operation).observe(seconds)

    def provisioned(self, resource: str, kind: str, result: str) -> None:
        assert result in RESULTS, result
        self._provisioning_series(resource, kind, result).inc()

    def _gauge(self, name: str, text: str, combine: Combine, labels: list[str] | None = None) -> Gauge:
        mode: Literal["livemax", "livesum"] = "livemax" if combine == "max" else "livesum"
        return Gauge(name, text, labels or [], registry=self.registry, multiprocess_mode=mode)

    def gauge(self, name: str, text: str, read: Callable[[], float], *, combine: Combine = "sum") -> None:
        """A gauge whose value is ``read`` at each scrape (with workers, after each request too)."""
        gauge = self._gauge(name, text, combine)
        if not self.shared:
            gauge.set_function(read)
            return
        value = read()
        gauge.set(value)
        self._gauges.append((gauge, read, [value]))

    def follow(self, name: str, text: str, read: Callable[[], float]) -> None:
        """A counter that follows a cumulative count kept elsewhere: at each request and scrape it grows
        by what ``read`` grew since."""
        counter = Counter(name, text, registry=self.registry)
        self._followed.append((counter, read, [0.0]))

    def watch(
        self,
        *,
        breaker: Callable[[], bool],
        read_only: bool,
        pool: PoolState | None = None,
        pool_size: int = 0,
    ) -> None:
        """The gauges of the state an operator alerts on, and the pool's binds."""
        self.gauge(
            "scim_bridge_breaker_tripped",
            "1 when this instance last found the deprovisioning circuit breaker tripped, else 0.",
            lambda: float(breaker()),
            combine="max",
        )
        self.gauge(
            "scim_bridge_read_only",
            "1 when the bridge refuses every write (safety.read_only), else 0.",
            lambda: float(read_only),
            combine="max",
        )
        if pool is None:
            return
        self.gauge(
            "scim_bridge_ldap_pool_size",
            "LDAP connections the pool may hold (ldap.pool_size).",
            lambda: float(pool_size),
        )
        self.gauge(
            "scim_bridge_ldap_connections_in_use",
            "LDAP connections borrowed now.",
            lambda: float(pool.in_use),
        )
        self.gauge(
            "scim_bridge_directory_servers_down",
            "Servers of ldap.urls that this instance finds down now (unreachable, timeout, bind refused, "
            "busy, catching up).",
            lambda: float(pool.servers_down),
            combine="max",
        )
        self.follow(
            "scim_bridge_ldap_connections_opened",
            "LDAP connections opened and bound (each is one bind; the probe's own are not counted).",
            lambda: float(pool.opened),
        )

    def refresh(self) -> None:
        """Bring followed counters up to date and, with workers, write this worker's gauge values."""
        for counter, read, seen in self._followed:
            now = read()
            if now > seen[0]:
                counter.inc(now - seen[0])
                seen[0] = now
        for gauge, read_gauge, written in self._gauges:
            value = read_gauge()
            if value != written[0]:  # only this process writes its gauge file: it holds the last value
                gauge.set(value)
                written[0] = value

    def middleware(self) -> RequestMetrics:
        return RequestMetrics(self)

    def exposition(self) -> bytes:
        """The text a scrape answers: this app's registry, or, with workers, all of theirs combined."""
        self.refresh()
        if not self.shared:
            return bytes(generate_latest(self.registry))
        combined = CollectorRegistry()
        MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
        return bytes(generate_latest(combined))


class RequestMetrics:
    """Count and time every request by its route template (never its path, which holds ids), and count
    the provisioning events it recorded, or the one it asked for when it was refused or failed."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, succeeded: bool
    ) -> None:
        metrics = self._metrics
        method, route = method_label(req.method), route_label(req.uri_template)
        status = resp.status_code
        metrics.request_series(method, route, str(status)).inc()
        for ignored in unmapped.noted.get():
            metrics.unmapped_series(ignored.resource, ignored.label).inc()
        for recorded in events.noted.get() or ():
            for kind in kinds(recorded):
                metrics.provisioned(recorded.resource, kind, "ok")
        asked = asked_of(req.method, req.uri_template or "")
        if asked is not None and status >= 400:
            metrics.provisioned(*asked, "refused" if status < 500 else "failed")
        started = getattr(req.context, "started", None)
        if started is not None:  # set by the request id middleware, with time.monotonic
            metrics.latency_series(method, route).observe(time.monotonic() - started)
        metrics.refresh()


def kinds(recorded: events.Recorded) -> Iterator[str]:
    """The metric's kinds of one recorded event: a members event is a member_add, a member_remove or both."""
    if recorded.action != "members":
        yield recorded.action
        return
    if recorded.more.get("added"):
        yield "member_add"
    if recorded.more.get("removed"):
        yield "member_remove"


_RESOURCES = {"Users": "user", "Groups": "group"}
# What a write asks for, by method, on a collection (POST) or on one resource (the others): what it would
# have done beyond that (a disable, a rename) is not known of a request that was refused.
_ASKED = {
    ("POST", False): "create",
    ("PUT", True): "update",
    ("PATCH", True): "update",
    ("DELETE", True): "delete",
}


def asked_of(method: str, template: str) -> tuple[str, str] | None:
    """The resource and kind a write to ``template`` (a route, such as ``/scim/v2/Users/{user_id}``) asks
    for, or None when the request is no write to a user or a group."""
    on_one = template.endswith("}")
    parts = template.split("/")
    collection = parts[-2] if on_one and len(parts) > 1 else parts[-1]
    kind = _ASKED.get((method, on_one))
    if collection not in _RESOURCES or kind is None:
        return None
    return _RESOURCES[collection], kind


__all__ = [
    "BUCKETS",
    "METHODS",
    "RESULTS",
    "UNMATCHED",
    "Metrics",
    "RequestMetrics",
    "asked_of",
    "kinds",
    "method_label",
    "route_label",
]
