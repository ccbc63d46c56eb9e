"""``scim-ldap-bridge breaker status|release``: the deprovisioning circuit breaker, which lives in the
directory (an entry every instance sees), shown or released (:mod:`bridge.services.safety`)."""

from __future__ import annotations

import argparse
import sys

from bridge.ops.check import settings_or_stop
from bridge.ops.exits import EXIT_FAILED, EXIT_OK


def command(args: argparse.Namespace) -> int:
    """Show or release the deprovisioning circuit breaker, which lives in the directory."""
    from bridge.app import open_directory  # noqa: PLC0415 - ldap3 only for the commands that need it
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415
    from bridge.services.safety import Safety  # noqa: PLC0415

    settings = settings_or_stop(args.config)
    opened = open_directory(settings)
    safety = Safety(opened.directory, settings.safety, user_base=settings.ldap.user_base)
    try:
        if args.breaker_command == "release":
            released = safety.release()
            print("Circuit breaker: released" if released else "Circuit breaker: was not tripped")
            return EXIT_OK
        reason = safety.tripped()
    except DirectoryError as exc:
        print(f"scim-ldap-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        opened.close()
    if reason is None:
        print("Circuit breaker: not tripped")
        return EXIT_OK
    print(f"Circuit breaker: tripped ({reason}); entry {safety.breaker_dn}")
    return EXIT_FAILED
