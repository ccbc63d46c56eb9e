"""``scim-ldap-bridge selftest``: Entra's recorded flows against this configuration, in a sandbox.

It binds with the configured connection and map, creates ``ou=scim-bridge-selftest-<random>`` under the
base named on the command line (with ``ou=people`` and ``ou=groups`` inside), serves the app in-process
on that sandbox with a token of its own, replays every recorded flow through WSGI, and deletes the
sandbox again, whatever happened. Each flow is reported as passed, failed (with the step and what
differed) or skipped (with why). With ``auth.oauth.signing_keys`` configured, the token is instead an
access token from the token endpoint (``POST /oauth/token``, client credentials of a client of its own),
so the configured signing key, the endpoint and the token checks are exercised too.

What it checks is the contract with Entra: every answer and how many directory writes each step
makes. The flows' checks of directory attributes assume the shipped map, so they run only when the map
stores users as ``inetOrgPerson`` named by ``uid`` (flows that seed admin-made entries likewise); where
such a map keeps externalId, its auxiliary class or the disable lock elsewhere (as the map ``init``
derives for a directory without scim-bridge.schema or ppolicy does), those checks look there. Writes
are counted from the bridge's own audit records.
The deprovisioning policy is the default one (disable on unassign, delete on DELETE), because the
flows expect it; the configured policy does not change how Entra talks.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import io
import json
import logging
import secrets
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import unquote

from bridge.app import create_app, create_services, open_directory
from bridge.config import ConfigError, DeprovisioningConfig, OAuthClientConfig, Settings
from bridge.directory.base import MATCH_ALL, Directory
from bridge.directory.errors import DirectoryError, NoSuchEntry
from bridge.mapping.load import MapError, load_maps
from bridge.mapping.model import MapSet, ResourceMap
from bridge.oauth import TOKEN_PATH
from bridge.ops.check import settings_or_stop
from bridge.ops.exits import EXIT_CONFIG
from bridge.ops.selftest import Flow, FlowFailed, flows, replay

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


class AuditCounter(logging.Handler):
    """Counts the directory writes the bridge's audit trail records (``bridge.audit``), for the flows'
    ``writes`` checks: the same signal the end-to-end tests count in the server's log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.writes = 0

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "outcome", None) == "ok":
            self.writes += 1

    @contextmanager
    def listening(self) -> Iterator[AuditCounter]:
        audit = logging.getLogger("bridge.audit")
        level, disabled = audit.level, audit.disabled
        audit.addHandler(self)
        audit.setLevel(logging.INFO)
        audit.disabled = False
        try:
            yield self
        finally:
            audit.removeHandler(self)
            audit.setLevel(level)
            audit.disabled = disabled


def wsgi_caller(app: WsgiApp, token: str, base_path: str) -> Callable[[str, str, Any], tuple[int, Any]]:
    """Call ``app`` as a WSGI server would, with the bearer token; returns status and parsed body."""

    def call(method: str, path: str, body: Any) -> tuple[int, Any]:
        raw_path, _, query = (base_path + path).partition("?")
        data = json.dumps(body).encode() if body is not None else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(raw_path),
            "QUERY_STRING": query,
            "SERVER_NAME": "selftest.invalid",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "selftest.invalid",
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "CONTENT_TYPE": "application/scim+json" if data else "",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        status: list[str] = []
        chunks = app(environ, lambda s, headers, exc_info=None: status.append(s))
        payload = b"".join(chunks)
        return int(status[0].split()[0]), json.loads(payload) if payload else None

    return call


def _reader(directory: Directory) -> Callable[[str], Mapping[str, list[str]] | None]:
    def read(dn: str) -> Mapping[str, list[str]] | None:
        try:
            found = directory.search([dn], MATCH_ALL, ("*", "+"), limit=1).entries
        except NoSuchEntry:
            return None
        return {k: list(v) for k, v in found[0].attributes.items()} if found else None

    return read


def _remove_subtree(directory: Directory, base: str) -> None:
    entries = directory.search([base], MATCH_ALL, ()).entries
    for entry in sorted(entries, key=lambda e: e.dn.count(","), reverse=True):
        directory.delete(entry.dn)


