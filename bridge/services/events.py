"""Provisioning events: what a request did, in the client's terms, one JSON line each on the audit log.

The directory audit lines (``bridge.directory.audit``) say which LDAP operations ran; these say what they
meant: a user created, updated, disabled, enabled, renamed or deleted, a group created, updated or deleted,
members added or removed. Fields: ``event`` (``user.disable``), ``target_id`` (the SCIM id), ``target``
(the userName or displayName) and ``dn``, and for some events ``by``, ``active``, ``added``, ``removed``.
``scim-ldap-bridge report`` summarises them, like the provisioning logs of SaaS identity products. Values
of attributes are never logged: the id, the name (which the DN holds anyway) and the DN.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any, NamedTuple

# A child of the audit logger: its handlers (the audit file) get these lines too, and its switch too.
audit = logging.getLogger("bridge.audit.events")

ACTIONS = ("create", "update", "rename", "disable", "enable", "delete", "members")


class Recorded(NamedTuple):
    """An event of the request being served, for the metrics (``bridge.http.metrics``)."""

    resource: str  # user, group
    action: str  # one of ACTIONS
    more: dict[str, Any]


# The events of the request being served: a list while one is (the request id middleware sets it), else
# None (``sweep``, which no metrics count).
noted: ContextVar[list[Recorded] | None] = ContextVar("events", default=None)


def record(resource: str, action: str, *, id: str, name: str | None, dn: str, **more: Any) -> None:
    """Log that ``resource`` (User or Group) ``id`` saw ``action``."""
    audit.info(
        "%s %s %s",
        resource.lower(),
        action,
        name or id,
        extra={"event": f"{resource.lower()}.{action}", "target_id": id, "target": name, "dn": dn, **more},
    )
    serving = noted.get()
    if serving is not None:
        serving.append(Recorded(resource.lower(), action, more))


def unmapped(resource: str, attributes: tuple[str, ...], *, id: str | None) -> None:
    """Log that a request to ``resource`` (User or Group) sent values of ``attributes``, which the map
    does not store (``scim.unmapped: ignore``): the paths, never the values. ``report`` sums them."""
    audit.info(
        "%s attributes not stored: %s",
        resource.lower(),
        ", ".join(attributes),
        extra={"event": f"{resource.lower()}.unmapped", "target_id": id, "attributes": list(attributes)},
    )


__all__ = ["ACTIONS", "Recorded", "noted", "record", "unmapped"]
