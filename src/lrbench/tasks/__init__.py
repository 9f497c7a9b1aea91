"""Tasks: the training functions LRBench++ tunes the LR for.

Built-in: `digits-mlp` (an MLP on scikit-learn's digits), `charlm` (fine-tuning a small
pretrained byte-level transformer on text that ships with Python), `hf-causal-lm`
(SmolLM2-135M, or any causal LM, fine-tuned on instructions through the Trainer) and
`minilm-cls` (the pretrained MiniLM classifying MMLU questions by field). Any function
`train(trial) -> dict[str, float]` is a task too (see `lrbench.trial`).

The built-in tasks are registered by name and imported on first use, so importing this
package imports neither torch nor scikit-learn.
"""

from lrbench.tasks._base import (
    DEFAULT_LR_RANGE,
    BuiltinTask,
    ResolvedTask,
    builtin_names,
    builtin_tasks,
    load_task,
    register_task,
)
from lrbench.tasks._info import TaskInfo
from lrbench.tasks._loop import (
    OPTIMIZERS,
    load_state_dicts,
    make_optimizer,
    state_dicts,
    train_loop,
)

__all__ = [
    "DEFAULT_LR_RANGE",
    "OPTIMIZERS",
    "BuiltinTask",
    "ResolvedTask",
    "TaskInfo",
    "builtin_names",
    "builtin_tasks",
    "load_state_dicts",
    "load_task",
    "make_optimizer",
    "register_task",
    "state_dicts",
    "train_loop",
]
