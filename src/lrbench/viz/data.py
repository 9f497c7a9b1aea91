"""The data step of every figure: plain arrays and records read from the store.

Each function here returns a small frozen dataclass; the figure functions in `figures.py` take
only these, so what is drawn is tested on its own, without pixels.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from lrbench.evaluate import Direction, reached
from lrbench.exceptions import ConfigError
from lrbench.policies import parse
from lrbench.store import PolicyScore, Store, StudyRecord, TrialRecord

__all__ = [
    "CostPoints",
    "Heatmap",
    "LRSweep",
    "StudyCurves",
    "TrialCurves",
    "cost_points",
    "heatmap",
    "lr_sweep",
    "study_curves",
    "trial_curves",
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrialCurves:
    """One trial over time: each reported metric, the LR it trained with, and its end."""

    title: str
    metrics: dict[str, tuple[np.ndarray, np.ndarray]]
    lr_steps: np.ndarray
    lr: np.ndarray
    status: str
    end_step: int


def trial_curves(store: Store, trial: TrialRecord, *, max_points: int = 2000) -> TrialCurves:
    """A trial's stored points by metric, and its LR over the steps it ran."""
    metrics: dict[str, tuple[list[int], list[float]]] = {}
    for step, name, value in store.points(trial.id):
        steps, values = metrics.setdefault(name, ([], []))
        steps.append(step)
        values.append(value)
    end = max(trial.cost_steps, max((s[-1] for s, _ in metrics.values()), default=0), 1)
    lr_steps = np.unique(np.linspace(0, end, min(max_points, end + 1)).round())
    return TrialCurves(
        title=f"trial {trial.number}: {trial.policy} (seed {trial.seed})",
        metrics={
            k: (np.asarray(s, dtype=float), np.asarray(v, dtype=float))
            for k, (s, v) in metrics.items()
        },
        lr_steps=lr_steps,
        lr=_lr_curve(trial.policy, lr_steps),
        status=trial.status.value,
        end_step=trial.cost_steps,
    )


def readable(spec: str) -> bool:
    """Whether this version can read a stored policy spec (one written by a newer LRBench++,
    or damaged, is shown by name only, without its LR curve)."""
    try:
        parse(spec)
    except ConfigError:
        return False
    return True


def _lr_curve(spec: str, steps: np.ndarray) -> np.ndarray:
    """The stored policy's LR at `steps`; NaN (no LR line) where it is not `readable`."""
    return parse(spec).values(steps) if readable(spec) else np.full(len(steps), np.nan)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyCurves:
    """The objective metric of every trial over steps, grouped by policy family."""

    metric: str
    curves: list[tuple[str, str, np.ndarray, np.ndarray]]  # (family, policy, steps, values)
    best_policy: str | None


def study_curves(
    store: Store, study: StudyRecord, leaderboard: Sequence[PolicyScore]
) -> StudyCurves:
    """Every trial's curve of the study's metric; the best configuration named."""
    curves = []
    for trial in store.trials(study.id):
        points = store.points(trial.id, study.metric)
        if points:
            curves.append(
                (
                    trial.family,
                    trial.policy,
                    np.array([p[0] for p in points], float),
                    np.array([p[2] for p in points], float),
                )
            )
    best = next((s.policy for s in leaderboard if not math.isnan(s.mean)), None)
    return StudyCurves(metric=study.metric, curves=curves, best_policy=best)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LRSweep:
    """Final metric against peak LR, one line per family (the LRBench accuracy-vs-LR view)."""

    metric: str
    mode: str
    lines: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # family -> lr, mean, std
    diverged: dict[str, np.ndarray]  # family -> LRs where no trial completed
    chosen: tuple[str, float, float] | None  # family, lr, mean


