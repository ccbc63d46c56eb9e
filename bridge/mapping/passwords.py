"""OpenLDAP ``userPassword`` values: the SCIM ``password`` hashed before it leaves the bridge, or handed
over in clear for the server to hash.

A value is ``{SCHEME}`` followed by base64 of the digest of the password's UTF-8 bytes and a random salt,
then the salt (the layout ``slappasswd`` writes and slapd checks at every simple bind):

- ``SSHA`` (the default): salted SHA-1. Every slapd verifies it with no module and no build option
  (slapd's own default ``password-hash``), so a password set through the bridge works on any OpenLDAP,
  replica or version. SHA-1's collision weaknesses do not matter for a salted password hash; what
  matters is that every salted single-round hash is fast to try guesses against, so keep
  ``userPassword`` unreadable (slapd's usual ACL: ``by self write by anonymous auth by * none``).
- ``SSHA256``, ``SSHA384``, ``SSHA512``: salted SHA-2, verified only where slapd loads ``pw-sha2``
  (shipped in Debian's slapd package): ``olcModuleLoad: pw-sha2``. Without it slapd does not know the
  scheme and binds with the password fail.
- ``cleartext``: the password itself, for servers that hash it on write with the password-policy
  overlay's ``olcPPolicyHashCleartext: TRUE`` under their own ``olcPasswordHash`` (``{ARGON2}`` with
  the ``argon2`` module, ``{CRYPT}``): the only way to a slow, memory-hard hash without a
  dependency here, and the only way ppolicy can check quality (``pwdCheckQuality``, ``pwdMinLength``).
  Without that option slapd stores it as sent.

The salt is 16 bytes from :mod:`secrets` (slapd reads whatever follows the digest as the salt).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

CLEARTEXT = "cleartext"
DEFAULT_SCHEME = "SSHA"
SALT_BYTES = 16
_DIGESTS = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA384": "sha384", "SSHA512": "sha512"}
SCHEMES = (*_DIGESTS, CLEARTEXT)
# slapd (and ppolicy's hash_cleartext) takes a value that starts like this as already hashed.
_SCHEME_PREFIX = re.compile(r"^\{[A-Za-z0-9.+_-]+\}")


def scheme_name(text: str) -> str | None:
    """The canonical name of a scheme as an admin writes it (``SSHA512``, ``{ssha512}``,
    ``cleartext``), or None when there is no such scheme."""
    name = text.strip()
    if name.lower() == CLEARTEXT:
        return CLEARTEXT
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1]
    return name.upper() if name.upper() in _DIGESTS else None


def hash_password(password: str, scheme: str = DEFAULT_SCHEME) -> str:
    """The ``userPassword`` value for ``password`` under ``scheme`` (a name from :data:`SCHEMES`).

    ValueError, whose message never holds the password, when it cannot be stored: in ``cleartext``, a
    password that starts like ``{SSHA}`` would be taken by slapd as a hash and stored unhashed.
    """
    if scheme == CLEARTEXT:
        if _SCHEME_PREFIX.match(password):
            raise ValueError("must not start with a {SCHEME} prefix: the directory would take it as a hash")
        return password
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.new(_DIGESTS[scheme], password.encode("utf-8") + salt).digest()
    return "{" + scheme + "}" + base64.b64encode(digest + salt).decode("ascii")


__all__ = ["CLEARTEXT", "DEFAULT_SCHEME", "SALT_BYTES", "SCHEMES", "hash_password", "scheme_name"]
