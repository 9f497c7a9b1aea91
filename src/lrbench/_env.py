"""Settings read from the environment, checked the same way wherever they are read."""

from __future__ import annotations

import math
import os

from lrbench.exceptions import ConfigError

__all__ = ["seconds_from_env"]


def seconds_from_env(name: str, default: float) -> float:
    """A positive number of seconds from `$name`, else `default`.

    Raises:
        ConfigError: the variable is set but not a positive, finite number.
    """
    text = os.environ.get(name, "")
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise ConfigError(f"${name} must be a positive number of seconds, got {text!r}")
    return seconds
