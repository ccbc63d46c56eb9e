"""``auth.oauth`` is checked like every other key (issue #19): signing keys that load, lifetimes within
Entra's window, well-formed clients; and the ``token`` subcommands make clients, secrets and keys that
the configuration then accepts."""

from __future__ import annotations

import re
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bridge.cli import main
from bridge.config import ConfigError, dump_settings, parse_settings
from bridge.hashes import hash_secret
from bridge.oauth.clients import ClientRegistry
from bridge.oauth.errors import Refused
from bridge.oauth.keys import load_signing_key
from bridge.ops.init.summary import token_endpoint
from tests.oauth_support import settings_with, write_signing_key


def problems(folder: Path, auth: dict[str, Any]) -> list[str]:
    try:
        settings_with(folder, auth)
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.fixture
def key(tmp_path: Path) -> str:
    write_signing_key(tmp_path / "key.pem")
    return "key.pem"  # relative to the configuration's folder


def client(**changes: Any) -> dict[str, Any]:
    return {"id": "entra-prod", "secret_hashes": [hash_secret("s")], **changes}


def test_oauth_clients_or_entra_tokens_let_clients_in_without_a_long_lived_token(
    tmp_path: Path, key: str
) -> None:
    assert (
        problems(tmp_path, {"token_hashes": [], "oauth": {"signing_keys": [key], "clients": [client()]}})
        == []
    )
    entra = {"entra_tokens": {"tenant_id": str(uuid.uuid4())}}
    assert problems(tmp_path, {"token_hashes": [], "oauth": entra}) == []
    assert problems(tmp_path, {"token_hashes": [], "oauth": {"signing_keys": [key]}}) == [
        "auth.token_hashes: at least one token hash is needed (`scim-ldap-bridge token new`), unless "
        "auth.oauth lets clients in (clients or entra_tokens)"
    ]


def pem(private: Any, password: bytes | None = None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read"),
        (b"not a key\n", "holds no PEM private key"),
        (
            pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505 - refused
            "an RSA key of 1024 bits",
        ),
        (pem(ec.generate_private_key(ec.SECP256R1())), "only Ed25519 and RSA keys sign access tokens"),
        (
            pem(rsa.generate_private_key(public_exponent=65537, key_size=2048), b"passphrase"),
            "is encrypted",
        ),
    ],
    ids=["missing", "garbage", "rsa-1024", "ecdsa", "encrypted"],
)
def test_a_signing_key_that_cannot_sign_is_a_configuration_problem(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    if content is not None:
        (tmp_path / "bad.pem").write_bytes(content)
    found = problems(tmp_path, {"oauth": {"signing_keys": ["bad.pem"]}})
    assert len(found) == 1 and found[0].startswith("auth.oauth.signing_keys[0]: ") and problem in found[0], (
        found
    )


@pytest.mark.parametrize(
    ("oauth", "problem"),
    [
        ({"token_lifetime": 3599}, "auth.oauth.token_lifetime: must be between 3600 and 21600 seconds"),
        ({"token_lifetime": 21601}, "auth.oauth.token_lifetime: must be between 3600 and 21600 seconds"),
        (
            {"signing_keys": ["key.pem", "key.pem"]},
            "auth.oauth.signing_keys[1]: the same key as signing_keys[0]",
        ),
        ({"issuer": ""}, "auth.oauth.issuer: must not be empty"),
        ({"clients": [client(id="a:b")]}, "auth.oauth.clients[0].id: 'a:b': use up to 64 letters"),
        ({"clients": [client(), client()]}, "auth.oauth.clients[1].id: 'entra-prod' is listed twice"),
        ({"clients": [client(secret_hashes=[])]}, "auth.oauth.clients[0]: give it secret_hashes"),
        (
            {"clients": [client(secret_hashes=["sha256:abc"])]},
            "auth.oauth.clients[0].secret_hashes[0]: must be 'sha256:' and 64 lower-case hex digits; "
            "make one with `scim-ldap-bridge token secret new`",
        ),
        ({"clients": [client(secrets=["x"])]}, "auth.oauth.clients[0].secrets: unknown key"),
    ],
)
def test_oauth_settings_are_checked_with_a_hint(
    tmp_path: Path, key: str, oauth: dict[str, Any], problem: str
) -> None:
    found = problems(tmp_path, {"oauth": {"signing_keys": [key], **oauth}})
    assert any(item.startswith(problem) for item in found), found


def test_clients_need_a_signing_key(tmp_path: Path) -> None:
    found = problems(tmp_path, {"oauth": {"clients": [client()]}})
    assert found == [
        "auth.oauth.clients: the token endpoint needs a key to sign access tokens: "
        "`scim-ldap-bridge token key new <file>`, then list the file under auth.oauth.signing_keys"
    ]


def test_the_lifetime_takes_entras_whole_window(tmp_path: Path, key: str) -> None:
    for seconds in (3600, 21600):
        settings = settings_with(tmp_path, {"oauth": {"signing_keys": [key], "token_lifetime": seconds}})
        assert settings.auth.oauth.token_lifetime == seconds


def test_dump_config_shows_oauth_without_a_secret_and_loads_back(tmp_path: Path, key: str) -> None:
    oauth = {
        "signing_keys": [key],
        "clients": [
            client(
                federation={
                    "issuer": "https://login.microsoftonline.com/t/v2.0",
                    "subject": "s",
                    "audience": "api://a",
                }
            )
        ],
        "entra_tokens": {"tenant_id": str(uuid.uuid4())},
    }
    settings = settings_with(tmp_path, {"oauth": oauth})
    dumped = dump_settings(settings)
    assert dumped["auth"]["oauth"]["clients"][0]["federation"]["require_jti"] is False
    assert dumped["auth"]["oauth"]["entra_tokens"]["audience"] == "8adf8e6e-67b2-4cf2-a259-e3dc5476c621"
    assert parse_settings(yaml.safe_load(yaml.safe_dump(dumped)), settings.source) == settings


def test_token_client_new_prints_a_secret_once_whose_hash_is_the_config_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["token", "client", "new", "--id", "entra-prod"]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"^Client secret: (\S+)$", out, re.M)
    assert secret and re.search(r"^Client identifier: entra-prod$", out, re.M)
    assert len(secret.group(1)) == 43  # 256 bits, URL-safe base64
    snippet = yaml.safe_load(
        out.split("auth.oauth.clients in the bridge's config:\n", 1)[1].split("The token", 1)[0]
    )
    assert snippet == [{"id": "entra-prod", "secret_hashes": [hash_secret(secret.group(1))]}]
    registry = ClientRegistry([(snippet[0]["id"], snippet[0]["secret_hashes"])])
    assert registry.authenticate("entra-prod", secret.group(1)) == "entra-prod"
    with pytest.raises(Refused):
        registry.authenticate("entra-prod", secret.group(1)[:-1])
    assert main(["token", "client", "new", "--id", "has space"]) == 2
    assert main(["token", "client", "new"]) == 0
    assert re.search(r"^Client identifier: entra-[0-9a-f]{8}$", capsys.readouterr().out, re.M)


