"""Configuration: frozen dataclasses, loaded from one YAML file and validated once at start.

Every key is documented in its field's ``doc`` (docs/configuration.md's reference table is checked
against these by a test). :func:`load_settings` reports every problem at once, each with its YAML path
and a hint; unknown keys are errors, with a "did you mean", so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from bridge import yamlfile
from bridge.directory.filterparse import LdapFilterSyntaxError, parse_ldap_filter
from bridge.mapping.load import MapError, parse_maps
from bridge.mapping.model import MapSet, ResourceMap


class ConfigError(Exception):
    """The configuration has problems; ``problems`` lists each as ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


class Secret:
    """A secret value that never shows itself in a repr, a log line or a traceback."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself; call only where it is handed to the directory."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def doc(text: str, default: Any = MISSING) -> Any:
    """A dataclass field with documentation (and a default, when given)."""
    if default is MISSING:
        return field(metadata={"doc": text})
    if isinstance(default, list | dict):
        raise TypeError("use a tuple default")  # pragma: no cover - guards the declarations below
    return field(default=default, metadata={"doc": text})


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = doc(
        "Address to listen on. Keep 127.0.0.1 behind a reverse proxy on the same host.", "127.0.0.1"
    )
    port: int = doc("TCP port to listen on.", 8080)
    threads: int = doc("Worker threads of the waitress server (requests served at once).", 8)
    processes: int = doc(
        "Bridge processes serving the port, each with its own threads and LDAP pool: more than 1 uses "
        "more cores (Python runs one thread at a time per process). Each process keeps its own recently "
        "seen entries, circuit-breaker count and failed-authentication counts.",
        1,
    )
    base_path: str = doc("URL path prefix of the SCIM endpoints.", "/scim/v2")
    public_url: str | None = doc(
        "The public base URL clients use (e.g. https://scim.example.com/scim/v2), for meta.location. "
        "When unset, it is built from the request's Host header.",
        None,
    )
    max_body_bytes: int = doc("Largest request body accepted; larger ones get 413.", 1_048_576)
    trusted_proxies: tuple[str, ...] = doc(
        "Addresses or networks (127.0.0.1, 10.0.0.0/8, ::1) of the reverse proxies in front of the "
        "bridge. For a request from one of them, the client is the last address in X-Forwarded-For that "
        "is not a trusted proxy; that address is logged and rate-limited. Empty: the peer's address.",
        (),
    )
    max_results: int = doc(
        "Most resources one list response holds, advertised as filter.maxResults; a larger count is "
        "lowered to it (RFC 7644 3.4.2.4).",
        1000,
    )
    max_matches: int | None = doc(
        "Most resources a query may match: one matching more is refused with 400 tooMany (RFC 7644 "
        "3.12), for example to stop unfiltered lists of a huge directory. Unset: no limit.",
        None,
    )
    connection_limit: int = doc(
        "Most client connections one process holds open at once. Past it, new connections wait in the "
        "kernel's queue until one closes; idle and slow ones close after channel_timeout and "
        "read_timeout, so the wait is bounded.",
        100,
    )
    channel_timeout: int = doc(
        "Seconds a connection may stay idle (no request arriving, none being answered) before the bridge "
        "closes it. A reverse proxy that keeps connections to the bridge open must close its idle ones "
        "sooner (nginx: keepalive_timeout in the upstream block).",
        20,
    )
    read_timeout: int = doc(
        "Seconds a client may take to send one whole request, headers and body, from its first byte; "
        "a slower one is disconnected, so a client trickling bytes (slowloris) cannot hold a connection.",
        30,
    )


@dataclass(frozen=True, slots=True)
class FederationConfig:
    issuer: str = doc(
        "The iss of the client's assertions, compared exactly: Entra's 'Issuer (iss)', "
        "https://login.microsoftonline.com/<tenant id>/v2.0."
    )
    subject: str = doc(
        "Their sub, compared exactly: Entra's 'Subject (sub)' (the provisioning service's workload identity)."
    )
    audience: str = doc(
        "Their aud: Entra's 'Audience (aud)', e.g. api://<app id> (a trailing /.default is ignored too)."
    )
    discovery_url: str | None = doc(
        "The OpenID discovery document whose jwks_uri lists the issuer's signing keys (HTTPS). Unset: "
        "the issuer's own, <issuer>/.well-known/openid-configuration.",
        None,
    )
    jwks_file: str | None = doc(
        "A JWKS file with the issuer's keys instead, relative to this file (air-gapped sites).", None
    )
    require_jti: bool = doc(
        "Refuse assertions without a jti. Either way an assertion's jti is accepted once while it is "
        "valid, per instance. Entra's assertions carry none, so keep false for Entra.",
        False,
    )


@dataclass(frozen=True, slots=True)
class OAuthClientConfig:
    id: str = doc(
        "The client identifier (Entra's 'Client identifier'): letters, digits and . _ ~ -, up to 64."
    )
    secret_hashes: tuple[str, ...] = doc(
        "SHA-256 hashes of its secrets, as 'sha256:<64 hex digits>' (from `scim-ldap-bridge token "
        "client new` or `token secret new`). List several to rotate without downtime.",
        (),
    )
    federation: FederationConfig | None = doc(
        "Authenticate this client with RFC 7523 assertions its identity provider signs (Entra's workload "
        "identity federation), with or without secrets.",
        None,
    )


@dataclass(frozen=True, slots=True)
class EntraTokensConfig:
    tenant_id: str = doc("The Entra tenant (directory) ID, a GUID.")
    audience: str = doc(
        "The aud the tokens must carry: for every non-gallery app, 8adf8e6e-67b2-4cf2-a259-e3dc5476c621.",
        "8adf8e6e-67b2-4cf2-a259-e3dc5476c621",
    )
    discovery_url: str | None = doc(
        "The OpenID discovery document whose jwks_uri lists the tenant's keys (HTTPS). Unset: "
        "https://sts.windows.net/<tenant_id>/.well-known/openid-configuration.",
        None,
    )
    jwks_file: str | None = doc("A JWKS file with the tenant's keys instead, relative to this file.", None)


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    signing_keys: tuple[str, ...] = doc(
        "PEM files of the keys that sign access tokens (Ed25519 or RSA; `scim-ldap-bridge token key new`), "
        "relative to this file. The first signs, all verify: every instance needs the same files. "
        "Empty: no token endpoint.",
        (),
    )
    issuer: str = doc(
        "The iss of the access tokens the bridge issues, checked on every call.", "scim-ldap-bridge"
    )
    audience: str = doc("Their aud, checked on every call.", "scim-ldap-bridge/scim")
    token_lifetime: int = doc(
        "Seconds an access token is valid: 3600 to 21600 (Entra's window, 60 minutes to 6 hours).", 3600
    )
    clients: tuple[OAuthClientConfig, ...] = doc(
        "The clients that may ask POST /oauth/token for an access token (client credentials grant).", ()
    )
    entra_tokens: EntraTokensConfig | None = doc(
        "Accept on SCIM calls the bearer JWTs Entra issues itself when its Secret Token field is blank "
        "(Microsoft: for testing only).",
        None,
    )


@dataclass(frozen=True, slots=True)
class AuthConfig:
    token_hashes: tuple[str, ...] = doc(
        "SHA-256 hashes of the accepted bearer tokens, as 'sha256:<64 hex digits>' (from "
        "`scim-ldap-bridge token new`). List several to rotate tokens without downtime. May be empty "
        "when oauth lets clients in.",
        (),
    )
    max_failures: int = doc(
        "Failed authentications (no token, or a token that is not valid) one client address may make "
        "within failure_window seconds; past that, its requests without a valid token are refused with "
        "429 until the window has passed. A valid token is checked first and always passes, and is never "
        "counted. 0 turns it off.",
        20,
    )
    failure_window: int = doc("The window of max_failures, in seconds.", 60)
    oauth: OAuthConfig = doc(
        "OAuth 2.0: the token endpoint's clients and signing keys, federation, Entra's own tokens.",
        OAuthConfig(),
    )


@dataclass(frozen=True, slots=True)
class LdapConfig:
    urls: tuple[str, ...] = doc(
        "Directory servers, tried in order (failover): ldap://host[:port] or ldaps://host[:port]."
    )
    bind_dn: str = doc("DN the bridge binds as; it needs write access to the user base.")
    user_base: str = doc("Base DN under which users are created and searched.")
    directory: Literal["openldap", "active_directory"] = doc(
        "The kind of directory: openldap (ids are entryUUID) or active_directory (ids are objectGUID).",
        "openldap",
    )
    bind_password_file: str | None = doc("File holding the bind password (first line).", None)
    bind_password_credential: str | None = doc(
        "Name of a systemd credential (LoadCredential=) holding the bind password; read from "
        "$CREDENTIALS_DIRECTORY.",
        None,
    )
    tls: Literal["starttls", "ldaps", "none"] = doc(
        "starttls (ldap:// URLs, upgraded before the bind), ldaps (ldaps:// URLs) or none. "
        "'none' sends the bind password in clear text: only for a directory on the same host.",
        "starttls",
    )
    ca_file: str | None = doc(
        "PEM file of the CA that signed the directory's certificate; "
        "the system's CAs when unset. Certificates are always verified.",
        None,
    )
    connect_timeout: float = doc(
        "Seconds to wait for a directory server to accept a connection, and again for each step of "
        "opening it (TLS, the bind).",
        5.0,
    )
    operation_timeout: float = doc("Seconds to wait for the answer to one LDAP operation.", 10.0)
    pool_size: int = doc("LDAP connections opened at start, kept open and shared by the worker threads.", 8)
    group_base: str | None = doc("Base DN for groups.", None)
    user_filter: str | None = doc(
        "Extra LDAP filter ANDed to every user search: entries that do not match are invisible "
        "and untouchable, e.g. (!(uid=admin)).",
        None,
    )
    uniqueness: Literal["bridge", "directory"] = doc(
        "Who keeps userName and group displayName unique across the bases: bridge (a search before "
        "each create and rename) or directory (the directory refuses a duplicate: slapd's unique overlay "
        "on the naming attributes; one LDAP operation less per create).",
        "bridge",
    )
    probe_interval: float = doc(
        "Seconds between two checks of each directory server by the background probe: a read of the "
        "root DSE on a connection of its own while the server answers, a connect and bind while it does "
        "not (after a refused bind, every 10 s). A server found down gets no request until it answers "
        "again; they get 503 with Retry-After at once.",
        0.5,
    )
    probe_timeout: float = doc(
        "Seconds the probe (and /readyz) waits for a directory server to answer; a server that takes "
        "longer is down until it answers again.",
        1.0,
    )


@dataclass(frozen=True, slots=True)
class DeprovisioningConfig:
    on_deactivate: Literal["disable", "delete"] = doc(
        "What active=false (Entra's unassign, PATCH or PUT) does: disable the account with the map's "
        "disable method, or delete the entry.",
        "disable",
    )
    on_delete: Literal["delete", "disable"] = doc(
        "What DELETE (Entra's hard delete) does: delete the entry, or only disable it.", "delete"
    )
    delete_after_days: int | None = doc(
        "Disable now, delete later: `scim-ldap-bridge sweep` (its systemd timer runs it daily) deletes "
        "users disabled more than this many days ago, as the map's active.since attribute records. "
        "A user re-enabled before then keeps its account, id and groups. Unset: disabled users stay.",
        None,
    )
    disabled_base: str | None = doc(
        "When set, disabled users are moved under this DN and moved back to user_base when enabled.",
        None,
    )


@dataclass(frozen=True, slots=True)
class SafetyConfig:
    read_only: bool = doc(
        "Refuse every write with 503 and Retry-After (clients such as Entra retry later, so nothing is "
        "lost): for maintenance, or to watch a first cycle before letting it write.",
        False,
    )
    protected_dns: tuple[str, ...] = doc(
        "DNs of users and groups the bridge never modifies, disables or deletes (403), such as admins "
        "and service accounts. They stay visible.",
        (),
    )
    protected_filter: str | None = doc(
        "An LDAP filter: users and groups that match it are protected like protected_dns, e.g. "
        "(|(memberOf=cn=admins,ou=groups,dc=example,dc=org)(employeeType=service)).",
        None,
    )
    deprovision_limit: int = doc(
        "The circuit breaker: more disables and deletes than this within deprovision_window seconds "
        "(counted by each instance) trip it, and every further one is refused with 503 until an "
        "operator runs `scim-ldap-bridge breaker release`. 0 turns it off.",
        500,
    )
    deprovision_window: int = doc("The breaker's sliding window, in seconds.", 3600)
    breaker_base: str | None = doc(
        "Where the entry that records a tripped breaker for every instance lives: the bridge adds the "
        "organizationalRole cn=scim-ldap-bridge-breaker there, and `breaker release` deletes it. "
        "Unset: ldap.user_base.",
        None,
    )


@dataclass(frozen=True, slots=True)
class ScimConfig:
    unmapped: Literal["ignore", "reject"] = doc(
        "What a write does with values of attributes the map does not store (Entra's default mappings "
        "send roles, for example). ignore: the write goes on without them, and each path is named in "
        "the audit log and the access line, counted in scim_bridge_unmapped_attributes_total and summed "
        "by `scim-ldap-bridge report`. reject: the request is refused with 400 invalidValue and "
        "nothing is written. A value of a mapped attribute that would not read back as sent is refused "
        "either way.",
        "ignore",
    )


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = doc("Least severe level logged.", "INFO")
    access_log: bool = doc("One JSON line per request (method, route, status, duration).", True)
    audit_log: bool = doc("One JSON line per directory write (operation, DN, attribute names).", True)
    audit_file: str | None = doc(
        "Also append the audit lines to this file (an absolute path, e.g. "
        "/var/log/scim-ldap-bridge/audit.jsonl), reopened when logrotate moves it. Unset: only stderr.",
        None,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    auth: AuthConfig = doc("Who may call the bridge.")
    ldap: LdapConfig = doc("How to reach the directory.")
    map: str = doc("Attribute-map file, relative to this file (e.g. maps/openldap.yaml).")
    server: ServerConfig = doc("The HTTP server.", ServerConfig())
    deprovisioning: DeprovisioningConfig = doc("What unassign and delete do.", DeprovisioningConfig())
    safety: SafetyConfig = doc("Guardrails on writes.", SafetyConfig())
    scim: ScimConfig = doc("How SCIM requests are taken.", ScimConfig())
    logging: LoggingConfig = doc("Logging on stderr, as JSON lines.", LoggingConfig())
    source: str = field(default="", metadata={"internal": True})

    @property
    def map_path(self) -> Path:
        """The attribute-map file, resolved against the config file's folder."""
        return (Path(self.source).parent / self.map).resolve()


