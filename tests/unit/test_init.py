"""The parts of ``scim-ldap-bridge init`` that need no directory: which config may be replaced, how
candidate bases rank, which map a directory gets, how files are written, and the non-interactive prompts.
(tests/integration/test_init.py and tests/e2e/test_first_run.py run it against slapd and Samba AD.)"""

from __future__ import annotations

import grp
import os
import shutil
import stat
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bridge.mapping.load import parse_maps
from bridge.ops.init import InitError
from bridge.ops.init.discover import Discovery, Kind, rank
from bridge.ops.init.maps import MapPlan, plan_map, shipped_map
from bridge.ops.init.prompts import Prompts
from bridge.ops.init.write import config_state, default_store, layout, service_gid, write_file
from tests.conftest import OPENLDAP_MAP, REPO

AD_MAP = REPO / "config" / "maps" / "active-directory.yaml"
INET_ORG_PERSON = {"inetorgperson", "groupofnames", "shadowaccount", "organizationalunit"}
ATTRIBUTES = {"uid", "employeetype", "businesscategory", "shadowexpire", "admindescription"}


def found(
    kind: Kind = "openldap",
    *,
    ppolicy: bool = True,
    schema: bool = True,
    classes: set[str] = INET_ORG_PERSON,
    attributes: set[str] = ATTRIBUTES,
) -> Discovery:
    bridge_attributes = {"scimexternalid", "scimcostcenter", "scimdivision", "scimdisabledat"}
    return Discovery(
        kind=kind,
        vendor="test",
        naming_contexts=("dc=example,dc=org",),
        user_bases=(),
        group_bases=(),
        counted_all=True,
        controls=frozenset({"1.3.6.1.4.1.42.2.27.8.5.1"} if ppolicy else set()),
        overlays=None,
        object_classes=frozenset(classes | ({"scimbridgeobject"} if schema else set())),
        attribute_types=frozenset(attributes | (bridge_attributes if schema else set())),
        lockout_policy=True,
    )


def loads(plan: MapPlan) -> None:
    parse_maps(yaml.safe_load(plan.text), plan.name)  # raises MapError on any problem


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


def test_only_a_missing_file_or_the_shipped_example_may_be_replaced_without_force(tmp_path: Path) -> None:
    path = tmp_path / "bridge.yaml"
    assert config_state(path) == "absent"
    shutil.copy(REPO / "config" / "bridge.example.yaml", path)
    assert config_state(path) == "example"
    data = yaml.safe_load(path.read_text())
    data["auth"]["token_hashes"].append("sha256:" + "a" * 64)  # someone's token beside the placeholder
    path.write_text(yaml.safe_dump(data))
    assert config_state(path) == "real"
    path.write_text("auth: [unclosed\n")
    assert config_state(path) == "real"  # unreadable is not proof of an example
    assert default_store(Path("/etc/scim-ldap-bridge/bridge.yaml")) == "credential"
    assert default_store(path) == "file"


def test_the_base_with_the_most_entries_wins_then_a_usual_name_then_an_ou() -> None:
    counts = Counter({"ou=staff,dc=x": 2, "ou=People,dc=x": 1, "cn=misc,dc=x": 1})
    ranked = rank(counts, ["ou=people,dc=x", "ou=users,dc=x", "cn=Users,dc=x"])
    assert [(b.dn, b.count, b.named) for b in ranked] == [
        ("ou=staff,dc=x", 2, False),
        ("ou=People,dc=x", 1, True),  # the count's spelling, found by name too (case-insensitively)
        ("cn=misc,dc=x", 1, False),
        ("ou=users,dc=x", 0, True),  # an OU before a container of the same name and count
        ("cn=Users,dc=x", 0, True),
    ]


def test_a_directory_with_what_the_shipped_map_needs_gets_it_unchanged() -> None:
    kinds: list[tuple[Kind, Path]] = [("openldap", OPENLDAP_MAP), ("active_directory", AD_MAP)]
    for kind, shipped in kinds:
        extra = {"msds-cloudextensionattribute1"} if kind == "active_directory" else set()
        plan = plan_map(found(kind, attributes=ATTRIBUTES | extra), shipped)
        assert (plan.name, plan.text, plan.changes) == (shipped.name, shipped.read_text(), ())


