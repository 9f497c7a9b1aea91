"""LRBench++: benchmark, select and tune learning-rate policies.

Quick start::

    import lrbench
    policy = lrbench.parse("cosine(lr=0.1,min_lr=1e-3,total_steps=1000,warmup_steps=100)")
    policy(0), policy(100), policy.values(range(1000))
    monitor = lrbench.Monitor(policy, optimizer)   # then monitor.step(loss=...) per update
"""

from __future__ import annotations

from lrbench.exceptions import ConfigError, Diverged, LRBenchError, MissingDependencyError
from lrbench.monitor import History, Monitor
from lrbench.policies import Policy, from_dict, from_hf, from_lrbench, parse, policy_names

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Diverged",
    "History",
    "LRBenchError",
    "MissingDependencyError",
    "Monitor",
    "Policy",
    "__version__",
    "from_dict",
    "from_hf",
    "from_lrbench",
    "parse",
    "policy_names",
]
