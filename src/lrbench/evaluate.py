"""Metrics derived from curves and predictions: pure functions on arrays (DESIGN §4).

Per trial: final and best value, steps to a target, area under the curve; across seeds: mean
and spread; for classifiers, the LRBench metrics (top-1, top-5, confidence on correct
predictions, per-class confidence spread, train/test loss gap).

"Best" is decided here and nowhere else: `Direction` says which way a metric improves,
`seed_spread` scores a configuration over its seeds, and `rank_key` orders scores. The store's
leaderboard, the Bayesian search, composition, the live display, the result and the report all
use these three.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lrbench.exceptions import ConfigError

__all__ = [
    "CURVE_PREFIXES",
    "CurveSummary",
    "Direction",
    "classification_metrics",
    "rank_agreement",
    "rank_key",
    "reached",
    "seed_spread",
    "summarize_curve",
]


#: A trial's curve of the study's metric is also stored summarised: `best_METRIC`, `auc_METRIC`.
CURVE_PREFIXES = ("best_", "auc_")


class Direction(str, enum.Enum):
    """Which way a metric improves. Stored and written as `max` / `min`."""

    MAX = "max"
    MIN = "min"

    @classmethod
    def of(cls, value: str | Direction, *, field: str = "mode") -> Direction:
        """The direction named `value`; a `ConfigError` naming `field` otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"`{field}` must be max or min, got {value!r}") from None

    @property
    def sign(self) -> float:
        """+1 where higher is better, -1 where lower is: `sign * value` is always "higher"."""
        return 1.0 if self is Direction.MAX else -1.0

    @property
    def wording(self) -> str:
        """`higher` or `lower`: which values are better, in words."""
        return "higher" if self is Direction.MAX else "lower"

    def worst(self, values: Sequence[float]) -> float:
        """The worst of finite `values` (NaN when there is none)."""
        finite = [v for v in values if math.isfinite(v)]
        if not finite:
            return math.nan
        return min(finite) if self is Direction.MAX else max(finite)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CurveSummary:
    """What one metric's curve says about a trial.

    Attributes:
        final: The last value.
        best: The best value (max or min by mode).
        best_step: The step where the best was reached.
        steps_to_target: The first step at which the target was reached, or None.
        auc: Area under the curve divided by its step span (a mean value over training);
            NaN for a curve of one point.
    """

    final: float
    best: float
    best_step: int
    steps_to_target: int | None
    auc: float


def reached(values: Any, target: float, mode: str | Direction) -> Any:
    """Whether `values` (a number or an array) reached `target`; `mode` says which way."""
    return values >= target if Direction.of(mode) is Direction.MAX else values <= target


def rank_key(mean: float, mode: str | Direction) -> tuple[bool, float]:
    """Sort key that puts the best mean first and configurations without one (NaN) last."""
    if math.isnan(mean):
        return True, 0.0
    return False, -Direction.of(mode).sign * mean


def summarize_curve(
    steps: Sequence[int],
    values: Sequence[float],
    *,
    mode: str | Direction = "max",
    target: float | None = None,
) -> CurveSummary:
    """Summarise a metric curve (steps ascending); `mode` says whether higher is better."""
    direction = Direction.of(mode)
    t = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.size == 0:
        return CurveSummary(
            final=math.nan, best=math.nan, best_step=0, steps_to_target=None, auc=math.nan
        )
    index = int(np.argmax(np.where(np.isfinite(v), direction.sign * v, -np.inf)))
    first_hit = None
    if target is not None:
        hits = np.nonzero(reached(v, target, direction))[0]
        first_hit = int(t[hits[0]]) if hits.size else None
    span = t[-1] - t[0]
    # The trapezoid rule by hand (`np.trapezoid` needs NumPy 2, `np.trapz` is gone from it),
    # as a weighted mean of the segments' midpoints: no overflow for values near the float max.
    auc = float(np.sum(np.diff(t) / span * (v[1:] / 2 + v[:-1] / 2))) if span > 0 else math.nan
    return CurveSummary(
        final=float(v[-1]),
        best=float(v[index]),
        best_step=int(t[index]),
        steps_to_target=first_hit,
        auc=auc,
    )


def seed_spread(values: Sequence[float]) -> tuple[float, float]:
    """A configuration's score over its seeds: the mean and the sample standard deviation.

    This is the one rule for "the mean over seeds". `values` holds the metric of each seed
    that completed; a seed that diverged, was pruned, failed or has not finished contributes
    nothing (pass NaN or leave it out), so the mean is over the seeds that completed and
    the caller reports how many those were. The std is the sample std (ddof=1), 0 for a single
    seed; both are NaN when no seed completed, and `rank_key` puts such a configuration last.
    """
    array = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if array.size == 0:
        return math.nan, math.nan
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def classification_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    train_loss: float | None = None,
    test_loss: float | None = None,
) -> dict[str, float]:
    """LRBench's classification metrics from test logits and labels.

    Returns `accuracy` (top-1), `top5`, `confidence_mean` and `confidence_std` (softmax
    probability of the true class on correctly classified examples), `class_confidence_std`
    (spread across classes of the mean true-class probability), and `loss_gap`
    (test loss - train loss) when both losses are given.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    true_probability = probabilities[np.arange(len(labels)), labels]
    correct = logits.argmax(axis=1) == labels
    k = min(5, logits.shape[1])
    top5 = (np.argsort(-logits, axis=1)[:, :k] == labels[:, None]).any(axis=1)
    per_class = [true_probability[labels == c].mean() for c in np.unique(labels)]
    metrics = {
        "accuracy": float(correct.mean()),
        "top5": float(top5.mean()),
        "confidence_mean": float(true_probability[correct].mean()) if correct.any() else 0.0,
        "confidence_std": float(true_probability[correct].std()) if correct.any() else 0.0,
        "class_confidence_std": float(np.std(per_class)),
    }
    if train_loss is not None and test_loss is not None:
        metrics["loss_gap"] = float(test_loss - train_loss)
    return metrics


def rank_agreement(
    proxy: Sequence[float],
    target: Sequence[float],
    *,
    proxy_mode: str | Direction,
    target_mode: str | Direction,
) -> float | None:
    """How well a cheap proxy metric ranks configurations as the target metric does.

    Spearman's rank correlation between the two, each oriented so that larger is better:
    +1 when the proxy (say the validation loss) orders the configurations exactly as the
    target (say a benchmark's accuracy), -1 when exactly the other way round. None with fewer
    than three configurations, or when either metric is constant over them (no ranking).
    """
    from scipy.stats import spearmanr

    pairs = [(p, t) for p, t in zip(proxy, target) if math.isfinite(p) and math.isfinite(t)]
    if len(pairs) < 3:
        return None
    x = Direction.of(proxy_mode).sign * np.asarray([p for p, _ in pairs])
    y = Direction.of(target_mode).sign * np.asarray([t for _, t in pairs])
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(spearmanr(x, y).statistic)