# --- the generic loader --------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(arg) for arg in typing.get_args(tp) if arg is not type(None))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    """``value`` converted to ``tp``, or None after appending a problem."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _convert(inner, value, path, problems)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        problems.append(f"{path}: must be {_type_name(tp)}, not {value!r}")
        return None
    if origin is tuple:
        if isinstance(value, str | int | float):
            value = [value]  # one value where a list is expected is a list of one
        if not isinstance(value, list):
            problems.append(f"{path}: must be {_type_name(tp)}")
            return None
        inner = typing.get_args(tp)[0]
        return tuple(_convert(inner, item, f"{path}[{i}]", problems) for i, item in enumerate(value))
    if is_dataclass(tp):
        return _load_dataclass(tp, value, path, problems)
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        problems.append(f"{path}: must be {_type_name(tp)}, not {type(value).__name__} {value!r}")
        return None
    return float(value) if tp is float else value


def _load_dataclass(cls: Any, data: Any, path: str, problems: list[str]) -> Any:
    where = f"{path}: " if path else "the configuration "
    if not isinstance(data, Mapping):
        problems.append(f"{where}must be a mapping of keys to values")
        return None
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls) if not f.metadata.get("internal")]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
            problems.append(f"{path + '.' if path else ''}{key}: unknown key{hint}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.metadata.get("internal"):
            continue
        sub = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], sub, problems)
        elif f.default is MISSING:
            problems.append(f"{sub}: required ({f.metadata['doc']})")
            values[f.name] = None
    # Built even when some values are missing or wrong (they are None, and reported), so that the
    # checks across keys still run and every problem is reported in one go.
    return cls(**values)


