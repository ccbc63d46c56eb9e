"""The attribute map ``init`` writes: the shipped map of the directory's kind, copied as it is, or a map
derived from it where the directory lacks what the shipped map needs, with a header that says what was
changed and why.

What the shipped OpenLDAP map needs beyond inetOrgPerson and groupOfNames, and what stands in for it:

- **scim-bridge.schema** (``scimBridgeObject``, ``scimExternalId``, ``scimCostCenter``, ``scimDivision``,
  ``scimDisabledAt``). Without it: no auxiliary class; a user's ``externalId`` in ``employeeType`` and a
  group's in ``businessCategory`` (attributes inetOrgPerson and groupOfNames have, which docs/ and the
  map file name for this); no ``costCenter`` and ``division`` rows; no ``active.since``, so
  ``deprovisioning.delete_after_days`` (``sweep``) cannot be used.
- **The ppolicy overlay**, for the default disable method (``pwdAccountLockedTime``). Without it: the
  ``attribute`` method on ``shadowExpire: 1`` (the account expired on 2 January 1970) of the auxiliary
  class ``shadowAccount`` (RFC 2307, the ``nis`` schema Debian's slapd loads), which pam_unix and SSSD
  (``ldap_account_expire_policy = shadow``) refuse; slapd itself still accepts binds. A directory with
  neither ppolicy nor shadowAccount gets no map: ``init`` says what to load.

The shipped Active Directory map needs ``msDS-cloudExtensionAttribute1`` (AD 2012 schema, and Samba) for
``externalId``; without it, ``adminDescription`` (on every AD object; the map's groups use it already).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bridge.ops.init import InitError
from bridge.ops.init.discover import Discovery

SHIPPED = {"openldap": "openldap.yaml", "active_directory": "active-directory.yaml"}
DERIVED = {"openldap": "openldap-derived.yaml", "active_directory": "active-directory-derived.yaml"}
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
# Where the shipped maps are: a checkout (or an editable install), then the Debian package's copy.
SHIPPED_DIRS = (
    Path(__file__).resolve().parents[3] / "config" / "maps",
    Path("/usr/share/scim-ldap-bridge/maps"),
)


@dataclass(frozen=True, slots=True)
class MapPlan:
    """The map file to write: its name under ``maps/``, its text, the shipped map it comes from, and
    what was changed (nothing: the shipped map as it is)."""

    name: str
    text: str
    source: Path
    changes: tuple[str, ...]


def shipped_map(kind: str, dirs: tuple[Path, ...] = SHIPPED_DIRS) -> Path:
    """The shipped map file for ``kind``."""
    for folder in dirs:
        path = folder / SHIPPED[kind]
        if path.is_file():
            return path
    looked = ", ".join(str(folder) for folder in dirs)
    raise InitError(
        f"cannot find the shipped attribute map {SHIPPED[kind]} (looked in {looked})",
        "reinstall the package, or run init from a checkout of scim-ldap-bridge",
    )


def plan_map(found: Discovery, source: Path) -> MapPlan:
    """The shipped map at ``source``, or the map derived from it for what ``found`` lacks."""
    text = source.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    changes = (
        _derive_openldap(found, data) if found.kind == "openldap" else _derive_active_directory(found, data)
    )
    if not changes:
        return MapPlan(source.name, text, source, ())
    return MapPlan(DERIVED[found.kind], _header(source, changes) + _dump(data), source, tuple(changes))


def _derive_openldap(found: Discovery, data: dict[str, Any]) -> list[str]:
    user, group = data["user"], data.get("group")
    changes: list[str] = []
    if not found.bridge_schema:
        why = "the directory lacks scim-bridge.schema"
        for section in (user, group):
            if section is None:
                continue
            kept = [c for c in section.get("auxiliary_classes", []) if c != "scimBridgeObject"]
            if kept:
                section["auxiliary_classes"] = kept
            else:
                section.pop("auxiliary_classes", None)
        changes.append(f"no auxiliary class scimBridgeObject: {why}")
        changes += _move_external_id(found, user, "employeeType", "users", why)
        if group is not None:
            changes += _move_external_id(found, group, "businessCategory", "groups", why)
        dropped = [
            path
            for path in list(user["attributes"])
            if path in (f"{ENTERPRISE}costCenter", f"{ENTERPRISE}division")
        ]
        for path in dropped:
            del user["attributes"][path]
        if dropped:
            names = " and ".join(path.removeprefix(ENTERPRISE) for path in dropped)
            changes.append(f"no {names} rows: inetOrgPerson has no attribute for them ({why})")
        if user.get("active", {}).pop("since", None):
            changes.append(
                "no active.since (scimDisabledAt): the time of a disable is not recorded, so "
                "deprovisioning.delete_after_days and `sweep` cannot be used"
            )
    if not found.feature("ppolicy"):
        if not (found.has_class("shadowAccount") and found.has_attribute("shadowExpire")):
            raise InitError(
                "the directory offers no way to disable accounts that init knows: no ppolicy overlay, and "
                "no shadowAccount class (the nis schema)",
                "load the ppolicy overlay with a policy that has pwdLockout: TRUE "
                "(docs/deprovisioning.md: Disable methods)",
            )
        since = user.get("active", {}).get("since")
        user["active"] = {"method": "attribute", "attribute": "shadowExpire", "disabled_value": "1"}
        if since:
            user["active"]["since"] = since
        user["auxiliary_classes"] = [*user.get("auxiliary_classes", []), "shadowAccount"]
        changes.append(
            "disable method attribute: shadowExpire: 1 (expired since 2 January 1970) on the auxiliary class "
            "shadowAccount, instead of ppolicy's pwdAccountLockedTime: the directory offers no password "
            "policy (ppolicy overlay). pam_unix and SSSD (ldap_account_expire_policy = shadow) refuse an "
            "expired account, but slapd itself still accepts its binds; enabling removes shadowExpire"
        )
    return changes


def _move_external_id(found: Discovery, section: dict[str, Any], to: str, what: str, why: str) -> list[str]:
    attributes = section["attributes"]
    if attributes.get("externalId") != "scimExternalId":
        return []
    if found.has_attribute(to):
        attributes["externalId"] = to
        return [
            f"externalId of {what} in {to} instead of scimExternalId ({why}): keep {to} free of other "
            f"values under the bases"
        ]
    del attributes["externalId"]
    return [f"no externalId row for {what}: {why}, and it has no {to}"]


def _derive_active_directory(found: Discovery, data: dict[str, Any]) -> list[str]:
    attributes = data["user"]["attributes"]
    current = attributes.get("externalId")
    if current and not found.has_attribute(current) and found.has_attribute("adminDescription"):
        attributes["externalId"] = "adminDescription"
        return [f"externalId of users in adminDescription: the directory's schema has no {current}"]
    return []


def _header(source: Path, changes: list[str]) -> str:
    lines = [
        f"Attribute map written by `scim-ldap-bridge init`: the shipped {source.name} (its comments say",
        "what each row means), with these changes for this directory:",
    ]
    for change in changes:
        lines += textwrap.wrap(
            change, 100, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
        )
    lines += [
        "Once the directory has what is missing (docs/install.md: The directory), run init again, or point",
        f"`map:` at the shipped {source.name}.",
    ]
    return "".join(f"# {line}\n" if line else "#\n" for line in lines)


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