def _default_shape(maps: MapSet) -> bool:
    user = maps.user
    return user.object_classes[0].lower() == "inetorgperson" and user.rdn.ldap.lower() == "uid"


def command(args: argparse.Namespace) -> int:
    """``scim-ldap-bridge selftest --base DN``: :func:`run` with the configuration at ``--config``."""
    settings = settings_or_stop(args.config)
    try:
        return run(settings, args.base)
    except (ConfigError, MapError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG


def run(
    settings: Settings,
    base: str,
    *,
    out: IO[str] | None = None,
    maps: MapSet | None = None,
) -> int:
    """Replay every flow in a sandbox under ``base``; 0 when none failed, 1 otherwise."""
    out = out or sys.stdout
    opened = open_directory(settings)
    directory = opened.directory
    maps = maps or load_maps(settings.map_path)
    tally = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    label = f"scim-bridge-selftest-{uuid.uuid4().hex[:8]}"
    sandbox = None
    try:
        sandbox = _organizational_unit(directory, base, label)
        names = {
            "user_base": _organizational_unit(directory, sandbox, "people"),
            "group_base": _organizational_unit(directory, sandbox, "groups"),
        }
        print(f"Sandbox: {sandbox}", file=out)
        token = secrets.token_urlsafe(24)
        oauth = settings.auth.oauth
        client = (f"selftest-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(32))
        if oauth.signing_keys:  # the flows then run on an access token from the token endpoint
            own = OAuthClientConfig(client[0], (_hash(client[1]),))
            oauth = dataclasses.replace(oauth, clients=(*oauth.clients, own))
        sandboxed = dataclasses.replace(
            settings,
            auth=dataclasses.replace(settings.auth, token_hashes=(_hash(token),), oauth=oauth),
            ldap=dataclasses.replace(
                settings.ldap, user_base=names["user_base"], group_base=names["group_base"], user_filter=None
            ),
            deprovisioning=DeprovisioningConfig(),
        )
        app = create_app(
            create_services(
                sandboxed, directory, maps, id_filter=opened.id_filter, dn_attribute=opened.dn_attribute
            )
        )
        if oauth.signing_keys:
            token = _access_token(app, *client)
            print(
                f"PASS oauth: {TOKEN_PATH} issued an access token to {client[0]}; the flows use it", file=out
            )
            tally["PASS"] += 1
        call = wsgi_caller(app, token, settings.server.base_path)
        with AuditCounter().listening() as counter:
            for flow in flows():
                verdict, reason = _run_flow(
                    flow, call, directory=directory, counter=counter, names=names, maps=maps
                )
                tally[verdict] += 1
                print(f"{verdict} {flow.name}: {reason}", file=out)
    except DirectoryError as exc:
        print(f"FAIL the sandbox: {exc.reason}", file=out)
        tally["FAIL"] += 1
    except FlowFailed as exc:
        print(f"FAIL oauth: {exc}", file=out)
        tally["FAIL"] += 1
    finally:
        if sandbox is not None:
            try:
                _remove_subtree(directory, sandbox)
            except DirectoryError as exc:
                print(f"FAIL could not remove the sandbox {sandbox}: {exc.reason}", file=out)
                tally["FAIL"] += 1
        opened.close()
    print(f"{tally['PASS']} passed, {tally['FAIL']} failed, {tally['SKIP']} skipped", file=out)
    return 0 if tally["FAIL"] == 0 else 1


def _access_token(app: WsgiApp, client_id: str, secret: str) -> str:
    """An access token from the app's token endpoint, as Entra asks for one (client credentials in a
    Basic header); FlowFailed when it answers anything else."""
    body = b"grant_type=client_credentials"
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": TOKEN_PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "selftest.invalid",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "selftest.invalid",
        "HTTP_AUTHORIZATION": f"Basic {basic}",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status: list[str] = []
    payload = b"".join(app(environ, lambda s, headers, exc_info=None: status.append(s)))
    answer = json.loads(payload) if payload else {}
    if not status[0].startswith("200 ") or not isinstance(answer.get("access_token"), str):
        raise FlowFailed(f"{TOKEN_PATH} answered {status[0]}: {answer.get('error_description', answer)}")
    return str(answer["access_token"])


def _hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def _organizational_unit(directory: Directory, parent: str, name: str) -> str:
    """Add ``ou=<name>`` under ``parent``; returns its DN as the directory spells it."""
    attributes = {"objectClass": ("organizationalUnit",), "ou": (name,)}
    return directory.add(parent, ("ou", name), attributes, ()).dn


def _run_flow(
    flow: Flow,
    call: Callable[[str, str, Any], tuple[int, Any]],
    *,
    directory: Directory,
    counter: AuditCounter,
    names: dict[str, str],
    maps: MapSet,
) -> tuple[str, str]:
    """The verdict on one flow and its reason."""
    default_shape = _default_shape(maps)
    if flow.data.get("setup") and not default_shape:
        return "SKIP", "it seeds inetOrgPerson uid= entries, and this map stores users otherwise"
    if "/Groups" in json.dumps(flow.data["steps"]) and maps.group is None:
        return "SKIP", "the map serves no groups"
    if default_shape:
        steps = [_as_configured(step, maps.user) for step in flow.data["steps"]]
    else:
        steps = [_without_entry_checks(step) for step in flow.data["steps"]]
    runnable = Flow(flow.name, flow.description, flow.source, {**flow.data, "steps": steps})

    def seed(parent: str, rdn: tuple[str, str], attributes: Mapping[str, Any]) -> None:
        values = {k: tuple(v) if isinstance(v, list) else (str(v),) for k, v in attributes.items()}
        directory.add(parent, rdn, values, ())

    read = _reader(directory) if default_shape else (lambda dn: {})
    try:
        for _ in replay(
            runnable, call=call, read=read, seed=seed, writes=lambda: counter.writes, names=names
        ):
            pass
    except FlowFailed as exc:
        return "FAIL", str(exc)
    except DirectoryError as exc:
        return "FAIL", f"the directory refused a step: {exc.reason}"
    return "PASS", flow.description


def _without_entry_checks(step: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in step.items() if key != "ldap"}


# The flows' entry checks were recorded with the shipped OpenLDAP map, which keeps externalId in
# scimExternalId, adds the auxiliary class scimBridgeObject and disables with ppolicy's lock. A map of the
# same shape that keeps these elsewhere (such as the one `init` derives for a directory without
# scim-bridge.schema or the ppolicy overlay) is checked where it keeps them.
_SHIPPED_EXTERNAL_ID = "scimexternalid"
_SHIPPED_CLASS = "scimBridgeObject"
_SHIPPED_LOCK = "pwdaccountlockedtime"


def _as_configured(step: Mapping[str, Any], user: ResourceMap) -> dict[str, Any]:
    """``step`` with its entry checks of the shipped map's externalId attribute, auxiliary class and
    disable lock moved to where ``user`` keeps them (a check of what ``user`` does not keep is dropped)."""
    if not step.get("ldap"):
        return dict(step)
    external = next((r.ldap for r in user.rules if r.target.attribute.name == "externalId"), None)
    active = user.active
    moved = active is not None and active.method == "attribute"
    checks = []
    for check in step["ldap"]:
        has: dict[str, Any] = {}
        lacks: list[str] = []
        for name, values in check.get("has", {}).items():
            if name.lower() == _SHIPPED_EXTERNAL_ID:
                if external is not None:
                    has[external] = values
            elif name.lower() == "objectclass":
                has[name] = [
                    c for v in values for c in (user.auxiliary_classes if v == _SHIPPED_CLASS else (v,))
                ]
            elif name.lower() == _SHIPPED_LOCK and moved:
                assert active is not None
                has[active.attribute] = [active.disabled_value]
            else:
                has[name] = values
        for name in check.get("lacks", []):
            if name.lower() == _SHIPPED_EXTERNAL_ID and external is not None:
                lacks.append(external)
            elif name.lower() == _SHIPPED_LOCK and moved:
                assert active is not None
                if active.enabled_value is None:
                    lacks.append(active.attribute)
                else:
                    has[active.attribute] = [active.enabled_value]
            elif name.lower() != _SHIPPED_EXTERNAL_ID:
                lacks.append(name)
        kept = {key: value for key, value in check.items() if key not in ("has", "lacks")}
        checks.append({**kept, **({"has": has} if has else {}), **({"lacks": lacks} if lacks else {})})
    return {**step, "ldap": checks}
