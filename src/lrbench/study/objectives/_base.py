"""The Objective protocol: what a tuning method decides, and the registry of methods."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from lrbench._registry import Registry
from lrbench.exceptions import ConfigError

if TYPE_CHECKING:
    from lrbench.search import Candidate
    from lrbench.store import Store, StudyRecord, TrialRecord
    from lrbench.study.config import Plan
    from lrbench.study.result import StudyResult

__all__ = [
    "OBJECTIVES",
    "Objective",
    "make_objective",
    "objective_names",
    "objective_of_study",
    "refuse_adaptive_strategy",
    "register_objective",
]


class Objective:
    """A tuning method: which trials a study runs, how they stop, what its result adds.

    An objective is a frozen dataclass whose fields are its own options (`CostEffective(
    halving_rate=3)`); `StudyConfig(objective=...)` takes one, or its name for the defaults.

    Who calls it: the study runner, in the main process. In order: `validate(config)` before
    anything is stored; `initial_trials(plan, candidates)` once, when the study is created,
    with the strategy's first proposals (`order` first); `job_settings(...)` before each round
    of trials runs, for the rules the executor applies to each trial (early stopping, fork
    checkpoints); `expected_runs(plan, n)` when a cost cap decides how many
    configurations the strategy may propose; `next_trials(...)` after each round, for
    trials that depend on results (the next phase of a composition; the store is at hand
    for reported curves); the strategy's own rounds come after. `pending_trials` feeds
    progress bars; `grid_full_runs` and `summary(result)` the result and its JSON.

    How it ranks: every view of a study (`tune`'s result, `db show`, `db ls`, `db top`, the
    report) ranks the configurations trained for the study's full budget by
    `lrbench.evaluate`'s one rule (`Store.leaderboard`); an objective that trains other budgets
    (composition's phase parts) relies on that to keep them out of the ranking.

    What it needs from a task: the task contract of `lrbench.trial`; composition also uses
    the optional checkpoint support (`trial.wants_checkpoint`), and works without it.

    Registering: decorate the class with `@register_objective`; the name is what users give
    (`--objective`), `stored_name` is recorded with the study, `json_key` (if any) is the key
    of `summary` in the result's JSON (null for other objectives).
    """

    name: str = ""
    stored_name: ClassVar[str] = ""
    json_key: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    #: Where the objective comes in lists of the objectives (help, error messages).
    listing: int = 100
    #: The fewest configurations that tell the objective anything (what a cost cap must pay).
    min_configurations: ClassVar[int] = 1

    def options(self) -> dict[str, Any]:
        """The objective's own options, as stored with the study."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def validate(self, config: Any) -> None:
        """Refuse options (or combinations with the study's settings) that cannot work."""

    def order(self, candidates: list[Candidate], plan: Plan) -> list[Candidate]:
        """The order in which the first candidates are queued (default: as proposed)."""
        return candidates

    def initial_trials(self, plan: Plan, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
        """The trial rows queued when the study is created: each candidate x each seed over
        the full budget (default)."""
        return plan.trial_rows(candidates)

    def job_settings(
        self, plan: Plan, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> dict[int, dict[str, Any]]:
        """Per trial id, extra `TrialJob` fields (`stop`, fork fields); default none."""
        return {}

    def next_trials(
        self, plan: Plan, store: Store, study: StudyRecord, trials: Sequence[TrialRecord]
    ) -> list[dict[str, Any]]:
        """Trial rows to queue after a round, given every trial so far ([]: none)."""
        return []

    def pending_trials(self, plan: Plan, study: StudyRecord, trials: Sequence[TrialRecord]) -> int:
        """Trials `next_trials` will still add, for progress bars."""
        return 0

    def expected_runs(self, plan: Plan, configurations: int) -> float:
        """What training `configurations` configurations (one seed each) is expected to
        cost, in full runs: how a cost cap (`max_cost`) becomes a number of configurations.
        Default: one run each."""
        return float(configurations)

    def grid_full_runs(self, result: StudyResult) -> int:
        """What training every configuration and seed in full would have cost, in runs."""
        return len(result.trials)

    def summary(self, result: StudyResult) -> dict[str, Any] | None:
        """The objective's part of the result's JSON (under `json_key`)."""
        return None


#: Objective name -> class; `register_objective` adds one.
OBJECTIVES: Registry[Objective] = Registry("--objective")
register_objective = OBJECTIVES.register
objective_names = OBJECTIVES.names


def refuse_adaptive_strategy(config: Any, objective: str, because: str) -> None:
    """Refuse a strategy that proposes as results come in (Bayesian search) for an objective
    that needs every candidate up front (`because` says why)."""
    from lrbench.search import make_strategy

    if make_strategy(config.strategy).adaptive:
        raise ConfigError(
            f"`--objective {objective}` {because}: use --strategy grid, random or topk"
        )


def make_objective(objective: str | Objective) -> Objective:
    """The objective given by name (with its default options) or as an instance."""
    if isinstance(objective, Objective):
        return objective
    return OBJECTIVES.lookup(objective)()


def objective_of_study(study: StudyRecord) -> Objective:
    """The objective a stored study was run with, with its stored options."""
    stored = study.config.get("config", {})
    cls = OBJECTIVES.get(str(stored.get("objective", "single")), OBJECTIVES["single"])
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in stored.items() if k in names})
