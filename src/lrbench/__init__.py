"""LRBench++: benchmark, select and tune learning-rate policies.

Quick start::

    import lrbench
    policy = lrbench.parse("cosine(lr=0.1,min_lr=1e-3,total_steps=1000,warmup_steps=100)")
    policy(0), policy(100), policy.values(range(1000))
    monitor = lrbench.Monitor(policy, optimizer)   # then monitor.step(loss=...) per update

    result = lrbench.tune(lrbench.StudyConfig(task="digits-mlp", trials=12))
    result.best.policy
"""

from __future__ import annotations

from typing import Any

from lrbench.exceptions import (
    ConfigError,
    Diverged,
    LRBenchError,
    MissingDependencyError,
    StorageError,
    TargetReached,
    TrialPruned,
)
from lrbench.monitor import History, Monitor
from lrbench.policies import Policy, from_dict, from_hf, from_lrbench, parse, policy_names

__version__ = "0.1.0"

# Imported on first use: they bring torch and SQLAlchemy, which the policy API does not need.
_LAZY = {
    "Trial": "lrbench.trial",
    "Store": "lrbench.store",
    "StudyConfig": "lrbench.study",
    "SinglePolicy": "lrbench.study",
    "CostEffective": "lrbench.study",
    "HorizonTransfer": "lrbench.study",
    "MultiPolicy": "lrbench.study",
    "PredictedSchedules": "lrbench.study",
    "StudyResult": "lrbench.study",
    "tune": "lrbench.study",
    "range_test": "lrbench.rangetest",
    "range_test_model": "lrbench.rangetest",
    "RangeTestResult": "lrbench.rangetest",
    "RayOptions": "lrbench.execution.raytune",
}

__all__ = [
    "ConfigError",
    "CostEffective",
    "Diverged",
    "History",
    "HorizonTransfer",
    "LRBenchError",
    "MissingDependencyError",
    "Monitor",
    "MultiPolicy",
    "Policy",
    "PredictedSchedules",
    "RangeTestResult",
    "RayOptions",
    "SinglePolicy",
    "StorageError",
    "Store",
    "StudyConfig",
    "StudyResult",
    "TargetReached",
    "Trial",
    "TrialPruned",
    "__version__",
    "from_dict",
    "from_hf",
    "from_lrbench",
    "parse",
    "policy_names",
    "range_test",
    "range_test_model",
    "tune",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrbench' has no attribute {name!r}")
