"""Tuning for the cost of one run: the best LR carried across horizons, and the final loss of
a schedule predicted from measured curves instead of trained.

`horizon`: LR*(D) = B * D^-beta fitted over short sweeps (`fit_horizon_law`).
`schedule_law`: L(s) = L0 + A * S1^-alpha - C * S2 fitted on one or two curves
(`fit_annealing_law`, `rank_schedules`).
"""

from lrbench.scaling.horizon import (
    PRIOR_EXPONENT,
    HorizonLaw,
    HorizonOptimum,
    LRPrediction,
    fit_horizon_law,
    fit_optimum,
)
from lrbench.scaling.schedule_law import (
    AnnealingLaw,
    MeasuredCurve,
    SchedulePrediction,
    annealing_areas,
    fit_annealing_law,
    rank_schedules,
)

__all__ = [
    "PRIOR_EXPONENT",
    "AnnealingLaw",
    "HorizonLaw",
    "HorizonOptimum",
    "LRPrediction",
    "MeasuredCurve",
    "SchedulePrediction",
    "annealing_areas",
    "fit_annealing_law",
    "fit_horizon_law",
    "fit_optimum",
    "rank_schedules",
]
