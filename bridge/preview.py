"""``scim-ldap-bridge preview``: what one SCIM request would do to the directory, without doing it.

The request runs through the whole bridge (authentication aside): the same parsing, mapping, policy and
guardrails, over a :class:`~bridge.directory.dryrun.DryRunDirectory` that reads the real directory and
records the writes. The answer the client would get, and the directory operations, are printed.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, replace
from typing import Any

from bridge.app import create_app, open_directory
from bridge.config import AuthConfig, Settings, load_maps
from bridge.directory.dryrun import DryRunDirectory, Operation
from bridge.selftest.sandbox import wsgi_caller


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
            settings,
            dry,
            load_maps(settings.map_path),
            id_filter=opened.id_filter,
            dn_attribute=opened.dn_attribute,
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


__all__ = ["Preview", "render", "run_preview"]
