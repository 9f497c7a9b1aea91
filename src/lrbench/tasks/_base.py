"""The task contract, the registry of built-in tasks, and task references.

A task is named on the command line as a registered name (`digits-mlp`), a module function
(`package.module:function`) or a file function (`path/to/file.py:function`).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrbench._numbers import is_finite_number
from lrbench.exceptions import ConfigError
from lrbench.tasks._info import TaskInfo
from lrbench.tasks._loop import OPTIMIZERS
from lrbench.trial import Trial

__all__ = [
    "DEFAULT_LR_RANGE",
    "BuiltinTask",
    "ResolvedTask",
    "builtin_names",
    "builtin_tasks",
    "load_task",
    "register_task",
]

TrainFunction = Callable[[Trial], Mapping[str, float]]

#: The LR range searched for a task that names none (a user's own function).
DEFAULT_LR_RANGE = (1e-4, 1.0)


class BuiltinTask:
    """Base of the built-in tasks: a training function plus what the study needs to know.

    Subclasses set `name`, `metrics` (what they report, the first being the default
    objective), `mode`, `total_steps` (default budget) and `defaults` (their params), and
    implement `train(trial)` and `info(params)`. A task whose metrics depend on its settings
    (benchmark scores the user chooses) overrides `metrics_for(params)`; a study checks its
    metric against that list before any trial runs.
    """

    name = ""
    description = ""
    metrics: tuple[str, ...] = ()
    mode = "max"
    total_steps = 100
    defaults: Mapping[str, Any] = {}
    #: The LR range a study searches when it is given none (log scale).
    lr_range: tuple[float, float] = DEFAULT_LR_RANGE

    def train(self, trial: Trial) -> Mapping[str, float]:
        """Run one trial; return the final metrics."""
        raise NotImplementedError

    def info(self, params: Mapping[str, Any]) -> TaskInfo:
        """The task's description for the database."""
        raise NotImplementedError

    def metrics_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The metrics the task reports with these settings; the first is the default."""
        return self.metrics

    #: The optimizers `--param optimizer` may name.
    optimizers: tuple[str, ...] = OPTIMIZERS
    #: Whole-number settings that must be >= 1 (the other whole numbers must be >= 0).
    at_least_one: frozenset[str] = frozenset(
        {"batch_size", "hidden", "width", "layers", "heads", "context", "max_length",
         "grad_accum", "per_group", "max_records"}
    )  # fmt: skip

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Refuse settings that cannot train, by the type of each default: whole numbers
        (>= 1 for `at_least_one`, else >= 0), finite numbers >= 0, true/false, a known
        optimizer, text.

        Raises:
            ConfigError: naming the setting, the task and what would be valid.
        """
        for name, default in self.defaults.items():
            rule = _rule(name, default, self.at_least_one, self.optimizers)
            if rule is not None and not rule[0](params[name]):
                raise ConfigError(
                    f"`--param {name}` of task {self.name} must be {rule[1]}, got {params[name]!r}"
                )

    def prepare(self, params: Mapping[str, Any]) -> None:
        """One-off work before the first trial (e.g. building a pretrained checkpoint)."""

    def lr_range_for(self, params: Mapping[str, Any]) -> tuple[float, float]:
        """The LR range to search with these settings (default `lr_range`)."""
        return self.lr_range

    def steps_per_epoch(self, params: Mapping[str, Any]) -> int | None:
        """Optimizer updates in one pass over the training data with these settings (None:
        not known, so the budget must be given in updates)."""
        return None

    def __call__(self, trial: Trial) -> Mapping[str, float]:
        return self.train(trial)


_TASKS: dict[str, BuiltinTask] = {}
#: Built-in tasks by name -> the module that registers them, imported on first use.
_LAZY_TASKS = {
    "digits-mlp": "lrbench.tasks.digits",
    "charlm": "lrbench.tasks.charlm",
    "hf-causal-lm": "lrbench.tasks.causal_lm",
    "minilm-cls": "lrbench.tasks.minilm_cls",
}


def register_task(task: BuiltinTask) -> BuiltinTask:
    """Make a built-in task available by name."""
    _TASKS[task.name] = task
    return task


def builtin_names() -> list[str]:
    """The names of the built-in and registered tasks (imports none of them)."""
    return list(dict.fromkeys([*_LAZY_TASKS, *_TASKS]))


def _builtin(name: str) -> BuiltinTask | None:
    if name not in _TASKS and name in _LAZY_TASKS:
        importlib.import_module(_LAZY_TASKS[name])
    return _TASKS.get(name)