PLACEHOLDER_HASH = "sha256:" + "0" * 64  # the example configuration's: no token has it


def _check_hashes(hashes: tuple[str, ...], key: str, command: str, problems: list[str]) -> None:
    """Each hash must be ``sha256:`` and 64 lower-case hex digits, and not the example's placeholder."""
    for i, token_hash in enumerate(hashes):
        digest = str(token_hash).removeprefix("sha256:")
        if (
            not str(token_hash).startswith("sha256:")
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            problems.append(
                f"{key}[{i}]: must be 'sha256:' and 64 lower-case hex digits; "
                f"make one with `scim-ldap-bridge {command}`"
            )
        elif token_hash == PLACEHOLDER_HASH:
            problems.append(
                f"{key}[{i}]: the example's placeholder, which no token matches; "
                f"make a real one with `scim-ldap-bridge {command}` (or run `scim-ldap-bridge init`)"
            )


def _check_auth(auth: AuthConfig, base_dir: Path, problems: list[str]) -> None:
    hashes = auth.token_hashes or ()
    _check_hashes(hashes, "auth.token_hashes", "token new", problems)
    oauth = auth.oauth
    if oauth is not None:
        _check_oauth(oauth, base_dir, problems)
    other_ways = oauth is not None and bool(oauth.clients or oauth.entra_tokens)
    if auth.token_hashes is not None and not hashes and not other_ways:
        problems.append(
            "auth.token_hashes: at least one token hash is needed (`scim-ldap-bridge token new`), "
            "unless auth.oauth lets clients in (clients or entra_tokens)"
        )


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _check_oauth(oauth: OAuthConfig, base_dir: Path, problems: list[str]) -> None:
    """The signing keys load, clients are well-formed and unique, each way to a provider's keys works."""
    if not (oauth.signing_keys or oauth.clients or oauth.entra_tokens):
        return  # not configured: nothing to check, and no cryptography to import
    from bridge.oauth import keys  # noqa: PLC0415 - cryptography only where OAuth is configured
    from bridge.oauth.clients import CLIENT_ID  # noqa: PLC0415
    from bridge.oauth.tokens import MAX_LIFETIME, MIN_LIFETIME  # noqa: PLC0415

    kids: dict[str, int] = {}
    for i, name in enumerate(oauth.signing_keys or ()):
        if name is None:
            continue
        try:
            kid = keys.load_signing_key(base_dir / name).kid
        except keys.KeyFileError as exc:
            problems.append(f"auth.oauth.signing_keys[{i}]: {exc}")
            continue
        if kid in kids:
            problems.append(f"auth.oauth.signing_keys[{i}]: the same key as signing_keys[{kids[kid]}]")
        kids.setdefault(kid, i)
    lifetime = oauth.token_lifetime
    if lifetime is not None and not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
        problems.append(
            f"auth.oauth.token_lifetime: must be between {MIN_LIFETIME} and {MAX_LIFETIME} seconds "
            "(Entra's window: 60 minutes to 6 hours)"
        )
    for key in ("issuer", "audience"):
        if getattr(oauth, key) == "":
            problems.append(f"auth.oauth.{key}: must not be empty")
    if oauth.clients and not oauth.signing_keys:
        problems.append(
            "auth.oauth.clients: the token endpoint needs a key to sign access tokens: "
            "`scim-ldap-bridge token key new <file>`, then list the file under auth.oauth.signing_keys"
        )
    seen: set[str] = set()
    for i, client in enumerate(oauth.clients or ()):
        if client is None:
            continue
        where = f"auth.oauth.clients[{i}]"
        if client.id is not None:
            if not CLIENT_ID.match(client.id):
                problems.append(f"{where}.id: {client.id!r}: use up to 64 letters, digits and . _ ~ -")
            elif client.id in seen:
                problems.append(f"{where}.id: {client.id!r} is listed twice")
            seen.add(client.id)
        _check_hashes(client.secret_hashes or (), f"{where}.secret_hashes", "token secret new", problems)
        federation = client.federation
        if not client.secret_hashes and federation is None:
            problems.append(
                f"{where}: give it secret_hashes (`scim-ldap-bridge token secret new`), a federation, or both"
            )
        if federation is not None:
            from bridge.oauth.jwks import discovery_url_for  # noqa: PLC0415

            for key in ("issuer", "subject", "audience"):
                if getattr(federation, key) == "":
                    problems.append(f"{where}.federation.{key}: must not be empty")
            derived = discovery_url_for(federation.issuer) if federation.issuer else None
            _check_key_source(federation, derived, f"{where}.federation", base_dir, problems)
    entra = oauth.entra_tokens
    if entra is not None:
        from bridge.oauth.entra import entra_issuer  # noqa: PLC0415
        from bridge.oauth.jwks import discovery_url_for  # noqa: PLC0415

        tenant: str | None = entra.tenant_id
        if tenant is not None and not _GUID.match(tenant):
            problems.append(
                f"auth.oauth.entra_tokens.tenant_id: {tenant!r} is not a GUID; use the Directory (tenant) ID "
                "from Entra's overview page"
            )
            tenant = None
        derived = discovery_url_for(entra_issuer(tenant)) if tenant else None
        _check_key_source(entra, derived, "auth.oauth.entra_tokens", base_dir, problems)


def _check_key_source(
    source: FederationConfig | EntraTokensConfig,
    derived: str | None,
    key: str,
    base_dir: Path,
    problems: list[str],
) -> None:
    """A provider's keys come from a JWKS file that holds usable keys, or from an HTTPS discovery document
    (plain HTTP only from a loopback address)."""
    from bridge.oauth import jwks  # noqa: PLC0415

    if source.jwks_file is not None and source.discovery_url is not None:
        problems.append(f"{key}: set at most one of discovery_url and jwks_file")
    elif source.jwks_file is not None:
        try:
            jwks.from_file(base_dir / source.jwks_file)()
        except jwks.FetchError as exc:
            problems.append(f"{key}.jwks_file: {exc}")
    elif source.discovery_url is not None:
        problem = jwks.url_problem(source.discovery_url)
        if problem:
            problems.append(f"{key}.discovery_url: {problem}")
    elif derived is not None:
        problem = jwks.url_problem(derived)
        if problem:
            problems.append(f"{key}: the keys' discovery document {problem}; set discovery_url or jwks_file")


def _check_filter(text: str | None, key: str, problems: list[str]) -> None:
    """An LDAP filter setting must parse (RFC 4515), so a broken one is a config error, not a 500 later."""
    if text is None:
        return
    try:
        parse_ldap_filter(text)
    except LdapFilterSyntaxError as exc:
        problems.append(f"{key}: {exc} (write it as an RFC 4515 filter in parentheses)")


def _check_ldap(ldap: LdapConfig, base_dir: Path, problems: list[str]) -> None:
    if ldap.urls is not None and not ldap.urls:
        problems.append("ldap.urls: at least one directory URL is needed")
    for i, url in enumerate(ldap.urls or ()):
        if url is None:
            continue  # its type problem is reported already
        scheme = url.split("://", 1)[0].lower() if url and "://" in url else ""
        if scheme not in ("ldap", "ldaps"):
            problems.append(f"ldap.urls[{i}]: must start with ldap:// or ldaps://, not {url!r}")
        elif ldap.tls == "ldaps" and scheme != "ldaps":
            problems.append(f"ldap.urls[{i}]: tls is 'ldaps' but the URL is {url!r}; use ldaps://")
        elif ldap.tls in ("starttls", "none") and scheme == "ldaps":
            problems.append(f"ldap.urls[{i}]: an ldaps:// URL needs `tls: ldaps`")
    if ldap.directory == "active_directory" and ldap.tls == "none":
        problems.append(
            "ldap.tls: Active Directory refuses simple binds and password changes without TLS; "
            "use starttls or ldaps"
        )
    if (ldap.bind_password_file is None) == (ldap.bind_password_credential is None):
        problems.append("ldap: set exactly one of bind_password_file and bind_password_credential")
    elif ldap.bind_password_file is not None:
        _check_secret_file(base_dir / ldap.bind_password_file, "ldap.bind_password_file", problems)
    elif ldap.bind_password_credential is not None:
        _check_credential(ldap.bind_password_credential, base_dir, problems)
    for key in ("user_base", "group_base"):  # not bind_dn: AD also binds as user@domain
        _check_dn(getattr(ldap, key), f"ldap.{key}", problems)
    if ldap.ca_file is not None and not (base_dir / ldap.ca_file).is_file():
        problems.append(f"ldap.ca_file: no such file: {base_dir / ldap.ca_file}")
    _check_filter(ldap.user_filter, "ldap.user_filter", problems)
    for name in ("pool_size", "connect_timeout", "operation_timeout", "probe_interval", "probe_timeout"):
        number = getattr(ldap, name)
        if number is not None and number <= 0:
            problems.append(f"ldap.{name}: must be more than 0")


def _check_secret_file(path: Path, key: str, problems: list[str]) -> None:
    """The bind password's file must be there, readable by this user, and hold a first line."""
    if not path.is_file():
        problems.append(f"{key}: no such file: {path}")
    elif not os.access(path, os.R_OK):
        problems.append(f"{key}: {path} cannot be read by this user (the one the bridge runs as)")
    elif not path.read_text(encoding="utf-8", errors="replace").partition("\n")[0]:
        problems.append(f"{key}: {path} is empty; its first line is the bind password")


def _check_credential(name: str, base_dir: Path, problems: list[str]) -> None:
    """Under systemd the credential is in $CREDENTIALS_DIRECTORY; from a shell, check-config looks for the
    file the unit loads it from (``LoadCredential=bind-password:/etc/scim-ldap-bridge/bind-password``:
    beside the configuration, under the credential's name), which is root's alone."""
    key = "ldap.bind_password_credential"
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if directory:
        _check_secret_file(Path(directory) / name, key, problems)
    elif not (base_dir / name).is_file():
        problems.append(
            f"{key}: no credential {name!r}: the unit loads it from {base_dir / name} "
            f"(LoadCredential={name}:{base_dir / name}), which does not exist"
        )


_ATTRIBUTE_TYPE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)$")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def _check_dn(dn: str | None, key: str, problems: list[str]) -> None:
    """A DN must be whole (RFC 4514): ``attribute=value`` parts separated by commas, such as
    ``ou=people,dc=example,dc=org``; a relative name such as ``people`` names nothing."""
    if dn is None:
        return
    parts = _UNESCAPED_COMMA.split(dn)
    for part in parts:
        attribute, equals, value = part.partition("=")
        if not equals or not _ATTRIBUTE_TYPE.match(attribute.strip()) or not value.strip():
            problems.append(
                f"{key}: {dn!r} is not a DN: write it whole, as attribute=value parts separated by commas, "
                "e.g. ou=people,dc=example,dc=org"
            )
            return


