"""Progress events of a running study, and the standings they carry."""

from __future__ import annotations

import math
from collections.abc import Iterable

from lrbench.evaluate import Direction
from lrbench.execution import TrialJob, TrialOutcome
from lrbench.store import PolicyScore, StudyRecord, TrialRecord, TrialStatus
from lrbench.store.queries import LeanTrial, rank, score

__all__ = ["Standings", "StudyEvents"]


class Standings:
    """The study's leaderboard so far, kept in memory (no database query per trial).

    It scores exactly as the stored leaderboard does (`Store.leaderboard`: configurations at
    the study's full budget, the one seed rule), so the live display and the result agree.
    """

    def __init__(self, study: StudyRecord, trials: Iterable[TrialRecord]) -> None:
        self.metric = study.metric
        self.direction = Direction.of(study.mode)
        self.budget = study.budget
        self._runs: dict[tuple[str, int], list[LeanTrial]] = {}
        for trial in trials:
            if trial.status.finished:
                self.add(trial, trial.status, trial.metrics, trial.cost_steps, trial.cost_seconds)

    def add(
        self,
        trial: TrialRecord,
        status: TrialStatus,
        metrics: dict[str, float],
        cost_steps: int,
        cost_seconds: float,
    ) -> None:
        """Count a finished trial (the stored `trial`, with how it ended)."""
        if self.budget is not None and trial.total_steps != self.budget:
            return
        run = LeanTrial(
            trial.policy,
            trial.family,
            trial.lr,
            status.value,
            metrics,
            cost_steps,
            cost_seconds,
            trial.total_steps,
        )
        self._runs.setdefault((trial.policy, trial.total_steps), []).append(run)

    def add_outcome(self, trial: TrialRecord, outcome: TrialOutcome) -> None:
        """Count a trial that just ended, from its outcome."""
        metrics = {} if math.isnan(outcome.value) else {self.metric: outcome.value}
        self.add(trial, outcome.status, metrics, outcome.cost_steps, outcome.cost_seconds)

    def ranked(self) -> list[PolicyScore]:
        """Every configuration so far, best first."""
        return rank((score(runs, self.metric) for runs in self._runs.values()), self.direction)

    def best(self) -> PolicyScore | None:
        """The best configuration so far (None before any completed)."""
        ranked = self.ranked()
        return ranked[0] if ranked and not math.isnan(ranked[0].mean) else None


class StudyEvents:
    """Hooks for progress display; the default does nothing. Called in the main process."""

    def started(self, study: StudyRecord, total: int, pending: int) -> None:
        """The study is about to run `pending` of its `total` trials."""

    def trial_started(self, job: TrialJob) -> None:
        """A trial starts (in-process runs only)."""

    def progress(self, step: int) -> None:
        """The running trial reported at `step` (in-process runs only)."""

    def trial_finished(self, outcome: TrialOutcome, standings: Standings) -> None:
        """A trial ended; `standings` rank the study's configurations so far."""

    def trials_dropped(self, count: int, reason: str) -> None:
        """`count` queued trials were dropped without running, for `reason`."""

    def waiting(self, count: int) -> None:
        """The study's `count` unfinished trials all run in other workers: waiting."""
