"""The keys that sign the bridge's access tokens: PEM files named by ``auth.oauth.signing_keys``.

An Ed25519 key signs with EdDSA, an RSA key (2048 bits or more) with RS256; nothing else is accepted,
and the algorithm is the key's, never a token's. Each key's id (``kid``) is its RFC 7638 thumbprint, so
every instance that loads the same file names it the same way, and tokens say which key signed them:
the first key signs, every key listed verifies, and a key is rotated by listing the new one second,
then first, then dropping the old one once the tokens it signed have expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

Algorithm = Literal["EdDSA", "RS256"]
KeyType = Literal["ed25519", "rsa"]
MIN_RSA_BITS = 2048
NEW_RSA_BITS = 3072

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


class KeyFileError(Exception):
    """A signing key file that cannot be used; the message says why, without the key."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    algorithm: Algorithm
    private: PrivateKey
    public: PublicKey


def public_jwk(public: PublicKey) -> dict[str, str]:
    """The public key as a JWK (RFC 7517) with only its required members."""
    if isinstance(public, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {"kty": "OKP", "crv": str(jwk["crv"]), "x": str(jwk["x"])}
    jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    return {"kty": "RSA", "e": str(jwk["e"]), "n": str(jwk["n"])}


def thumbprint(public: PublicKey) -> str:
    """The RFC 7638 thumbprint: SHA-256 over the required members, sorted, without whitespace."""
    canonical = json.dumps(public_jwk(public), sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def signing_key(private: object) -> SigningKey:
    """A loaded private key as a :class:`SigningKey`; KeyFileError for any other kind of key."""
    if isinstance(private, ed25519.Ed25519PrivateKey):
        public_ed = private.public_key()
        return SigningKey(thumbprint(public_ed), "EdDSA", private, public_ed)
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < MIN_RSA_BITS:
            raise KeyFileError(f"an RSA key of {private.key_size} bits; at least {MIN_RSA_BITS} are needed")
        public_rsa = private.public_key()
        return SigningKey(thumbprint(public_rsa), "RS256", private, public_rsa)
    raise KeyFileError(f"a {type(private).__name__}; only Ed25519 and RSA keys sign access tokens")


def load_signing_key(path: Path) -> SigningKey:
    """The private key in the PEM file at ``path`` (unencrypted PKCS#8 or traditional)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except TypeError as exc:
        raise KeyFileError(f"{path} is encrypted; the bridge needs it unencrypted (mode 0640)") from exc
    except ValueError as exc:
        raise KeyFileError(
            f"{path} holds no PEM private key (make one with `scim-ldap-bridge token key new`)"
        ) from exc
    try:
        return signing_key(private)
    except KeyFileError as exc:
        raise KeyFileError(f"{path} holds {exc}") from None


def new_key_pem(kind: KeyType) -> bytes:
    """A fresh private key as unencrypted PKCS#8 PEM: Ed25519, or RSA of 3072 bits."""
    private: PrivateKey
    if kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=NEW_RSA_BITS)
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
