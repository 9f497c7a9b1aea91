"""Tuning studies over (policy, LR): the three LRBench++ objectives.

    result = lrbench.tune(StudyConfig(task="digits-mlp", policies=("fixed", "cosine"),
                                      lr_min=1e-3, lr_max=1.0, trials=10))
    result.best.policy, result.best.mean

- `single`: the best policy and LR for a fixed budget (every candidate trains in full);
- `cost`: reach `target` at the least training cost: successive halving (Optuna's ASHA pruner)
  stops weak trials at rungs, and a trial stops as soon as it reaches the target;
- `compose`: the best `sequence` of policies across training phases (see
  `lrbench.search.compose`).

`bracket=True` runs the LR range test first and searches only around the LR where its loss
was lowest.

A study is stored under its name; running it again resumes it: finished trials are kept,
unfinished ones (queued, or running when the process died) run again. The same name with a
different configuration is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lrbench.exceptions import ConfigError
from lrbench.execution.local import TrialJob, TrialOutcome, run_local
from lrbench.execution.raytune import RayOptions
from lrbench.search import STRATEGIES, Candidate, family_of, grid, make_policy, random_search
from lrbench.search import top_k as top_k_strategy
from lrbench.search.compose import forks, next_phase_rows, phase_ends, phase_rows, phases_left
from lrbench.search.halving import HalvingSpec
from lrbench.store import PolicyScore, Store, StudyRecord, TrialRecord, TrialStatus
from lrbench.tasks import TaskSpec, load_task

__all__ = ["OBJECTIVES", "StudyConfig", "StudyEvents", "StudyResult", "tune"]

OBJECTIVES = ("single", "cost", "compose")
_OBJECTIVE_FIELDS = ("objective", "halving_rate", "bracket", "phases", "keep")
#: How each objective is named in the database (DESIGN's names for the three methods).
_STORED_OBJECTIVE = {
    "single": "single-policy",
    "cost": "cost-effective",
    "compose": "multi-policy",
}


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
        strategy: `grid`, `random`, `topk` or `bayes`.
        trials: Number of configurations (before seeds); per phase for `compose`.
        total_steps: The budget of each trial in optimizer updates.
        seeds: Runs of each configuration with seeds 0..seeds-1.
        seed: Seed of the random strategy (and of the trial order of a cost study).
        target: Metric target: steps to reach it are recorded; required by `cost`.
        baselines: Extra (template, LR) configurations to compare against, e.g. ("cosine", 2e-5).
        objective: `single`, `cost` or `compose` (see the module docstring).
        halving_rate: Successive halving keeps the best 1/rate of trials at each rung (`cost`).
        bracket: Run the LR range test first and search from a tenth to three times the LR
            where its loss was lowest.
        phases: Training phases of equal length (`compose`).
        keep: Best checkpoints of each phase forked into the next phase (`compose`).
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
    objective: str = "single"
    halving_rate: int = 3
    bracket: bool = False
    phases: int = 2
    keep: int = 2

    def to_json(self) -> dict[str, Any]:
        """The configuration as stored with the study (compared on resume)."""
        data = dataclasses.asdict(self)
        data["policies"] = list(self.policies)
        data["baselines"] = [list(b) for b in self.baselines]
        return data


_DEFAULT_CONFIG = StudyConfig(task="").to_json()


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

    @property
    def objective(self) -> str:
        """`single`, `cost` or `compose`."""
        return str(self._config.get("objective", "single"))

    @property
    def _config(self) -> dict[str, Any]:
        return dict(self.study.config.get("config", {}))

    @property
    def range_test_steps(self) -> int:
        """Steps the bracketing range test spent (0 without `bracket`)."""
        return int((self.study.config.get("bracket") or {}).get("steps", 0))

    @property
    def full_runs(self) -> float:
        """Total cost (trials and range test) in units of one full training run."""
        return (self.cost_steps + self.range_test_steps) / int(self._config["total_steps"])

    @property
    def grid_full_runs(self) -> int:
        """What training every configuration and seed in full would have cost, in full runs
        (for `compose`: every sequence of candidates, and every single candidate)."""
        if self.objective == "compose":
            candidates = len(self.study.config.get("origins", {}))
            config = self._config
            return (candidates ** int(config["phases"]) + candidates) * int(config["seeds"])
        return len(self.trials)

    def cheapest_to_target(self) -> PolicyScore | None:
        """The configuration that reached the target in the fewest steps (mean over seeds,
        every seed must reach it); its `mean` is that number of steps. None if none did."""
        steps: dict[str, list[float]] = {}
        for trial in self.trials:
            steps.setdefault(trial.policy, []).append(
                trial.metrics.get("steps_to_target", math.nan)
            )
        reached = {p: v for p, v in steps.items() if not any(math.isnan(x) for x in v)}
        if not reached:
            return None
        policy = min(reached, key=lambda p: sum(reached[p]) / len(reached[p]))
        trial = next(t for t in self.trials if t.policy == policy)
        values = reached[policy]
        return PolicyScore(
            policy=policy,
            family=trial.family,
            lr=trial.lr,
            metric="steps_to_target",
            mean=sum(values) / len(values),
            std=float(np.std(values)),
            seeds=len(values),
            statuses={},
            cost_steps=0,
            cost_seconds=0.0,
        )

    def best_of(self, *, sequence: bool) -> PolicyScore | None:
        """The best composed sequence (`sequence=True`) or the best single policy."""
        for score in self.leaderboard:
            if (score.family == "sequence") == sequence and not math.isnan(score.mean):
                return score
        return None

    def _compose_json(self) -> dict[str, Any] | None:
        if self.objective != "compose":
            return None
        found = {"sequence": self.best_of(sequence=True), "single": self.best_of(sequence=False)}
        return {
            kind: None if score is None else {"policy": score.policy, "mean": score.mean}
            for kind, score in found.items()
        }

    def _target_json(self) -> dict[str, Any] | None:
        target = self._config.get("target")
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
        return {
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
            "compose": self._compose_json(),
            "bracket": self.study.config.get("bracket"),
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
    # Objective options at their defaults stay out of the digest, so the names of studies
    # stored before those options existed still match (and resume).
    data = {
        k: v
        for k, v in config.to_json().items()
        if k not in _OBJECTIVE_FIELDS or v != _DEFAULT_CONFIG[k]
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    method = (
        config.strategy
        if config.objective == "single"
        else f"{config.objective}-{config.strategy}"
    )
    return f"{family_of(config.task.rsplit('/', 1)[-1])}-{method}-{digest[:8]}"


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The configuration with the task's defaults resolved."""

    config: StudyConfig
    metric: str
    mode: str
    total_steps: int
    lr_min: float
    lr_max: float

    def with_bracket(self, bracket: dict[str, Any] | None) -> _Plan:
        """The plan searching the range-test range, where one was found."""
        if not bracket or bracket.get("lr_min") is None:
            return self
        return dataclasses.replace(self, lr_min=bracket["lr_min"], lr_max=bracket["lr_max"])


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
    _validate_objective(config)
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
    return _Plan(resolved, metric, mode, total_steps, config.lr_min, config.lr_max)


