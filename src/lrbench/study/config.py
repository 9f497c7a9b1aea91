"""A study's configuration: what users set, its validation, and the plan it resolves to."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

from lrbench.evaluate import Direction
from lrbench.exceptions import ConfigError
from lrbench.search import Candidate, family_of, make_policy, make_strategy
from lrbench.study.objectives import OBJECTIVES, Objective, make_objective
from lrbench.tasks import DEFAULT_LR_RANGE, ResolvedTask

__all__ = [
    "MAX_SEED",
    "MAX_SEEDS",
    "MAX_STEPS",
    "MAX_TRIALS",
    "Plan",
    "StudyConfig",
    "default_study_name",
    "stored_config",
]

#: Bounds of a study's counts, refused up front (beyond them a study cannot run on any
#: machine: a grid of 10^12 LRs is terabytes; 10^9 updates is past any training run).
MAX_TRIALS = 100_000
MAX_SEEDS = 1_000
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds
MAX_STEPS = 10**9


@dataclasses.dataclass(frozen=True, kw_only=True)
class StudyConfig:
    """What to tune and how. `None` fields take the task's defaults.

    Attributes:
        task: Registered name, `module:function` or `file.py:function`.
        params: The task's own settings.
        metric: The metric to optimise (default: the built-in task's first metric).
        mode: `max` or `min` (default: the built-in task's).
        policies: Policy families (or templates with `{lr}`) to compare.
        lr_min, lr_max: The LR range searched (log scale); default the built-in task's
            (`hf-causal-lm` with LoRA: 1e-5..1e-2; full fine-tuning, `minilm-cls` included:
            1e-6..1e-3), or 1e-4..1.
        strategy: `grid`, `random`, `topk` or `bayes` (see `lrbench.search`).
        trials: How many configurations (policy x LR) to train, before seeds: the study
            trains `trials x seeds` runs (per phase for `compose`).
        total_steps: The budget of each trial in optimizer updates.
        epochs: The budget in passes over the training data instead (a built-in task, which
            knows its data: the plan converts it to updates, rounded up).
        seeds: Runs of each configuration with seeds 0..seeds-1.
        seed: Seed of the strategy's random draws (and of the trial order of a cost study).
        target: Metric target: steps to reach it are recorded; required by `cost`.
        baselines: Extra (template, LR) configurations to compare against, e.g. ("cosine", 2e-5).
        objective: The tuning method: `single`, `cost` or `compose` (default options), or an
            objective with its options, e.g. `CostEffective(halving_rate=4)`.
        bracket: Run a short LR range test first and search from a third to three times the
            LR where its loss was lowest (`lrbench.search.bracket`).
        max_cost: The most the study may spend, in full runs (one run: `total_steps` updates),
            range test, seeds and baselines included. The strategy proposes only the
            configurations that fit (at the objective's expected cost of one), and no trial
            starts once it could exceed the cap; the trials it could not pay for are dropped.
    """

    task: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    metric: str | None = None
    mode: str | None = None
    policies: tuple[str, ...] = ("fixed", "step", "cosine", "one_cycle")
    lr_min: float | None = None
    lr_max: float | None = None
    strategy: str = "grid"
    trials: int = 12
    total_steps: int | None = None
    epochs: float | None = None
    seeds: int = 1
    seed: int = 0
    target: float | None = None
    baselines: tuple[tuple[str, float], ...] = ()
    objective: str | Objective = "single"
    bracket: bool = False
    max_cost: float | None = None


#: The stored fields common to every study, and the option fields' defaults (for studies
#: stored before an option existed, and for the name digest).
_COMMON = tuple(f.name for f in dataclasses.fields(StudyConfig) if f.name != "objective")


def _option_defaults() -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "objective": "single",
        "bracket": False,
        "epochs": None,
        "max_cost": None,
    }
    for cls in OBJECTIVES.values():
        defaults.update(cls().options())
    return defaults


def stored_config(config: StudyConfig, objective: Objective) -> dict[str, Any]:
    """The configuration as stored with the study (compared on resume): flat JSON, with
    every objective's options (the other objectives' at their defaults), as stored before
    objectives had their own options."""
    data = {name: getattr(config, name) for name in _COMMON}
    data["params"] = dict(config.params)
    data["policies"] = list(config.policies)
    data["baselines"] = [list(b) for b in config.baselines]
    return {**data, **_option_defaults(), "objective": objective.name, **objective.options()}


def default_study_name(config: StudyConfig) -> str:
    """A stable name from the configuration, so re-running the same command resumes."""
    objective = make_objective(config.objective)
    defaults = _option_defaults()
    # Options at their defaults stay out of the digest, so the names of studies stored before
    # those options existed still match (and resume).
    data = {
        k: v
        for k, v in stored_config(config, objective).items()
        if k not in defaults or v != defaults[k]
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    # The default objective stays out of the name, as before objectives were named in it.
    default = objective.name == defaults["objective"]
    method = config.strategy if default else f"{objective.name}-{config.strategy}"
    task_slug = config.task.rsplit("/", 1)[-1].split("(", 1)[0].strip()
    return f"{task_slug}-{method}-{digest[:8]}"


def configuration_changes(wanted: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The fields a stored study's configuration differs in from `wanted` ("field: a -> b");
    fields stored before they existed take their defaults."""
    defaults = _option_defaults()
    stored = {**{k: defaults.get(k) for k in wanted}, **stored}
    return [
        f"{k}: {stored.get(k)!r} -> {wanted[k]!r}"
        for k in sorted(wanted)
        if stored.get(k) != wanted[k]
    ]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
    """The configuration with the task's defaults resolved, ready to run.

    Attributes:
        config: The configuration, metric, mode, LR range, budget and params filled in.
        objective: The tuning method with its options.
        direction: Which way the metric improves.
        task: The resolved task.
    """

    config: StudyConfig
    objective: Objective
    direction: Direction
    task: ResolvedTask

    @property
    def metric(self) -> str:
        """The metric the study optimises."""
        return str(self.config.metric)

    @property
    def lr_range(self) -> tuple[float, float]:
        """The LR range searched (the task's default filled in)."""
        return float(self.config.lr_min or 0), float(self.config.lr_max or 0)

    @property
    def total_steps(self) -> int:
        """The budget of a full trial."""
        return int(self.config.total_steps or 0)

    def trial_rows(
        self, candidates: Sequence[Candidate], *, total_steps: int | None = None
    ) -> list[dict[str, Any]]:
        """Each candidate x each seed, as rows to queue (at `total_steps`, default the budget)."""
        budget = total_steps or self.total_steps
        rows = []
        for candidate in candidates:
            policy = candidate.policy or make_policy(candidate.template, candidate.lr, budget)
            rows += [
                {
                    "policy": str(policy),
                    "family": family_of(candidate.template),
                    "lr": candidate.lr,
                    "seed": seed,
                    "total_steps": budget,
                }
                for seed in range(self.config.seeds)
            ]
        return rows

    def baseline_policies(self) -> frozenset[str]:
        """The policy specs of the user's baselines (not counted as searched)."""
        return frozenset(
            str(make_policy(template, float(lr), self.total_steps))
            for template, lr in self.config.baselines
        )


def resolve(config: StudyConfig, task: ResolvedTask) -> Plan:
    """Validate `config` and fill in the task's defaults.

    Raises:
        ConfigError: naming the bad setting and what would be valid.
    """
    lr_min, lr_max = _lr_range(config, task)
    make_strategy(config.strategy)  # an unknown name is refused here, before any work
    for name, most in (("trials", MAX_TRIALS), ("seeds", MAX_SEEDS)):
        if not 1 <= getattr(config, name) <= most:
            raise ConfigError(f"`--{name}` must be 1 to {most:,}, got {getattr(config, name)}")
    if not 0 <= config.seed <= MAX_SEED:
        raise ConfigError(f"`--seed` must be 0 to 2^32-1, got {config.seed}")
    if config.max_cost is not None and not (
        isinstance(config.max_cost, int | float)
        and math.isfinite(config.max_cost)
        and config.max_cost > 0
    ):
        raise ConfigError(
            f"`--max-cost` must be a number of full runs > 0 (e.g. 1.5), got {config.max_cost!r}"
        )
    if config.target is not None and not math.isfinite(config.target):
        raise ConfigError(f"`--target` must be a finite number, got {config.target!r}")
    total_steps = _budget(config, task)
    objective = make_objective(config.objective)
    objective.validate(dataclasses.replace(config, total_steps=total_steps))
    builtin = task.builtin
    metric = config.metric or (task.metrics[0] if builtin else None)
    if metric is None:
        raise ConfigError(f"`--metric` is required for task {config.task!r} (a user function)")
    if builtin is not None and metric not in task.metrics:
        raise ConfigError(
            f"task {builtin.name} never reports metric {metric!r} "
            f"(it reports: {', '.join(task.metrics)})"
        )
    default_mode = builtin.mode if builtin and metric == task.metrics[0] else "max"
    direction = Direction.of(config.mode or default_mode, field="--mode")
    resolved = dataclasses.replace(
        config,
        lr_min=lr_min,
        lr_max=lr_max,
        metric=metric,
        mode=direction.value,
        total_steps=total_steps,
        params=task.params,
        objective=objective,
    )
    return Plan(config=resolved, objective=objective, direction=direction, task=task)


def _lr_range(config: StudyConfig, task: ResolvedTask) -> tuple[float, float]:
    """The LR range searched: the configuration's, else the task's default."""
    low, high = task.builtin.lr_range_for(task.params) if task.builtin else DEFAULT_LR_RANGE
    lr_min = low if config.lr_min is None else config.lr_min
    lr_max = high if config.lr_max is None else config.lr_max
    if not (lr_min > 0 and lr_max > 0):
        raise ConfigError(
            f"`--lr-min` and `--lr-max` must be > 0, got lr_min={lr_min!r}, lr_max={lr_max!r}"
        )
    if lr_min >= lr_max:
        raise ConfigError(
            f"`--lr-min` must be < `--lr-max`, got lr_min={lr_min!r}, lr_max={lr_max!r}"
        )
    return lr_min, lr_max


def _budget(config: StudyConfig, task: ResolvedTask) -> int:
    """Each trial's budget in optimizer updates: `total_steps`, or `epochs` converted with
    the task's updates per epoch (the one place epochs become updates), or the task's."""
    if config.epochs is None:
        total_steps = config.total_steps or (task.builtin.total_steps if task.builtin else None)
        if total_steps is None or not 1 <= total_steps <= MAX_STEPS:
            raise ConfigError(
                f"`--total-steps` must be a whole number 1 to {MAX_STEPS:,}, got {total_steps!r}"
            )
        return total_steps
    if config.total_steps is not None:
        raise ConfigError("give the budget as `--total-steps` or as `--epochs`, not both")
    if not (math.isfinite(config.epochs) and config.epochs > 0):
        raise ConfigError(f"`--epochs` must be a number > 0, got {config.epochs!r}")
    per_epoch = task.builtin.steps_per_epoch(task.params) if task.builtin else None
    if per_epoch is None:
        raise ConfigError(
            f"task {config.task!r} does not say how many updates an epoch is: "
            "give the budget as `--total-steps`"
        )
    total_steps = max(1, math.ceil(config.epochs * per_epoch))  # as the Trainer rounds
    if total_steps > MAX_STEPS:
        raise ConfigError(
            f"`--epochs` {config.epochs:g} is {total_steps:,} updates, more than {MAX_STEPS:,}"
        )
    return total_steps
