"""The bridge's LDAP schema ships twice, for slapd.conf and for cn=config: both say the same."""

from __future__ import annotations

import re
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema"
_START = re.compile(r"^(attributetype|objectclass|olcAttributeTypes:|olcObjectClasses:)\s", re.M | re.I)


def definitions(text: str) -> list[tuple[str, str]]:
    """(kind, definition with its whitespace collapsed) for each definition, comments left out."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    found = []
    for match in _START.finditer(body):
        depth, end = 0, match.end()
        while True:
            depth += {"(": 1, ")": -1}.get(body[end], 0)
            if depth == 0 and body[end] == ")":
                break
            end += 1
        kind = "attribute" if "attribute" in match.group(1).lower() else "class"
        found.append((kind, " ".join(body[match.end() : end + 1].split())))
    return found


def test_the_schema_and_ldif_forms_define_the_same_types_and_classes() -> None:
    conf = definitions((SCHEMA / "scim-bridge.schema").read_text())
    assert conf == definitions((SCHEMA / "scim-bridge.ldif").read_text())
    names = [match.group(1) for _, text in conf if (match := re.search(r"NAME '(\w+)'", text))]
    assert names == [
        "scimExternalId",
        "scimUserName",
        "scimCostCenter",
        "scimDivision",
        "scimDisabledAt",
        "scimMemberOf",
        "scimBridgeObject",
    ]
    assert [kind for kind, _ in conf] == ["attribute"] * 6 + ["class"]
    may = "MAY ( scimExternalId $ scimUserName $ scimCostCenter $ scimDivision $ scimDisabledAt $ "
    may += "scimMemberOf )"
    assert may in conf[-1][1]
