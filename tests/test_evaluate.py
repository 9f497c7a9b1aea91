"""Curve summaries and classification metrics against independent computations."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, top_k_accuracy_score

from lrbench.evaluate import (
    classification_metrics,
    rank_agreement,
    seed_spread,
    summarize_curve,
)


def test_curve_summary_final_best_target_and_auc() -> None:
    steps, values = [10, 20, 30, 40], [0.2, 0.6, 0.9, 0.7]
    summary = summarize_curve(steps, values, mode="max", target=0.5)
    assert (summary.final, summary.best, summary.best_step) == (0.7, 0.9, 30)
    assert summary.steps_to_target == 20
    assert summary.auc == pytest.approx(np.trapezoid(values, steps) / 30)
    low = summarize_curve(steps, [3.0, 2.0, float("nan"), 2.5], mode="min", target=1.0)
    assert (low.best, low.best_step, low.steps_to_target) == (2.0, 20, None)
    assert math.isnan(summarize_curve([], []).final)


def test_seed_spread_is_mean_and_sample_std() -> None:
    assert seed_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert seed_spread([5.0]) == (5.0, 0.0)
    assert all(math.isnan(v) for v in seed_spread([float("nan")]))


def test_classification_metrics_match_sklearn_and_direct_formulas() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10))
    labels = rng.integers(0, 10, size=200)
    logits[np.arange(100), labels[:100]] += 3.0  # half of them made right
    metrics = classification_metrics(logits, labels, train_loss=0.5, test_loss=0.8)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, logits.argmax(1)))
    assert metrics["top5"] == pytest.approx(
        top_k_accuracy_score(labels, logits, k=5, labels=np.arange(10))
    )
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    true_p = probabilities[np.arange(200), labels]
    correct = logits.argmax(1) == labels
    assert metrics["confidence_mean"] == pytest.approx(true_p[correct].mean())
    assert metrics["confidence_std"] == pytest.approx(true_p[correct].std())
    per_class = [true_p[labels == c].mean() for c in range(10)]
    assert metrics["class_confidence_std"] == pytest.approx(np.std(per_class))
    assert metrics["loss_gap"] == pytest.approx(0.3)


def test_curve_summary_needs_no_numpy_2_function(monkeypatch: pytest.MonkeyPatch) -> None:
    # pyproject allows NumPy 1.24, which has no `np.trapezoid`: the area is our own arithmetic.
    monkeypatch.delattr(np, "trapezoid", raising=False)
    summary = summarize_curve([0, 10, 30], [1.0, 3.0, 2.0], mode="max")
    assert summary.auc == pytest.approx((10 * (1 + 3) / 2 + 20 * (3 + 2) / 2) / 30)


def test_rank_agreement_against_hand_computed_spearman() -> None:
    losses = [1.0, 2.0, 3.0, 4.0, 5.0]  # lower is better: the first configuration is best
    same = rank_agreement(losses, [0.5, 0.4, 0.3, 0.2, 0.1], proxy_mode="min", target_mode="max")
    assert same == pytest.approx(1.0)
    # One swap (2nd and 3rd): d = (0, 1, -1, 0, 0), rho = 1 - 6 * 2 / (5 * (25 - 1)) = 0.9.
    swapped = rank_agreement(
        losses, [0.5, 0.3, 0.4, 0.2, 0.1], proxy_mode="min", target_mode="max"
    )
    assert swapped == pytest.approx(0.9)
    reversed_ = rank_agreement(
        losses, [0.1, 0.2, 0.3, 0.4, 0.5], proxy_mode="min", target_mode="max"
    )
    assert reversed_ == pytest.approx(-1.0)
    assert rank_agreement([1.0, 2.0], [0.3, 0.2], proxy_mode="min", target_mode="max") is None
    flat = rank_agreement(losses, [0.3] * 5, proxy_mode="min", target_mode="max")
    assert flat is None
    with_nan = [1.0, math.nan, 3.0, 4.0]
    assert rank_agreement(with_nan, [0.4, 0.9, 0.2, 0.1], proxy_mode="min", target_mode="max") == (
        pytest.approx(1.0)
    )


def test_the_auc_of_values_near_the_float_max_is_their_mean_not_inf() -> None:
    huge = np.finfo(np.float64).max / 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = summarize_curve([0, 10, 20], [huge, huge, huge], mode="max")
    assert summary.auc == pytest.approx(huge)
