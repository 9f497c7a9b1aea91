"""A study's result: its leaderboard, trial counts, cost, and the objective's findings."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lrbench.evaluate import CURVE_PREFIXES, Direction, rank_agreement, rank_key, seed_spread
from lrbench.store import PolicyScore, Store, StudyRecord, TrialRecord, TrialStatus
from lrbench.study.objectives import OBJECTIVES, Objective, objective_of_study

__all__ = [
    "PROXY",
    "ProxyAgreement",
    "StudyResult",
    "cautions",
    "cheapest_to_target",
    "proxy_agreement",
]

#: The cheap metric evaluated between benchmark scores (lower is better).
PROXY = "eval_loss"


def cautions(leaderboard: Sequence[PolicyScore]) -> list[str]:
    """What to know before trusting a study's winner: a best LR at the edge of the LRs its
    family searched (the optimum may lie beyond), and a lead over the runner-up smaller than
    the seeds' spread (more seeds may swap them)."""
    ranked = [s for s in leaderboard if math.isfinite(s.mean)]
    if not ranked:
        return []
    best, found = ranked[0], []
    lrs = sorted({s.lr for s in leaderboard if s.family == best.family})
    if len(lrs) >= 3 and best.lr in (lrs[0], lrs[-1]):
        low = best.lr == lrs[0]
        found.append(
            f"the best LR {best.lr:.3g} is the {'lowest' if low else 'highest'} of the "
            f"{len(lrs)} {best.family} LRs searched: the optimum may lie "
            f"{'below' if low else 'above'} it; widen the range (--lr-min, --lr-max)"
        )
    if len(ranked) > 1 and best.seeds > 1 and ranked[1].seeds > 1:
        second = ranked[1]
        spread, lead = max(best.std, second.std), abs(best.mean - second.mean)
        if lead < spread:
            found.append(
                f"the best leads {second.policy} by {lead:.3g}, less than the seeds' spread "
                f"({spread:.3g}): more seeds (--seeds) may change the order"
            )
    return found


