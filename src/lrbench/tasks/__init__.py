"""Tasks: the training functions LRBench++ tunes the LR for.

Built-in: `digits-mlp` (an MLP on scikit-learn's digits) and `charlm` (fine-tuning a small
pretrained byte-level transformer on text that ships with Python). Any function
`train(trial) -> dict[str, float]` is a task too (see `lrbench.trial`).
"""

from lrbench.tasks import charlm, digits
from lrbench.tasks._base import (
    BuiltinTask,
    TaskSpec,
    builtin_tasks,
    load_state_dicts,
    load_task,
    register_task,
    state_dicts,
)

__all__ = [
    "BuiltinTask",
    "TaskSpec",
    "builtin_tasks",
    "charlm",
    "digits",
    "load_state_dicts",
    "load_task",
    "register_task",
    "state_dicts",
]