def _check_server(server: ServerConfig, problems: list[str]) -> None:
    for i, proxy in enumerate(server.trusted_proxies or ()):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(f"server.trusted_proxies[{i}]: {proxy!r} is not an IP address or network")
    base_path = server.base_path
    if base_path is not None and (not base_path.startswith("/") or base_path.endswith("/")):
        problems.append("server.base_path: must start with '/' and not end with one, e.g. /scim/v2")
    if server.port is not None and not 0 < server.port < 65536:
        problems.append("server.port: must be between 1 and 65535")
    if server.threads is not None and server.threads < 1:
        problems.append("server.threads: must be at least 1")
    if server.processes is not None and not 1 <= server.processes <= 64:
        problems.append("server.processes: must be between 1 and 64")
    for name in ("connection_limit", "channel_timeout", "read_timeout"):
        number = getattr(server, name)
        if number is not None and number < 1:
            problems.append(f"server.{name}: must be at least 1")


def _check_deprovisioning(deprovisioning: DeprovisioningConfig, problems: list[str]) -> None:
    _check_dn(deprovisioning.disabled_base, "deprovisioning.disabled_base", problems)
    days = deprovisioning.delete_after_days
    if days is not None and days < 0:
        problems.append("deprovisioning.delete_after_days: must be 0 or more days")


