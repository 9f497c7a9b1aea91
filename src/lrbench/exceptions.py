"""The exception hierarchy: every error LRBench++ raises on purpose derives from `LRBenchError`."""

from __future__ import annotations

__all__ = [
    "ClaimLost",
    "ConfigError",
    "DatabaseUnavailable",
    "Diverged",
    "LRBenchError",
    "MissingDependencyError",
    "MissingParameter",
    "StorageError",
    "StudyExists",
    "TargetReached",
    "TrialPruned",
]


class LRBenchError(Exception):
    """Root of all errors raised by LRBench++ on purpose."""


class ConfigError(LRBenchError, ValueError):
    """A policy spec, parameter or option is invalid; the message names the field and the rule."""


class StudyExists(ConfigError):
    """A study of that name is already stored (another worker may have just created it)."""


class MissingParameter(ConfigError):
    """A policy spec leaves out a required parameter.

    Attributes:
        policy: The policy's name.
        parameter: The missing parameter.
    """

    def __init__(self, message: str, *, policy: str, parameter: str) -> None:
        super().__init__(message)
        self.policy = policy
        self.parameter = parameter


class StorageError(LRBenchError):
    """The database is unreachable, or its schema does not match this version of LRBench++."""


class DatabaseUnavailable(StorageError):
    """The database stopped answering (connection lost, server restarting, busy): a
    transient error, retried for `$LRBENCH_DB_RETRY` seconds before it is raised."""


class ClaimLost(LRBenchError):
    """Another worker claimed this trial (this one stopped beating for too long): the trial's
    results are no longer this worker's to write."""


class TrialPruned(LRBenchError):
    """Raised by `trial.report()` when the study stops this trial early; let it propagate."""


class TargetReached(TrialPruned):
    """Raised by `trial.report()` in a cost study once the metric reaches the study's target.

    Training further would only add cost; the trial ends as complete with its last reported
    metrics. It derives from `TrialPruned`, so a task that lets that propagate handles both.
    """


class Diverged(LRBenchError):
    """Training diverged: the loss became NaN/inf or rose far above its running minimum.

    Attributes:
        step: The optimizer step at which divergence was detected.
        loss: The loss that triggered it.
    """

    def __init__(self, step: int, loss: float, reason: str) -> None:
        super().__init__(f"training diverged at step {step}: {reason}")
        self.step = step
        self.loss = loss
        self.reason = reason


class MissingDependencyError(LRBenchError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"`{module}` is required for this feature; install it with "
            f"`pip install -e '.[{extra}]'` in your LRBench++ checkout"
        )
