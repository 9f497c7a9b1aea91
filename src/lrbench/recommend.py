"""Where to start before any tuning: what the store knows about this task or the nearest ones,
and the published recipes as priors.

    points = starting_points(store, task, k=3, metric="accuracy", direction=Direction.MAX)

The order of preference is: the best configurations of the task's own studies, else of the
nearest known tasks (sharing the most of model, dataset, optimizer and domain), else the
published recipes that fit the task (same domain and method, full or LoRA; else the same
optimizer family). The
`topk` strategy searches around these; a `recommend` command reports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from lrbench.evaluate import Direction
from lrbench.store import RecipeRecord, Store, TaskInfo

__all__ = ["StartingPoint", "recipe_priors", "starting_points"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StartingPoint:
    """A policy family at a peak LR, and where the evidence for it comes from.

    Attributes:
        family: The policy family (a template name).
        lr: The peak LR.
        source: `study NAME` for a stored result, `recipe NAME` for a published one.
        policy: The exact policy spec of a stored result ("" for a recipe).
        value: Its mean metric over seeds (None for a recipe).
    """

    family: str
    lr: float
    source: str
    policy: str = ""
    value: float | None = None


def _optimizer_family(name: str) -> str:
    return "adam" if name.startswith("adam") else name


def recipe_priors(recipes: Sequence[RecipeRecord], task: TaskInfo) -> list[StartingPoint]:
    """Published recipes that fit the task: same domain and method (a LoRA recipe's LR is
    ~10x a full fine-tuning one's), else same optimizer family."""
    fits = [r for r in recipes if r.domain and (r.domain, r.method) == (task.domain, task.method)]
    fits = fits or [
        r
        for r in recipes
        if not r.domain
        and r.optimizer
        and _optimizer_family(r.optimizer) == _optimizer_family(task.optimizer)
    ]
    seen: dict[tuple[str, float], StartingPoint] = {}
    for recipe in fits:
        seen.setdefault(
            (recipe.family, recipe.lr),
            StartingPoint(family=recipe.family, lr=recipe.lr, source=f"recipe {recipe.name}"),
        )
    return list(seen.values())


def starting_points(
    store: Store,
    task: TaskInfo,
    *,
    k: int,
    metric: str | None = None,
    direction: Direction | None = None,
) -> list[StartingPoint]:
    """Up to `k` starting points: the best known (own task, else nearest), else recipes."""
    known = [
        StartingPoint(
            family=score.family,
            lr=score.lr,
            source=score.source,
            policy=score.policy,
            value=score.mean,
        )
        for score in store.top_k(task, k, metric=metric, mode=direction)
    ]
    return known or recipe_priors(store.recipes(), task)[:k]