def _check_safety(safety: SafetyConfig, problems: list[str]) -> None:
    _check_filter(safety.protected_filter, "safety.protected_filter", problems)
    _check_dn(safety.breaker_base, "safety.breaker_base", problems)
    if safety.deprovision_limit is not None and safety.deprovision_limit < 0:
        problems.append("safety.deprovision_limit: must be 0 (off) or more")
    if safety.deprovision_window is not None and safety.deprovision_window < 1:
        problems.append("safety.deprovision_window: must be at least 1 second")


def _check(settings: Settings, base_dir: Path, problems: list[str]) -> None:
    """Rules that span keys or look at the machine; every value may be None (already reported)."""
    if settings.auth is not None:
        _check_auth(settings.auth, base_dir, problems)
    if settings.ldap is not None:
        _check_ldap(settings.ldap, base_dir, problems)
    if settings.server is not None:
        _check_server(settings.server, problems)
    if settings.safety is not None:
        _check_safety(settings.safety, problems)
    if settings.deprovisioning is not None:
        _check_deprovisioning(settings.deprovisioning, problems)
    if settings.map is not None and not (base_dir / settings.map).is_file():
        problems.append(f"map: no such file: {base_dir / settings.map}")


def dump_settings(settings: Settings) -> dict[str, Any]:
    """The effective configuration, defaults included, as the YAML that would load back to it. It holds
    no secret: tokens are kept as hashes, and the bind password lives in a file or a credential."""

    def plain(value: Any) -> Any:
        if is_dataclass(value) and not isinstance(value, type):
            return {
                f.name: plain(getattr(value, f.name)) for f in fields(value) if not f.metadata.get("internal")
            }
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        return value

    dumped: dict[str, Any] = plain(settings)
    return dumped


