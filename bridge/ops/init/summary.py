"""What ``init`` prints: the directory it found, the map it chose and why, the files it wrote, the
token (once), and the next steps, with the Tenant URL and the token endpoint beside it.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from bridge.oauth import TOKEN_PATH
from bridge.ops.init.discover import Discovery
from bridge.ops.init.maps import MapPlan
from bridge.ops.init.write import UNIT_CONFIG, Layout, service_gid


def show_directory(found: Discovery, url: str, bind_dn: str) -> None:
    print(f"Directory: {found.vendor} at {url}, bound as {bind_dn}")
    print(f"Naming contexts: {', '.join(found.naming_contexts) or '(none shown)'}")
    if found.kind == "openldap":
        shown = []
        for name in ("ppolicy", "memberof", "refint", "sssvlv", "dynlist", "unique", "assertion"):
            state = found.feature(name)
            shown.append(f"{name} {'yes' if state else 'no' if state is False else 'unknown'}")
        print(f"Overlays and controls: {', '.join(shown)}")
        if found.overlays is None:
            print(
                "  (the bind DN may not read cn=config: memberof, refint, dynlist and unique cannot be seen)"
            )
        schema = "loaded" if found.bridge_schema else "not loaded"
        print(f"Bridge schema (scim-bridge.schema: scimBridgeObject, scimExternalId, ...): {schema}")
    else:
        sorting = "yes" if found.feature("sssvlv") else "no"
        print(f"Controls: server-side sorting and virtual list view {sorting}; AD keeps memberOf itself")


def show_map(found: Discovery, plan: MapPlan) -> None:
    if found.kind == "openldap" and found.feature("ppolicy") and found.lockout_policy is not True:
        print(
            "warning: no password policy with pwdLockout: TRUE is visible to the bind DN: a disabled "
            "account's lock (pwdAccountLockedTime) refuses binds only where such a policy applies "
            "(docs/deprovisioning.md: Disable methods)"
        )
    if plan.changes:
        print(f"Map: maps/{plan.name}, derived from the shipped {plan.source.name}:")
        for change in plan.changes:
            print(f"  - {change}")
    else:
        print(f"Map: maps/{plan.name}, the shipped map")


def token_endpoint(tenant_url: str, base_path: str = "/scim/v2") -> str:
    """The token endpoint beside the Tenant URL: its path in place of the SCIM base path (a proxy that
    forwards paths unchanged serves both), else at the root of the Tenant URL's origin."""
    trimmed = tenant_url.rstrip("/")
    if trimmed.endswith(base_path):
        return trimmed.removesuffix(base_path) + TOKEN_PATH
    parts = urlsplit(trimmed)
    return f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"


def show_result(
    where: Layout,
    written: Sequence[Path],
    *,
    plan: MapPlan,
    token: str,
    args: argparse.Namespace,
    user_base: str,
) -> None:
    config = shlex.quote(str(where.config))
    unit = where.config == UNIT_CONFIG
    print()
    for path in written:
        print(f"Wrote {path}")
    if not any(path.name == plan.name for path in written):
        print(f"Kept {where.map_file(plan.name)}, which is already the map init would write")
    local = f"http://127.0.0.1:{args.port}/scim/v2"
    print()
    print(f"Tenant URL: {args.public_url or local}")
    print(f"Secret Token: {token}")
    print("The token is shown only this once; the configuration keeps only its SHA-256 hash.")
    if not args.public_url:
        print(
            f"(The bridge listens on {local}; Entra and Okta need the public HTTPS URL of your reverse "
            "proxy in front of it: docs/reverse-proxy.md.)"
        )
    if unit and service_gid() is None:
        print(
            "warning: there is no group scim-ldap-bridge (the Debian package creates it with the "
            "service's user): the unit, which runs as that user, could not read the configuration"
        )
    print()
    print("Next steps:")
    print(f"  1. Check it against the directory:  scim-ldap-bridge check-config --config {config} --probe")
    if unit:
        print("  2. Start the bridge:  systemctl enable --now scim-ldap-bridge")
    else:
        print(
            f"  2. Start the bridge:  scim-ldap-bridge serve --config {config}   "
            f"(the systemd unit reads {UNIT_CONFIG})"
        )
    print(
        f"  3. Replay Entra's flows in a sandbox OU that it removes again:  scim-ldap-bridge selftest "
        f"--config {config} --base {shlex.quote(user_base)}"
    )
    print(
        "  4. Entra: Enterprise application > Provisioning > Automatic: Tenant URL and Secret Token as "
        "above, then Test Connection (docs/entra.md)."
    )
    print(
        "     Okta: SCIM connector base URL = the Tenant URL, unique identifier field userName, "
        "Authentication Mode HTTP Header with the Secret Token, then Test Connector Configuration "
        "(docs/okta.md)."
    )
    print(
        f"     No long-lived secret instead: OAuth client credentials or federation, Token endpoint "
        f"{token_endpoint(args.public_url or local)} (`scim-ldap-bridge token client new`; docs/entra.md)."
    )
