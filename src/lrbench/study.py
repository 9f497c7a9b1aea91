"""Tuning studies: single-policy selection over (policy, LR) with local execution.

    result = lrbench.tune(StudyConfig(task="digits-mlp", policies=("fixed", "cosine"),
                                      lr_min=1e-3, lr_max=1.0, trials=10))
    result.best.policy, result.best.mean

A study is stored under its name; running it again resumes it: finished trials are kept,
unfinished ones (queued, or running when the process died) run again. The same name with a
different configuration is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

from lrbench.exceptions import ConfigError
from lrbench.execution.local import TrialJob, TrialOutcome, run_local
from lrbench.search import STRATEGIES, Candidate, family_of, grid, make_policy, random_search
from lrbench.search import top_k as top_k_strategy
from lrbench.store import PolicyScore, Store, StudyRecord, TrialRecord, TrialStatus
from lrbench.tasks import TaskSpec, load_task

__all__ = ["StudyConfig", "StudyEvents", "StudyResult", "tune"]


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """What to tune and how. `None` fields take the task's defaults.

    Attributes:
        task: Registered name, `module:function` or `file.py:function`.
        params: The task's own settings.
        metric: The metric to optimise (default: the built-in task's first metric).
        mode: `max` or `min` (default: the built-in task's).
        policies: Policy families (or templates with `{lr}`) to compare.
        lr_min, lr_max: The LR range searched (log scale).
        strategy: `grid`, `random` or `topk`.
        trials: Number of configurations (before seeds).
        total_steps: The budget of each trial in optimizer updates.
        seeds: Runs of each configuration with seeds 0..seeds-1.
        seed: Seed of the random strategy.
        target: Optional metric target (steps to reach it are recorded).
        baselines: Extra (template, LR) configurations to compare against, e.g. ("cosine", 2e-5).
    """

    task: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    metric: str | None = None
    mode: str | None = None
    policies: tuple[str, ...] = ("fixed", "step", "cosine", "one_cycle")
    lr_min: float = 1e-4
    lr_max: float = 1.0
    strategy: str = "grid"
    trials: int = 12
    total_steps: int | None = None
    seeds: int = 1
    seed: int = 0
    target: float | None = None
    baselines: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The configuration as stored with the study (compared on resume)."""
        data = dataclasses.asdict(self)
        data["policies"] = list(self.policies)
        data["baselines"] = [list(b) for b in self.baselines]
        return data


class StudyEvents:
    """Hooks for progress display; the default does nothing. Called in the main process."""

    def started(self, study: StudyRecord, total: int, pending: int) -> None:
        """The study is about to run `pending` of its `total` trials."""

    def trial_started(self, job: TrialJob) -> None:
        """A trial starts (in-process runs only)."""

    def progress(self, step: int) -> None:
        """The running trial reported at `step` (in-process runs only)."""

    def trial_finished(self, outcome: TrialOutcome, best: PolicyScore | None) -> None:
        """A trial ended; `best` is the study's best configuration so far."""


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """A study's state after running: its leaderboard, trial counts and total cost."""

    study: StudyRecord
    leaderboard: list[PolicyScore]
    trials: list[TrialRecord]

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

    def to_json(self) -> dict[str, Any]:
        """The machine-readable summary printed by `lrbench tune --format json`."""
        best = self.best
        return {
            "study": self.study.name,
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
            "cost": {"steps": self.cost_steps, "seconds": round(self.cost_seconds, 3)},
            "leaderboard": [
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
            ],
        }


class _RunningBest:
    """The best configuration so far, kept in memory (no database query per trial)."""

    def __init__(self, metric: str, mode: str, trials: Sequence[TrialRecord]) -> None:
        self.metric, self.mode = metric, mode
        self.values: dict[str, list[float]] = {}
        self.trials = {t.policy: t for t in trials}
        for trial in trials:
            if trial.status is TrialStatus.complete and metric in trial.metrics:
                self.values.setdefault(trial.policy, []).append(trial.metrics[metric])

    def add(self, outcome: TrialOutcome) -> None:
        if outcome.status is TrialStatus.complete and not math.isnan(outcome.value):
            self.values.setdefault(outcome.policy, []).append(outcome.value)

    def best(self) -> PolicyScore | None:
        if not self.values:
            return None
        pick = max if self.mode == "max" else min
        policy = pick(self.values, key=lambda p: sum(self.values[p]) / len(self.values[p]))
        values = self.values[policy]
        trial = self.trials.get(policy)  # None for trials proposed after the start (bayes)
        return PolicyScore(
            policy=policy,
            family=family_of(policy),
            lr=trial.lr if trial else math.nan,
            metric=self.metric,
            mean=sum(values) / len(values),
            std=0.0,
            seeds=len(values),
            statuses={},
            cost_steps=0,
            cost_seconds=0.0,
        )


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def default_study_name(config: StudyConfig) -> str:
    """A stable name from the configuration, so re-running the same command resumes."""
    digest = hashlib.sha256(json.dumps(config.to_json(), sort_keys=True).encode()).hexdigest()
    return f"{family_of(config.task.rsplit('/', 1)[-1])}-{config.strategy}-{digest[:8]}"


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The configuration with the task's defaults resolved."""

    config: StudyConfig
    metric: str
    mode: str
    total_steps: int


def _validate(config: StudyConfig, spec: TaskSpec) -> _Plan:
    if not (config.lr_min > 0 and config.lr_max > 0):
        raise ConfigError(
            f"`--lr-min` and `--lr-max` must be > 0, got lr_min={config.lr_min!r},"
            f" lr_max={config.lr_max!r}"
        )
    if config.lr_min >= config.lr_max:
        raise ConfigError(
            f"`--lr-min` must be < `--lr-max`, got lr_min={config.lr_min!r}, "
            f"lr_max={config.lr_max!r}"
        )
    if config.strategy not in STRATEGIES:
        raise ConfigError(
            f"`--strategy` must be one of {', '.join(STRATEGIES)}, got {config.strategy!r}"
        )
    for name in ("trials", "seeds"):
        if getattr(config, name) < 1:
            raise ConfigError(f"`--{name}` must be >= 1, got {getattr(config, name)}")
    builtin = spec.builtin
    metric = config.metric or (builtin.metrics[0] if builtin else None)
    if metric is None:
        raise ConfigError(f"`--metric` is required for task {config.task!r} (a user function)")
    if builtin is not None and metric not in builtin.metrics:
        raise ConfigError(
            f"task {builtin.name} never reports metric {metric!r} "
            f"(it reports: {', '.join(builtin.metrics)})"
        )
    mode = config.mode or (builtin.mode if builtin and metric == builtin.metrics[0] else "max")
    if mode not in ("max", "min"):
        raise ConfigError(f"`--mode` must be max or min, got {mode!r}")
    total_steps = config.total_steps or (builtin.total_steps if builtin else None)
    if total_steps is None or total_steps < 1:
        raise ConfigError(f"`--total-steps` must be an integer >= 1, got {total_steps!r}")
    resolved = dataclasses.replace(
        config, metric=metric, mode=mode, total_steps=total_steps, params=spec.params
    )
    return _Plan(resolved, metric, mode, total_steps)


def _candidates(plan: _Plan, store: Store, spec: TaskSpec) -> list[Candidate]:
    config = plan.config
    templates = list(config.policies)
    if config.strategy == "bayes":
        found = []  # proposed round by round as results come in (see _propose_more)
    elif config.strategy == "grid":
        found = grid(templates, config.lr_min, config.lr_max, config.trials)
    elif config.strategy == "random":
        found = random_search(templates, config.lr_min, config.lr_max, config.trials, config.seed)
    else:
        found = top_k_strategy(
            store,
            spec.info(plan.total_steps),
            metric=plan.metric,
            mode=plan.mode,
            trials=config.trials,
            fallback=templates,
            lr_min=config.lr_min,
            lr_max=config.lr_max,
        )
    found += [Candidate(t, float(lr), "baseline") for t, lr in config.baselines]
    unique: dict[tuple[str, float], Candidate] = {}
    for candidate in found:
        unique.setdefault((candidate.template, candidate.lr), candidate)
    return list(unique.values())


def _trial_rows(plan: _Plan, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    rows = []
    for candidate in candidates:
        policy = make_policy(candidate.template, candidate.lr, plan.total_steps)
        for seed in range(plan.config.seeds):
            rows.append(
                {
                    "policy": str(policy),
                    "family": family_of(candidate.template),
                    "lr": candidate.lr,
                    "seed": seed,
                    "total_steps": plan.total_steps,
                }
            )
    return rows


def _open_study(store: Store, name: str, plan: _Plan, spec: TaskSpec) -> StudyRecord:
    existing = store.study(name)
    if existing is not None:
        stored = existing.config.get("config", {})
        wanted = plan.config.to_json()
        differs = sorted(
            k for k in wanted.keys() | stored.keys() if stored.get(k) != wanted.get(k)
        )
        if differs:
            details = ", ".join(f"{k}: {stored.get(k)!r} -> {wanted.get(k)!r}" for k in differs)
            raise ConfigError(
                f"study {name!r} exists with a different configuration ({details});"
                " run it unchanged to resume, or choose another --study name"
            )
        return existing
    candidates = _candidates(plan, store, spec)
    return store.create_study(
        name=name,
        task=store.task(spec.info(plan.total_steps)),
        objective="single-policy",
        metric=plan.metric,
        mode=plan.mode,
        strategy=plan.config.strategy,
        config={
            "config": plan.config.to_json(),
            "task_ref": spec.ref,
            "origins": {f"{c.template}@{c.lr!r}": c.origin for c in candidates},
        },
        trials=_trial_rows(plan, candidates),
    )


def tune(
    config: StudyConfig,
    *,
    name: str | None = None,
    db: str | None = None,
    workers: int = 1,
    events: StudyEvents | None = None,
) -> StudyResult:
    """Run (or resume) a single-policy selection study and return its leaderboard.

    Raises:
        ConfigError: a bad option, an unknown task, a study name reused with another
            configuration, or a user task that never reports the metric.
        StorageError: the database is unreachable or has another schema version.
    """
    events = events or StudyEvents()
    spec = load_task(config.task, config.params)
    plan = _validate(config, spec)
    store = Store(db)
    name = name or default_study_name(plan.config)
    study = _open_study(store, name, plan, spec)
    if spec.builtin is not None:
        spec.builtin.prepare(spec.params)
    trials = store.trials(study.id)
    expected = len(trials)
    if config.strategy == "bayes":
        expected += (config.trials - _searched_configs(trials, config)) * config.seeds
    events.started(study, expected, expected - sum(t.status.finished for t in trials))
    store.set_study_status(study.id, "running")
    running_best = _RunningBest(plan.metric, plan.mode, trials)

    def finished(outcome: TrialOutcome) -> None:
        if outcome.status is TrialStatus.complete and plan.metric not in outcome.metric_names:
            raise ConfigError(
                f"task {spec.name} never reported metric {plan.metric!r} (it reported: "
                f"{', '.join(outcome.metric_names) or 'nothing'}); choose one with --metric"
            )
        running_best.add(outcome)
        events.trial_finished(outcome, running_best.best())

    try:
        while True:
            jobs = [
                TrialJob(
                    t.id,
                    t.number,
                    t.policy,
                    t.seed,
                    t.total_steps,
                    spec.ref,
                    spec.params,
                    store.url,
                    plan.metric,
                    plan.mode,
                    config.target,
                )
                for t in store.trials(study.id)
                if not t.status.finished
            ]
            run_local(
                jobs,
                workers=workers,
                store=store,
                on_outcome=finished,
                on_start=events.trial_started,
                on_progress=events.progress,
            )
            if config.strategy != "bayes" or not _propose_more(store, study, plan, workers):
                break
    except BaseException:
        store.set_study_status(study.id, "interrupted")
        raise
    store.set_study_status(study.id, "complete")
    study = store.require_study(name)
    return StudyResult(study, store.leaderboard(study), store.trials(study.id))


def _searched_configs(trials: Sequence[TrialRecord], config: StudyConfig) -> int:
    """Configurations proposed by the search so far (baselines not counted)."""
    baselines = {(family_of(t), float(lr)) for t, lr in config.baselines}
    return len({(t.family, t.lr) for t in trials} - baselines)


def _propose_more(store: Store, study: StudyRecord, plan: _Plan, workers: int) -> bool:
    """Queue the next round of Bayesian proposals; False when the budget is spent."""
    from lrbench.search.bayes import propose

    config = plan.config
    trials = store.trials(study.id)
    remaining = config.trials - _searched_configs(trials, config)
    if remaining <= 0:
        return False
    candidates = propose(
        trials,
        templates=list(config.policies),
        family_of_template={family_of(t): t for t in config.policies},
        lr_min=config.lr_min,
        lr_max=config.lr_max,
        metric=plan.metric,
        mode=plan.mode,
        count=min(workers, remaining),
        seed=config.seed,
        startup=max(3, config.trials // 4),
    )
    if not candidates:
        return False
    store.add_trials(study.id, _trial_rows(plan, candidates))
    return True
