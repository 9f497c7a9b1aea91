"""Multi-policy composition: the best `sequence` of policies across training phases.

The budget is cut into `phases` equal phases. Phase 1 trains every candidate for the first
phase only and saves its state where the phase ends; the `keep` best are forked into every
candidate of the next phase (`sequence(stages=[...], boundaries=[...])`), and so on; the same
candidates also train as single policies over the full budget, and the result compares the
best sequence with the best single policy. The phase logic is pure functions in
`lrbench.search.compose`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.search import Candidate
from lrbench.search.compose import forks, next_phase_rows, phase_ends, phase_rows, phases_left
from lrbench.store import Store, StudyRecord, TrialRecord
from lrbench.study.objectives._base import (
    Objective,
    refuse_adaptive_strategy,
    register_objective,
)

__all__ = ["MultiPolicy", "stored_candidates"]


def stored_candidates(study: StudyRecord) -> list[Candidate]:
    """The candidates a study was created with (kept in its configuration as `origins`)."""
    candidates = []
    for key, origin in study.config.get("origins", {}).items():
        template, _, lr = key.rpartition("@")
        candidates.append(Candidate(template, float(lr), origin))
    return candidates


@register_objective
@dataclasses.dataclass(frozen=True, kw_only=True)
class MultiPolicy(Objective):
    """The best sequence of candidates over `phases` phases.

    Attributes:
        phases: Training phases of equal length (>= 2).
        keep: Best checkpoints of each phase forked into the next phase.
    """

    phases: int = 2
    keep: int = 2

    name = "compose"
    stored_name = "multi-policy"
    json_key = "compose"
    description = "the best sequence of policies across --phases phases"
    listing = 2

    def validate(self, config: Any) -> None:
        if self.phases < 2:
            raise ConfigError(
                f"`--phases` must be >= 2 for --objective compose, got {self.phases} "
                "(one phase is a single policy: use --objective single)"
            )
        if self.phases > config.total_steps:
            raise ConfigError(
                f"`--phases` must be at most --total-steps ({config.total_steps}: each phase "
                f"trains one update or more), got {self.phases}"
            )
        if self.keep < 1:
            raise ConfigError(f"`--keep` must be >= 1, got {self.keep}")
        refuse_adaptive_strategy(config, "compose", "proposes each phase's candidates up front")

    def _ends(self, plan: Any) -> list[int]:
        return phase_ends(plan.total_steps, self.phases)

    def initial_trials(self, plan: Any, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        return phase_rows(candidates, self._ends(plan), plan.config.seeds)

    def job_settings(
        self, plan: Any, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> dict[int, dict[str, Any]]:
        directory = str(store.artifact_dir(study.name) / "checkpoints")
        return forks(trials, self._ends(plan), directory)

    def next_trials(
        self, plan: Any, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> list[dict[str, Any]]:
        return next_phase_rows(
            trials,
            stored_candidates(study),
            self._ends(plan),
            metric=plan.metric,
            direction=plan.direction,
            keep=self.keep,
        )

    def pending_trials(self, plan: Any, study: StudyRecord, trials: Sequence[TrialRecord]) -> int:
        per_phase = self.keep * len(stored_candidates(study)) * plan.config.seeds
        return per_phase * phases_left(trials, self._ends(plan))

    def expected_runs(self, plan: Any, configurations: int) -> float:
        """Each candidate's first phase and its single full run, and `keep` forks into each
        candidate of every later phase (one phase each)."""
        later_phases = self.keep * configurations * (self.phases - 1)
        return configurations * (1.0 + 1.0 / self.phases) + later_phases / self.phases

    def grid_full_runs(self, result: Any) -> int:
        """Every sequence of candidates and every single candidate, each seed in full."""
        candidates = len(result.study.config.get("origins", {}))
        return (candidates**self.phases + candidates) * int(result.study.config["config"]["seeds"])

    def summary(self, result: Any) -> dict[str, Any]:
        """The best sequence and the best single policy (policy and mean), each or None."""
        found = {
            "sequence": result.best_of(sequence=True),
            "single": result.best_of(sequence=False),
        }
        return {
            kind: None
            if score is None or math.isnan(score.mean)
            else {"policy": score.policy, "mean": score.mean}
            for kind, score in found.items()
        }
