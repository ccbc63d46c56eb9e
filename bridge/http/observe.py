"""Health, readiness and Prometheus metrics: ``/healthz``, ``/readyz`` and ``/metrics``, outside the SCIM
base path, so they need no token and cost no directory work beyond what each promises.

- ``/healthz``: the process answers (200), nothing else is asked;
- ``/readyz``: one round trip to the directory as the bind DN, on the background probe's own connection
  (bridge/directory/ldap/watch.py), so it answers within the probe's timeout: 200 when a server answers,
  503 with the reason (unreachable, bind refused, timeout, busy, catching up) when none does, for a load
  balancer or ``systemctl`` checks;
- ``/metrics``: the Prometheus text format (the prometheus-client library) of the app's instruments
  (bridge/http/metrics.py, which says how worker processes share them).

None of them returns personal data, but ``/metrics`` shows request rates and routes: let the reverse proxy
forward only the SCIM base path to the world.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import falcon
from prometheus_client import CONTENT_TYPE_LATEST

from bridge.directory.errors import DirectoryError
from bridge.http.metrics import Metrics

logger = logging.getLogger(__name__)


class Health:
    """GET /healthz: the process answers."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.media = {"status": "ok"}


# What /readyz says for each kind of outage (DirectoryUnavailable.why, bridge/directory/ldap/servers.py):
# fixed words, never the directory's own message, which can name DNs and hosts.
NOT_READY = {
    "unreachable": "no directory server can be reached",
    "bind refused": "the directory refuses the bridge's bind",
    "timeout": "no directory server answered in time",
    "busy": "the directory says it is busy or unavailable",
    "catching up": "the directory server is back but still lacks changes another server took",
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
            why = why if why in NOT_READY else "unreachable"
            resp.status = falcon.HTTP_503
            resp.set_header("Retry-After", "10")
            resp.media = {"status": "unavailable", "reason": why, "detail": NOT_READY[why]}
            return
        resp.media = {"status": "ready"}


class MetricsEndpoint:
    """GET /metrics: the Prometheus text exposition format."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_LATEST
        resp.data = self._metrics.exposition()


__all__ = ["NOT_READY", "Health", "MetricsEndpoint", "Ready"]