def builtin_tasks() -> dict[str, BuiltinTask]:
    """The built-in and registered tasks by name (imports each one)."""
    return {name: task for name in builtin_names() if (task := _builtin(name)) is not None}


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResolvedTask:
    """A resolved task: how to call it, how to find it again in a worker, what it is.

    Attributes:
        ref: A reference that `load_task` resolves in any process (file paths made absolute).
        name: The name stored in the database (for files, `file.py:function`).
        function: The training function.
        params: The task's settings (built-in defaults merged with the user's).
        metrics: The metrics a built-in task reports with these params; empty for user
            functions.
        builtin: The built-in task object, if it is one.
    """

    ref: str
    name: str
    function: TrainFunction
    params: dict[str, Any]
    metrics: tuple[str, ...] = ()
    builtin: BuiltinTask | None = None

    def info(self, total_steps: int) -> TaskInfo:
        """The task's description for the database, with its horizon."""
        if self.builtin is not None:
            info = self.builtin.info(self.params)
            return dataclasses.replace(info, horizon=total_steps, params=self.params)
        return TaskInfo(name=self.name, horizon=total_steps, params=self.params)


def _rule(
    name: str, default: Any, at_least_one: frozenset[str], optimizers: tuple[str, ...]
) -> tuple[Callable[[Any], bool], str] | None:
    """How a setting with this default is checked, and the rule in words (None: any)."""
    if name == "optimizer":
        return (lambda v: v in optimizers), f"one of {', '.join(optimizers)}"
    if isinstance(default, bool):
        return (lambda v: isinstance(v, bool)), "true or false"
    if isinstance(default, int):
        least = 1 if name in at_least_one else 0
        return (lambda v: _whole(v) and v >= least), f"a whole number >= {least}"
    if isinstance(default, float):
        return (lambda v: is_finite_number(v) and v >= 0), "a finite number >= 0"
    if isinstance(default, str):
        return (lambda v: isinstance(v, str)), "text"
    return None


def _whole(value: Any) -> bool:
    return is_finite_number(value) and float(value).is_integer()


def load_task(ref: str, params: Mapping[str, Any] | None = None) -> ResolvedTask:
    """Resolve a task reference (registered name, `module:function` or `file.py:function`)."""
    params = dict(params or {})
    task = _builtin(ref)
    if task is not None:
        unknown = sorted(set(params) - set(task.defaults))
        if unknown:
            raise ConfigError(
                f"unknown parameter `{unknown[0]}` for task {ref} "
                f"(valid: {', '.join(task.defaults) or 'none'})"
            )
        merged = {**task.defaults, **params}
        task.check_params(merged)
        return ResolvedTask(
            ref=ref,
            name=ref,
            function=task,
            params=merged,
            metrics=task.metrics_for(merged),
            builtin=task,
        )
    if ":" not in ref:
        close = difflib.get_close_matches(ref, builtin_names(), n=2)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(
            f"unknown task {ref!r}{hint} (built-in: {', '.join(builtin_names())}; or give "
            "package.module:function or path/to/file.py:function)"
        )
    location, _, function_name = ref.rpartition(":")
    if not location or not function_name.isidentifier():
        raise ConfigError(
            f"task {ref!r} must be package.module:function or path/to/file.py:function "
            "(a module or file, a colon, a function name)"
        )
    if location.endswith(".py"):
        path = Path(location).expanduser().resolve()
        module = _load_file(path, ref)
        ref, name = f"{path}:{function_name}", f"{path.name}:{function_name}"
    else:
        try:
            module = importlib.import_module(location)
        except (ImportError, ValueError) as error:  # ValueError: a name like `.x`
            raise ConfigError(
                f"cannot import module {location!r} for task {ref!r}: {error}"
            ) from None
        name = ref
    function = getattr(module, function_name, None)
    if not callable(function):
        available = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__
        )
        raise ConfigError(
            f"{location} has no function {function_name!r} "
            f"(functions there: {', '.join(available) or 'none'})"
        )
    return ResolvedTask(ref=ref, name=name, function=function, params=params)


def _load_file(path: Path, ref: str) -> Any:
    if not path.is_file():
        raise ConfigError(f"task file not found: {str(path)!r} (from {ref!r})")
    module_name = f"lrbench_user_task_{abs(hash(str(path)))}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {str(path)!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise ConfigError(f"importing task file {str(path)!r} failed: {error!r}") from None
    return module
