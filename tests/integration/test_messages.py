"""Failures an admin can cause are one line that says what to do, never a traceback (issue #17, point 3):
a port in use, a directory that does not answer, a credential the shell cannot see, a config that is a
folder, the demo's ports taken."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bridge.testing.samba import SambaInfo
from bridge.testing.slapd import SlapdInfo, find_free_port
from tests.integration.conftest import cli, write_config
from tests.slapd_fixtures import Subtree


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other process listens on."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    yield holder.getsockname()[1]
    holder.close()


def no_traceback(*outputs: str) -> None:
    assert all("Traceback" not in text for text in outputs), outputs


def test_serve_on_a_port_in_use_says_so_and_how_to_find_the_holder(
    slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path, taken_port: int
) -> None:
    config = write_config(tmp_path, slapd, ldap_subtree)
    data = yaml.safe_load(config.read_text())
    data["server"] = {"port": taken_port}
    config.write_text(yaml.safe_dump(data))
    done = cli("serve", "--config", str(config))
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken_port}: another process holds it" in done.stderr
    assert f"ss -ltnp 'sport = :{taken_port}'" in done.stderr
    no_traceback(done.stdout, done.stderr)


def test_probe_of_a_directory_that_does_not_answer_is_one_problem_line(
    slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path
) -> None:
    config = write_config(tmp_path, slapd, ldap_subtree)
    data = yaml.safe_load(config.read_text())
    data["ldap"]["urls"] = [f"ldap://127.0.0.1:{find_free_port()}"]
    data["ldap"]["connect_timeout"] = 1
    config.write_text(yaml.safe_dump(data))
    done = cli("check-config", "--probe", "--config", str(config))
    assert done.returncode == 1
    assert [line for line in done.stdout.splitlines() if line.startswith("problem: ")], done.stdout
    no_traceback(done.stdout, done.stderr)


def test_probe_from_a_shell_reads_the_credential_the_unit_would_load(
    slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path
) -> None:
    """The unit's LoadCredential=bind-password:/etc/scim-ldap-bridge/bind-password, beside the config."""
    config = write_config(tmp_path, slapd, ldap_subtree)
    data = yaml.safe_load(config.read_text())
    del data["ldap"]["bind_password_file"]
    data["ldap"]["bind_password_credential"] = "bind-password"
    config.write_text(yaml.safe_dump(data))
    done = cli("check-config", "--probe", "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: bound to" in done.stdout
    (tmp_path / "bind-password").unlink()
    missing = cli("check-config", "--config", str(config))
    assert missing.returncode == 2 and "no credential 'bind-password'" in missing.stderr
    no_traceback(done.stdout, done.stderr, missing.stdout, missing.stderr)


def test_a_config_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    done = cli("check-config", "--config", str(tmp_path))
    assert done.returncode == 2 and "cannot read: Is a directory" in done.stderr
    no_traceback(done.stdout, done.stderr)


def test_config_and_map_problems_are_reported_together_with_their_lines(
    slapd: SlapdInfo, ldap_subtree: Subtree, tmp_path: Path
) -> None:
    config = write_config(tmp_path, slapd, ldap_subtree)
    data = yaml.safe_load(config.read_text())
    data["ldap"]["user_base"] = "people"
    map_path = tmp_path / "map.yaml"
    map_path.write_text(
        "user:\n  object_classes: [inetOrgPerson]\n  rdn: userName\n  attributes:\n"
        "    userName: uid\n    titel: title\n"
    )
    data["map"] = str(map_path)
    config.write_text(yaml.safe_dump(data))
    done = cli("check-config", "--config", str(config))
    assert done.returncode == 2
    assert "ldap.user_base: 'people' is not a DN" in done.stderr
    assert "line 6: user.attributes.titel:" in done.stderr and "did you mean 'title'" in done.stderr
    no_traceback(done.stdout, done.stderr)


@pytest.mark.samba
def test_the_ad_demo_with_its_ports_taken_says_which(samba: SambaInfo) -> None:
    """The session's DC holds 389 and 636, as another DC or slapd would on an admin's machine."""
    done = cli("demo", "--directory", "ad", "--port", str(find_free_port()))
    assert done.returncode == 1
    assert "cannot start a Samba DC" in done.stderr and "already in use" in done.stderr
    no_traceback(done.stdout, done.stderr)


def test_the_demo_on_a_port_in_use_says_so(taken_port: int) -> None:
    done = cli("demo", "--port", str(taken_port))
    assert done.returncode == 1
    assert f"port {taken_port} is in use by another process" in done.stderr
    no_traceback(done.stdout, done.stderr)