def lr_sweep(study: StudyRecord, leaderboard: Sequence[PolicyScore]) -> LRSweep:
    """Group the leaderboard by family and sort by LR."""
    lines: dict[str, list[tuple[float, float, float]]] = {}
    diverged: dict[str, list[float]] = {}
    for score in leaderboard:
        if math.isnan(score.mean):
            diverged.setdefault(score.family, []).append(score.lr)
        else:
            lines.setdefault(score.family, []).append((score.lr, score.mean, score.std))
    best = next((s for s in leaderboard if not math.isnan(s.mean)), None)
    return LRSweep(
        metric=study.metric,
        mode=study.mode,
        lines={
            f: tuple(np.array(c) for c in zip(*sorted(rows)))  # type: ignore[misc]
            for f, rows in lines.items()
        },
        diverged={f: np.array(sorted(v)) for f, v in diverged.items()},
        chosen=None if best is None else (best.family, best.lr, best.mean),
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class CostPoints:
    """Each configuration's cost (steps over its seeds) and metric, with the Pareto front."""

    metric: str
    mode: str
    cost: np.ndarray
    value: np.ndarray
    labels: list[str]
    front: np.ndarray  # indices on the front, by increasing cost
    target: float | None
    cost_label: str = "training cost (optimizer updates, all seeds)"


def pareto_front(cost: np.ndarray, value: np.ndarray, mode: str) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and value."""
    sign = Direction.of(mode).sign
    order = np.lexsort((-sign * value, cost))
    front, best = [], -math.inf
    for index in order:
        if sign * value[index] > best:
            front.append(int(index))
            best = sign * value[index]
    return np.array(front, dtype=int)


def _steps_to_result(
    steps: np.ndarray, values: np.ndarray, mode: str, target: float | None
) -> float:
    """Where a curve first reaches the target, or else its own best value."""
    if target is not None:
        hits = np.nonzero(reached(values, target, mode))[0]
        return float(steps[hits[0]]) if hits.size else math.nan
    best = np.nanmax(values) if Direction.of(mode) is Direction.MAX else np.nanmin(values)
    return float(steps[np.nonzero(values == best)[0][0]])


def cost_points(
    study: StudyRecord, leaderboard: Sequence[PolicyScore], curves: StudyCurves | None = None
) -> CostPoints:
    """Completed configurations as (cost, mean metric) points.

    With `curves`, the cost is what a configuration needed for its result: the steps to reach
    the study's target (or, without a target, its own best value), mean over seeds; this is the
    informative view when every trial had the same budget. Without curves, the steps spent.
    """
    target = study.config.get("config", {}).get("target")
    done = [s for s in leaderboard if not math.isnan(s.mean)]
    if curves is not None:
        reach: dict[str, list[float]] = {}
        for _, policy, steps, values in curves.curves:
            reach.setdefault(policy, []).append(
                _steps_to_result(steps, values, study.mode, target)
            )
        cost = np.array([np.mean(reach.get(s.policy, [math.nan])) for s in done], dtype=float)
    else:
        cost = np.array([s.cost_steps for s in done], dtype=float)
    keep = np.isfinite(cost)
    done = [s for s, k in zip(done, keep) if k]
    cost = cost[keep]
    value = np.array([s.mean for s in done], dtype=float)
    return CostPoints(
        metric=study.metric,
        mode=study.mode,
        cost=cost,
        value=value,
        labels=[s.policy for s in done],
        front=pareto_front(cost, value, study.mode),
        target=target,
        cost_label="steps to reach "
        + ("the target" if target is not None else "its best result")
        + " (mean over seeds)"
        if curves is not None
        else "training cost (optimizer updates, all seeds)",
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Heatmap:
    """Mean metric by family (rows) and LR (columns); NaN where nothing completed."""

    metric: str
    mode: str
    families: list[str]
    lrs: list[float]
    values: np.ndarray


def heatmap(study: StudyRecord, leaderboard: Sequence[PolicyScore]) -> Heatmap:
    """The leaderboard laid out as family x LR."""
    families = sorted({s.family for s in leaderboard})
    lrs = sorted({s.lr for s in leaderboard})
    values = np.full((len(families), len(lrs)), np.nan)
    for score in leaderboard:
        values[families.index(score.family), lrs.index(score.lr)] = score.mean
    return Heatmap(metric=study.metric, mode=study.mode, families=families, lrs=lrs, values=values)
