"""``scim-ldap-bridge token``: the secrets a client authenticates with, made here and shown once, with the
lines that put their hashes (or, for a signing key, its file) into the configuration.

- ``token new``: a bearer token (Entra's Secret Token);
- ``token client new``: an OAuth client of the token endpoint, its identifier and secret;
- ``token secret new``: a fresh secret for a client, to rotate it;
- ``token key new``: a key that signs access tokens, written to a new file readable by the service.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bridge.hashes import hash_secret, new_secret, new_token
from bridge.ops.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK


def token_new(args: argparse.Namespace) -> int:
    """A fresh bearer token, printed once, and the config line with its hash."""
    token, token_hash = new_token()
    print(f"Secret Token: {token}")
    print("Paste the token into Entra's 'Secret Token' field; it is shown only this once.")
    print("Add this line under auth.token_hashes in the bridge's config:")
    print(f'  - "{token_hash}"')
    return EXIT_OK


def client_new(args: argparse.Namespace) -> int:
    """A fresh OAuth client: an identifier, a secret (printed once) and the config lines with its hash."""
    from bridge.oauth.clients import CLIENT_ID, new_client_id  # noqa: PLC0415

    client_id = args.id or new_client_id()
    if not CLIENT_ID.match(client_id):
        print(
            f"scim-ldap-bridge: --id {client_id!r}: use up to 64 letters, digits and . _ ~ -", file=sys.stderr
        )
        return EXIT_CONFIG
    secret = new_secret()
    print(f"Client identifier: {client_id}")
    print(f"Client secret: {secret}")
    print(
        "Paste both into Entra (Authentication Method 'OAuth2 client credentials grant'); the secret is "
        "shown only this once."
    )
    print("Add this client under auth.oauth.clients in the bridge's config:")
    print(f"  - id: {client_id}")
    print("    secret_hashes:")
    print(f'      - "{hash_secret(secret)}"')
    print(
        "The token endpoint also needs a key under auth.oauth.signing_keys: `scim-ldap-bridge token key new`."
    )
    return EXIT_OK


def secret_new(args: argparse.Namespace) -> int:
    """A fresh secret for an OAuth client (rotation), printed once, and its hash."""
    secret = new_secret()
    print(f"Client secret: {secret}")
    print("It is shown only this once. Add this line under the client's secret_hashes, beside the old one")
    print("until Entra has the new secret:")
    print(f'  - "{hash_secret(secret)}"')
    return EXIT_OK


def key_new(args: argparse.Namespace) -> int:
    """Write a fresh key that signs access tokens, readable by the service, and print its config line."""
    from bridge.oauth.keys import load_signing_key, new_key_pem  # noqa: PLC0415
    from bridge.ops.init.write import service_gid  # noqa: PLC0415

    path = Path(args.path)
    gid = service_gid()
    mode = 0o600 if gid is None else 0o640
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        print(f"scim-ldap-bridge: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILED
    with os.fdopen(descriptor, "wb") as out:
        if gid is not None:
            os.fchown(out.fileno(), -1, gid)
        os.fchmod(out.fileno(), mode)  # whatever the umask
        out.write(new_key_pem(args.type))
    key = load_signing_key(path)
    kind = "an Ed25519" if args.type == "ed25519" else "a 3072-bit RSA"
    owner = "group scim-ldap-bridge, mode 0640" if gid is not None else "mode 0600"
    print(f"Wrote {path}: {kind} key ({owner}); it signs with {key.algorithm}, key id {key.kid}")
    print(
        "List it under auth.oauth.signing_keys in the bridge's config (the first signs, every one verifies);"
    )
    print("every instance of the bridge needs the same file:")
    print(f'  - "{path.resolve()}"')
    return EXIT_OK
