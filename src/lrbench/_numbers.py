"""What counts as a number where users hand LRBench++ values: a task's metrics, a policy's
parameters, an imported study. JSON and Python both let `true` pass as 1, so bools are
refused everywhere, and an integer too large for a float is not finite.
"""

from __future__ import annotations

import math
from typing import Any

#: The largest value of the store's 64-bit integer columns (steps, costs, counts).
LARGEST_STORED_INTEGER = 2**63 - 1


def is_number(value: Any) -> bool:
    """Whether `value` is an int or a float (numpy floats included), and not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """Whether `value` is a number (see `is_number`) that converts to a finite float."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float
        return False
