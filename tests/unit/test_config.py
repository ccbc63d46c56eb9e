"""The configuration: one YAML file, validated once, every problem reported by its YAML path
(docs/architecture.md, Principles 5)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.cli import main
from bridge.config import (
    PLACEHOLDER_HASH,
    ConfigError,
    DeprovisioningConfig,
    LoggingConfig,
    Secret,
    ServerConfig,
    Settings,
    load_settings,
    parse_settings,
    read_bind_password,
)
from bridge.ops.exits import EXIT_CONFIG, EXIT_OK
from tests.conftest import OPENLDAP_MAP, REPO

EXAMPLE = REPO / "config" / "bridge.example.yaml"
VALID_HASH = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config folder with a password file and the shipped map, as an installation has them."""
    (tmp_path / "bind-password").write_text("s3cret-bind\nignored second line\n")
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "openldap.yaml").write_text(OPENLDAP_MAP.read_text())
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def minimal() -> dict[str, Any]:
    """The smallest valid configuration, relative to the ``folder`` fixture."""
    return {
        "auth": {"token_hashes": [VALID_HASH]},
        "ldap": {
            "urls": ["ldap://ldap1.example.org"],
            "bind_dn": "cn=scim-bridge,ou=services,dc=example,dc=org",
            "bind_password_file": "bind-password",
            "user_base": "ou=people,dc=example,dc=org",
        },
        "map": "maps/openldap.yaml",
    }


def edited(**sections: dict[str, Any] | Any) -> dict[str, Any]:
    """``minimal()`` with keys of sections replaced; a non-dict replaces the whole value."""
    data = copy.deepcopy(minimal())
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name].update(value)
        else:
            data[name] = value
    return data


def problems(data: Any, folder: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, str(folder / "bridge.yaml"))
    return caught.value.problems


# --- what parses ---------------------------------------------------------------------------------


