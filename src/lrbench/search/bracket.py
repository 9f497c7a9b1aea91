"""Range-test bracketing: run the LR range test first, then search only around where it says.

`Bracketed(strategy)` is a strategy itself: its `prepare` runs a short range test over the
configured range (a quarter of one run, at least `READABLE_STEPS` and at most half a run and
`BRACKET_STEPS`; its steps count in the study's cost), and every proposal of the wrapped
strategy is made within [L / SPAN, L x SPAN] around L, the LR of the sweep's lowest loss,
with a grid's points at the centres of equal log-spaced bins: one point sits at L itself,
two at L / 1.73 and L x 1.73 (where the bracket meets an end of the configured range it is
cut there, and the points are spread over what is left: minilm-cls's L of 7.9e-4 under a
1e-3 ceiling gave one point at 5.1e-4). Measured on the built-in tasks (docs/benchmarks.md,
issue 12), the tuned optimum sat at 0.5x-1.0x of L for sweeps of this length, longer sweeps
put L lower (0.4x of the optimum for a full-run sweep of digits-mlp), and the classic point
rules (valley, steepest descent) sit 3x-35x below the optimum: they are made to be safe
rather than best.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrbench.search._base import Candidate, SearchContext, Strategy
from lrbench.store import TrialRecord

__all__ = [
    "BRACKET_FRACTION",
    "BRACKET_SPAN",
    "BRACKET_STEPS",
    "READABLE_STEPS",
    "Bracketed",
    "bracket_steps",
    "lowest_raw_loss_lr",
    "narrow",
]

#: The bracketing range test's share of one run.
BRACKET_FRACTION = 0.25
#: Fewer steps than this often show no falling loss at all (charlm at 12 steps, MiniLM at 15).
READABLE_STEPS = 30
#: The range test's longest sweep: past ~100 steps the lowest-loss LR only drifts lower.
BRACKET_STEPS = 100
#: The bracket searched: [L / SPAN, L x SPAN] around the LR of the sweep's lowest loss, L.
BRACKET_SPAN = 3.0


def bracket_steps(total_steps: int) -> int:
    """Steps of the bracketing range test for trials of `total_steps` updates: a quarter of
    the run, raised to `READABLE_STEPS` where that costs at most half a run (a budget shorter
    than a readable sweep gets half a run, whose smoothed loss may not fall: see
    `lowest_raw_loss_lr`)."""
    from lrbench.rangetest import MIN_SWEEP_STEPS

    steps = min(max(round(BRACKET_FRACTION * total_steps), READABLE_STEPS), total_steps // 2)
    return max(MIN_SWEEP_STEPS, min(BRACKET_STEPS, steps))


def lowest_raw_loss_lr(lrs: Sequence[float], losses: Sequence[float]) -> float | None:
    """The LR of a sweep's lowest raw loss, where it lies below the first by the range
    test's 2% (None otherwise). The fallback when the smoothed loss never fell: a sweep of
    10 steps (SmolLM2 LoRA on a 20-step budget) is shorter than its moving average's memory,
    so only the raw points show the fall at its end."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    if len(finite) < 2:
        return None
    lr, lowest = min(finite[1:], key=lambda point: point[1])
    return lr if lowest < finite[0][1] * 0.98 else None


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
        if result.range is not None:
            lowest = result.range[1]
        else:
            raw = lowest_raw_loss_lr(result.lrs.tolist(), result.losses.tolist())
            if raw is None:  # the loss never fell: search the whole configured range
                return {**bracket, "reason": result.reason}
            lowest = raw
            bracket["reason"] = (
                "the smoothed loss never fell by 2%; bracketed around the lowest raw loss"
            )
        return {
            **bracket,
            "lr_min": max(lowest / BRACKET_SPAN, context.lr_min),
            "lr_max": min(lowest * BRACKET_SPAN, context.lr_max),
            "lowest_loss_lr": lowest,
            "suggestion": result.suggestion,
        }

    def propose(self, context: SearchContext, history: Sequence[TrialRecord]) -> list[Candidate]:
        narrowed = narrow(context, context.prepared)
        if narrowed is not context:  # a grid's ends at the centres of equal log-spaced bins
            points = max(1, context.trials // max(1, len(context.templates)))
            shrink = (narrowed.lr_max / narrowed.lr_min) ** (1 / (2 * points))
            narrowed = dataclasses.replace(
                narrowed, lr_min=narrowed.lr_min * shrink, lr_max=narrowed.lr_max / shrink
            )
        return self.inner.propose(narrowed, history)
