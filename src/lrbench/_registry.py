"""Registries of plug-ins (strategies, objectives): classes by name, listed in a set order."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from lrbench.exceptions import ConfigError

__all__ = ["Registry"]


class _Plugin(Protocol):
    name: str
    listing: int


T = TypeVar("T", bound=_Plugin)


class Registry(dict[str, type[T]], Generic[T]):
    """Plug-in classes by their `name`, listed by their `listing` (then name).

    Args:
        field: The setting that names a plug-in, for error messages (e.g. `--strategy`).
    """

    def __init__(self, field: str) -> None:
        super().__init__()
        self.field = field

    def register(self, cls: type[T]) -> type[T]:
        """Class decorator: make `cls` available by its `name`."""
        self[cls.name] = cls
        return cls

    def names(self) -> list[str]:
        """The registered names, in listing order."""
        return sorted(self, key=lambda name: (self[name].listing, name))

    def lookup(self, name: Any) -> type[T]:
        """The class registered as `name`; a `ConfigError` listing the valid names otherwise."""
        if name not in self:
            raise ConfigError(
                f"`{self.field}` must be one of {', '.join(self.names())}, got {name!r}"
            )
        return self[name]