def test_the_example_config_parses(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """config/bridge.example.yaml is a working starting point: with its map, a real token hash and its
    password file in place (and a CA file, which the example names by an absolute path), it loads."""
    data = yaml.safe_load(EXAMPLE.read_text())
    assert (EXAMPLE.parent / data["map"]).is_file(), "the example names a map that ships"
    assert data["auth"]["token_hashes"] == [PLACEHOLDER_HASH]
    data["auth"]["token_hashes"] = [VALID_HASH]
    data["map"] = str(OPENLDAP_MAP)
    assert data["ldap"]["bind_password_credential"] == "bind-password"  # the unit's LoadCredential name
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    data["ldap"]["ca_file"] = str(folder / "ca.pem")
    path = folder / "bridge.yaml"
    path.write_text(yaml.safe_dump(data))

    settings = load_settings(path)

    assert settings.ldap.urls == ("ldap://ldap1.example.org", "ldap://ldap2.example.org")
    assert settings.ldap.tls == "starttls"
    assert settings.auth.token_hashes == (VALID_HASH,)
    assert settings.deprovisioning == DeprovisioningConfig("disable", "delete", None)
    assert settings.map_path == OPENLDAP_MAP.resolve()


def test_a_minimal_config_gets_the_documented_defaults(folder: Path) -> None:
    """Every optional key has a default (bridge/config/settings.py field docs)."""
    settings = parse_settings(minimal(), str(folder / "bridge.yaml"))
    assert settings.server == ServerConfig()
    assert (settings.server.host, settings.server.port, settings.server.base_path) == (
        "127.0.0.1",
        8080,
        "/scim/v2",
    )
    assert settings.deprovisioning == DeprovisioningConfig(on_deactivate="disable", on_delete="delete")
    assert settings.logging == LoggingConfig(level="INFO", access_log=True, audit_log=True)
    assert settings.ldap.tls == "starttls"
    assert settings.map_path == (folder / "maps" / "openldap.yaml").resolve()


def test_a_single_value_where_a_list_belongs_is_a_list_of_one(folder: Path) -> None:
    """``urls: ldap://x`` means a list with one URL."""
    settings = parse_settings(edited(ldap={"urls": "ldap://only.example.org"}), str(folder / "bridge.yaml"))
    assert settings.ldap.urls == ("ldap://only.example.org",)


def test_a_systemd_credential_replaces_the_password_file(folder: Path) -> None:
    """bind_password_credential (LoadCredential=) is the alternative to a file."""
    data = edited(ldap={"bind_password_credential": "bind-password"})
    del data["ldap"]["bind_password_file"]
    settings = parse_settings(data, str(folder / "bridge.yaml"))
    assert settings.ldap.bind_password_credential == "bind-password"


@pytest.mark.parametrize(
    ("tls", "url"),
    [("starttls", "ldap://h"), ("none", "ldap://h:389"), ("ldaps", "ldaps://h:636"), ("ldaps", "LDAPS://h")],
)
def test_tls_modes_accept_their_url_schemes(folder: Path, tls: str, url: str) -> None:
    """starttls and none use ldap:// URLs, ldaps uses ldaps:// (bridge/config/settings.py LdapConfig.tls)."""
    settings = parse_settings(edited(ldap={"tls": tls, "urls": [url]}), str(folder / "bridge.yaml"))
    assert settings.ldap.tls == tls


# --- what does not -------------------------------------------------------------------------------

UNKNOWN_KEYS = [
    pytest.param({"servre": {}}, "servre: unknown key (did you mean 'server'?)", id="top-level-typo"),
    pytest.param(
        {"ldap": {"bind_pasword_file": "bind-password"}},
        "ldap.bind_pasword_file: unknown key (did you mean 'bind_password_file'?)",
        id="nested-typo",
    ),
    pytest.param(
        {"server": {"max_body": 10}},
        "server.max_body: unknown key (did you mean 'max_body_bytes'?)",
        id="abbreviation",
    ),
    pytest.param(
        {"ldap": {"port": 389}},
        "ldap.port: unknown key (known keys: urls, bind_dn, user_base, directory, bind_password_file, "
        "bind_password_credential, tls, ca_file, connect_timeout, operation_timeout, pool_size, group_base, "
        "user_filter, uniqueness, probe_interval, probe_timeout)",
        id="nothing-close-lists-the-known-keys",
    ),
    pytest.param({"source": "x"}, "source: unknown key", id="internal-fields-are-not-keys"),
]


@pytest.mark.parametrize(("change", "problem"), UNKNOWN_KEYS)
def test_unknown_keys_are_errors_with_a_did_you_mean(
    folder: Path, change: dict[str, Any], problem: str
) -> None:
    """A typo never passes silently (bridge/config/load.py module docstring)."""
    found = problems(edited(**change), folder)
    assert any(item.startswith(problem) for item in found), found


WRONG_TYPES = [
    pytest.param(
        {"server": {"port": "8080"}}, "server.port: must be an integer, not str '8080'", id="port-as-text"
    ),
    pytest.param(
        {"server": {"port": True}}, "server.port: must be an integer, not bool True", id="bool-is-no-int"
    ),
    pytest.param(
        {"ldap": {"tls": "start_tls"}},
        "ldap.tls: must be 'starttls' or 'ldaps' or 'none', not 'start_tls'",
        id="tls-spelling",
    ),
    pytest.param(
        {"logging": {"level": "info"}},
        "logging.level: must be 'DEBUG' or 'INFO' or 'WARNING' or 'ERROR', not 'info'",
        id="level-case",
    ),
    pytest.param(
        {"deprovisioning": {"on_deactivate": "remove"}},
        "deprovisioning.on_deactivate: must be 'disable' or 'delete', not 'remove'",
        id="policy",
    ),
    pytest.param({"map": 3}, "map: must be a string, not int 3", id="map-not-a-path"),
    pytest.param(
        {"auth": {"token_hashes": {"a": 1}}}, "auth.token_hashes: must be a list of a string", id="hashes"
    ),
    pytest.param(
        {"ldap": "ldap://x"}, "ldap: must be a mapping of keys to values", id="section-not-a-mapping"
    ),
    pytest.param(
        {"ldap": {"urls": ["ldap://x", 5.5]}}, "ldap.urls[1]: must be a string, not float 5.5", id="list-item"
    ),
    pytest.param({"ldap": {"connect_timeout": "5s"}}, "ldap.connect_timeout: must be a number", id="timeout"),
]


@pytest.mark.parametrize(("change", "problem"), WRONG_TYPES)
def test_values_of_the_wrong_type_are_reported_by_yaml_path(
    folder: Path, change: dict[str, Any], problem: str
) -> None:
    """Each problem names its YAML path and what the value must be."""
    found = problems(edited(**change), folder)
    assert any(item.startswith(problem) for item in found), found


def test_missing_required_keys_are_reported_with_their_documentation(folder: Path) -> None:
    """A required key's problem carries its field doc as the hint."""
    data = edited()
    del data["auth"]
    del data["ldap"]["user_base"]
    assert problems(data, folder) == [
        "auth: required (Who may call the bridge.)",
        "ldap.user_base: required (Base DN under which users are created and searched.)",
    ]


def test_a_config_that_is_not_a_mapping_is_one_problem(folder: Path) -> None:
    """A YAML list at the top is refused as a whole."""
    assert problems(["server"], folder) == ["the configuration must be a mapping of keys to values"]


RULES = [
    pytest.param(
        {"auth": {"token_hashes": ["sha256:" + "A" * 64]}},
        "auth.token_hashes[0]: must be 'sha256:' and 64 lower-case hex digits; make one with "
        "`scim-ldap-bridge token new`",
        id="upper-case-hex",
    ),
    pytest.param(
        {"auth": {"token_hashes": ["0" * 64]}}, "auth.token_hashes[0]: must be 'sha256:'", id="no-prefix"
    ),
    pytest.param(
        {"auth": {"token_hashes": [VALID_HASH, "sha256:abc"]}},
        "auth.token_hashes[1]: must be 'sha256:'",
        id="short-second-hash",
    ),
    pytest.param(
        {"auth": {"token_hashes": ["md5:" + "0" * 32]}}, "auth.token_hashes[0]: must be 'sha256:'", id="md5"
    ),
    pytest.param(
        {"auth": {"token_hashes": []}},
        "auth.token_hashes: at least one token hash is needed (`scim-ldap-bridge token new`)",
        id="no-token",
    ),
    pytest.param(
        {"ldap": {"urls": ["ldaps://h"]}},
        "ldap.urls[0]: an ldaps:// URL needs `tls: ldaps`",
        id="ldaps-url-with-starttls",
    ),
    pytest.param(
        {"ldap": {"urls": ["ldaps://h"], "tls": "none"}},
        "ldap.urls[0]: an ldaps:// URL needs `tls: ldaps`",
        id="ldaps-url-with-none",
    ),
    pytest.param(
        {"ldap": {"urls": ["ldaps://a", "ldap://b"], "tls": "ldaps"}},
        "ldap.urls[1]: tls is 'ldaps' but the URL is 'ldap://b'; use ldaps://",
        id="ldap-url-with-ldaps",
    ),
    pytest.param(
        {"ldap": {"urls": ["http://h"]}},
        "ldap.urls[0]: must start with ldap:// or ldaps://, not 'http://h'",
        id="not-an-ldap-url",
    ),
    pytest.param({"ldap": {"urls": []}}, "ldap.urls: at least one directory URL is needed", id="no-url"),
    pytest.param(
        {"ldap": {"bind_password_credential": "c"}},
        "ldap: set exactly one of bind_password_file and bind_password_credential",
        id="file-and-credential",
    ),
    pytest.param(
        {"ldap": {"bind_password_file": None}},
        "ldap: set exactly one of bind_password_file and bind_password_credential",
        id="neither-file-nor-credential",
    ),
    pytest.param(
        {"ldap": {"bind_password_file": "nope"}}, "ldap.bind_password_file: no such file: ", id="missing-file"
    ),
    pytest.param({"ldap": {"ca_file": "nope.pem"}}, "ldap.ca_file: no such file: ", id="missing-ca"),
    pytest.param(
        {"ldap": {"user_filter": "uid=admin"}},
        "ldap.user_filter: expected '(' at position 0 (write it as an RFC 4515 filter in parentheses)",
        id="filter-without-parentheses",
    ),
    pytest.param({"ldap": {"pool_size": 0}}, "ldap.pool_size: must be more than 0", id="pool"),
    pytest.param(
        {"ldap": {"operation_timeout": -1}}, "ldap.operation_timeout: must be more than 0", id="timeout"
    ),
    pytest.param(
        {"server": {"base_path": "/scim/v2/"}},
        "server.base_path: must start with '/' and not end with one, e.g. /scim/v2",
        id="base-path",
    ),
    pytest.param({"server": {"port": 70000}}, "server.port: must be between 1 and 65535", id="port-range"),
    pytest.param({"server": {"threads": 0}}, "server.threads: must be at least 1", id="threads"),
    pytest.param({"server": {"processes": 0}}, "server.processes: must be between 1 and 64", id="processes"),
    pytest.param(
        {"server": {"channel_timeout": 0}}, "server.channel_timeout: must be at least 1", id="channel-timeout"
    ),
    pytest.param(
        {"server": {"read_timeout": 0}}, "server.read_timeout: must be at least 1", id="read-timeout"
    ),
    pytest.param(
        {"server": {"connection_limit": 0}}, "server.connection_limit: must be at least 1", id="connections"
    ),
    pytest.param(
        {"ldap": {"uniqueness": "overlay"}},
        "ldap.uniqueness: must be 'bridge' or 'directory', not 'overlay'",
        id="uniqueness",
    ),
    pytest.param({"map": "maps/missing.yaml"}, "map: no such file: ", id="missing-map"),
    pytest.param(
        {"auth": {"token_hashes": [PLACEHOLDER_HASH]}},
        "auth.token_hashes[0]: the example's placeholder, which no token matches",
        id="placeholder-hash",
    ),
    pytest.param(
        {"ldap": {"user_base": "people"}},
        "ldap.user_base: 'people' is not a DN: write it whole",
        id="relative-base",
    ),
    pytest.param(
        {"ldap": {"group_base": "ou=groups,,dc=example"}},
        "ldap.group_base: 'ou=groups,,dc=example' is not a DN",
        id="empty-rdn",
    ),
    pytest.param(
        {"deprovisioning": {"disabled_base": "disabled"}},
        "deprovisioning.disabled_base: 'disabled' is not a DN",
        id="relative-disabled-base",
    ),
    pytest.param(
        {"ldap": {"bind_password_file": None, "bind_password_credential": "bind-password-missing"}},
        "ldap.bind_password_credential: no credential 'bind-password-missing': the unit loads it from ",
        id="credential-not-beside-the-config",
    ),
]


@pytest.mark.parametrize(("change", "problem"), RULES)
def test_rules_across_keys_and_files_are_checked_with_a_hint(
    folder: Path, change: dict[str, Any], problem: str
) -> None:
    """Token hash format, TLS/URL consistency, password source, files that must exist
    (docs/architecture.md, Principles 5)."""
    found = problems(edited(**change), folder)
    assert any(item.startswith(problem) for item in found), found


def test_every_type_problem_is_reported_at_once(folder: Path) -> None:
    """One run shows every structural problem, not the first (bridge/config/load.py load_settings)."""
    data = edited(
        ldap={"tls": "start_tls", "bind_pasword_file": "x"}, server={"port": "80"}, logging={"level": "info"}
    )
    del data["auth"]
    assert [problem.split(":")[0] for problem in problems(data, folder)] == [
        "auth",
        "ldap.bind_pasword_file",
        "ldap.tls",
        "server.port",
        "logging.level",
    ]


def test_every_rule_problem_is_reported_at_once(folder: Path) -> None:
    """One run shows every cross-key problem, not the first."""
    data = edited(
        auth={"token_hashes": ["sha256:abc"]},
        ldap={"urls": ["ldaps://h"], "bind_password_file": "nope", "pool_size": 0},
        server={"base_path": "scim"},
        map="maps/missing.yaml",
    )
    assert [problem.split(":")[0] for problem in problems(data, folder)] == [
        "auth.token_hashes[0]",
        "ldap.urls[0]",
        "ldap.bind_password_file",
        "ldap.pool_size",
        "server.base_path",
        "map",
    ]


def test_a_typo_does_not_hide_the_other_problems(folder: Path) -> None:
    """ "Every problem reported at once": an unknown key and a bad token hash in one file are both
    reported in one run (docs/architecture.md, Principles 5; bridge/config/load.py's docstring)."""
    found = problems(edited(auth={"token_hashes": ["sha256:abc"]}, servre={}), folder)
    assert any(item.startswith("servre: unknown key") for item in found)
    assert any(item.startswith("auth.token_hashes[0]: must be 'sha256:'") for item in found)


def test_the_error_message_lists_every_problem_under_the_file_name(folder: Path) -> None:
    """What check-config prints: the file, the count, one problem per line."""
    with pytest.raises(ConfigError) as caught:
        parse_settings(edited(server={"port": 0, "threads": 0}), str(folder / "bridge.yaml"))
    assert str(caught.value) == (
        f"{folder / 'bridge.yaml'}: 2 problem(s):\n"
        "  - server.port: must be between 1 and 65535\n"
        "  - server.threads: must be at least 1"
    )


def test_load_settings_reads_the_file_and_resolves_the_map_next_to_it(folder: Path) -> None:
    """``map`` is relative to the config file's folder, wherever the bridge is started."""
    path = folder / "bridge.yaml"
    path.write_text(yaml.safe_dump(minimal()))
    assert load_settings(path).map_path == (folder / "maps" / "openldap.yaml").resolve()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("server: [unclosed\n", "not valid YAML"),
        ("", "auth: required"),
    ],
)
def test_load_settings_reports_broken_and_empty_files(folder: Path, text: str, problem: str) -> None:
    """Broken YAML and an empty file are ConfigErrors, not tracebacks."""
    path = folder / "bridge.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(problem in item for item in caught.value.problems)


