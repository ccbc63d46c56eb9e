"""``scim-ldap-bridge preview``: what one SCIM request would do to the directory, without doing it.

The request runs through the whole bridge (authentication aside): the same parsing, mapping, policy and
guardrails, over a :class:`~bridge.directory.dryrun.DryRunDirectory` that reads the real directory and
records the writes. The answer the client would get, and the directory operations, are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bridge.app import create_app, create_services, open_directory
from bridge.config import AuthConfig, Settings
from bridge.directory.dryrun import DryRunDirectory, Operation
from bridge.directory.errors import DirectoryError
from bridge.mapping.load import load_maps
from bridge.ops.check import settings_or_stop
from bridge.ops.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from bridge.ops.selftest.sandbox import wsgi_caller


@dataclass(frozen=True, slots=True)
class Preview:
    """The status and body the client would get, and the writes that were not made."""

    status: int
    body: Any
    operations: list[Operation]


def run_preview(settings: Settings, method: str, target: str, body: Any = None) -> Preview:
    """Run ``method target`` (a path under the SCIM base, with or without it, and a query string) with
    ``body`` through the bridge over a dry-run view of the configured directory."""
    token = secrets.token_urlsafe(24)  # a one-off token for this in-process request only
    token_hash = "sha256:" + hashlib.sha256(token.encode("ascii")).hexdigest()
    settings = replace(settings, auth=AuthConfig((token_hash,)))
    opened = open_directory(settings)
    try:
        dry = DryRunDirectory(opened.directory)
        app = create_app(
            create_services(
                settings,
                dry,
                load_maps(settings.map_path),
                id_filter=opened.id_filter,
                dn_attribute=opened.dn_attribute,
            )
        )
        base = settings.server.base_path
        path = target.removeprefix(base) if target.startswith(base + "/") else target
        status, answer = wsgi_caller(app, token, base)(method.upper(), "/" + path.lstrip("/"), body)
        return Preview(status, answer, dry.operations)
    finally:
        opened.close()


def render(preview: Preview) -> str:
    """The preview as text for an operator."""
    lines = [f"SCIM response: {preview.status}"]
    if preview.body is not None:
        lines.append(json.dumps(preview.body, indent=2, ensure_ascii=False))
    if not preview.operations:
        lines.append("Directory operations: none")
    else:
        lines.append("Directory operations (none was performed):")
        for operation in preview.operations:
            detail = json.dumps(operation.detail, ensure_ascii=False) if operation.detail else ""
            lines.append(f"- {operation.op} {operation.dn} {detail}".rstrip())
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    """Print what one SCIM request would do to the directory, without writing."""
    settings = settings_or_stop(args.config)
    try:
        body = None
        if args.body is not None:
            text = sys.stdin.read() if args.body == "-" else Path(args.body).read_text(encoding="utf-8")
            body = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"scim-ldap-bridge: cannot read the body: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        preview = run_preview(settings, args.method, args.path, body)
    except DirectoryError as exc:
        print(f"scim-ldap-bridge: {exc.reason}", file=sys.stderr)
        return EXIT_FAILED
    print(render(preview))
    return EXIT_OK if preview.status < 400 else EXIT_FAILED


__all__ = ["Preview", "command", "render", "run_preview"]
