"""Single-policy selection: the best policy and LR for a fixed budget.

Every candidate trains its whole budget; the best mean of the metric over seeds wins.
"""

from __future__ import annotations

import dataclasses

from lrbench.study.objectives._base import Objective, register_objective

__all__ = ["SinglePolicy"]


@register_objective
@dataclasses.dataclass(frozen=True, kw_only=True)
class SinglePolicy(Objective):
    """Maximise (or minimise) the metric within the budget. No options."""

    name = "single"
    stored_name = "single-policy"
    description = "best policy and LR for the budget"
    listing = 0
