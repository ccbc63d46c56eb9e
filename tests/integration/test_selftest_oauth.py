"""``selftest`` with OAuth configured (issue #19): it asks the token endpoint for an access token with a
client of its own, as Entra does, and replays every flow with that token against a real slapd; so the
configured signing key, the endpoint and the token checks are exercised before Entra sees them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from bridge.cli import main
from bridge.hashes import hash_secret, new_secret
from bridge.testing.slapd import SlapdInfo
from tests.integration.conftest import write_config
from tests.oauth_support import write_signing_key
from tests.slapd_fixtures import Inspector, Subtree


def test_the_selftest_runs_the_flows_on_an_access_token_from_the_token_endpoint(
    *,
    tmp_path: Path,
    slapd: SlapdInfo,
    ldap_subtree: Subtree,
    inspector: Inspector,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(tmp_path, slapd, ldap_subtree)
    data = yaml.safe_load(config.read_text())
    write_signing_key(tmp_path / "oauth-signing.pem")
    data["auth"] = {  # no long-lived token: OAuth only
        "oauth": {
            "signing_keys": ["oauth-signing.pem"],
            "clients": [{"id": "entra-prod", "secret_hashes": [hash_secret(new_secret())]}],
        }
    }
    config.write_text(yaml.safe_dump(data))
    with caplog.at_level(logging.INFO):
        assert main(["selftest", "--config", str(config), "--base", ldap_subtree.base]) == 0
    out = capsys.readouterr().out
    assert "PASS oauth: /oauth/token issued an access token to selftest-" in out, out
    assert "0 failed" in out and out.count("PASS ") >= 9, out
    issued = [r for r in caplog.records if r.getMessage().startswith("issued an access token to selftest-")]
    assert len(issued) == 1
    assert not [r for r in caplog.records if r.getMessage().startswith("refused")]
    assert inspector.find("(ou=scim-bridge-selftest-*)") == []
