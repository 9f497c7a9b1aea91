"""Cost-effective tuning: reach the target metric at the least training cost.

Successive halving (asynchronous, Optuna's `SuccessiveHalvingPruner` locally, Ray's
`ASHAScheduler` on Ray) compares trials at 1/rate^2 and 1/rate of the budget and stops all
but the best 1/rate at each rung; diverged trials stop at once (the Monitor), and a trial
stops as soon as it reaches the target. The result's `target` part (any objective with a
target has one) names the configuration that reached it in the fewest steps.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections.abc import Sequence
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.execution import Halving, StopRule
from lrbench.search import Candidate
from lrbench.store import Store, StudyRecord, TrialRecord
from lrbench.study.objectives._base import Objective, register_objective

__all__ = ["CostEffective", "halving_cost"]

#: Random orders of the trials `halving_cost` averages over.
SIMULATED_ORDERS = 200


@register_objective
@dataclasses.dataclass(frozen=True, kw_only=True)
class CostEffective(Objective):
    """Reach `target` at the least cost.

    Attributes:
        halving_rate: Successive halving keeps the best 1/rate of trials at each rung.
    """

    halving_rate: int = 3

    name = "cost"
    stored_name = "cost-effective"
    description = "reach --target at the least training cost"
    listing = 1

    def validate(self, config: Any) -> None:
        if config.target is None:
            raise ConfigError(
                "`--target` is required with --objective cost: the metric value to reach "
                f"(got {config.target!r})"
            )
        if self.halving_rate < 2:
            raise ConfigError(f"`--halving-rate` must be >= 2, got {self.halving_rate}")

    def order(self, candidates: list[Candidate], plan: Any) -> list[Candidate]:
        # ASHA compares each trial with those before it: mix the LRs, or every early
        # comparison is between the lowest LRs of the grid.
        mixed = list(candidates)
        random.Random(plan.config.seed).shuffle(mixed)
        return mixed

    def expected_runs(self, plan: Any, configurations: int) -> float:
        """The mean cost of asynchronous successive halving over that many configurations,
        simulated (`halving_cost`)."""
        cost = halving_cost(configurations, self.halving_rate, plan.total_steps)
        return configurations * cost

    def job_settings(
        self, plan: Any, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> dict[int, dict[str, Any]]:
        halving = Halving.for_budget(
            str(store.artifact_dir(study.name) / "halving.journal"),
            plan.direction,
            plan.total_steps,
            rate=self.halving_rate,
        )
        stop = StopRule(at_target=True, halving=halving)
        return {trial.id: {"stop": stop} for trial in trials}


def halving_cost(configurations: int, rate: int, total_steps: int, rungs: int = 2) -> float:
    """Mean runs per configuration of asynchronous successive halving as Optuna runs it.

    Trials arrive one at a time in random order of quality; at each rung a trial goes on
    when it is within the best 1/rate of the trials that reached that rung so far (the first
    ones always go on, having nothing to lose to). Trials that stop at the target or
    diverge cost less than this; none is assumed to.
    """
    halving = Halving.for_budget("", "max", total_steps, rate=rate, rungs=rungs)
    stops = [*halving.rung_steps(total_steps), total_steps]
    rng = random.Random(0)
    spent = 0
    for _ in range(SIMULATED_ORDERS):
        reached: list[list[float]] = [[] for _ in stops[:-1]]
        for _ in range(max(1, configurations)):
            quality = rng.random()
            cost = stops[-1]
            for rung, seen in enumerate(reached):  # each kept in ascending order
                bisect.insort(seen, quality)
                keep = max(1, len(seen) // rate)
                if quality < seen[-keep]:
                    cost = stops[rung]
                    break
            spent += cost
    return spent / (SIMULATED_ORDERS * max(1, configurations) * total_steps)
