"""What an attribute map keeps of a SCIM resource: the view a GET should show after a write.

Read from the map file itself (``config/maps/openldap.yaml``), not through the bridge's loader, so the
model shares no code with what it checks. The rules of docs/attribute-map.md for a map, modelled here:

* only the rows' paths are kept; any other attribute, sub-attribute or element type is dropped
  (``scim.unmapped: ignore``), and so are ``primary`` flags;
* a multi-valued attribute keeps one element per type the map names; an element without a type takes
  the map's first type for it when no other element holds that type (a typed one, or an earlier untyped
  one), and is dropped otherwise, as a value the map does not store (``scim.unmapped: ignore``); two
  different elements of one type, both typed, are ``400 invalidValue``;
* a row with ``default`` templates that gets no value is filled from the first template whose paths all
  have values in the document written (not values filled by another template), and the filled value
  reads back like one the client sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import yaml

from bridge.testing.scim_model.schema import CORE_GROUP, CORE_USER, ENTERPRISE

# Rows the sequences never send: the manager is a reference to another user, the password write-only.
_NOT_MODELLED = ("reference", "ldap_password", "ad_password")
_ROW = re.compile(
    r'^(?:(?P<urn>urn:.+):)?(?P<attr>[\w$]+)(?:\[type eq "(?P<type>\w+)"\])?(?:\.(?P<sub>[\w$]+))?$'
)
_TEMPLATE = re.compile(r"\{([^}]+)\}")


class Refusal(Exception):
    """The request must fail with this status and scimType, and change nothing (RFC 7644 3.12)."""

    def __init__(self, status: int, scim_type: str | None, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.scim_type = scim_type
        self.why = why


@dataclass(frozen=True, slots=True)
class Row:
    """One map row: a SCIM path the directory stores."""

    urn: str | None
    attr: str
    sub: str | None
    type: str | None
    defaults: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        typed = f'[type eq "{self.type}"]' if self.type else ""
        return f"{self.urn + ':' if self.urn else ''}{self.attr}{typed}{'.' + self.sub if self.sub else ''}"


def _rows(attributes: Mapping[str, Any]) -> tuple[Row, ...]:
    rows = []
    for key, spec in attributes.items():
        if isinstance(spec, Mapping) and spec.get("convert") in _NOT_MODELLED:
            continue
        found = _ROW.match(str(key))
        if found is None:
            raise ValueError(f"the model cannot read the map row {key!r}")
        defaults = tuple(spec.get("default", ())) if isinstance(spec, Mapping) else ()
        attr, sub = found["attr"], found["sub"]
        rows.append(Row(found["urn"], attr, sub, found["type"], defaults))
    return tuple(rows)


def get_path(document: Mapping[str, Any], text: str) -> Any:
    """The value at a plain path (``userName``, ``name.givenName``) of a document, or None."""
    value: Any = document
    for part in text.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _present(value: Any) -> bool:
    return isinstance(value, str) and value != ""


@dataclass(frozen=True, slots=True)
class StoredMap:
    """The user and group rows of one map file."""

    user_rows: tuple[Row, ...]
    group_rows: tuple[Row, ...]

    @classmethod
    def load(cls, path: str | FilePath) -> StoredMap:
        data = yaml.safe_load(FilePath(path).read_text())
        return cls(_rows(data["user"]["attributes"]), _rows(data.get("group", {}).get("attributes", {})))

    def user_view(self, document: Mapping[str, Any], active: bool) -> dict[str, Any]:
        """What a GET of a user whose last write sent ``document`` shows (without id and meta)."""
        kept = self._kept(self.user_rows, document)
        sent = json.loads(json.dumps(kept))  # templates read what was sent, not what another filled
        for row in self.user_rows:
            if row.defaults and not _present(self._read(kept, row)):
                filled = next((t for t in (_render(t, sent) for t in row.defaults) if t is not None), None)
                if filled is not None:
                    self._write(kept, row, filled)
        schemas = [CORE_USER, ENTERPRISE] if kept.get(ENTERPRISE) else [CORE_USER]
        return {"schemas": schemas, **kept, "active": active}

    def cleared_required(self, before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
        """The paths a PATCH leaves empty that the directory requires: ``userName`` and the rows the map
        fills with a template (docs/attribute-map.md: ``sn`` and ``cn`` are "required by person"). RFC 7644
        3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as a required attribute
        ... the server SHALL return ... a "scimType" error code of "mutability"."""
        now = self._kept(self.user_rows, after, strict=False)  # checked first: either refusal is right
        return tuple(
            row.text
            for row in self.user_rows
            if (row.defaults or row.text == "userName")
            and _present(self._read(before, row))
            and not _present(self._read(now, row))
        )

    def group_view(self, document: Mapping[str, Any], members: list[dict[str, str]]) -> dict[str, Any]:
        """What a GET of a group shows (without id and meta); members as ``{"value", "type"}``."""
        kept = self._kept(self.group_rows, document)
        return {"schemas": [CORE_GROUP], **kept, "members": members}

    def _kept(
        self, rows: tuple[Row, ...], document: Mapping[str, Any], *, strict: bool = True
    ) -> dict[str, Any]:
        slots = _typed_slots(rows, document, strict=strict)
        kept: dict[str, Any] = {}
        for row in rows:
            owner = document.get(row.urn, {}) if row.urn else document
            if row.type is not None:
                element = slots.get((row.urn, row.attr, row.type.lower()), {})
                value = element.get(row.sub) if row.sub else None
            elif row.sub is not None:
                value = get_path(owner, f"{row.attr}.{row.sub}")
            else:
                value = owner.get(row.attr) if isinstance(owner, Mapping) else None
            if isinstance(value, str) and value:
                self._write(kept, row, value)
        return kept

    @staticmethod
    def _read(view: Mapping[str, Any], row: Row) -> Any:
        owner = view.get(row.urn, {}) if row.urn else view
        return get_path(owner, f"{row.attr}.{row.sub}" if row.sub else row.attr)

    @staticmethod
    def _write(view: dict[str, Any], row: Row, value: str) -> None:
        owner = view.setdefault(row.urn, {}) if row.urn else view
        if row.type is not None:
            elements = owner.setdefault(row.attr, [])
            element = next((e for e in elements if e["type"] == row.type), None)
            if element is None:
                element = {"type": row.type}
                elements.append(element)
            element[row.sub or "value"] = value
        elif row.sub is not None:
            owner.setdefault(row.attr, {})[row.sub] = value
        else:
            owner[row.attr] = value


def _typed_slots(
    rows: tuple[Row, ...], document: Mapping[str, Any], *, strict: bool
) -> dict[tuple[str | None, str, str], Any]:
    """For each (urn, attribute, type) the map stores, the one element of that type in ``document``.

    An element without a type is of the map's first type for the attribute (docs/attribute-map.md, "The
    attribute map") when that slot is free: no element has that type, and no earlier element without a
    type took it; else it is a value the map does not store, dropped (``scim.unmapped: ignore``). Two
    different elements of one stored type cannot both be kept and are refused (unless not ``strict``: then
    the last one counts).
    """
    first: dict[tuple[str | None, str], str] = {}
    for row in rows:
        if row.type is not None:
            first.setdefault((row.urn, row.attr), row.type.lower())
    slots: dict[tuple[str | None, str, str], Any] = {}
    for (urn, attr), first_type in first.items():
        owner = document.get(urn, {}) if urn else document
        elements = owner.get(attr) if isinstance(owner, Mapping) else None
        if not isinstance(elements, list):
            continue
        stored = {row.type.lower() for row in rows if row.urn == urn and row.attr == attr and row.type}
        taken = {str(e["type"]).lower() for e in elements if e.get("type")}
        seen: dict[str, str] = {}
        for element in elements:
            kind = str(element.get("type") or "").lower()
            if not kind:
                if first_type in taken:
                    continue
                kind = first_type
                taken.add(kind)
            if kind not in stored:
                continue
            content = {k: v for k, v in element.items() if k not in ("type", "primary", "display")}
            key = json.dumps(content, sort_keys=True)
            if strict and seen.get(kind, key) != key:
                raise Refusal(400, "invalidValue", f'two different {attr} of type "{kind}"')
            seen[kind] = key
            slots[(urn, attr, kind)] = element
    return slots


def _render(template: str, view: Mapping[str, Any]) -> str | None:
    """A default template with every ``{path}`` filled, or None when one of them has no value."""
    values = {path: get_path(view, path) for path in _TEMPLATE.findall(template)}
    if not all(_present(v) for v in values.values()):
        return None
    return _TEMPLATE.sub(lambda m: str(values[m.group(1)]), template)
