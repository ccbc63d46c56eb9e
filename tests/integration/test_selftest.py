"""``scim-ldap-bridge selftest`` against a real slapd: it passes on the shipped map, names what breaks
the Entra contract on a bad one, and always removes its sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.cli import main
from bridge.testing.slapd import SlapdInfo
from tests.conftest import OPENLDAP_MAP
from tests.integration.conftest import write_config
from tests.slapd_fixtures import Inspector, Subtree


def sandboxes(inspector: Inspector) -> list[Any]:
    return inspector.find("(ou=scim-bridge-selftest-*)")


def test_the_selftest_passes_every_flow_on_the_shipped_map_and_leaves_nothing_behind(
    tmp_path: Path,
    slapd: SlapdInfo,
    ldap_subtree: Subtree,
    inspector: Inspector,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, slapd, ldap_subtree, OPENLDAP_MAP)
    assert main(["selftest", "--config", str(config), "--base", ldap_subtree.base]) == 0
    out = capsys.readouterr().out
    assert "0 failed" in out and out.count("PASS ") >= 8, out
    assert "Sandbox: ou=scim-bridge-selftest-" in out
    assert sandboxes(inspector) == []


def test_the_selftest_names_the_flow_and_step_a_map_change_breaks(
    tmp_path: Path,
    slapd: SlapdInfo,
    ldap_subtree: Subtree,
    inspector: Inspector,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = yaml.safe_load(OPENLDAP_MAP.read_text())
    del data["user"]["attributes"]['phoneNumbers[type eq "mobile"].value']  # Entra sends mobiles
    del data["group"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    config = write_config(tmp_path, slapd, ldap_subtree, broken)
    assert main(["selftest", "--config", str(config), "--base", ldap_subtree.base]) == 1
    out = capsys.readouterr().out
    assert "FAIL entra-create-and-update-legacy: step 2" in out and "phoneNumbers" in out, out
    assert "SKIP entra-groups: the map serves no groups" in out
    assert sandboxes(inspector) == []


def test_a_base_that_does_not_exist_fails_cleanly(
    tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, slapd, ldap_subtree, OPENLDAP_MAP)
    assert main(["selftest", "--config", str(config), "--base", f"ou=missing,{ldap_subtree.base}"]) == 1
    assert "FAIL the sandbox" in capsys.readouterr().out
