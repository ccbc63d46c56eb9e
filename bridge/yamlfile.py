"""YAML files as an admin edits them: parsed, with the line of every key, so that a problem reported as
``ldap.user_base: ...`` can say where to look, and a syntax error names the file rather than
``<unicode string>``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """The file cannot be read, or is not YAML: one line that names the file and, for syntax, the line."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """A file's data, and the line (1-based) of each key path, spelled as problems spell it:
    ``ldap.urls[0]``, ``user.attributes.name.givenName``."""

    data: Any
    lines: Mapping[str, int] = field(default_factory=dict)

    def where(self, problem: str) -> str:
        """``problem`` with ``line N: `` in front, N being the line of the longest key path it starts
        with; unchanged when it names none."""
        for path in sorted(self.lines, key=len, reverse=True):
            if problem.startswith(path) and problem[len(path) : len(path) + 1] in (":", ".", "["):
                return f"line {self.lines[path]}: {problem}"
        return problem


def read(path: str | os.PathLike[str]) -> Parsed:
    """The YAML file at ``path``; YamlError says what is wrong, in the file's own name."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlError(f"cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {str(exc).replace('<unicode string>', name)}") from exc
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines)
    return Parsed(data, lines)


def _walk(node: yaml.Node, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = f"{prefix}.{key.value}" if prefix else str(key.value)
            lines.setdefault(path, key.start_mark.line + 1)
            _walk(value, path, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = f"{prefix}[{index}]"
            lines.setdefault(path, item.start_mark.line + 1)
            _walk(item, path, lines)


__all__ = ["Parsed", "YamlError", "read"]