def _validate_objective(config: StudyConfig) -> None:
    if config.objective not in OBJECTIVES:
        raise ConfigError(
            f"`--objective` must be one of {', '.join(OBJECTIVES)}, got {config.objective!r}"
        )
    if config.objective == "cost":
        if config.target is None or not math.isfinite(config.target):
            raise ConfigError(
                "`--target` is required with --objective cost: the metric value to reach "
                f"(got {config.target!r})"
            )
        if config.halving_rate < 2:
            raise ConfigError(f"`--halving-rate` must be >= 2, got {config.halving_rate}")
    if config.objective == "compose":
        if config.phases < 2:
            raise ConfigError(
                f"`--phases` must be >= 2 for --objective compose, got {config.phases} "
                "(one phase is a single policy: use --objective single)"
            )
        if config.keep < 1:
            raise ConfigError(f"`--keep` must be >= 1, got {config.keep}")
        if config.strategy == "bayes":
            raise ConfigError(
                "`--objective compose` proposes each phase's candidates up front: use "
                "--strategy grid, random or topk"
            )


def _candidates(plan: _Plan, store: Store, spec: TaskSpec) -> list[Candidate]:
    config = plan.config
    templates = list(config.policies)
    if config.strategy == "bayes":
        found = []  # proposed round by round as results come in (see _propose_more)
    elif config.strategy == "grid":
        found = grid(templates, plan.lr_min, plan.lr_max, config.trials)
    elif config.strategy == "random":
        found = random_search(templates, plan.lr_min, plan.lr_max, config.trials, config.seed)
    else:
        found = top_k_strategy(
            store,
            spec.info(plan.total_steps),
            metric=plan.metric,
            mode=plan.mode,
            trials=config.trials,
            fallback=templates,
            lr_min=plan.lr_min,
            lr_max=plan.lr_max,
        )
    found += [Candidate(t, float(lr), "baseline") for t, lr in config.baselines]
    unique: dict[tuple[str, float], Candidate] = {}
    for candidate in found:
        unique.setdefault((candidate.template, candidate.lr), candidate)
    candidates = list(unique.values())
    if config.objective == "cost":  # ASHA compares each trial with those before it: mix them
        random.Random(config.seed).shuffle(candidates)
    return candidates


