"""Random search: a uniform template and a log-uniform LR per configuration, seeded."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrbench.search._base import Candidate, SearchContext, Strategy, register_strategy, round_lr
from lrbench.store import TrialRecord

__all__ = ["RandomSearch", "random_search"]


def random_search(
    templates: Sequence[str], lr_min: float, lr_max: float, trials: int, seed: int
) -> list[Candidate]:
    """`trials` draws: a uniform template and a log-uniform LR, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return [
        Candidate(
            templates[int(rng.integers(len(templates)))],
            round_lr(float(np.exp(rng.uniform(math.log(lr_min), math.log(lr_max))))),
            "random",
        )
        for _ in range(trials)
    ]


@register_strategy
class RandomSearch(Strategy):
    """`trials` random configurations drawn from the study's seed, all proposed at once."""

    name = "random"
    listing = 1

    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        if history:
            return []
        return random_search(
            context.templates, context.lr_min, context.lr_max, context.trials, context.seed
        )
