"""``scim-ldap-bridge init``: from a directory URL, a bind DN and its password to a working configuration.

It asks for what it cannot find out (or takes it from flags, for automation), learns the rest from the
directory itself, and writes the files the bridge reads, so that nobody edits a file by hand:

- :mod:`bridge.ops.init.discover` binds as the bind DN and reads what the directory is (OpenLDAP or Active
  Directory), its naming contexts, where its users and groups live (with counts), which controls and
  overlays it offers, whether the bridge's schema is loaded, and whether the bind DN may write;
- :mod:`bridge.ops.init.maps` picks the shipped attribute map, or derives one from it for a directory without
  the bridge's schema or the ppolicy overlay, saying in its header what was changed and why;
- :mod:`bridge.ops.init.write` writes the configuration, the map and the bind password with their owners and
  modes, and refuses to replace a configuration that is not the shipped example;
- :mod:`bridge.ops.init.configfile` words the configuration file, with the token's hash;
- :mod:`bridge.ops.init.command` runs the steps in order: :mod:`~bridge.ops.init.prompts` asks (or takes
  flags), :mod:`~bridge.ops.init.connect` reaches the directory (each failure one line with a hint), and
  :mod:`~bridge.ops.init.summary` prints what was found and written, the token once and the next steps.

Secrets (the bind password, the token) reach no log line, no error message, no command-line argument and
no file but their own; the configuration keeps only the token's SHA-256 hash.
"""

from __future__ import annotations

from bridge.ops.exits import EXIT_CONFIG, EXIT_FAILED

EXIT_USAGE = EXIT_CONFIG  # bad usage of init ends as a configuration with problems does


class InitError(Exception):
    """Something an admin can fix: ``message`` and ``hint`` make one line; ``code`` is the exit code
    (1 a failure, 2 bad usage). Neither may hold a secret."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def line(self) -> str:
        """The one line printed for it."""
        return f"scim-ldap-bridge init: {self.message}" + (f"; {self.hint}" if self.hint else "")
