"""How ``init`` asks: on the terminal (a secret without echo), or, with ``--non-interactive``, not at all:
every question is then a missing flag. The bind password comes from ``--bind-password-file`` (its first
line) or the prompt, never from a flag value.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path

from bridge.ops.init import EXIT_USAGE, InitError


class Prompts:
    """Asks on the terminal; with ``interactive`` False, every question is a missing flag instead."""

    def __init__(self, interactive: bool, ask: Callable[[str], str] = input) -> None:
        self.interactive = interactive
        self._ask = ask

    def value(self, question: str, flag: str, default: str | None = None, *, optional: bool = False) -> str:
        """An answer, ``default`` for an empty one; without a terminal, ``default`` or a usage error."""
        if not self.interactive:
            if default is not None or optional:
                return default or ""
            raise InitError(
                f"{flag} is needed with --non-interactive", "see scim-ldap-bridge init --help", EXIT_USAGE
            )
        shown = f"{question} [{default}]: " if default else f"{question}: "
        while True:
            answer = self._ask(shown).strip()
            if answer or default is not None or optional:
                return answer or default or ""

    def secret(self, question: str) -> str:
        """A secret typed without echo."""
        if not self.interactive:
            raise InitError(
                "--bind-password-file is needed with --non-interactive",
                "a file holding the password (its first line); never a flag value",
                EXIT_USAGE,
            )
        return getpass.getpass(f"{question}: ")


def read_password(path: str | None, ask: Prompts) -> str:
    """The bind password: the first line of ``path``, or typed without echo."""
    if path is None:
        password = ask.secret("Bind password")
    else:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise InitError(f"cannot read --bind-password-file {path}: {reason}", "", EXIT_USAGE) from exc
        password = text.splitlines()[0] if text else ""
    if not password:
        raise InitError(
            "the bind password is empty", "an empty password is an anonymous bind in LDAP", EXIT_USAGE
        )
    return password
