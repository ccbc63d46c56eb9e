"""The one place that decides on values a write would not store (``scim.unmapped``).

Every write (POST, PUT and PATCH, users and groups) passes the document the client asked for through
:func:`UnmappedPolicy.settle` before anything is written, so a 2xx always means that every value on a
mapped attribute is in the directory afterwards:

- a value the map stores but would read back otherwise is refused (400 invalidValue), always;
- a value the map has no row for (Entra's default mappings send ``roles`` and others) is, under
  ``ignore`` (the default), named in the audit log and in the request's access line and counted in
  ``scim_bridge_unmapped_attributes_total``; under ``reject``, the request is refused (400
  invalidValue) and nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from bridge.mapping.coverage import always_held, unstored
from bridge.mapping.engine import ResourceMapping
from bridge.scim.errors import InvalidValue, Mutability
from bridge.services import events

logger = logging.getLogger(__name__)

Policy = Literal["ignore", "reject"]


@dataclass(frozen=True, slots=True)
class Ignored:
    """One path a request sent and the directory does not get, and its bounded metric label."""

    resource: str
    path: str
    label: str


# What the current request had ignored, for its access line and the metric. A request runs in one
# thread, and the request-id middleware starts each with an empty tuple.
noted: ContextVar[tuple[Ignored, ...]] = ContextVar("unmapped", default=())
NOT_IN_SCHEMA = "(not in the schema)"  # the label of names the SCIM schema does not know

_SHOWN = 20  # paths named in one error detail at most; a client can send thousands
_LONGEST = 128  # characters of a name the schema does not know, as logged: the client chose its length


@dataclass(frozen=True, slots=True)
class UnmappedPolicy:
    """``scim.unmapped``: what a write does with values the map does not store."""

    policy: Policy = "ignore"

    def settle(
        self,
        resource: str,
        mapping: ResourceMapping,
        document: Mapping[str, Any],
        *,
        unknown: tuple[str, ...] = (),
        kept_apart: tuple[str, ...] = (),
        resource_id: str | None = None,
        reported: set[str] | None = None,
        before: Mapping[str, Any] | None = None,
        written: Collection[tuple[str | None, str]] | None = None,
    ) -> None:
        """Refuse ``document`` (what the client asked ``resource`` to become) when the map would lose a
        value of it, or, by the policy, when it holds values the map has no row for; else note them.
        ``unknown`` are names the SCIM schema itself does not know, dropped while parsing. A request
        that settles again (its remembered entry was stale) passes the same ``reported`` set, so each
        path is noted once. A PATCH passes the resource ``before`` it: clearing a value the directory
        always holds is refused (RFC 7644 3.5.2.2, ``mutability``); a PUT that leaves one out keeps or
        refills it instead (RFC 7644 3.5.1: the server "MAY assign a default value"). A PATCH also passes
        ``written``, the attributes its operations wrote: only their values are the client's to check, the
        rest being the resource as the directory holds it."""
        if before is not None and (cleared := always_held(mapping, before, document)):
            raise Mutability(
                f"{_listed(cleared)} cannot be removed: the directory always holds a value for "
                f"{'it' if len(cleared) == 1 else 'them'} (an account is enabled or disabled; the map fills "
                "a value the directory requires when none is sent). Replace the value instead "
                "(active: false disables)"
            )
        found = unstored(mapping, document, kept_apart=kept_apart, only=written)
        if found.lost:
            raise InvalidValue(
                f"the directory would not read back {_listed(found.lost)} as sent (the map's conversion "
                "cannot hold the value): change the value, or the map's row for it"
            )
        ignored = [Ignored(resource, _clipped(name), NOT_IN_SCHEMA) for name in dict.fromkeys(unknown)]
        ignored += [Ignored(resource, leaf.path, leaf.label) for leaf in found.unmapped]
        if not ignored:
            return
        names = tuple(item.path for item in ignored)
        if self.policy == "reject":
            raise InvalidValue(
                f"the attribute map stores no {_listed(names)}, and scim.unmapped is 'reject': add a row "
                "for each to the map, or stop the client sending them; nothing was written"
            )
        if reported is not None:
            ignored = [item for item in ignored if item.path not in reported]
            reported.update(item.path for item in ignored)
        if ignored:
            noted.set((*noted.get(), *ignored))
            events.unmapped(resource, tuple(item.path for item in ignored), id=resource_id)


@dataclass(frozen=True, slots=True)
class Settle:
    """:meth:`UnmappedPolicy.settle` for one resource type and its map, as a service calls it."""

    policy: UnmappedPolicy
    resource: str
    mapping: ResourceMapping
    kept_apart: tuple[str, ...] = ()

    def __call__(
        self,
        document: Mapping[str, Any],
        unknown: tuple[str, ...],
        resource_id: str | None,
        reported: set[str] | None = None,
        *,
        before: Mapping[str, Any] | None = None,
        written: Collection[tuple[str | None, str]] | None = None,
    ) -> None:
        self.policy.settle(
            self.resource,
            self.mapping,
            document,
            unknown=unknown,
            kept_apart=self.kept_apart,
            resource_id=resource_id,
            reported=reported,
            before=before,
            written=written,
        )


def _clipped(name: str) -> str:
    return name if len(name) <= _LONGEST else name[: _LONGEST - 1] + "…"


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown if len(names) <= _SHOWN else f"{shown} and {len(names) - _SHOWN} more"


__all__ = ["NOT_IN_SCHEMA", "Ignored", "Policy", "Settle", "UnmappedPolicy", "noted"]
