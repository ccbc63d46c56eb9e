"""docs/install.md's schema upgrade for cn=config: a directory that loaded scim-bridge's schema before
``scimMemberOf`` existed gains it, and the class's new MAY list, with one modify of the loaded entry."""

from __future__ import annotations

import re
from pathlib import Path

import ldap3
import pytest

from bridge.testing.slapd import Slapd

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema"


def ldif_definitions() -> dict[str, list[str]]:
    """olcAttributeTypes and olcObjectClasses of scim-bridge.ldif, each on one line."""
    text = (SCHEMA / "scim-bridge.ldif").read_text()
    found: dict[str, list[str]] = {}
    for kind, body in re.findall(r"^(olc\w+): (\(.*?)(?=^\S|\Z)", text, flags=re.S | re.M):
        found.setdefault(kind, []).append(" ".join(body.split()))
    return found


def test_a_schema_loaded_before_scim_member_of_is_upgraded_in_place(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("upgrade")
    current = (SCHEMA / "scim-bridge.schema").read_text()
    old = re.sub(r"attributetype \( [\d.]+\.1\.6\n.*?\)\n\n", "", current, flags=re.S)
    old = old.replace(" $\n\t      scimMemberOf )", " )")
    assert "NAME 'scimMemberOf'" not in old and "scimMemberOf )" not in old
    (workdir / "scim-bridge.schema").write_text(old)
    server = Slapd(workdir / "slapd", extra_schema=[workdir / "scim-bridge.schema"])
    with server as info:
        config = ldap3.Connection(info.url, "cn=admin,cn=config", info.password, auto_bind=True)
        unchecked = ldap3.Server(info.url, get_info=ldap3.NONE)  # no client-side schema check: slapd's
        data = ldap3.Connection(unchecked, info.bind_dn, info.password, auto_bind=True)
        user = {"uid": "x", "cn": "x", "sn": "x", "scimMemberOf": f"cn=g,{info.group_base}"}
        classes = ["inetOrgPerson", "scimBridgeObject"]
        assert not data.add(f"uid=x,{info.user_base}", classes, user)  # not in the old schema
        config.search("cn=schema,cn=config", "(cn=*scim-bridge)", attributes=["cn"])
        (found,) = [item["dn"] for item in config.response if item["type"] == "searchResEntry"]
        definitions = ldif_definitions()
        (member_of,) = [d for d in definitions["olcAttributeTypes"] if "'scimMemberOf'" in d]
        (bridge_class,) = definitions["olcObjectClasses"]
        changes = {
            "olcAttributeTypes": [(ldap3.MODIFY_ADD, [member_of])],
            "olcObjectClasses": [(ldap3.MODIFY_REPLACE, [bridge_class])],
        }
        assert config.modify(found, changes), config.result
        assert data.add(f"uid=x,{info.user_base}", classes, user), data.result
        config.unbind()
        data.unbind()
