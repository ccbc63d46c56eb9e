"""The configuration as a command loads it, and the commands that show it: ``check-config`` (with
``--probe``, the live directory too) and ``dump-config``.

A command that needs the settings (and the map) takes them from :func:`settings_or_stop` or
:func:`configuration_or_stop`: their problems are printed, each on its own line with its YAML path, and
end the command with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bridge import yamlfile
from bridge.config import ConfigError, Settings, dump_settings, load_settings
from bridge.mapping.load import MapError, load_maps
from bridge.mapping.model import MapSet
from bridge.ops.exits import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Stop


def settings_or_stop(path: str) -> Settings:
    """The settings at ``path``; their problems are printed, and end the command with exit code 2."""
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise Stop(EXIT_CONFIG) from exc


def configuration_or_stop(path: str) -> tuple[Settings, MapSet]:
    """The settings at ``path`` and their attribute map, or their problems printed and exit code 2: the
    map's too when the settings have some, so that one run names everything to fix."""
    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        _print_map_problems(_named_map(path))
        raise Stop(EXIT_CONFIG) from exc
    if _print_map_problems(loaded.map_path):
        raise Stop(EXIT_CONFIG)
    return loaded, load_maps(loaded.map_path)


def _named_map(path: str) -> Path | None:
    """The map file a configuration names, found without the rest of it being valid."""
    try:
        data = yamlfile.read(path).data
    except yamlfile.YamlError:
        return None
    name = data.get("map") if isinstance(data, dict) else None
    return (Path(path).resolve().parent / name) if isinstance(name, str) else None


def _print_map_problems(map_path: Path | None) -> bool:
    """Print the problems of the map at ``map_path`` (none when there is no such file); True if any."""
    if map_path is None or not map_path.is_file():
        return False
    try:
        load_maps(map_path)
    except MapError as exc:
        print(str(exc), file=sys.stderr)
        return True
    return False


def check_config(args: argparse.Namespace) -> int:
    """``check-config``: the configuration and its map load; where users and groups are served from."""
    loaded, maps = configuration_or_stop(args.config)
    print(f"{args.config}: configuration is valid (map {loaded.map_path})")
    print(f"Users: served from {loaded.ldap.user_base}")
    if maps.group is None:
        print("Groups: not served (the map has no group section)")
    elif not loaded.ldap.group_base:
        print("Groups: not served (ldap.group_base is not set); switch off group provisioning in Entra")
    else:
        print(f"Groups: served from {loaded.ldap.group_base}")
    return _probe(loaded, maps) if args.probe else EXIT_OK


def _probe(loaded: Settings, maps: MapSet) -> int:
    """check-config --probe: the live directory, as the bind DN (see bridge.directory.ldap.probe)."""
    from bridge.app import open_directory  # noqa: PLC0415 - ldap3 only where needed
    from bridge.directory.errors import DirectoryError  # noqa: PLC0415
    from bridge.directory.ldap.flavors import FLAVORS  # noqa: PLC0415
    from bridge.directory.ldap.probe import probe  # noqa: PLC0415

    try:
        opened = open_directory(loaded)
    except ConfigError as exc:  # the bind password cannot be read: said the way check-config says it
        print(f"problem: {'; '.join(exc.problems)} ({exc.source})")
        return EXIT_FAILED
    problems = 0
    try:
        opened.directory.ping()
        for finding in probe(loaded, maps, opened.directory.pool, FLAVORS[loaded.ldap.directory]):  # type: ignore[attr-defined]
            problems += finding.level == "problem"
            print(f"{finding.level}: {finding.text}")
    except DirectoryError as exc:
        print(f"problem: {exc.reason}")
        return EXIT_FAILED
    finally:
        opened.close()
    return EXIT_FAILED if problems else EXIT_OK


def dump_config(args: argparse.Namespace) -> int:
    """``dump-config``: the effective configuration, defaults included (no secret is in it)."""
    settings = settings_or_stop(args.config)
    print(yaml.safe_dump(dump_settings(settings), sort_keys=False, allow_unicode=True), end="")
    return EXIT_OK
