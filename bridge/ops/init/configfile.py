"""The configuration file ``init`` writes, as text: the settings it found or was given, the token's hash,
and a header saying when, for what, and where the bind password is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from bridge.ops.init.discover import Discovery, Kind
from bridge.ops.init.write import CREDENTIAL, PASSWORD_FILE, Layout

# On AD, what the bridge never modifies, disables or deletes: the domain's critical system objects
# (Administrator, krbtgt, Guest, Domain Admins and the other built-in groups) and the accounts and groups
# that AD protects as administrative (adminCount).
AD_PROTECTED = "(|(isCriticalSystemObject=TRUE)(adminCount=1))"


def config_text(
    where: Layout,
    *,
    kind: Kind,
    urls: Sequence[str],
    tls: str,
    ca_file: str | None,
    bind_dn: str,
    user_base: str,
    group_base: str | None,
    map_name: str,
    token_hash: str,
    port: int,
    public_url: str | None,
    found: Discovery,
) -> str:
    server: dict[str, Any] = {"host": "127.0.0.1", "port": port}
    if public_url:
        server["public_url"] = public_url
    ldap: dict[str, Any] = {"directory": kind, "urls": list(urls), "tls": tls}
    if ca_file:
        ldap["ca_file"] = ca_file
    ldap["bind_dn"] = bind_dn
    if where.store == "credential":
        ldap["bind_password_credential"] = CREDENTIAL
    else:
        ldap["bind_password_file"] = PASSWORD_FILE
    ldap["user_base"] = user_base
    if group_base:
        ldap["group_base"] = group_base
    config: dict[str, Any] = {
        "server": server,
        "auth": {"token_hashes": [token_hash]},
        "ldap": ldap,
        "map": f"maps/{map_name}",
        "deprovisioning": {"on_deactivate": "disable", "on_delete": "delete"},
    }
    if kind == "active_directory":
        config["safety"] = {"protected_filter": AD_PROTECTED}
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if where.store == "credential":
        secret = (
            f"the bind password is in {where.password}, loaded as the systemd credential {CREDENTIAL} "
            "(LoadCredential=)"
        )
    else:
        secret = f"the bind password is in {where.password} (first line)"
    lines = [
        f"scim-ldap-bridge configuration, written by `scim-ldap-bridge init` on {when}",
        f"for {found.vendor} at {urls[0]}; {secret}.",
        "The token's SHA-256 hash is under auth.token_hashes (`token new` makes more, for rotation).",
    ]
    if kind == "active_directory":
        lines.append("safety.protected_filter keeps the bridge off AD's critical and administrative objects.")
    lines.append("Every key is described in the configuration reference, docs/configuration.md.")
    wrapped = [part for line in lines for part in textwrap.wrap(line, 100, break_on_hyphens=False)]
    header = "".join(f"# {line}\n" for line in wrapped) + "\n"
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110)
