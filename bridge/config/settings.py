"""The configuration's shape: one frozen dataclass per section of the YAML file, and :class:`Settings`.

Every key is documented in its field's ``doc`` (docs/configuration.md's reference table is checked
against these by a test); the defaults are the fields' defaults. Reading and checking the file is
:mod:`bridge.config.load`'s job.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any, Literal


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
    threads: int = doc(
        "Requests each process serves at once; a request waits for one of these places once it has "
        "arrived whole, so a slow client holds none.",
        8,
    )
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
        "a slower one is disconnected, so a client trickling bytes (slowloris) cannot hold a connection. "
        "While every connection of connection_limit is taken and others wait, channel_timeout is the "
        "limit instead.",
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
    pool_size: int = doc("LDAP connections opened at start, kept open and shared by the requests.", 8)
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
