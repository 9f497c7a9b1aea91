"""The LRBench++ tuning methods, one module each, behind the `Objective` protocol.

`single` (single-policy selection), `cost` (cost-effective tuning to a target), `compose`
(multi-policy composition), `horizon` (the LR predicted from short runs) and `schedule`
(schedules ranked by a loss law fitted on two short runs). A new method is
a new module with an `@register_objective` class, imported here.
"""

from lrbench.study.objectives._base import (
    OBJECTIVES,
    Objective,
    make_objective,
    objective_names,
    objective_of_study,
    register_objective,
)
from lrbench.study.objectives.compose import MultiPolicy
from lrbench.study.objectives.cost import CostEffective
from lrbench.study.objectives.horizon import HorizonTransfer
from lrbench.study.objectives.schedule import PredictedSchedules
from lrbench.study.objectives.single import SinglePolicy

__all__ = [
    "OBJECTIVES",
    "CostEffective",
    "HorizonTransfer",
    "MultiPolicy",
    "Objective",
    "PredictedSchedules",
    "SinglePolicy",
    "make_objective",
    "objective_names",
    "objective_of_study",
    "register_objective",
]