def parse_settings(data: Any, source: str) -> Settings:
    """Settings from parsed YAML ``data``; raises ConfigError listing every problem."""
    problems: list[str] = []
    settings = _load_dataclass(Settings, data, "", problems)
    if settings is not None:
        settings = dataclasses.replace(settings, source=source)
        _check(settings, Path(source).parent, problems)
    if problems or settings is None:
        raise ConfigError(source, problems)
    return typing.cast(Settings, settings)


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate the YAML config at ``path``; each problem names the line of its key."""
    source = str(Path(path).resolve())
    try:
        parsed = yamlfile.read(path)
    except yamlfile.YamlError as exc:
        raise ConfigError(str(path), [str(exc)]) from exc
    try:
        return parse_settings(parsed.data if parsed.data is not None else {}, source)
    except ConfigError as exc:
        raise ConfigError(exc.source, [parsed.where(problem) for problem in exc.problems]) from None


def read_bind_password(ldap: LdapConfig, base_dir: Path, environ: Mapping[str, str] = os.environ) -> Secret:
    """The bind password from its file or systemd credential (first line, newline stripped). Outside
    systemd (no ``$CREDENTIALS_DIRECTORY``: a command an admin runs from a root shell), a credential is
    read from the file the unit loads it from, beside the configuration under its name."""
    if ldap.bind_password_credential is not None:
        directory = environ.get("CREDENTIALS_DIRECTORY") or str(base_dir)
        path = Path(directory) / ldap.bind_password_credential
    else:
        path = base_dir / typing.cast(str, ldap.bind_password_file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the bind password: {exc.strerror}"]) from exc
    return Secret(text.splitlines()[0] if text else "")


def load_maps(path: str | os.PathLike[str]) -> MapSet:
    """Read and compile the attribute-map file at ``path``; MapError lists its problems, each with the
    line of its key."""
    source = str(path)
    try:
        parsed = yamlfile.read(path)
    except yamlfile.YamlError as exc:
        raise MapError(source, [str(exc)]) from exc
    try:
        return parse_maps(parsed.data, source)
    except MapError as exc:
        raise MapError(source, [parsed.where(problem) for problem in exc.problems]) from None


def load_user_map(path: str | os.PathLike[str]) -> ResourceMap:
    """The user map of the map file at ``path``."""
    return load_maps(path).user
