"""Grid search: every template x an LR log grid."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrbench.search._base import Candidate, SearchContext, Strategy, register_strategy, round_lr
from lrbench.store import TrialRecord

__all__ = ["GridSearch", "grid", "log_grid"]


def log_grid(lr_min: float, lr_max: float, count: int) -> list[float]:
    """`count` LR values evenly spaced on a log scale, ends included (3 significant digits)."""
    if count == 1:
        return [round_lr(math.sqrt(lr_min * lr_max))]
    return [round_lr(v) for v in np.geomspace(lr_min, lr_max, count)]


def grid(templates: Sequence[str], lr_min: float, lr_max: float, trials: int) -> list[Candidate]:
    """Every template x an LR log grid of `trials // len(templates)` values; with fewer
    trials than templates, the first `trials` templates at one LR each."""
    if trials < len(templates):
        templates = templates[: max(1, trials)]
    values = log_grid(lr_min, lr_max, max(1, trials // len(templates)))
    return [Candidate(t, lr, "grid") for t in templates for lr in values]


@register_strategy
class GridSearch(Strategy):
    """Each template at `trials // len(templates)` LRs on a log grid, all proposed at once."""

    name = "grid"
    listing = 0

    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        if history:
            return []
        return grid(context.templates, context.lr_min, context.lr_max, context.trials)
