"""The study runner: plan, create or resume, run rounds on an executor, report progress.

The runner owns the loop and nothing else: what trials to propose is the strategy's
(`lrbench.search`), how they stop, fork and are summarised is the objective's
(`lrbench.study.objectives`), where they run is the executor's (`lrbench.execution`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from lrbench.exceptions import ConfigError, StorageError, StudyExists
from lrbench.execution import TrialJob, TrialOutcome, run_local
from lrbench.execution.claims import (
    Admission,
    Heartbeat,
    abandoned,
    admit,
    heartbeat_seconds,
    new_worker,
)
from lrbench.execution.raytune import RayOptions
from lrbench.search import Bracketed, Candidate, SearchContext, Strategy, make_strategy
from lrbench.search.bracket import bracket_steps
from lrbench.store import Store, StudyRecord, TrialRecord, TrialStatus, check_study_name
from lrbench.study.config import (
    Plan,
    StudyConfig,
    configuration_changes,
    default_study_name,
    resolve,
    stored_config,
)
from lrbench.study.events import Standings, StudyEvents
from lrbench.study.result import StudyResult
from lrbench.tasks import load_task

__all__ = ["tune"]

_log = logging.getLogger(__name__)


def _strategy(plan: Plan) -> Strategy:
    strategy = make_strategy(plan.config.strategy)
    if plan.config.bracket:
        return Bracketed(strategy, task_ref=plan.config.task, params=plan.config.params)
    return strategy


def _context(
    plan: Plan,
    store: Store,
    *,
    batch: int = 1,
    prepared: dict[str, Any] | None = None,
) -> SearchContext:
    config = plan.config
    lr_min, lr_max = plan.lr_range
    return SearchContext(
        templates=tuple(config.policies),
        lr_min=lr_min,
        lr_max=lr_max,
        total_steps=plan.total_steps,
        trials=_affordable_configurations(plan, _range_test_steps(plan, prepared)),
        seed=config.seed,
        metric=plan.metric,
        direction=plan.direction,
        task=plan.task.info(plan.total_steps),
        store=store,
        batch=batch,
        baselines=plan.baseline_policies(),
        prepared=prepared,
    )


def _range_test_steps(plan: Plan, prepared: dict[str, Any] | None) -> int:
    """Steps the bracketing range test spent (or, before it ran, will spend)."""
    if not plan.config.bracket:
        return 0
    if prepared is not None:
        return int(prepared.get("steps", 0))
    return bracket_steps(plan.total_steps)


def _affordable_configurations(plan: Plan, range_test_steps: int) -> int:
    """How many configurations the strategy may propose: `trials`, or as many as
    `max_cost` pays for (at the objective's expected cost) after the range test and the
    baselines.

    Raises:
        ConfigError: the cap does not pay for one configuration.
    """
    config = plan.config
    if config.max_cost is None:
        return config.trials
    baselines = len(config.baselines)

    def cost(configurations: int) -> float:
        runs = plan.objective.expected_runs(plan, configurations + baselines) * config.seeds
        return runs + range_test_steps / plan.total_steps

    least = min(plan.objective.min_configurations, config.trials)
    affordable = range(least, config.trials + 1)
    fits = max((n for n in affordable if cost(n) <= config.max_cost), default=0)
    if fits == 0:
        needed = (
            "one configuration"
            if least == 1
            else (f"the {least} configurations `--objective {plan.objective.name}` needs")
        )
        raise ConfigError(
            f"`--max-cost` {config.max_cost:g} full runs does not pay for {needed}: "
            f"that costs {cost(least):.3g} runs here ({config.seeds} seed(s), {baselines} "
            f"baseline(s), range test {range_test_steps} steps of a {plan.total_steps}-step "
            "run); raise it or ask for less"
        )
    return fits


class _Spending:
    """A study's spend against its cost cap, in steps: the range test, the trials that
    ended, and the whole remaining budget of each trial running now (it may not stop early)."""

    def __init__(self, plan: Plan, study: StudyRecord, trials: Sequence[TrialRecord]) -> None:
        cap = plan.config.max_cost
        self.cap_steps = math.inf if cap is None else cap * plan.total_steps
        self.spent = _range_test_steps(plan, study.config.get("bracket")) + sum(
            t.cost_steps for t in trials if t.status.finished
        )
        self.running: dict[int, int] = {}

    def may_start(self, job: TrialJob) -> bool:
        """Reserve the job's remaining budget if the cap allows it."""
        steps = job.total_steps - job.start_step
        if self.spent + sum(self.running.values()) + steps > self.cap_steps:
            return False
        self.running[job.trial_id] = steps
        return True

    def ended(self, outcome: TrialOutcome) -> None:
        """Release the trial's reservation and count what it spent."""
        self.running.pop(outcome.trial_id, None)
        self.spent += outcome.cost_steps

    def ended_without_running(self, job: TrialJob) -> None:
        """Release the reservation of a trial another worker runs."""
        self.running.pop(job.trial_id, None)


def _unique(candidates: Sequence[Candidate]) -> list[Candidate]:
    found: dict[tuple[str, float], Candidate] = {}
    for candidate in candidates:
        found.setdefault((candidate.template, candidate.lr), candidate)
    return list(found.values())


def _open_study(
    store: Store,
    name: str,
    plan: Plan,
    strategy: Strategy,
    workers: int,
    study_file: str | None = None,
) -> StudyRecord:
    """The stored study `name`: resumed if it exists with this configuration, else created
    with the strategy's first proposals and the baselines (and the study file's text)."""
    wanted = stored_config(plan.config, plan.objective)
    existing = store.study(name)
    if existing is not None:
        return _resumed(existing, wanted)
    context = _context(plan, store, batch=workers)  # refuses a cap too small, before any work
    prepared = strategy.prepare(context)
    context = _context(plan, store, batch=workers, prepared=prepared)
    proposed = strategy.propose(context, [])
    baselines = [Candidate(t, float(lr), "baseline") for t, lr in plan.config.baselines]
    candidates = plan.objective.order(_unique([*proposed, *baselines]), plan)
    try:
        return store.create_study(
            name=name,
            task=store.task(plan.task.info(plan.total_steps)),
            objective=plan.objective.stored_name,
            metric=plan.metric,
            mode=plan.direction.value,
            strategy=plan.config.strategy,
            config={
                "config": wanted,
                "task_ref": plan.task.ref,
                "origins": {f"{c.template}@{c.lr!r}": c.origin for c in candidates},
                "bracket": prepared,
                "study_file": study_file,
            },
            trials=plan.objective.initial_trials(plan, candidates),
        )
    except StudyExists:  # another worker created it meanwhile: join it
        return _resumed(store.require_study(name), wanted)


def _resumed(existing: StudyRecord, wanted: dict[str, Any]) -> StudyRecord:
    """The stored study, if it was made with the options wanted now."""
    changes = configuration_changes(wanted, existing.config.get("config", {}))
    if changes:
        raise ConfigError(
            f"study {existing.name!r} exists with a different configuration "
            f"({', '.join(changes)}); run it unchanged to resume, or choose another --study name"
        )
    return existing


def _jobs(
    plan: Plan, store: Store, study: StudyRecord, trials: Sequence[TrialRecord], worker: str
) -> list[TrialJob]:
    extras = plan.objective.job_settings(plan, store, study, trials)
    return [
        TrialJob(
            trial_id=t.id,
            number=t.number,
            policy=t.policy,
            seed=t.seed,
            total_steps=t.total_steps,
            task_ref=plan.task.ref,
            params=plan.task.params,
            db_url=store.url,
            metric=plan.metric,
            direction=plan.direction,
            target=plan.config.target,
            worker=worker,
            **extras.get(t.id, {}),
        )
        for t in trials
        if not t.status.finished
    ]


def _next_round(
    plan: Plan, store: Store, study: StudyRecord, strategy: Strategy, workers: int
) -> bool:
    """Queue the trials that depend on results so far; False when the study is complete."""
    trials = store.trials(study.id)
    rows = plan.objective.next_trials(plan, store, study, trials)
    if not rows and strategy.adaptive:
        context = _context(plan, store, batch=workers, prepared=study.config.get("bracket"))
        rows = plan.trial_rows(_unique(strategy.propose(context, trials)))
    if rows:  # another worker may queue this round first: then run its trials
        store.add_trials(study.id, rows, after=max((t.number for t in trials), default=-1))
    return bool(rows)


def _expected_trials(
    plan: Plan, study: StudyRecord, trials: Sequence[TrialRecord], strategy: Strategy
) -> int:
    """The study's trials once complete, for progress bars (later rounds included)."""
    expected = len(trials) + plan.objective.pending_trials(plan, study, trials)
    if strategy.adaptive:
        searched = len({t.policy for t in trials} - plan.baseline_policies())
        affordable = _affordable_configurations(
            plan, _range_test_steps(plan, study.config.get("bracket"))
        )
        expected += max(0, affordable - searched) * plan.config.seeds
    return expected


def _executor(executor: str | RayOptions, workers: int) -> RayOptions | None:
    if executor == "ray":
        return RayOptions(max_concurrent=workers if workers > 1 else None)
    if isinstance(executor, RayOptions):
        return executor
    if executor != "local":
        raise ConfigError(f"`executor` must be local or ray, got {executor!r}")
    return None


def tune(
    config: StudyConfig,
    *,
    name: str | None = None,
    db: str | None = None,
    workers: int = 1,
    events: StudyEvents | None = None,
    executor: str | RayOptions = "local",
    study_file: str | None = None,
    trial_timeout: float | None = None,
) -> StudyResult:
    """Run (or resume) a study and return its leaderboard.

    Args:
        config: What to tune.
        name: The study's name in the store (default: derived from `config`).
        db: The store's URL (default: `$LRBENCH_DB`, else `sqlite:///lrbench.db`).
        workers: Local worker processes (the local executor); trials proposed per round.
        events: Progress hooks.
        executor: `local`, `ray` (a local Ray), or `RayOptions` (a cluster, resources).
        study_file: The text of the study file `config` came from, kept with a new study.
        trial_timeout: Seconds a trial may run; one past it is stopped and stored as failed
            (trials then run in worker processes, `workers=1` included).

    Any number of processes, on any machines, may run the same study against one database:
    they split its trials (each claimed before it runs, `lrbench.execution.claims`), and a
    trial whose worker died is run again by another.

    Raises:
        ConfigError: a bad option, an unknown task, a study name reused with another
            configuration, or a user task that never reports the metric.
        StorageError: the database is unreachable or has another schema version.
    """
    if trial_timeout is not None and not 0 < trial_timeout < math.inf:
        raise ConfigError(
            f"`--trial-timeout` must be a positive number of seconds, got {trial_timeout!r}"
        )
    heartbeat_seconds()  # a bad $LRBENCH_HEARTBEAT is refused before any work
    ray_options = _executor(executor, workers)
    if ray_options is not None:  # an unreachable cluster fails before any work
        from lrbench.execution.raytune import connect

        connect(ray_options.address)
    events = events or StudyEvents()
    task = load_task(config.task, config.params)
    plan = resolve(config, task)
    name = check_study_name(name or default_study_name(plan.config))
    strategy = _strategy(plan)
    store = Store(db)
    if store.engine.url.get_backend_name() == "sqlite" and store.sqlite_file is None:
        raise ConfigError(
            f"`--db` {store.display_url} is an in-memory database: the study would vanish "
            "when this command ends; give a file (sqlite:///lrbench.db) or a server"
        )
    if task.builtin is not None:  # bad settings are refused before anything is stored
        task.builtin.prepare(task.params)
    study = _open_study(store, name, plan, strategy, workers, study_file)
    trials = store.trials(study.id)
    expected = _expected_trials(plan, study, trials, strategy)
    events.started(study, expected, expected - sum(t.status.finished for t in trials))
    store.set_study_status(study.id, "running")
    worker = new_worker()
    standings = Standings(study, trials)
    records: dict[int, TrialRecord] = {}  # this round's trials by id

    def finished(job: TrialJob, outcome: TrialOutcome) -> None:
        if outcome.status is TrialStatus.complete and plan.metric not in outcome.metric_names:
            raise ConfigError(
                f"task {task.name} never reported metric {plan.metric!r} (it reported: "
                f"{', '.join(outcome.metric_names) or 'nothing'}); choose one with --metric"
            )
        standings.add_outcome(records[job.trial_id], outcome)
        events.trial_finished(outcome, standings)

    try:
        with Heartbeat(store, worker, study.id):
            while True:
                trials = store.trials(study.id)
                records = {t.id: t for t in trials}
                jobs = _jobs(plan, store, study, trials, worker)
                if not jobs:
                    if _next_round(plan, store, study, strategy, workers):
                        continue
                    break
                admission = _Admission(store, worker, _Spending(plan, study, trials))
                skipped = _run(
                    jobs, store, study, plan, ray_options, workers, finished, events,
                    admission, trial_timeout,
                )  # fmt: skip
                if skipped:
                    dropped = store.drop_queued_trials([job.trial_id for job in skipped])
                    events.trials_dropped(
                        dropped, f"--max-cost {plan.config.max_cost:g} full runs is spent"
                    )
                    break
                if not admission.admitted:  # every unfinished trial runs in another worker
                    events.waiting(len(jobs))
                    time.sleep(min(heartbeat_seconds(), 5.0))
    except BaseException:
        _leave(store, study, worker)
        raise
    store.set_study_status(study.id, "complete")
    return StudyResult.load(store, store.require_study(name))


def _leave(store: Store, study: StudyRecord, worker: str) -> None:
    """Give the worker's trials back and mark the study interrupted (unless other workers
    still run it), where the database lets it: a worker that stops because the database
    stayed away leaves that to the claims' grace period and its error stands."""
    store.stop_retrying()
    try:
        store.release_trials(worker)
        if not _runs_elsewhere(store, study):
            store.set_study_status(study.id, "interrupted")
    except StorageError as error:
        _log.warning("could not give the trials of %s back: %s", worker, error)


class _Admission:
    """Decides, before each trial starts, whether this worker runs it: the cost cap must
    pay for it and no live worker may hold it (`claims.admit`)."""

    def __init__(self, store: Store, worker: str, spending: _Spending) -> None:
        self.store, self.worker, self.spending = store, worker, spending
        self.admitted = 0

    def __call__(self, job: TrialJob) -> Admission:
        if not self.spending.may_start(job):
            return Admission.skip
        decision = self.claim(job)
        if decision is not Admission.run:
            self.spending.ended_without_running(job)
        return decision

    def claim(self, job: TrialJob) -> Admission:
        """Claim the job's trial, the cap aside (Ray keeps the cap by planning alone)."""
        decision = admit(self.store, job.trial_id, self.worker)
        self.admitted += decision is Admission.run
        return decision


def _runs_elsewhere(store: Store, study: StudyRecord) -> bool:
    """Whether another live worker still runs some of the study's trials."""
    return any(
        t.status is TrialStatus.running and not abandoned(t) for t in store.trials(study.id)
    )


def _run(
    jobs: Sequence[TrialJob],
    store: Store,
    study: StudyRecord,
    plan: Plan,
    ray_options: RayOptions | None,
    workers: int,
    finished: Callable[[TrialJob, TrialOutcome], None],
    events: StudyEvents,
    admission: _Admission,
    trial_timeout: float | None,
) -> list[TrialJob]:
    """Run the `jobs` this worker is admitted to, locally, or on Ray where `ray_options`
    are given; return the jobs the cost cap did not let start (on Ray the cap is kept by
    planning alone: none)."""
    by_id = {job.trial_id: job for job in jobs}

    def on_outcome(outcome: TrialOutcome) -> None:
        admission.spending.ended(outcome)
        finished(by_id[outcome.trial_id], outcome)

    if ray_options is None:
        return run_local(
            jobs,
            workers=workers,
            store=store,
            on_outcome=on_outcome,
            on_start=events.trial_started,
            on_progress=events.progress,
            admit=admission,
            trial_timeout=trial_timeout,
        )
    from lrbench.execution.raytune import run_ray

    claimed = [job for job in jobs if admission.claim(job) is Admission.run]
    if claimed:
        run_ray(
            claimed,
            options=ray_options,
            store=store,
            run_name=study.name,
            total_steps=plan.total_steps,
            on_outcome=on_outcome,
        )
    return []
