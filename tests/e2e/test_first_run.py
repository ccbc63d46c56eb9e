"""The first run (issue 17, point 7): from a fresh directory to a green Test Connection and a passing
selftest, with no file edited by hand. ``init --non-interactive`` writes everything; then the next steps
it prints are run as printed (``check-config --probe``, ``serve``, ``selftest``), and Entra's Test
Connection is sent to the served Tenant URL with the Secret Token it printed. Against a fresh slapd
prepared as docs/install.md says (the bridge's schema, ppolicy), a bare one (neither: init derives the map),
and Samba AD."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.testing import wait_until_serving
from bridge.testing.samba import SambaInfo
from bridge.testing.slapd import Slapd, default_schema_path, find_free_port
from tests.samba_fixtures import AdSubtree

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
STEP = re.compile(r"^\s+\d\. [^:]+:  scim-ldap-bridge (.+?)(?:   \(.*\))?$", re.MULTILINE)


def bridge(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=ENV,
    )


def printed(stdout: str, name: str) -> str:
    """The value of a ``Name: value`` line ``init`` printed."""
    found = re.findall(rf"^{re.escape(name)}: (\S+)$", stdout, re.MULTILINE)
    assert len(found) == 1, stdout
    return str(found[0])


def steps(stdout: str) -> dict[str, list[str]]:
    """The next steps ``init`` printed, by subcommand, as argument lists."""
    found = {}
    for command in STEP.findall(stdout):
        argv = shlex.split(command)
        found[argv[0]] = argv
    assert set(found) == {"check-config", "serve", "selftest"}, stdout
    return found


def call(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def first_run(tmp_path: Path, url: str, bind_dn: str, password: str, *flags: str) -> str:
    """init, then its printed next steps; returns init's output."""
    secret = tmp_path / "typed-password"
    secret.write_text(password + "\n")
    port = find_free_port()
    config = tmp_path / "etc" / "scim-ldap-bridge" / "bridge.yaml"
    done = bridge(
        "init", "--non-interactive", "--config", str(config), "--url", url, "--bind-dn", bind_dn,
        "--bind-password-file", str(secret), "--port", str(port), *flags,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    tenant_url, token = printed(done.stdout, "Tenant URL"), printed(done.stdout, "Secret Token")
    assert tenant_url == f"http://127.0.0.1:{port}/scim/v2"
    todo = steps(done.stdout)

    checked = bridge(*todo["check-config"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "problem:" not in checked.stdout

    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "bridge", *todo["serve"]],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=ENV,
        )
    try:
        wait_until_serving(port, server, log)
        # Entra's Test Connection: a filter on a random value answers 200 and an empty list.
        query = urllib.parse.quote(f'userName eq "{uuid.uuid4()}"')
        status, body = call(f"{tenant_url}/Users?filter={query}", token)
        assert (status, body["totalResults"], body.get("Resources", [])) == (200, 0, []), body
        assert call(f"{tenant_url}/Users?filter={query}", token[:-1] + "x")[0] == 401
    finally:
        server.terminate()
        server.wait(timeout=60)

    tested = bridge(*todo["selftest"])
    assert tested.returncode == 0 and "0 failed" in tested.stdout, tested.stdout + tested.stderr
    return done.stdout


@pytest.fixture(params=["prepared", "bare"])
def fresh_slapd(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A fresh slapd with TLS: ``prepared`` loads the bridge's schema and ppolicy (docs/install.md: The
    directory), ``bare`` neither."""
    prepared = request.param == "prepared"
    server = Slapd(
        tmp_path_factory.mktemp("fresh"),
        ldaps_port=0,
        password="First-Run-Pw-9",
        ppolicy=prepared,
        extra_schema=[default_schema_path()] if prepared else [],
    )
    server.start()
    yield server
    server.stop()


def test_first_run_on_a_fresh_slapd(tmp_path: Path, fresh_slapd: Slapd) -> None:
    info = fresh_slapd.info
    out = first_run(
        tmp_path, info.url, info.bind_dn, info.password, "--tls", "starttls", "--ca-file", str(info.ca_file)
    )
    assert "User base: ou=people,dc=example,dc=org" in out  # found, not given
    assert "Group base: ou=groups,dc=example,dc=org" in out


def test_first_run_on_active_directory(tmp_path: Path, samba: SambaInfo, ad_subtree: AdSubtree) -> None:
    out = first_run(
        tmp_path, samba.ldaps_url, samba.bind_upn, samba.password, "--ca-file", samba.ca_file,
        "--user-base", ad_subtree.user_base, "--group-base", ad_subtree.group_base,
    )  # fmt: skip
    assert "Directory: Active Directory" in out
