"""What an executor is given and gives back: jobs, their stop and fork rules, outcomes.

An executor knows nothing of objectives or strategies. The study hands it `TrialJob`s that
carry everything a trial needs, including the objective's rules: when to stop early
(`StopRule`) and where to save or load phase checkpoints (the fork fields). It hands back a
`TrialOutcome` per trial; `status_of` is the one mapping from how a task ended to the trial's
status, shared by every executor.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Any

from lrbench.evaluate import Direction
from lrbench.exceptions import Diverged, TargetReached, TrialPruned
from lrbench.execution.halving import Halving
from lrbench.store import TrialStatus

__all__ = ["StopRule", "TrialJob", "TrialOutcome", "status_of"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class StopRule:
    """When a trial stops before its budget (picklable).

    Attributes:
        at_target: Stop as complete once the metric reaches the job's `target`.
        halving: Successive-halving rungs at which weak trials are pruned.
    """

    at_target: bool = False
    halving: Halving | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrialJob:
    """Everything a worker needs to run one stored trial (picklable).

    Attributes:
        trial_id, number: The stored trial.
        policy, seed, total_steps: What it trains.
        task_ref, params: The task (a reference `load_task` resolves in any process).
        db_url: The store the worker writes to.
        metric, direction, target: The metric watched, which way is better, its target.
        stop: The objective's early-stopping rule (None: train the whole budget).
        start_step, resume_from: A forked trial's first step and the checkpoint it loads.
        checkpoint_dir, checkpoint_steps: Where and after which steps the trial's state is
            saved for forks.
        worker: The study worker that claimed the trial (None: run it unclaimed).
    """

    trial_id: int
    number: int
    policy: str
    seed: int
    total_steps: int
    task_ref: str
    params: dict[str, Any]
    db_url: str
    metric: str
    direction: Direction
    target: float | None = None
    stop: StopRule | None = None
    start_step: int = 0
    resume_from: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_steps: tuple[int, ...] = ()
    worker: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrialOutcome:
    """How a trial ended: status, objective value (NaN if none), cost, error, metric names."""

    trial_id: int
    number: int
    policy: str
    status: TrialStatus
    value: float
    cost_steps: int
    cost_seconds: float
    error: str | None
    metric_names: tuple[str, ...]


def status_of(error: BaseException | None) -> tuple[TrialStatus, str | None]:
    """The status and error text of a trial that ended by raising `error` (None: returned).

    Reaching the target is a complete trial; pruning, divergence and any other exception are
    what their names say, the last with its traceback. `KeyboardInterrupt` and `SystemExit`
    are not trial outcomes: callers let them propagate.
    """
    if error is None or isinstance(error, TargetReached):
        return TrialStatus.complete, None
    if isinstance(error, Diverged):
        return TrialStatus.diverged, str(error)
    if isinstance(error, TrialPruned):
        return TrialStatus.pruned, str(error)
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return TrialStatus.failed, text
