"""The bind password: read from its file or systemd credential, and held so that it never shows itself."""

from __future__ import annotations

import os
import typing
from collections.abc import Mapping
from pathlib import Path

from bridge.config.load import ConfigError
from bridge.config.settings import LdapConfig


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
