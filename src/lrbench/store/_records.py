"""Frozen records the store returns: plain data, never ORM rows (keyword-only fields)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.tasks._info import TaskInfo

__all__ = [
    "MAX_NAME_LENGTH",
    "PolicyScore",
    "RecipeRecord",
    "StudyRecord",
    "TaskInfo",
    "TaskRecord",
    "TrialRecord",
    "TrialStatus",
    "check_study_name",
]

#: The longest study name (names are stored as text; this keeps tables and file names sane).
MAX_NAME_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_study_name(name: str, field: str = "--study") -> str:
    """`name`, if it is a study name: 1 to 200 characters, no control characters.

    Raises:
        ConfigError: it is not; the message names `field` and the rule.
    """
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH or _CONTROL.search(name):
        shown = repr(name) if len(repr(name)) <= 60 else f"{repr(name)[:57]}..."
        length = f" ({len(name)} characters)" if isinstance(name, str) else ""
        raise ConfigError(
            f"`{field}` must be 1 to {MAX_NAME_LENGTH} characters without control characters "
            f"(tabs, newlines), got {shown}{length}"
        )
    return name


class TrialStatus(str, enum.Enum):
    """Life cycle of a trial. `queued` and `running` are unfinished; the rest are final."""

    queued = "queued"
    running = "running"
    complete = "complete"
    pruned = "pruned"
    diverged = "diverged"
    failed = "failed"

    @property
    def finished(self) -> bool:
        """True for the final states: the trial is not run again on resume."""
        return self not in (TrialStatus.queued, TrialStatus.running)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TaskRecord(TaskInfo):
    """A stored task."""

    id: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyRecord:
    """A stored study."""

    id: int
    name: str
    task: TaskRecord
    objective: str
    metric: str
    mode: str
    strategy: str
    status: str
    config: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def budget(self) -> int | None:
        """The budget of the study's full-length trials, in updates (None if not recorded)."""
        total = self.config.get("config", {}).get("total_steps")
        return None if total is None else int(total)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrialRecord:
    """A stored trial, with its final metrics and cost."""

    id: int
    study_id: int
    number: int
    policy: str
    family: str
    lr: float
    seed: int
    total_steps: int
    status: TrialStatus
    attempt: int
    cost_steps: int
    cost_samples: int
    cost_tokens: int
    cost_seconds: float
    metrics: dict[str, float]
    error: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    worker: str | None = None
    heartbeat_at: dt.datetime | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PolicyScore:
    """A policy configuration ranked by its metric over seeds (one leaderboard row)."""

    policy: str
    family: str
    lr: float
    metric: str
    mean: float
    std: float
    seeds: int
    statuses: dict[str, int]
    cost_steps: int
    cost_seconds: float
    source: str = ""
    total_steps: int | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecipeRecord:
    """A published fine-tuning or training recipe, used as a prior.

    `method` is how the recipe trains: `full` (every weight) or `lora` (a low-rank adapter,
    whose LRs run about 10x those of full fine-tuning).
    """

    name: str
    model: str
    domain: str
    optimizer: str
    family: str
    lr: float
    epochs: float | None
    warmup: str
    source: str
    method: str = "full"
