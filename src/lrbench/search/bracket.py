"""Range-test bracketing: run the LR range test first, then search only around where it says.

`Bracketed(strategy)` is a strategy itself: its `prepare` runs the range test over the
configured range (its steps count in the study's cost), and every proposal of the wrapped
strategy is made over the bracket [LR of the sweep's lowest loss / BELOW, x ABOVE] instead.
On both built-in tasks the tuned optimum lies within 1.5x of the lowest-loss LR
(docs/benchmarks.md), well above the classic point rules, which are made to be safe rather
than best.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from lrbench.search._base import Candidate, SearchContext, Strategy
from lrbench.store import TrialRecord

__all__ = [
    "BRACKET_ABOVE",
    "BRACKET_BELOW",
    "BRACKET_STEPS",
    "Bracketed",
    "bracket_steps",
    "narrow",
]

#: Steps of the bracketing range test (at most the study's budget).
BRACKET_STEPS = 100
#: The bracket searched: [LR of the lowest loss / BELOW, LR of the lowest loss x ABOVE].
BRACKET_BELOW, BRACKET_ABOVE = 10.0, 3.0


def bracket_steps(total_steps: int) -> int:
    """Steps of the bracketing range test for trials of `total_steps` updates."""
    from lrbench.rangetest import MIN_SWEEP_STEPS

    return max(MIN_SWEEP_STEPS, min(BRACKET_STEPS, total_steps))


def narrow(context: SearchContext, bracket: Mapping[str, Any] | None) -> SearchContext:
    """The context searching the bracket, where the range test found one."""
    if not bracket or bracket.get("lr_min") is None:
        return context
    return dataclasses.replace(context, lr_min=bracket["lr_min"], lr_max=bracket["lr_max"])


class Bracketed(Strategy):
    """Another strategy, searching only the range the LR range test brackets.

    Args:
        inner: The strategy whose proposals are bracketed.
        task_ref: The task, as `lrbench.range_test` takes it.
        params: The task's settings.
    """

    def __init__(self, inner: Strategy, *, task_ref: str, params: Mapping[str, Any]) -> None:
        self.inner = inner
        self.name = inner.name
        self.adaptive = inner.adaptive
        self.task_ref = task_ref
        self.params = dict(params)

    def prepare(self, context: SearchContext) -> dict[str, Any]:
        """Run the range test; the bracket, its steps and the sweep's suggestion."""
        from lrbench.rangetest import range_test

        result = range_test(
            self.task_ref,
            lr_min=context.lr_min,
            lr_max=context.lr_max,
            steps=bracket_steps(context.total_steps),
            params=self.params,
            seed=context.seed,
        )
        bracket: dict[str, Any] = {"steps": len(result.lrs), "lr_min": None, "lr_max": None}
        if result.range is None:  # the loss never fell: search the whole configured range
            return {**bracket, "reason": result.reason}
        lowest = result.range[1]
        return {
            **bracket,
            "lr_min": max(lowest / BRACKET_BELOW, context.lr_min),
            "lr_max": min(lowest * BRACKET_ABOVE, context.lr_max),
            "suggestion": result.suggestion,
        }

    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        return self.inner.propose(narrow(context, context.prepared), history)
