"""LRBench's grid range test: short fixed-LR runs over a log grid, stored as a study.

    result = grid_range_test("digits-mlp", lr_min=1e-5, lr_max=10, points=9, steps=100)
    result.suggestion, result.range

Reference: Wu et al., "Demystifying Learning Rate Policies for High Accuracy Training of Deep
Neural Networks" (IEEE BigData 2019): LRBench's value range test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.rangetest import grid_range
from lrbench.study.config import StudyConfig
from lrbench.study.runner import tune

__all__ = ["GridRangeResult", "grid_range_test"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class GridRangeResult:
    """LRBench's grid range test: the metric of short fixed-LR runs against LR.

    Attributes:
        lrs: The LR grid (ascending).
        values: The metric at each LR (mean over seeds; NaN where the run diverged).
        metric: The metric's name; `mode` says whether higher is better.
        suggestion: The LR with the best metric.
        range: The widest run of neighbouring grid LRs around the best whose metric is within
            `tolerance` (relative) of the best: the LRs worth searching.
        study: The stored study that holds the runs.
    """

    lrs: np.ndarray
    values: np.ndarray
    metric: str
    mode: str
    suggestion: float | None
    range: tuple[float, float] | None
    tolerance: float
    study: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (`lrbench range-test --grid --format json`)."""
        return {
            "suggestion": self.suggestion,
            "range": list(self.range) if self.range else None,
            "metric": self.metric,
            "mode": self.mode,
            "tolerance": self.tolerance,
            "study": self.study,
            "curve": {
                "lr": self.lrs.tolist(),
                "value": [None if math.isnan(v) else v for v in self.values.tolist()],
            },
        }


def grid_range_test(
    task: str,
    *,
    lr_min: float = 1e-5,
    lr_max: float = 10.0,
    points: int = 9,
    steps: int = 100,
    tolerance: float = 0.05,
    seeds: int = 1,
    params: Mapping[str, Any] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    db: str | None = None,
) -> GridRangeResult:
    """Short runs at fixed LRs over a log grid, stored as a study; the metric against LR."""
    if not 0 < tolerance < 1:
        raise ConfigError(f"`--tolerance` must be between 0 and 1, got {tolerance!r}")
    if points < 3:
        raise ConfigError(f"`--points` must be >= 3, got {points}")
    config = StudyConfig(
        task=task,
        params=dict(params or {}),
        metric=metric,
        mode=mode,
        policies=("fixed",),
        lr_min=lr_min,
        lr_max=lr_max,
        strategy="grid",
        trials=points,
        total_steps=steps,
        seeds=seeds,
    )
    result = tune(config, db=db)
    by_lr = {s.lr: s.mean for s in result.leaderboard}
    lrs = np.array(sorted(by_lr))
    values = np.array([by_lr[lr] for lr in lrs])
    suggestion, span = grid_range(lrs, values, mode=result.study.mode, tolerance=tolerance)
    return GridRangeResult(
        lrs=lrs,
        values=values,
        metric=result.study.metric,
        mode=result.study.mode,
        suggestion=suggestion,
        range=span,
        tolerance=tolerance,
        study=result.study.name,
    )
