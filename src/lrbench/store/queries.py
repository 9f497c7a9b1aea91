"""Queries over stored trials: the leaderboard, the nearest known tasks, the top-k policies.

Scores use `lrbench.evaluate`'s one rule for the mean over seeds and its ranking, so every view
of a study (the `tune` result, `db show`, `db ls`, `db top`, the report) agrees.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from lrbench.evaluate import Direction, rank_key, seed_spread
from lrbench.store._models import TrialRow
from lrbench.store._records import PolicyScore, StudyRecord, TaskInfo, TrialStatus

__all__ = [
    "LEAN_COLUMNS",
    "LeanTrial",
    "best_per_family",
    "nearest",
    "rank",
    "score",
    "with_source",
]


class LeanTrial(NamedTuple):
    """The columns a leaderboard needs, read without building ORM objects."""

    policy: str
    family: str
    lr: float
    status: str
    metrics: dict[str, Any]
    cost_steps: int
    cost_seconds: float
    total_steps: int


LEAN_COLUMNS = (
    TrialRow.policy,
    TrialRow.family,
    TrialRow.lr,
    TrialRow.status,
    TrialRow.metrics,
    TrialRow.cost_steps,
    TrialRow.cost_seconds,
    TrialRow.total_steps,
)


def score(trials: Sequence[LeanTrial], metric: str) -> PolicyScore:
    """One configuration's leaderboard row: `seed_spread` over the seeds that completed."""
    complete = TrialStatus.complete.value
    values = [
        float(t.metrics[metric])
        for t in trials
        if t.status == complete and metric in (t.metrics or {})
    ]
    mean, std = seed_spread(values)
    statuses: dict[str, int] = {}
    for trial in trials:
        statuses[trial.status] = statuses.get(trial.status, 0) + 1
    first = trials[0]
    return PolicyScore(
        policy=first.policy,
        family=first.family,
        lr=first.lr,
        metric=metric,
        mean=mean,
        std=std,
        seeds=sum(math.isfinite(v) for v in values),
        statuses=statuses,
        cost_steps=sum(t.cost_steps for t in trials),
        cost_seconds=sum(t.cost_seconds for t in trials),
        total_steps=first.total_steps,
    )


def rank(scores: Iterable[PolicyScore], mode: str | Direction) -> list[PolicyScore]:
    """Best first; configurations that never completed (NaN mean) last, in their order."""
    return sorted(scores, key=lambda s: rank_key(s.mean, mode))


def nearest(target: TaskInfo, studies: Sequence[StudyRecord]) -> list[StudyRecord]:
    """The studies of the other tasks sharing the most of model, dataset, optimizer, domain."""

    def likeness(task: TaskInfo) -> int:
        return sum(
            bool(getattr(task, f)) and getattr(task, f) == getattr(target, f)
            for f in ("model", "dataset", "optimizer", "domain")
        )

    scored = [(likeness(s.task), s) for s in studies if s.task.name != target.name]
    best = max((likeness for likeness, _ in scored), default=0)
    return [s for likeness, s in scored if likeness == best and likeness > 0]


def best_per_family(scores: Sequence[PolicyScore], mode: str | Direction) -> list[PolicyScore]:
    """Each family once, with its best configuration, best family first."""
    found: dict[str, PolicyScore] = {}
    for entry in rank(scores, mode):
        found.setdefault(entry.family, entry)
    return list(found.values())


def with_source(scores: Iterable[PolicyScore], source: str) -> list[PolicyScore]:
    """The finite scores, each marked with where it comes from."""
    return [dataclasses.replace(s, source=source) for s in scores if not math.isnan(s.mean)]
