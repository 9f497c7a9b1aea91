"""Tuning studies over (policy, LR): the three LRBench++ objectives.

    result = lrbench.tune(StudyConfig(task="digits-mlp", policies=("fixed", "cosine"),
                                      lr_min=1e-3, lr_max=1.0, trials=10))
    result.best.policy, result.best.mean

The parts: `config` (what users set, validated and resolved into a `Plan`), `runner`
(`tune`: plan, create or resume, rounds, executor dispatch, progress events), `result`
(`StudyResult`, its JSON), `objectives/` (one module per tuning method behind `Objective`),
`grid_range` (LRBench's grid range test, a study of fixed-LR runs).

- `single`: the best policy and LR for a fixed budget (every candidate trains in full);
- `cost`: reach `target` at the least training cost (successive halving, stop at target);
- `compose`: the best `sequence` of policies across training phases.

A study is stored under its name; running it again resumes it: finished trials are kept,
unfinished ones (queued, or running when the process died) run again. The same name with a
different configuration is refused.
"""

from lrbench.study.config import Plan, StudyConfig, default_study_name
from lrbench.study.events import Standings, StudyEvents
from lrbench.study.objectives import (
    OBJECTIVES,
    CostEffective,
    HorizonTransfer,
    MultiPolicy,
    Objective,
    PredictedSchedules,
    SinglePolicy,
    objective_names,
    register_objective,
)
from lrbench.study.result import StudyResult
from lrbench.study.runner import tune

__all__ = [
    "OBJECTIVES",
    "CostEffective",
    "HorizonTransfer",
    "MultiPolicy",
    "Objective",
    "Plan",
    "PredictedSchedules",
    "SinglePolicy",
    "Standings",
    "StudyConfig",
    "StudyEvents",
    "StudyResult",
    "default_study_name",
    "objective_names",
    "register_objective",
    "tune",
]
