"""Loading the configuration: one YAML file, validated once at start.

:func:`load_settings` reports every problem at once, each with its YAML path and a hint; unknown keys are
errors, with a "did you mean", so a typo never passes silently. The generic loader turns the parsed YAML
into the dataclasses of :mod:`bridge.config.settings` by their type hints; :mod:`bridge.config.checks`
adds the rules that span keys or look at the machine.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal

from bridge import yamlfile
from bridge.config.checks import check
from bridge.config.settings import Settings


class ConfigError(Exception):
    """The configuration has problems; ``problems`` lists each as ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{lines}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(tp))
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_type_name(arg) for arg in typing.get_args(tp) if arg is not type(None))
    if origin is tuple:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if is_dataclass(tp):
        return "a mapping"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _convert(tp: Any, value: Any, path: str, problems: list[str]) -> Any:
    """``value`` converted to ``tp``, or None after appending a problem."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        return _convert(inner, value, path, problems)
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        problems.append(f"{path}: must be {_type_name(tp)}, not {value!r}")
        return None
    if origin is tuple:
        if isinstance(value, str | int | float):
            value = [value]  # one value where a list is expected is a list of one
        if not isinstance(value, list):
            problems.append(f"{path}: must be {_type_name(tp)}")
            return None
        inner = typing.get_args(tp)[0]
        return tuple(_convert(inner, item, f"{path}[{i}]", problems) for i, item in enumerate(value))
    if is_dataclass(tp):
        return _load_dataclass(tp, value, path, problems)
    ok = (
        (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (tp is float and isinstance(value, int | float) and not isinstance(value, bool))
        or (tp is str and isinstance(value, str))
    )
    if not ok:
        problems.append(f"{path}: must be {_type_name(tp)}, not {type(value).__name__} {value!r}")
        return None
    return float(value) if tp is float else value


def _load_dataclass(cls: Any, data: Any, path: str, problems: list[str]) -> Any:
    where = f"{path}: " if path else "the configuration "
    if not isinstance(data, Mapping):
        problems.append(f"{where}must be a mapping of keys to values")
        return None
    hints = typing.get_type_hints(cls)
    known = [f.name for f in fields(cls) if not f.metadata.get("internal")]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
            problems.append(f"{path + '.' if path else ''}{key}: unknown key{hint}")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.metadata.get("internal"):
            continue
        sub = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], sub, problems)
        elif f.default is MISSING:
            problems.append(f"{sub}: required ({f.metadata['doc']})")
            values[f.name] = None
    # Built even when some values are missing or wrong (they are None, and reported), so that the
    # checks across keys still run and every problem is reported in one go.
    return cls(**values)


def dump_settings(settings: Settings) -> dict[str, Any]:
    """The effective configuration, defaults included, as the YAML that would load back to it. It holds
    no secret: tokens are kept as hashes, and the bind password lives in a file or a credential."""

    def plain(value: Any) -> Any:
        if is_dataclass(value) and not isinstance(value, type):
            return {
                f.name: plain(getattr(value, f.name)) for f in fields(value) if not f.metadata.get("internal")
            }
        if isinstance(value, tuple):
            return [plain(item) for item in value]
        return value

    dumped: dict[str, Any] = plain(settings)
    return dumped


def parse_settings(data: Any, source: str) -> Settings:
    """Settings from parsed YAML ``data``; raises ConfigError listing every problem."""
    problems: list[str] = []
    settings = _load_dataclass(Settings, data, "", problems)
    if settings is not None:
        settings = dataclasses.replace(settings, source=source)
        check(settings, Path(source).parent, problems)
    if problems or settings is None:
        raise ConfigError(source, problems)
    return typing.cast(Settings, settings)


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate the YAML config at ``path``; each problem names the line of its key."""
    source = str(Path(path).resolve())
    try:
        parsed = yamlfile.read(path)
    except yamlfile.YamlError as exc:
        raise ConfigError(str(path), [str(exc)]) from exc
    try:
        return parse_settings(parsed.data if parsed.data is not None else {}, source)
    except ConfigError as exc:
        raise ConfigError(exc.source, [parsed.where(problem) for problem in exc.problems]) from None
