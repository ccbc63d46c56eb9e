"""Where users live: the bases of the configuration (:class:`Scope`), and what follows from them
(:class:`Places`): the bases and the filter that find every user, and where a user belongs as it is
enabled or disabled (``deprovisioning.disabled_base``)."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.directory.base import Directory, DirFilter, Entry, all_of
from bridge.mapping.engine import UserMapping


@dataclass(frozen=True, slots=True)
class Scope:
    """Where users live: new ones go to ``user_base``; ``disabled_base`` holds moved disabled ones."""

    user_base: str
    disabled_base: str | None = None
    user_filter: DirFilter | None = None
    uniqueness: str = "bridge"  # "directory": the directory refuses duplicate names (ldap.uniqueness)


@dataclass(frozen=True, slots=True)
class Places:
    """A :class:`Scope` as the directory spells it (normalised DNs), with the ``bases`` users are searched
    under and the ``condition`` every user matches."""

    user_base: str
    disabled_base: str | None
    bases: tuple[str, ...]
    condition: DirFilter

    @classmethod
    def of(cls, directory: Directory, mapping: UserMapping, scope: Scope) -> Places:
        """Users are searched under the user base, and the disabled base when it lies elsewhere; they
        match the map's structural class and ``ldap.user_filter``."""
        user_base = directory.normalize_dn(scope.user_base)
        disabled = directory.normalize_dn(scope.disabled_base) if scope.disabled_base else None
        bases = [user_base]
        if disabled and not disabled.lower().endswith(user_base.lower()):
            bases.append(disabled)
        condition = all_of(mapping.structural_filter, *([scope.user_filter] if scope.user_filter else []))
        return cls(user_base, disabled, tuple(bases), condition)

    def new_parent(self, active: bool) -> str:
        """Where a new user goes."""
        return self.disabled_base if not active and self.disabled_base else self.user_base

    def parent_for(self, entry: Entry, active: bool) -> str:
        """Where ``entry`` belongs once it is ``active`` or not: a disabled user moves to the disabled
        base, and back to the user base when enabled again; without a disabled base it stays."""
        if self.disabled_base is None:
            return entry.parent
        if not active:
            return self.disabled_base
        if entry.parent.lower() == self.disabled_base.lower():
            return self.user_base
        return entry.parent


__all__ = ["Places", "Scope"]
