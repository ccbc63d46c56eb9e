"""The files ``init`` writes, with their owners and modes, and whether it may write them.

Beside the configuration (``--config``, default ``/etc/scim-ldap-bridge/bridge.yaml``):

- the configuration itself and ``maps/<name>.yaml``: mode 0640;
- the bind password, ``bind-password`` (its first line), in one of two ways:
  - **as a systemd credential** (the default for ``/etc/scim-ldap-bridge/bridge.yaml``, the file the unit
    reads): ``ldap.bind_password_credential: bind-password``. The unit's
    ``LoadCredential=bind-password:/etc/scim-ldap-bridge/bind-password`` reads the file as root and hands the
    service a private copy, so the file is root's alone: mode 0600, owner the user running init;
  - **as a file the bridge reads itself** (the default anywhere else, e.g. a config for ``serve`` run by
    hand or in a test): ``ldap.bind_password_file: bind-password``, mode 0600, owned by the user running
    init, who is the one who runs the bridge with it.

Owners: as root, the configuration, the map and a password file the bridge reads itself go to the group
``scim-ldap-bridge`` (the service's, which the Debian package creates) when that group exists, so that the
service can read them (a password file then gets 0640); otherwise, and for anyone but root, files keep the
owner and group of the user running init. A folder init creates gets mode 0750 (and the same group).

Every file is written whole or not at all: a temporary file in the same folder, created with its final
mode (whatever the umask), then renamed over the target.

A configuration that exists is replaced only with ``--force``, unless it is still the shipped example
(every token hash is the example's placeholder, ``sha256:000...0``, as the Debian package installs it):
that one is not a configuration yet. A map file that exists with other contents is replaced only with
``--force`` too (an edited ``maps/openldap.yaml`` is someone's work).
"""

from __future__ import annotations

import contextlib
import grp
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from bridge.config import PLACEHOLDER_HASH
from bridge.ops.init import EXIT_USAGE, InitError

UNIT_CONFIG = Path("/etc/scim-ldap-bridge/bridge.yaml")  # what systemd/scim-ldap-bridge.service reads
CREDENTIAL = "bind-password"  # the unit's LoadCredential=bind-password:/etc/scim-ldap-bridge/bind-password
PASSWORD_FILE = "bind-password"  # noqa: S105 - a file name
SERVICE_GROUP = "scim-ldap-bridge"
Store = Literal["credential", "file"]


def default_store(config: Path) -> Store:
    """``credential`` for the unit's own config file, ``file`` anywhere else."""
    return "credential" if config.absolute() == UNIT_CONFIG else "file"


def config_state(path: Path) -> Literal["absent", "example", "real"]:
    """Whether ``path`` is absent, still the shipped example (only the placeholder token hash), or a
    configuration of someone's (anything else, an unreadable or broken file included)."""
    if not path.exists() and not path.is_symlink():
        return "absent"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return "real"
    auth = data.get("auth") if isinstance(data, dict) else None
    hashes = auth.get("token_hashes") if isinstance(auth, dict) else None
    if isinstance(hashes, list) and hashes and all(str(h).lower() == PLACEHOLDER_HASH for h in hashes):
        return "example"
    return "real"


def service_gid() -> int | None:
    """The group the service's files go to: ``scim-ldap-bridge`` when init runs as root and the group
    exists; None (the user's own) otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        return grp.getgrnam(SERVICE_GROUP).gr_gid
    except KeyError:
        return None


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each file goes, and how the config names the bind password."""

    config: Path
    folder: Path
    store: Store
    gid: int | None  # the service's group for the config, the map and a password file; None: unchanged

    @property
    def password(self) -> Path:
        return self.folder / PASSWORD_FILE

    def map_file(self, name: str) -> Path:
        return self.folder / "maps" / name

    @property
    def password_mode(self) -> int:
        """0600, or 0640 for a file the service reads itself through its group."""
        return 0o640 if self.store == "file" and self.gid is not None else 0o600

    @property
    def password_gid(self) -> int | None:
        return self.gid if self.store == "file" else None


def layout(config: Path, store: Store | None) -> Layout:
    config = Path(os.path.abspath(config))
    return Layout(config, config.parent, store or default_store(config), service_gid())


def check_may_write(where: Layout, force: bool) -> None:
    """Refuse a configuration that exists and is not the example (without ``force``), and a folder init
    cannot write; raises InitError before anything is asked or written."""
    state = config_state(where.config)
    if state == "real" and not force:
        raise InitError(
            f"{where.config} exists and is not the shipped example",
            "--force replaces it (and its map and bind password), or choose another --config",
            EXIT_USAGE,
        )
    if where.config.is_dir():
        raise InitError(f"{where.config} is a folder", "give --config the path of a file", EXIT_USAGE)
    existing = where.folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise InitError(f"cannot write {where.config}: {existing} is not a folder", "choose another --config")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InitError(
            f"cannot write {where.config}: permission denied on {existing}",
            "run init as root (sudo), or choose another --config",
        )


def check_map(path: Path, text: str, force: bool) -> None:
    """Refuse to replace a map file with other contents than ``text``, without ``force``."""
    try:
        same = path.read_text(encoding="utf-8") == text
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError):
        same = False
    if not same and not force:
        raise InitError(
            f"{path} exists with other contents than the map init would write",
            "--force replaces it, or move it away",
            EXIT_USAGE,
        )


def ensure_folder(path: Path, gid: int | None) -> None:
    """Create ``path`` (and its parents) with mode 0750 and group ``gid`` when it is missing."""
    if path.is_dir():
        return
    if not path.parent.is_dir():
        ensure_folder(path.parent, None)
    try:
        path.mkdir(mode=0o750)
    except FileExistsError:
        return
    os.chmod(path, 0o750)  # noqa: S103 - the service's group reads it; mkdir's mode is umasked
    if gid is not None:
        os.chown(path, -1, gid)


def write_file(path: Path, data: str, mode: int, gid: int | None) -> None:
    """Write ``data`` to ``path`` whole or not at all, with ``mode`` and group ``gid`` from the start."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), mode)  # os.open's mode is filtered by the umask
            if gid is not None:
                os.fchown(out.fileno(), -1, gid)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_all(
    where: Layout, map_name: str, map_text: str | None, password: str, config_text: str
) -> list[Path]:
    """The map (unless ``map_text`` is None: it is there already), the bind password and then the
    configuration (last: it names the others); the files written. An OSError (permission denied, a full
    disk) becomes InitError naming the file."""
    written: list[Path] = []
    target = where.config
    try:
        ensure_folder(where.folder, where.gid)
        ensure_folder(where.folder / "maps", where.gid)
        if map_text is not None:
            target = where.map_file(map_name)
            write_file(target, map_text, 0o640, where.gid)
            written.append(target)
        target = where.password
        write_file(target, password + "\n", where.password_mode, where.password_gid)
        written.append(target)
        target = where.config
        write_file(target, config_text, 0o640, where.gid)
        written.append(target)
    except OSError as exc:
        raise InitError(
            f"cannot write {target}: {exc.strerror or exc}",
            "run init as root (sudo), or choose another --config",
        ) from exc
    return written
