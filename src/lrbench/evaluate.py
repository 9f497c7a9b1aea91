"""Metrics derived from curves and predictions: pure functions on arrays (DESIGN §4).

Per trial: final and best value, steps to a target, area under the curve; across seeds: mean
and spread; for classifiers, the LRBench metrics (top-1, top-5, confidence on correct
predictions, per-class confidence spread, train/test loss gap).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["CurveSummary", "classification_metrics", "reached", "seed_spread", "summarize_curve"]


@dataclasses.dataclass(frozen=True)
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


def reached(values: Any, target: float, mode: str) -> Any:
    """Whether `values` (a number or an array) reached `target`; `mode` says which way."""
    return values >= target if mode == "max" else values <= target


def summarize_curve(
    steps: Sequence[int],
    values: Sequence[float],
    *,
    mode: str = "max",
    target: float | None = None,
) -> CurveSummary:
    """Summarise a metric curve (steps ascending); `mode` says whether higher is better."""
    t = np.asarray(steps, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.size == 0:
        return CurveSummary(math.nan, math.nan, 0, None, math.nan)
    finite = np.where(np.isfinite(v), v, -np.inf if mode == "max" else np.inf)
    index = int(np.argmax(finite) if mode == "max" else np.argmin(finite))
    first_hit = None
    if target is not None:
        hits = np.nonzero(reached(v, target, mode))[0]
        first_hit = int(t[hits[0]]) if hits.size else None
    span = t[-1] - t[0]
    auc = float(np.trapezoid(v, t) / span) if span > 0 else math.nan
    return CurveSummary(float(v[-1]), float(v[index]), int(t[index]), first_hit, auc)


def seed_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation over seeds (std 0 for one seed; NaN when empty)."""
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
