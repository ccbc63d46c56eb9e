"""``scim-ldap-bridge preview`` (issue #7, point 3): a SCIM request runs through the bridge over the real
slapd, and the directory operations it would perform are printed, none performed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from bridge.scim.schemas import PATCH_OP
from tests.conftest import SCIM, ScimClient
from tests.integration.conftest import cli
from tests.slapd_fixtures import Inspector

ENTRA_DISABLE = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}


def test_a_previewed_disable_prints_the_lock_and_writes_nothing(
    config_file: Path, ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    client = ldap_client()
    user = client.post_user({"userName": "pia@contoso.com", "active": True}).json
    ((dn, _),) = inspector.find("(uid=pia@contoso.com)")
    before = inspector.people()  # every entry of the subtree with its entryCSN
    shown = cli(
        "preview",
        "--config",
        str(config_file),
        "PATCH",
        f"/Users/{user['id']}",
        "--body",
        "-",
        stdin=json.dumps(ENTRA_DISABLE),
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "SCIM response: 200"
    assert '"active": false' in shown.stdout  # the answer the client would get
    (operation,) = [line for line in lines if line.startswith("- ")]
    assert operation.startswith(f"- modify {dn} ")
    lock, when = json.loads(operation.split(" ", 3)[3])["changes"]
    assert lock == {"op": "replace", "attribute": "pwdAccountLockedTime", "values": ["000001010000Z"]}
    assert (when["op"], when["attribute"]) == ("replace", "scimDisabledAt")
    assert re.fullmatch(r"20\d{12}Z", when["values"][0])  # the time of the disable
    assert inspector.people() == before
    assert client.simulate_get(f"{SCIM}/Users/{user['id']}").json["active"] is True


def test_a_previewed_create_hides_the_password_and_adds_nothing(
    config_file: Path, inspector: Inspector
) -> None:
    before = inspector.people()
    body = {"userName": "quinn@contoso.com", "password": "Never-Shown-1!", "name": {"familyName": "Q"}}
    shown = cli(
        "preview",
        "--config",
        str(config_file),
        "POST",
        "/scim/v2/Users",
        "--body",
        "-",
        stdin=json.dumps(body),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("SCIM response: 201")
    (operation,) = [line for line in shown.stdout.splitlines() if line.startswith("- add ")]
    added = json.loads(operation.split(" ", 3)[3])["attributes"]
    assert added["uid"] == ["quinn@contoso.com"] and added["userPassword"] == ["(not shown)"]
    assert "Never-Shown-1!" not in shown.stdout and "{SSHA}" not in shown.stdout
    assert inspector.people() == before


def test_a_previewed_delete_and_a_refused_request(
    config_file: Path, ldap_client: Callable[..., ScimClient], inspector: Inspector
) -> None:
    user = ldap_client().post_user({"userName": "rex@contoso.com"}).json
    ((dn, _),) = inspector.find("(uid=rex@contoso.com)")
    before = inspector.people()
    shown = cli("preview", "--config", str(config_file), "DELETE", f"Users/{user['id']}")
    assert shown.returncode == 0 and shown.stdout.splitlines()[0] == "SCIM response: 204"
    assert f"- delete {dn}" in shown.stdout.splitlines()
    assert inspector.people() == before
    refused = cli("preview", "--config", str(config_file), "GET", "Users?filter=password pr")
    assert refused.returncode == 1 and "SCIM response: 400" in refused.stdout
    assert "Directory operations: none" in refused.stdout
