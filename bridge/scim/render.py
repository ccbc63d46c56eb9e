"""SCIM response bodies: resources with ``meta``, list responses, and attribute projection.

Pure: it takes the canonical document the mapping produced and returns JSON-ready dicts.
Projection follows RFC 7644 section 3.9 (``attributes`` / ``excludedAttributes``); ``id`` and
``schemas`` are always returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bridge.scim.schemas import ENTERPRISE_USER, LIST_RESPONSE, ResourceSchema

_ALWAYS = ("schemas", "id")


def resource(
    schema: ResourceSchema,
    resource_type: str,
    resource_id: str,
    document: Mapping[str, Any],
    *,
    location: str,
    created: str | None,
    last_modified: str | None,
    version: str = "",
) -> dict[str, Any]:
    """The full resource: schemas, id, the document's attributes, then meta (RFC 7643 3.1), whose
    ``version`` is the weak entity tag of the directory's change marker (RFC 7644 3.14)."""
    schemas = [schema.core_urn, *(urn for urn in schema.extensions if urn in document)]
    body: dict[str, Any] = {"schemas": schemas, "id": resource_id}
    body.update(document)
    meta: dict[str, Any] = {"resourceType": resource_type}
    if created:
        meta["created"] = created
    if last_modified:
        meta["lastModified"] = last_modified
    meta["location"] = location
    if version:
        meta["version"] = entity_tag(version)
    body["meta"] = meta
    return body


def entity_tag(version: str) -> str:
    """``version`` as a weak entity tag (RFC 7232 2.3): the same resource state may be serialised with
    other attributes or in another order, so byte-for-byte equality is not promised."""
    return f'W/"{version}"'


def _names(spec: Iterable[str]) -> list[tuple[str, str | None]]:
    """Parse ``attributes=`` names into (top-level key, sub-attribute) pairs, lower-cased."""
    out: list[tuple[str, str | None]] = []
    for raw in spec:
        name = raw.strip()
        if not name:
            continue
        lowered = name.lower()
        if lowered.startswith("urn:"):
            urn, _, attr = name.rpartition(":")
            if urn.lower() == ENTERPRISE_USER.lower():
                out.append((urn.lower(), attr.lower()))
                continue
            if urn.lower().endswith(":user") or urn.lower().endswith(":group"):
                name = attr  # a core-schema-qualified name
            else:
                out.append((lowered, None))
                continue
        top, _, sub = name.partition(".")
        out.append((top.lower(), sub.lower() or None))
    return out


def project(
    body: Mapping[str, Any], attributes: Sequence[str] = (), excluded: Sequence[str] = ()
) -> dict[str, Any]:
    """``body`` with only the requested attributes, or without the excluded ones."""
    if attributes:
        wanted = _names(attributes)
        out: dict[str, Any] = {}
        for key, value in body.items():
            lowered = key.lower()
            if lowered in _ALWAYS:
                out[key] = value
                continue
            subs = [sub for top, sub in wanted if top == lowered]
            if not subs:
                continue
            if None in subs or not isinstance(value, Mapping | list):
                out[key] = value
            elif isinstance(value, Mapping):
                picked = {k: v for k, v in value.items() if k.lower() in subs}
                if picked:
                    out[key] = picked
            else:
                elements = [
                    {k: v for k, v in e.items() if k.lower() in subs} for e in value if isinstance(e, Mapping)
                ]
                if any(elements):
                    out[key] = [e for e in elements if e]
        return out
    if excluded:
        dropped = _names(excluded)
        out = {}
        for key, value in body.items():
            lowered = key.lower()
            subs = [sub for top, sub in dropped if top == lowered]
            if lowered in _ALWAYS or not subs:
                out[key] = value
            elif None in subs:
                continue
            elif isinstance(value, Mapping):
                out[key] = {k: v for k, v in value.items() if k.lower() not in subs}
            else:
                out[key] = value
        return out
    return dict(body)


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    """A ListResponse (RFC 7644 3.4.2): Entra needs 200 and an empty list when nothing matches [D1]."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
