"""Top-k search: start from what is known (the store, the nearest tasks, published recipes)."""

from __future__ import annotations

from collections.abc import Sequence

from lrbench.exceptions import ConfigError
from lrbench.recommend import starting_points
from lrbench.search._base import Candidate, SearchContext, Strategy, register_strategy, round_lr
from lrbench.search.grid import grid
from lrbench.search.templates import TEMPLATES
from lrbench.store import TrialRecord

__all__ = ["TopKSearch"]

#: Each known LR is tried at these multiples.
_AROUND = (0.5, 1.0, 2.0)


@register_strategy
class TopKSearch(Strategy):
    """The k = trials // 3 best known starting points (`lrbench.recommend`), each at x0.5,
    x1 and x2 its LR; a grid over the templates when nothing at all is known."""

    name = "topk"
    listing = 2

    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        if history:
            return []
        if context.store is None:
            raise ConfigError("the topk strategy needs `store`: it proposes what the store knows")
        k = max(1, context.trials // len(_AROUND))
        found = starting_points(
            context.store,
            context.task,
            k=len(TEMPLATES),
            metric=context.metric,
            direction=context.direction,
        )
        # A composed sequence is known by its exact spec, not as a family to rescale: skip it.
        known = [point for point in found if point.family in TEMPLATES][:k]
        if not known:
            return grid(context.templates, context.lr_min, context.lr_max, context.trials)
        return [
            Candidate(point.family, round_lr(point.lr * factor), point.source)
            for point in known
            for factor in _AROUND
        ]
