"""Successive halving, asynchronous (ASHA), through Optuna's `SuccessiveHalvingPruner`.

An objective that stops weak trials early (`--objective cost`) puts `Halving` settings in
each trial's job; the executor applies them where the trial runs. Every process that runs a
trial of the study opens the same Optuna study, kept in a journal
file in the study's artifact directory, so the pruner sees the intermediate values of every
trial whichever worker reported them. Our store stays the record of the trials; the journal
holds only what the pruner needs (each trial's value at each rung it reached).

Rungs sit at `total_steps / rate**k` for k = rungs..1: with the default rate 3 and two rungs a
trial is compared with the others at 1/9 and 1/3 of its budget, and only the top third at each
rung goes on.
"""

from __future__ import annotations

import dataclasses
import math

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from lrbench.evaluate import Direction

__all__ = ["Halving", "RungTracker"]

_STUDY_NAME = "lrbench-halving"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Halving:
    """Successive-halving settings shared by all trials of a study (picklable).

    Attributes:
        journal: Path of the Optuna journal file shared by the study's workers.
        direction: Which way the study's metric improves.
        min_resource: Steps before the first comparison (the lowest rung).
        rate: The reduction factor: 1/rate of the trials at a rung go on to the next.
    """

    journal: str
    direction: Direction
    min_resource: int
    rate: int = 3

    @classmethod
    def for_budget(
        cls,
        journal: str,
        direction: Direction | str,
        total_steps: int,
        *,
        rate: int = 3,
        rungs: int = 2,
    ) -> Halving:
        """Rungs at total_steps / rate**rungs, ..., total_steps / rate."""
        return cls(
            journal=journal,
            direction=Direction.of(direction),
            min_resource=max(1, math.ceil(total_steps / rate**rungs)),
            rate=rate,
        )

    def rung_steps(self, total_steps: int) -> list[int]:
        """The steps at which trials are compared, below the full budget."""
        steps, step = [], self.min_resource
        while step < total_steps:
            steps.append(step)
            step *= self.rate
        return steps


class RungTracker:
    """One trial's seat in the shared Optuna study: reports values, asks the pruner, tells."""

    def __init__(self, halving: Halving, trial_id: int, total_steps: int) -> None:
        self.study = optuna.create_study(
            study_name=_STUDY_NAME,
            storage=JournalStorage(JournalFileBackend(halving.journal)),
            direction="maximize" if halving.direction is Direction.MAX else "minimize",
            pruner=optuna.pruners.SuccessiveHalvingPruner(
                min_resource=halving.min_resource, reduction_factor=halving.rate
            ),
            load_if_exists=True,
        )
        self.trial = self.study.ask()
        self.trial.set_user_attr("lrbench_trial_id", trial_id)
        self._rungs = halving.rung_steps(total_steps)

    def should_prune(self, step: int, value: float) -> bool:
        """At the first report on or past a rung: record `value`; True when the trial falls
        out there. Reports between rungs decide nothing, so they are not written to the
        shared journal."""
        if not self._rungs or step < self._rungs[0]:
            return False
        self._rungs = [rung for rung in self._rungs if rung > step]
        self.trial.report(value, step)
        return self.trial.should_prune()

    def finish(self, state: TrialState, value: float | None = None) -> None:
        """Close the Optuna trial (complete with its final value, pruned, or failed)."""
        if state is TrialState.COMPLETE and (value is None or not math.isfinite(value)):
            state = TrialState.FAIL
        self.study.tell(self.trial, value if state is TrialState.COMPLETE else None, state=state)