def test_load_settings_reports_a_missing_file(folder: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(folder / "absent.yaml")


# --- secrets -------------------------------------------------------------------------------------


def test_the_bind_password_is_the_first_line_of_its_file_and_never_shows_itself(folder: Path) -> None:
    """matrix-synapse-ldap3's bind_password_file; a Secret's repr hides it."""
    settings = parse_settings(minimal(), str(folder / "bridge.yaml"))
    secret = read_bind_password(settings.ldap, folder)
    assert secret.reveal() == "s3cret-bind"
    assert "s3cret" not in repr(secret)
    assert "s3cret" not in str(secret)
    assert "s3cret" not in f"{[secret]}"


def test_the_bind_password_comes_from_the_systemd_credentials_directory(folder: Path, tmp_path: Path) -> None:
    """LoadCredential= puts the file in $CREDENTIALS_DIRECTORY."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "bind-password").write_text("from-systemd\n")
    data = edited(ldap={"bind_password_credential": "bind-password", "bind_password_file": None})
    settings = parse_settings(data, str(folder / "bridge.yaml"))
    secret = read_bind_password(settings.ldap, folder, {"CREDENTIALS_DIRECTORY": str(credentials)})
    assert secret.reveal() == "from-systemd"
    # From a shell: the file the unit loads the credential from, beside the configuration.
    assert read_bind_password(settings.ldap, folder, {}).reveal() == "s3cret-bind"
    with pytest.raises(ConfigError, match="cannot read the bind password"):
        read_bind_password(settings.ldap, credentials / "elsewhere", {})


def test_a_secret_is_redacted_in_a_settings_repr() -> None:
    """Secrets never reach a log line through a repr (bridge/config/secret.py Secret)."""
    assert repr(Secret("hunter2")) == "Secret('***')"


# --- the command line ----------------------------------------------------------------------------


def test_token_new_prints_a_token_once_and_the_matching_hash_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scim-ldap-bridge token new`: a token for Entra's Secret Token field, shown once, and the
    config line holding its SHA-256, which the config accepts ([D1])."""
    assert main(["token", "new"]) == EXIT_OK
    out = capsys.readouterr().out
    token = re.search(r"^Secret Token: (\S+)$", out, re.MULTILINE)
    line = re.search(r'^  - "(sha256:[0-9a-f]{64})"$', out, re.MULTILINE)
    assert token is not None and line is not None, out
    assert len(token.group(1)) >= 43  # 256 bits, URL-safe base64
    assert out.count(token.group(1)) == 1
    assert line.group(1) == "sha256:" + hashlib.sha256(token.group(1).encode()).hexdigest()
    settings = parse_settings(edited(auth={"token_hashes": [line.group(1)]}), str(folder / "bridge.yaml"))
    assert settings.auth.token_hashes == (line.group(1),)


def test_two_new_tokens_differ(capsys: pytest.CaptureFixture[str]) -> None:
    """Tokens are random (secrets.token_urlsafe), never derived from anything."""
    main(["token", "new"])
    main(["token", "new"])
    tokens = re.findall(r"^Secret Token: (\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert len(set(tokens)) == 2


def test_check_config_exits_0_for_a_good_config_and_2_with_every_problem_for_a_bad_one(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scim-ldap-bridge check-config`: exit codes 0 and 2, problems on stderr by YAML path."""
    good = folder / "bridge.yaml"
    good.write_text(yaml.safe_dump(minimal()))
    assert main(["check-config", "--config", str(good)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "configuration is valid" in out
    expected = "Groups: served from" if minimal()["ldap"].get("group_base") else "Groups: not served"
    assert expected in out, "check-config says whether /Groups is served"

    bad = folder / "bad.yaml"
    bad.write_text(yaml.safe_dump(edited(server={"port": 0, "threads": 0})))
    assert main(["check-config", "--config", str(bad)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "server.port: must be between 1 and 65535" in err
    assert "server.threads: must be at least 1" in err


def test_check_config_also_checks_the_attribute_map(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A broken map is found before serving, with its row's path."""
    (folder / "maps" / "openldap.yaml").write_text(
        OPENLDAP_MAP.read_text().replace("title: title", "title: cn")
    )
    path = folder / "bridge.yaml"
    path.write_text(yaml.safe_dump(minimal()))
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
    assert "user.attributes.title: LDAP attribute cn is already mapped" in capsys.readouterr().err


def test_settings_cannot_change_after_validation(folder: Path) -> None:
    """Configuration is validated once and then immutable (docs/architecture.md, Principles 5: frozen
    dataclasses)."""
    settings: Settings = parse_settings(minimal(), str(folder / "bridge.yaml"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.ldap.tls = "none"  # type: ignore[misc]


def test_a_dn_with_escaped_commas_and_an_oid_is_whole(folder: Path) -> None:
    data = edited(ldap={"user_base": r"ou=R\, D,2.5.4.11=x,dc=example,dc=org"})
    assert parse_settings(data, str(folder / "bridge.yaml")).ldap.user_base.startswith("ou=R")


def test_an_empty_or_unreadable_password_file_is_a_problem(folder: Path) -> None:
    (folder / "bind-password").write_text("\n")
    assert any("is empty; its first line is the bind password" in p for p in problems(minimal(), folder))


def test_a_credential_is_read_where_systemd_puts_it(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the unit (ExecStartPre runs check-config too), $CREDENTIALS_DIRECTORY holds the credential."""
    data = edited(ldap={"bind_password_file": None, "bind_password_credential": "bind-password"})
    assert parse_settings(data, str(folder / "bridge.yaml")).ldap.bind_password_credential == "bind-password"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder / "maps"))
    assert any("ldap.bind_password_credential: no such file" in p for p in problems(data, folder))


def test_each_problem_names_the_line_of_its_key(folder: Path) -> None:
    """An admin fixes a file by its lines: every problem of a key that is in the file says which."""
    path = folder / "bridge.yaml"
    data = edited(ldap={"user_base": "people", "pool_size": 0}, server={"prot": 1})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    lines = path.read_text().splitlines()
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    found = caught.value.problems
    for key, problem in (
        ("user_base", "ldap.user_base:"),
        ("pool_size", "ldap.pool_size:"),
        ("prot", "server.prot:"),
    ):
        number = next(i for i, line in enumerate(lines, 1) if line.strip().startswith(f"{key}:"))
        assert f"line {number}: {problem}" in "\n".join(found), found
    assert "did you mean 'port'" in "\n".join(found)


def test_a_yaml_error_names_the_file(folder: Path) -> None:
    path = folder / "bridge.yaml"
    path.write_text("auth:\n  token_hashes: [\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(path) in caught.value.problems[0] and "<unicode string>" not in str(caught.value)
