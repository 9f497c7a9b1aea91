"""The name → policy class registry, with close-match suggestions for unknown names."""

from __future__ import annotations

import difflib
from typing import TypeVar

from lrbench.exceptions import ConfigError
from lrbench.policies._base import Policy

__all__ = ["get_policy_class", "policy_names", "register"]

_REGISTRY: dict[str, type[Policy]] = {}

P = TypeVar("P", bound=type[Policy])


def register(cls: P) -> P:
    """Class decorator: make a policy available by its `name` in specs and the CLI."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"policy name {cls.name!r} is empty or already registered")
    _REGISTRY[cls.name] = cls
    return cls


def policy_names() -> list[str]:
    """Every registered policy name, in registration order."""
    return list(_REGISTRY)


def get_policy_class(name: str) -> type[Policy]:
    """The policy class registered as `name`; the error suggests the closest names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), _REGISTRY, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown policy {name!r}{hint} (`lrbench policies` lists all {len(_REGISTRY)})"
        ) from None
