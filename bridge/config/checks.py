"""The rules of the configuration that span keys or look at the machine: files that must exist and be
readable, URLs that must fit the TLS mode, DNs and LDAP filters that must parse, OAuth keys that must load.
Each problem is appended to a list as ``path: message``, so that one run reports them all.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

from bridge.config.settings import (
    AuthConfig,
    DeprovisioningConfig,
    EntraTokensConfig,
    FederationConfig,
    LdapConfig,
    OAuthConfig,
    SafetyConfig,
    ServerConfig,
    Settings,
)
from bridge.directory.filterparse import LdapFilterSyntaxError, parse_ldap_filter

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


def check(settings: Settings, base_dir: Path, problems: list[str]) -> None:
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