def cheapest_to_target(trials: Sequence[TrialRecord]) -> PolicyScore | None:
    """The configuration that reached the target in the fewest steps; its `mean` is that
    number of steps, by the one seed rule (`seed_spread` over the seeds that reached it, so
    `seeds` says how many did). None if none did."""
    steps: dict[str, list[float]] = {}
    for trial in trials:
        if "steps_to_target" in trial.metrics:
            steps.setdefault(trial.policy, []).append(trial.metrics["steps_to_target"])
    if not steps:
        return None
    scores = {policy: seed_spread(values) for policy, values in steps.items()}
    policy = min(scores, key=lambda p: rank_key(scores[p][0], Direction.MIN))
    trial = next(t for t in trials if t.policy == policy)
    mean, std = scores[policy]
    return PolicyScore(
        policy=policy,
        family=trial.family,
        lr=trial.lr,
        metric="steps_to_target",
        mean=mean,
        std=std,
        seeds=len(steps[policy]),
        statuses={},
        cost_steps=0,
        cost_seconds=0.0,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProxyAgreement:
    """How well the validation loss ranked a study's configurations against a benchmark.

    Attributes:
        proxy: The cheap metric (`eval_loss`).
        target: The benchmark metric (`mmlu-local/acc`), higher is better.
        spearman: Spearman's rank correlation (+1: the proxy ranks as the benchmark does);
            None where it cannot be read (fewer than three configurations, or a tie).
        configurations: How many configurations had both, by their mean over seeds.
    """

    proxy: str
    target: str
    spearman: float | None
    configurations: int


def proxy_agreement(trials: Sequence[TrialRecord]) -> list[ProxyAgreement]:
    """For each benchmark metric (`NAME/METRIC`) the completed trials report next to the
    validation loss: how well the loss ranked the configurations (final values, mean over
    seeds) against it."""
    complete = [t for t in trials if t.status is TrialStatus.complete and PROXY in t.metrics]
    targets = sorted(
        {m for t in complete for m in t.metrics if "/" in m and not m.startswith(CURVE_PREFIXES)}
    )
    found = []
    for target in targets:
        by_policy: dict[str, list[tuple[float, float]]] = {}
        for trial in complete:
            if target in trial.metrics:
                pair = (trial.metrics[PROXY], trial.metrics[target])
                by_policy.setdefault(trial.policy, []).append(pair)
        proxy = [seed_spread([p for p, _ in pairs])[0] for pairs in by_policy.values()]
        score = [seed_spread([t for _, t in pairs])[0] for pairs in by_policy.values()]
        rho = rank_agreement(proxy, score, proxy_mode=Direction.MIN, target_mode=Direction.MAX)
        found.append(
            ProxyAgreement(proxy=PROXY, target=target, spearman=rho, configurations=len(by_policy))
        )
    return found


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyResult:
    """A study's state after running: its leaderboard, trial counts and total cost."""

    study: StudyRecord
    leaderboard: list[PolicyScore]
    trials: list[TrialRecord]

    @classmethod
    def load(cls, store: Store, study: StudyRecord) -> StudyResult:
        """The result of a stored study, as `tune` returned it (every view of a study ranks
        it by `Store.leaderboard`)."""
        return cls(
            study=study, leaderboard=store.leaderboard(study), trials=store.trials(study.id)
        )

    @property
    def method(self) -> Objective:
        """The study's objective, with its options."""
        return objective_of_study(self.study)

    @property
    def best(self) -> PolicyScore | None:
        """The best configuration (mean over seeds), None if no trial completed."""
        if self.leaderboard and not math.isnan(self.leaderboard[0].mean):
            return self.leaderboard[0]
        return None

    @property
    def counts(self) -> dict[str, int]:
        """Number of trials by status."""
        counts = {status.value: 0 for status in TrialStatus}
        for trial in self.trials:
            counts[trial.status.value] += 1
        return counts

    @property
    def cost_steps(self) -> int:
        """Optimizer updates spent over all trials."""
        return sum(t.cost_steps for t in self.trials)

    @property
    def cost_seconds(self) -> float:
        """Training seconds spent over all trials."""
        return sum(t.cost_seconds for t in self.trials)

    @property
    def objective(self) -> str:
        """The objective's name: `single`, `cost` or `compose`."""
        return self.method.name

    @property
    def range_test_steps(self) -> int:
        """Steps the bracketing range test spent (0 without `bracket`)."""
        return int((self.study.config.get("bracket") or {}).get("steps", 0))

    @property
    def full_runs(self) -> float:
        """Total cost (trials and range test) in units of one full training run."""
        budget = self.study.budget or 1
        return (self.cost_steps + self.range_test_steps) / budget

    @property
    def grid_full_runs(self) -> int:
        """What training every configuration and seed in full would have cost, in full runs
        (for `compose`: every sequence of candidates, and every single candidate)."""
        return self.method.grid_full_runs(self)

    def cheapest_to_target(self) -> PolicyScore | None:
        """The configuration that reached the target in the fewest steps (see
        `cheapest_to_target`)."""
        return cheapest_to_target(self.trials)

    def best_of(self, *, sequence: bool) -> PolicyScore | None:
        """The best composed sequence (`sequence=True`) or the best single policy."""
        for score in self.leaderboard:
            if (score.family == "sequence") == sequence and not math.isnan(score.mean):
                return score
        return None

    def _target_json(self) -> dict[str, Any] | None:
        target = self.study.config.get("config", {}).get("target")
        if target is None:
            return None
        cheapest = self.cheapest_to_target()
        return {
            "value": target,
            "reached": cheapest is not None,
            "cheapest": None
            if cheapest is None
            else {"policy": cheapest.policy, "lr": cheapest.lr, "steps": cheapest.mean},
        }

    def to_json(self) -> dict[str, Any]:
        """The machine-readable summary printed by `lrbench tune --format json`."""
        best = self.best
        data: dict[str, Any] = {
            "study": self.study.name,
            "objective": self.objective,
            "task": self.study.task.name,
            "metric": self.study.metric,
            "mode": self.study.mode,
            "best": None
            if best is None
            else {
                "policy": best.policy,
                "family": best.family,
                "lr": best.lr,
                "metrics": {best.metric: best.mean, f"{best.metric}_std": best.std},
                "seeds": best.seeds,
            },
            "trials": self.counts,
            "cost": {
                "steps": self.cost_steps,
                "seconds": round(self.cost_seconds, 3),
                "range_test_steps": self.range_test_steps,
                "full_runs": round(self.full_runs, 3),
                "grid_full_runs": self.grid_full_runs,
            },
            "target": self._target_json(),
        }
        for cls in OBJECTIVES.values():  # each objective's part: null unless it is this one's
            if cls.json_key is not None:
                data[cls.json_key] = None
        method = self.method
        if method.json_key is not None:
            data[method.json_key] = method.summary(self)
        data["bracket"] = self.study.config.get("bracket")
        data["cautions"] = cautions(self.leaderboard)
        data["proxy_agreement"] = [dataclasses.asdict(p) for p in proxy_agreement(self.trials)]
        data["leaderboard"] = [
            {
                "policy": s.policy,
                "family": s.family,
                "lr": s.lr,
                "mean": _json_float(s.mean),
                "std": _json_float(s.std),
                "seeds": s.seeds,
                "statuses": s.statuses,
            }
            for s in self.leaderboard
        ]
        return data


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value