def _trial_rows(plan: _Plan, candidates: Sequence[Candidate]) -> list[dict[str, Any]]:
    rows = []
    for candidate in candidates:
        policy = candidate.policy or make_policy(
            candidate.template, candidate.lr, plan.total_steps
        )
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
        wanted = plan.config.to_json()
        # Fields added after the study was stored take their defaults.
        stored = {**{k: _DEFAULT_CONFIG[k] for k in wanted}, **existing.config.get("config", {})}
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
    bracket = _range_test_bracket(plan) if plan.config.bracket else None
    candidates = _candidates(plan.with_bracket(bracket), store, spec)
    return store.create_study(
        name=name,
        task=store.task(spec.info(plan.total_steps)),
        objective=_STORED_OBJECTIVE[plan.config.objective],
        metric=plan.metric,
        mode=plan.mode,
        strategy=plan.config.strategy,
        config={
            "config": plan.config.to_json(),
            "task_ref": spec.ref,
            "origins": {f"{c.template}@{c.lr!r}": c.origin for c in candidates},
            "bracket": bracket,
        },
        trials=phase_rows(candidates, _phase_ends(plan), plan.config.seeds)
        if plan.config.objective == "compose"
        else _trial_rows(plan, candidates),
    )


_BRACKET_STEPS = 100
#: The bracket searched: [LR of the lowest loss / BELOW, LR of the lowest loss x ABOVE].
BRACKET_BELOW, BRACKET_ABOVE = 10.0, 3.0


def _range_test_bracket(plan: _Plan) -> dict[str, Any]:
    """Run the LR range test over the configured range: its recommended range is searched."""
    from lrbench.rangetest import range_test

    config = plan.config
    result = range_test(
        config.task,
        lr_min=config.lr_min,
        lr_max=config.lr_max,
        steps=min(_BRACKET_STEPS, plan.total_steps),
        params=config.params,
        seed=config.seed,
    )
    bracket: dict[str, Any] = {"steps": len(result.lrs), "lr_min": None, "lr_max": None}
    if result.range is None:  # the loss never fell: search the whole configured range
        return {**bracket, "reason": result.reason}
    # From the classic "minimum/10" suggestion to 3x the LR of the sweep's lowest loss: on
    # both built-in tasks the tuned optimum lies within 1.5x of that LR (docs/benchmarks.md),
    # well above the point rules, which are made to be safe rather than best.
    lowest = result.range[1]
    lo = max(lowest / BRACKET_BELOW, config.lr_min)
    hi = min(lowest * BRACKET_ABOVE, config.lr_max)
    return {**bracket, "lr_min": lo, "lr_max": hi, "suggestion": result.suggestion}


def _phase_ends(plan: _Plan) -> list[int]:
    return phase_ends(plan.total_steps, plan.config.phases)


def _jobs(store: Store, study: StudyRecord, plan: _Plan, spec: TaskSpec) -> list[TrialJob]:
    config = plan.config
    halving = None
    if config.objective == "cost":
        journal = store.artifact_dir(study.name) / "halving.journal"
        halving = HalvingSpec.for_budget(
            str(journal), plan.mode, plan.total_steps, rate=config.halving_rate
        )
    trials = store.trials(study.id)
    forked = {}
    if config.objective == "compose":
        directory = str(store.artifact_dir(study.name) / "checkpoints")
        forked = forks(trials, _phase_ends(plan), directory)
    return [
        dataclasses.replace(
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
                halving=halving,
                stop_at_target=config.objective == "cost",
            ),
            **forked.get(t.id, {}),
        )
        for t in trials
        if not t.status.finished
    ]


def _next_phase(store: Store, study: StudyRecord, plan: _Plan) -> bool:
    """Compose: fork the best of the last finished phase into the next; False when done."""
    rows = next_phase_rows(
        store.trials(study.id),
        _stored_candidates(study),
        _phase_ends(plan),
        metric=plan.metric,
        mode=plan.mode,
        keep=plan.config.keep,
    )
    if rows:
        store.add_trials(study.id, rows)
    return bool(rows)


def _stored_candidates(study: StudyRecord) -> list[Candidate]:
    origins = study.config.get("origins", {})
    candidates = []
    for key, origin in origins.items():
        template, _, lr = key.rpartition("@")
        candidates.append(Candidate(template, float(lr), origin))
    return candidates


