"""The account behind a user's entry: what enabling and disabling it take beyond the map's ``active``
rule. Active Directory enables only an account that has a password, and Entra never sends one (a random
one is generated, when the map asks for it); slapd's password policy unlocks an account whose password
changes (it is locked again)."""

from __future__ import annotations

import logging
import secrets
import string
from typing import Any

from bridge.directory.base import Directory, Entry, Modification
from bridge.mapping.engine import UserMapping
from bridge.services.refusals import refusals

logger = logging.getLogger(__name__)


def generate_password(length: int) -> str:
    """A random password of ``length`` characters with upper and lower case letters, digits and symbols,
    so that it meets AD's complexity rule; it is written to the directory and never shown or logged."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%*+-=?@^_")
    alphabet = "".join(classes)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in group for c in password) for group in classes):
            return password


def enableable(document: dict[str, Any], mapping: UserMapping) -> tuple[dict[str, Any], bool]:
    """The new user's ``document`` and whether it is created active: on AD (``uac``) without a password,
    with a generated one (``active.password_length``), else disabled."""
    active = bool(document.get("active", True))
    rule = mapping.map.active
    if rule is not None and rule.method == "uac" and not document.get("password"):
        # AD enables an account only when it has a password, and Entra never sends one.
        if rule.password_length:
            document = {**document, "password": generate_password(rule.password_length)}
        elif active:
            logger.info(
                "creating %s disabled: no password was sent and password generation is off",
                document["userName"],
            )
            active = False
    return document, active


def kept_locked(directory: Directory, mapping: UserMapping, entry: Entry, updated: Entry) -> Entry:
    """``updated``, the user ``entry`` just written disabled, locked again if the write opened it."""
    rule = mapping.map.active
    if updated is entry or rule is None or not mapping.is_active(updated):
        return updated
    # slapd's ppolicy deletes pwdAccountLockedTime whenever the password changes, even in the
    # modify that sets it: lock the account again, as the request asked.
    with refusals("User", entry.id, mapping):
        relock = [Modification("replace", rule.attribute, (rule.disabled_value,))]
        return directory.modify(updated.dn, relock, mapping.read_attributes)


__all__ = ["enableable", "generate_password", "kept_locked"]
