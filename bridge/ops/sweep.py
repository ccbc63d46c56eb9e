"""``scim-ldap-bridge sweep``: delete the users disabled longer ago than ``deprovisioning.delete_after_days``
(or, with ``--dry-run``, list them); its systemd timer runs it daily. The circuit breaker counts each
delete, as when serving, and may stop the sweep.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from bridge.ops.check import configuration_or_stop
from bridge.ops.exits import EXIT_FAILED, EXIT_OK


def command(args: argparse.Namespace) -> int:
    """Delete the users disabled longer ago than deprovisioning.delete_after_days."""
    from bridge.app import create_services, open_directory  # noqa: PLC0415 - ldap3 only where needed
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415
    from bridge.logs import setup_logging  # noqa: PLC0415
    from bridge.scim.errors import ScimError  # noqa: PLC0415
    from bridge.services.common import iso_time  # noqa: PLC0415

    settings, maps = configuration_or_stop(args.config)
    days = settings.deprovisioning.delete_after_days
    if days is None:
        print("deprovisioning.delete_after_days is not set: disabled users stay, nothing to sweep")
        return EXIT_OK
    setup_logging(settings.logging)  # the audit log records each delete, as when serving
    opened = open_directory(settings)
    try:
        services = create_services(
            settings, opened.directory, maps, id_filter=opened.id_filter, dn_attribute=opened.dn_attribute
        )
        result = services.users.sweep(timedelta(days=days), dry_run=args.dry_run)
    except ScimError as exc:
        print(f"scim-ldap-bridge: {exc.detail}", file=sys.stderr)
        return EXIT_FAILED
    except DirectoryError as exc:
        print(f"scim-ldap-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        opened.close()
    verb = "would delete" if args.dry_run else "deleted"
    for dn, since in result.deleted:
        print(f"{verb} {dn} (disabled since {iso_time(since)})")
    print(f"{len(result.deleted)} user(s) disabled more than {days} day(s) ago {verb}")
    if result.stopped:
        print(f"scim-ldap-bridge: the sweep stopped: {result.stopped}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