def tune(
    config: StudyConfig,
    *,
    name: str | None = None,
    db: str | None = None,
    workers: int = 1,
    events: StudyEvents | None = None,
    executor: str | RayOptions = "local",
) -> StudyResult:
    """Run (or resume) a study and return its leaderboard.

    Args:
        config: What to tune.
        name: The study's name in the store (default: derived from `config`).
        db: The store's URL (default: `$LRBENCH_DB`, else `sqlite:///lrbench.db`).
        workers: Local worker processes (the local executor).
        events: Progress hooks.
        executor: `local`, `ray` (a local Ray), or `RayOptions` (a cluster, resources).

    Raises:
        ConfigError: a bad option, an unknown task, a study name reused with another
            configuration, or a user task that never reports the metric.
        StorageError: the database is unreachable or has another schema version.
    """
    if executor == "ray":
        executor = RayOptions(max_concurrent=workers if workers > 1 else None)
    if not (executor == "local" or isinstance(executor, RayOptions)):
        raise ConfigError(f"`--executor` must be local or ray, got {executor!r}")
    ray_options = executor if isinstance(executor, RayOptions) else None
    if ray_options is not None:  # an unreachable cluster fails before any work
        from lrbench.execution.raytune import connect

        connect(ray_options.address)
    events = events or StudyEvents()
    spec = load_task(config.task, config.params)
    plan = _validate(config, spec)
    store = Store(db)
    name = name or default_study_name(plan.config)
    study = _open_study(store, name, plan, spec)
    plan = plan.with_bracket(study.config.get("bracket"))
    if spec.builtin is not None:
        spec.builtin.prepare(spec.params)
    trials = store.trials(study.id)
    expected = _expected_trials(plan, study, trials)
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
            _run(store, study, plan, spec, ray_options, workers, finished, events)
            if not _next_round(store, study, plan, workers):
                break
    except BaseException:
        store.set_study_status(study.id, "interrupted")
        raise
    store.set_study_status(study.id, "complete")
    study = store.require_study(name)
    trials = store.trials(study.id)
    leaderboard = store.leaderboard(study)
    if config.objective == "compose":  # rank what trained the whole budget, not phase parts
        leaderboard = [s for s in leaderboard if s.total_steps == plan.total_steps]
    return StudyResult(study, leaderboard, trials)


def _expected_trials(plan: _Plan, study: StudyRecord, trials: Sequence[TrialRecord]) -> int:
    """The study's trials once complete, for progress bars (later rounds included)."""
    config = plan.config
    if config.strategy == "bayes":
        return len(trials) + (config.trials - _searched_configs(trials, plan)) * config.seeds
    if config.objective == "compose":
        per_phase = config.keep * len(_stored_candidates(study)) * config.seeds
        return len(trials) + per_phase * phases_left(trials, _phase_ends(plan))
    return len(trials)


def _run(
    store: Store,
    study: StudyRecord,
    plan: _Plan,
    spec: TaskSpec,
    ray_options: RayOptions | None,
    workers: int,
    finished: Callable[[TrialOutcome], None],
    events: StudyEvents,
) -> None:
    """Run the study's unfinished trials locally, or on Ray where `ray_options` are given."""
    jobs = _jobs(store, study, plan, spec)
    if ray_options is None:
        run_local(
            jobs,
            workers=workers,
            store=store,
            on_outcome=finished,
            on_start=events.trial_started,
            on_progress=events.progress,
        )
        return
    from lrbench.execution.raytune import run_ray

    run_ray(
        jobs,
        options=ray_options,
        store=store,
        run_name=study.name,
        total_steps=plan.total_steps,
        on_outcome=finished,
    )


def _next_round(store: Store, study: StudyRecord, plan: _Plan, workers: int) -> bool:
    """Queue the trials that depend on results so far; False when the study is complete."""
    if plan.config.objective == "compose":
        return _next_phase(store, study, plan)
    if plan.config.strategy == "bayes":
        return _propose_more(store, study, plan, workers)
    return False


def _searched_configs(trials: Sequence[TrialRecord], plan: _Plan) -> int:
    """Configurations proposed by the search so far (baselines not counted)."""
    baselines = {
        str(make_policy(template, float(lr), plan.total_steps))
        for template, lr in plan.config.baselines
    }
    return len({t.policy for t in trials} - baselines)


def _propose_more(store: Store, study: StudyRecord, plan: _Plan, workers: int) -> bool:
    """Queue the next round of Bayesian proposals; False when the budget is spent."""
    from lrbench.search.bayes import propose

    config = plan.config
    trials = store.trials(study.id)
    remaining = config.trials - _searched_configs(trials, plan)
    if remaining <= 0:
        return False
    candidates = propose(
        trials,
        templates=list(config.policies),
        family_of_template={family_of(t): t for t in config.policies},
        lr_min=plan.lr_min,
        lr_max=plan.lr_max,
        total_steps=plan.total_steps,
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