def test_derived_maps_load_and_say_what_they_changed() -> None:
    plan = plan_map(found(ppolicy=False, schema=False), OPENLDAP_MAP)
    loads(plan)
    assert plan.name == "openldap-derived.yaml" and len(plan.changes) == 6
    assert plan.text.startswith("# Attribute map written by `scim-ldap-bridge init`")
    ad = plan_map(found("active_directory"), AD_MAP)  # no msDS-cloudExtensionAttribute1 in its schema
    loads(ad)
    assert yaml.safe_load(ad.text)["user"]["attributes"]["externalId"] == "adminDescription"
    assert ad.name == "active-directory-derived.yaml"


def test_without_ppolicy_and_shadow_account_there_is_no_disable_method_to_derive() -> None:
    with pytest.raises(InitError) as refused:
        plan_map(found(ppolicy=False, classes={"inetorgperson"}), OPENLDAP_MAP)
    assert "no ppolicy overlay, and no shadowAccount class" in refused.value.message
    assert "load the ppolicy overlay" in refused.value.hint


def test_a_missing_shipped_map_is_named_with_where_it_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(InitError) as missing:
        shipped_map("openldap", (tmp_path,))
    assert (
        missing.value.message == f"cannot find the shipped attribute map openldap.yaml (looked in {tmp_path})"
    )
    assert shipped_map("openldap") == OPENLDAP_MAP  # from the checkout


def test_files_get_their_mode_whatever_the_umask_and_replace_the_old_one_whole(
    tmp_path: Path, umask: None
) -> None:
    path = tmp_path / "bridge.yaml"
    path.write_text("old")
    write_file(path, "new\n", 0o640, None)
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    write_file(tmp_path / "secret", "pw\n", 0o600, os.getegid())
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bridge.yaml", "secret"]  # no temporary left


def test_non_interactive_prompts_take_defaults_and_name_the_missing_flag() -> None:
    ask = Prompts(interactive=False)
    assert ask.value("TLS", "--tls", "starttls") == "starttls"
    assert ask.value("CA file", "--ca-file", optional=True) == ""
    with pytest.raises(InitError) as missing:
        ask.value("Bind DN", "--bind-dn")
    assert (missing.value.message, missing.value.code) == ("--bind-dn is needed with --non-interactive", 2)
    with pytest.raises(InitError) as secret:
        ask.secret("Bind password")
    assert "--bind-password-file" in secret.value.message


def test_interactive_prompts_keep_asking_for_a_required_answer() -> None:
    answers = iter(["", "  ", "cn=admin,dc=example,dc=org"])
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    assert Prompts(True, answer).value("Bind DN", "--bind-dn") == "cn=admin,dc=example,dc=org"
    assert asked == ["Bind DN: "] * 3


def test_files_go_to_the_service_group_only_as_root_and_only_where_it_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As root with the package's group: config, map and a password file the service reads itself are the
    group's (the file 0640); a credential stays root's alone (0600). Anyone else's files stay their own."""

    def group(name: str) -> grp.struct_group:
        if name != "scim-ldap-bridge":
            raise KeyError(name)
        return grp.struct_group(("scim-ldap-bridge", "x", 4242, []))

    monkeypatch.setattr(grp, "getgrnam", group)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert service_gid() == 4242
    as_file = layout(tmp_path / "bridge.yaml", "file")
    assert (as_file.gid, as_file.password_mode, as_file.password_gid) == (4242, 0o640, 4242)
    credential = layout(tmp_path / "bridge.yaml", "credential")
    assert (credential.gid, credential.password_mode, credential.password_gid) == (4242, 0o600, None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert service_gid() is None
    assert layout(tmp_path / "bridge.yaml", None).password_mode == 0o600
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(grp, "getgrnam", lambda name: (_ for _ in ()).throw(KeyError(name)))
    assert service_gid() is None  # no package, no group: root's own
