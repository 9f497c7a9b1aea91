"""Strategies for single-policy selection: which (policy family, LR) pairs to train.

Each returns a list of `Candidate`s; the study crosses them with the seeds. The list is fixed
when the study is created (and stored), so a resumed study runs exactly the same trials.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.store import RecipeRecord, Store, TaskInfo

__all__ = ["STRATEGIES", "Candidate", "grid", "log_grid", "random_search", "top_k"]

STRATEGIES = ("grid", "random", "topk", "bayes")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One configuration to train: a policy template at a peak LR, and why it was chosen.

    `policy` is the exact spec where the search fixed more than the LR (Bayesian search over
    shape parameters); otherwise the template makes the policy for the LR and the budget.
    """

    template: str
    lr: float
    origin: str = ""
    policy: str | None = None


def _round(lr: float) -> float:
    return float(f"{lr:.3g}")


def log_grid(lr_min: float, lr_max: float, count: int) -> list[float]:
    """`count` LR values evenly spaced on a log scale, ends included (3 significant digits)."""
    if count == 1:
        return [_round(math.sqrt(lr_min * lr_max))]
    return [_round(v) for v in np.geomspace(lr_min, lr_max, count)]


def grid(templates: list[str], lr_min: float, lr_max: float, trials: int) -> list[Candidate]:
    """Every template x an LR log grid; `trials // len(templates)` values each (at least 1)."""
    per_template = max(1, trials // len(templates))
    values = log_grid(lr_min, lr_max, per_template)
    return [Candidate(t, lr, "grid") for t in templates for lr in values]


def random_search(
    templates: list[str], lr_min: float, lr_max: float, trials: int, seed: int
) -> list[Candidate]:
    """`trials` draws: a uniform template and a log-uniform LR, from a seeded generator."""
    rng = np.random.default_rng(seed)
    return [
        Candidate(
            templates[int(rng.integers(len(templates)))],
            _round(float(np.exp(rng.uniform(math.log(lr_min), math.log(lr_max))))),
            "random",
        )
        for _ in range(trials)
    ]


def _recipe_priors(recipes: list[RecipeRecord], task: TaskInfo) -> list[Candidate]:
    """Published recipes that fit the task: same domain, else same optimizer family."""

    def optimizer_family(name: str) -> str:
        return "adam" if name.startswith("adam") else name

    fits = [r for r in recipes if r.domain and r.domain == task.domain]
    fits = fits or [
        r
        for r in recipes
        if not r.domain
        and r.optimizer
        and optimizer_family(r.optimizer) == optimizer_family(task.optimizer)
    ]
    seen: dict[tuple[str, float], Candidate] = {}
    for recipe in fits:
        seen.setdefault(
            (recipe.family, recipe.lr),
            Candidate(recipe.family, recipe.lr, f"recipe {recipe.name}"),
        )
    return list(seen.values())


def top_k(
    store: Store,
    task: TaskInfo,
    *,
    metric: str,
    mode: str,
    trials: int,
    fallback: list[str],
    lr_min: float,
    lr_max: float,
) -> list[Candidate]:
    """The best known configurations for the task (or the nearest tasks, or published
    recipes), each with a small grid around its LR (x0.5, x1, x2); k = trials // 3.

    With nothing known at all, falls back to a grid over `fallback`.
    """
    if trials < 1:
        raise ConfigError(f"`--trials` must be >= 1, got {trials}")
    k = max(1, trials // 3)
    known = [
        Candidate(score.family, score.lr, score.source)
        for score in store.top_k(task, k, metric=metric, mode=mode)
    ]
    known = known or _recipe_priors(store.recipes(), task)[:k]
    if not known:
        return grid(fallback, lr_min, lr_max, trials)
    return [
        Candidate(c.template, _round(c.lr * factor), c.origin)
        for c in known
        for factor in (0.5, 1.0, 2.0)
    ]