def test_token_secret_new_prints_a_fresh_secret_and_its_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "secret", "new"]) == 0
    out = capsys.readouterr().out
    secret = re.search(r"^Client secret: (\S+)$", out, re.M)
    assert secret and f'  - "{hash_secret(secret.group(1))}"' in out


@pytest.mark.parametrize(("kind", "algorithm"), [("ed25519", "EdDSA"), ("rsa", "RS256")])
def test_token_key_new_writes_a_private_key_file_once_that_the_configuration_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, algorithm: str
) -> None:
    path = tmp_path / "signing.pem"
    assert main(["token", "key", "new", str(path), "--type", kind]) == 0
    out = capsys.readouterr().out
    loaded = load_signing_key(path)
    assert loaded.algorithm == algorithm and f"key id {loaded.kid}" in out
    assert stat.S_IMODE(path.stat().st_mode) in (0o600, 0o640)  # 0640 only for the service's group
    assert f'  - "{path}"' in out
    settings = settings_with(tmp_path, {"oauth": {"signing_keys": [str(path)], "clients": [client()]}})
    assert settings.auth.oauth.signing_keys == (str(path),)
    before = path.read_bytes()
    assert main(["token", "key", "new", str(path)]) == 1  # never overwrites a key in use
    assert "File exists" in capsys.readouterr().err and path.read_bytes() == before


def test_init_names_the_token_endpoint_beside_the_tenant_url() -> None:
    assert token_endpoint("https://scim.example.com/scim/v2") == "https://scim.example.com/oauth/token"
    assert token_endpoint("https://scim.example.com/scim/v2/") == "https://scim.example.com/oauth/token"
    assert token_endpoint("http://127.0.0.1:8080/scim/v2") == "http://127.0.0.1:8080/oauth/token"
    assert token_endpoint("https://idm.example.com/provisioning") == "https://idm.example.com/oauth/token"
