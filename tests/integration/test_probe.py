"""``check-config --probe`` (issue #8, point 3) against real slapds: what the configuration needs from the
live directory, as the bind DN, one line per check, and the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bridge.testing.slapd import Slapd, SlapdInfo, default_schema_path
from tests.conftest import OPENLDAP_MAP
from tests.integration.conftest import cli, write_config
from tests.slapd_fixtures import Inspector, Subtree, make_subtree


def probe(config: Path) -> tuple[int, list[str]]:
    done = cli("check-config", "--config", str(config), "--probe")
    levels = ("ok: ", "warning: ", "problem: ")
    return done.returncode, [line for line in done.stdout.splitlines() if line.startswith(levels)]


def test_a_well_prepared_directory_passes_every_check_and_the_probe_leaves_nothing(
    config_file: Path, slapd: SlapdInfo, inspector: Inspector
) -> None:
    before = inspector.people()
    code, lines = probe(config_file)
    assert code == 0, lines
    assert lines[0] == f"ok: bound to {slapd.url} as {slapd.bind_dn}"
    assert f"ok: ldap.user_base {inspector.subtree.user_base} exists" in lines
    assert f"ok: ldap.group_base {inspector.subtree.group_base} exists" in lines
    assert any(line.startswith("ok: the bind DN may add and delete entries under") for line in lines)
    assert "ok: ppolicy overlay present (the map disables with pwdAccountLockedTime)" in lines
    assert "ok: server-side sorting and virtual list view: long lists are cut by the directory" in lines
    assert "warning: cannot read cn=config as the bind DN: index check skipped" in lines
    assert not [line for line in lines if line.startswith("problem:")]
    assert inspector.people() == before  # the probe entry is gone


def test_a_missing_base_is_a_problem_and_exit_1(config_file: Path) -> None:
    config = yaml.safe_load(config_file.read_text())
    config["ldap"]["group_base"] = "ou=nowhere,dc=example,dc=org"
    config_file.write_text(yaml.safe_dump(config))
    code, lines = probe(config_file)
    assert code == 1
    assert (
        "problem: ldap.group_base ou=nowhere,dc=example,dc=org does not exist, or the bind DN cannot see it"
        in lines
    )


def test_a_directory_without_ppolicy_sssvlv_or_the_schema_is_told_what_to_load(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    server = Slapd(tmp_path_factory.mktemp("bare"), ppolicy=False, sssvlv=False)  # no scim-bridge.schema
    with server as info, make_subtree(info) as subtree:
        (tmp_path / "bind-password").write_text(info.password + "\n")
        config = {
            "auth": {"token_hashes": ["sha256:" + "1" * 64]},
            "ldap": {
                "urls": [info.url],
                "tls": "none",
                "bind_dn": info.bind_dn,
                "bind_password_file": "bind-password",
                "user_base": subtree.user_base,
            },
            "map": str(Path(default_schema_path()).parents[1] / "maps" / "openldap.yaml"),
        }
        path = tmp_path / "bridge.yaml"
        path.write_text(yaml.safe_dump(config))
        code, lines = probe(path)
    assert code == 1
    problems = [line for line in lines if line.startswith("problem:")]
    assert any(
        "the map disables with ppolicy, but the directory offers no password policy" in p for p in problems
    )
    assert "problem: the map uses scimExternalId: load config/schema/scim-bridge.schema" in problems
    assert any(p.startswith("problem: the map records disable times in scimDisabledAt") for p in problems)
    assert any(line.startswith("warning: no server-side sorting and virtual list view") for line in lines)


def test_membership_on_the_members_is_probed_for_the_dynlist_overlay(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    """A probe group whose memberURL finds itself shows a member only where dynlist runs; a directory
    without the dyngroup schema cannot hold the group at all."""
    data = yaml.safe_load(OPENLDAP_MAP.read_text())
    data["group"].update(
        object_classes=["groupOfURLs"], members={"attribute": "scimMemberOf", "kept_on": "members"}
    )
    map_path = tmp_path / "dynlist.yaml"
    map_path.write_text(yaml.safe_dump(data))
    shown = "ok: the dynlist overlay shows a group's member from its memberURL"
    server = Slapd(tmp_path_factory.mktemp("dynlist"), extra_schema=[default_schema_path()], dynlist=True)
    with server as info, make_subtree(info) as subtree:
        inspector = Inspector(info, subtree)
        before = inspector.people()
        code, lines = probe(write_config(tmp_path, info, subtree, map_path))
        assert code == 0 and shown in lines, lines
        assert inspector.people() == before  # the probe group is gone
        inspector.conn.unbind()
    code, lines = probe(write_config(tmp_path, slapd, ldap_subtree, map_path))  # no dyngroup.schema here
    assert code == 1 and shown not in lines
    assert any(
        line.startswith("problem: cannot add a groupOfURLs group with memberURL under") for line in lines
    ), lines


def test_uniqueness_left_to_the_directory_is_probed_with_two_namesakes(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, slapd: SlapdInfo, ldap_subtree: Subtree
) -> None:
    """With ldap.uniqueness: directory, a directory that accepts a second entry with the same uid is a
    problem (duplicate users would follow); one with the unique overlay passes. No probe entry stays."""
    refused = "ok: ldap.uniqueness: directory: the directory refuses a second uid value"

    def config_for(info: SlapdInfo, subtree: Subtree) -> Path:
        path = write_config(tmp_path, info, subtree)
        config = yaml.safe_load(path.read_text())
        config["ldap"]["uniqueness"] = "directory"
        path.write_text(yaml.safe_dump(config))
        return path

    server = Slapd(tmp_path_factory.mktemp("unique"), extra_schema=[default_schema_path()], unique=True)
    with server as info, make_subtree(info) as subtree:
        inspector = Inspector(info, subtree)
        before = inspector.people()
        code, lines = probe(config_for(info, subtree))
        assert code == 0 and refused in lines, lines
        assert inspector.people() == before
        inspector.conn.unbind()
    inspector = Inspector(slapd, ldap_subtree)
    before = inspector.people()
    code, lines = probe(config_for(slapd, ldap_subtree))  # the session slapd has no unique overlay
    assert code == 1 and refused not in lines
    assert any(
        line.startswith("problem: ldap.uniqueness is directory, but the directory accepted") for line in lines
    )
    assert inspector.people() == before
    inspector.conn.unbind()
