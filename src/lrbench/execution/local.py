"""The local executor: trials in this process, or in a pool of worker processes.

Every worker opens its own connection to the study's database and writes its trial's points as
they are reported, under the study worker's claim on the trial (`claims`), so a crash or a
killed worker loses nothing that was reported and a trial taken over writes nothing twice; a
trial whose worker process died is queued again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

from optuna.trial import TrialState

from lrbench._files import checkpoint_path, load_checkpoint, save_checkpoint
from lrbench.evaluate import CURVE_PREFIXES, reached, summarize_curve
from lrbench.exceptions import ClaimLost, ConfigError, StorageError, TargetReached
from lrbench.execution._jobs import StopRule, TrialJob, TrialOutcome, status_of
from lrbench.execution._pool import Finished, WorkerPool
from lrbench.execution.claims import Admission, give_back
from lrbench.execution.halving import RungTracker
from lrbench.store import Store, TrialRecord, TrialStatus
from lrbench.tasks import ResolvedTask, load_task
from lrbench.trial import Trial

__all__ = [
    "StopRule",
    "TrialJob",
    "TrialOutcome",
    "outcome_of",
    "run_local",
    "run_trial",
]


class _Exited(Exception):
    """A task that raised SystemExit: stored as a failed trial with this message."""


@lru_cache(maxsize=1)
def _store(url: str) -> Store:
    """The worker process's store, kept across its trials: one set of connections, and a
    database that goes away between two trials is waited for like one that goes mid-trial."""
    return Store(url)


@cache
def _task(ref: str, params_key: str) -> ResolvedTask:
    return load_task(ref, json.loads(params_key))


def _derived(trial: Trial, job: TrialJob) -> dict[str, float]:
    points = trial.history.get(job.metric, [])
    if not points:
        return {}
    summary = summarize_curve(
        [s for s, _ in points], [v for _, v in points], mode=job.direction, target=job.target
    )
    best, auc = (prefix + job.metric for prefix in CURVE_PREFIXES)
    derived = {best: summary.best, auc: summary.auc}
    if summary.steps_to_target is not None:
        derived["steps_to_target"] = float(summary.steps_to_target)
    return {k: v for k, v in derived.items() if math.isfinite(v)}


def _checkpoint_writer(job: TrialJob) -> Callable[[int, Any], None] | None:
    if job.checkpoint_dir is None:
        return None
    directory = job.checkpoint_dir

    def write(step: int, state: Any) -> None:
        save_checkpoint(checkpoint_path(directory, job.trial_id, step), state)

    return write


def _reporter(
    store: Store, job: TrialJob, on_report: Callable[[int, Mapping[str, float]], None] | None
) -> Callable[[int, Mapping[str, float]], None]:
    def report(step: int, metrics: Mapping[str, float]) -> None:
        store.add_points(job.trial_id, step, metrics, worker=job.worker)
        if on_report is not None:
            on_report(step, metrics)

    return report


def _stopping_rule(
    job: TrialJob, rungs: RungTracker | None
) -> Callable[[int, Mapping[str, float]], bool] | None:
    """What `trial.report()` asks after each report: stop at the target, or prune at a rung."""
    at_target = job.stop is not None and job.stop.at_target and job.target is not None
    if rungs is None and not at_target:
        return None

    def should_stop(step: int, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(job.metric)
        if value is None:
            return False
        if at_target and job.target is not None and reached(value, job.target, job.direction):
            raise TargetReached(
                f"trial {job.number} reached {job.metric}={value:.4g} at step {step}"
            )
        return rungs is not None and rungs.should_prune(step, value)

    return should_stop


_OPTUNA_STATE = {
    TrialStatus.complete: TrialState.COMPLETE,
    TrialStatus.pruned: TrialState.PRUNED,
    TrialStatus.diverged: TrialState.FAIL,
    TrialStatus.failed: TrialState.FAIL,
}


def _final_metrics(trial: Trial, job: TrialJob, returned: dict[str, float]) -> dict[str, float]:
    """The returned metrics, the last reported value where the task returned none, and the
    curve summaries (best, area, steps to the target)."""
    metrics = dict(returned)
    if job.metric not in metrics and job.metric in trial.history:
        metrics[job.metric] = trial.last_reported(job.metric)
    return {**_derived(trial, job), **metrics}


def run_trial(
    job: TrialJob,
    *,
    store: Store | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_report: Callable[[int, Mapping[str, float]], None] | None = None,
    pruned_by_caller: bool = False,
) -> TrialOutcome:
    """Run one stored trial to its end and record it; exceptions of the task are recorded.

    `on_report` sees each report after it is stored (the Ray executor passes it on to Tune);
    `pruned_by_caller` says that the caller may stop the trial on the study metric (Ray's
    scheduler), as successive halving in the job's stop rule does here.
    `KeyboardInterrupt` is not caught: the trial stays `running` and is re-run on resume.

    Raises:
        ClaimLost: another worker took the trial over; nothing more of this run was stored.
    """
    store = store or _store(job.db_url)
    resolved = _task(job.task_ref, json.dumps(job.params, sort_keys=True))
    store.start_trial(job.trial_id, worker=job.worker)
    halving = job.stop.halving if job.stop is not None else None
    rungs = None if halving is None else RungTracker(halving, job.trial_id, job.total_steps)
    trial = Trial(
        start_step=job.start_step,
        checkpoint=None if job.resume_from is None else load_checkpoint(job.resume_from),
        checkpoint_steps=job.checkpoint_steps,
        on_checkpoint=_checkpoint_writer(job),
        policy=job.policy,
        total_steps=job.total_steps,
        seed=job.seed,
        params=resolved.params,
        number=job.number,
        reporter=_reporter(store, job, on_report),
        on_progress=on_progress,
        should_prune=_stopping_rule(job, rungs),
        pruned_on=job.metric if rungs is not None or pruned_by_caller else None,
    )
    metrics: dict[str, float] = {}
    ended: Exception | None = None
    try:
        returned = trial.final_metrics(resolved.function(trial))
    except StorageError:  # the database stayed away: the trial runs again on resume
        raise
    except SystemExit as error:  # sys.exit() in a task ends its trial, not the study
        exited = _Exited(f"the task called sys.exit({error.code!r})")
        returned, ended = {}, exited.with_traceback(error.__traceback__)
    except Exception as error:
        returned, ended = {}, error
    status, error_text = status_of(ended)
    try:
        metrics = (
            _final_metrics(trial, job, returned)
            if status is TrialStatus.complete
            else (_derived(trial, job))
        )
    except Exception as error:  # a summary that cannot be computed must not lose the trial
        status, error_text = status_of(error)
    if rungs is not None:
        rungs.finish(_OPTUNA_STATE[status], metrics.get(job.metric))
    cost = trial.cost()
    store.finish_trial(
        job.trial_id,
        status,
        metrics=metrics,
        cost_steps=int(cost["steps"]),
        cost_seconds=cost["seconds"],
        cost_samples=int(cost["samples"]),
        cost_tokens=int(cost["tokens"]),
        error=error_text,
        worker=job.worker,
    )
    return TrialOutcome(
        trial_id=job.trial_id,
        number=job.number,
        policy=job.policy,
        status=status,
        value=metrics.get(job.metric, math.nan),
        cost_steps=int(cost["steps"]),
        cost_seconds=cost["seconds"],
        error=error_text,
        metric_names=tuple(sorted(set(metrics) | set(trial.history))),
    )


def outcome_of(job: TrialJob, record: TrialRecord) -> TrialOutcome:
    """The outcome of a trial as the store recorded it (for executors that run it elsewhere)."""
    return TrialOutcome(
        trial_id=record.id,
        number=record.number,
        policy=record.policy,
        status=record.status,
        value=record.metrics.get(job.metric, math.nan),
        cost_steps=record.cost_steps,
        cost_seconds=record.cost_seconds,
        error=record.error,
        metric_names=tuple(sorted(record.metrics)),
    )


def _stop_past_limit(store: Store, job: TrialJob, limit: float) -> TrialOutcome:
    """Store a trial whose worker was killed at its time limit as failed; its outcome."""
    steps = max((step for step, _, _ in store.points(job.trial_id)), default=job.start_step)
    error = f"ran past --trial-timeout {limit:g} s; its worker was stopped"
    cost = max(0, steps - job.start_step)
    store.finish_trial(
        job.trial_id, TrialStatus.failed, metrics={}, cost_steps=cost, cost_seconds=limit,
        error=error, worker=job.worker,
    )  # fmt: skip
    return TrialOutcome(
        trial_id=job.trial_id, number=job.number, policy=job.policy, status=TrialStatus.failed,
        value=math.nan, cost_steps=cost, cost_seconds=limit, error=error, metric_names=(),
    )  # fmt: skip


def run_local(
    jobs: Sequence[TrialJob],
    *,
    workers: int = 1,
    store: Store | None = None,
    on_outcome: Callable[[TrialOutcome], None],
    on_start: Callable[[TrialJob], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    admit: Callable[[TrialJob], Admission] | None = None,
    trial_timeout: float | None = None,
) -> list[TrialJob]:
    """Run `jobs` in this process (`workers=1`, no time limit) or in `workers` processes,
    in order.

    `on_outcome` is called in this process as each trial ends; an exception it raises stops
    the run (running trials are stopped and stay `running` under this worker's claim).
    `on_start` and `on_progress` are called for in-process trials only. `admit` is asked
    before each job starts: run it, leave it (another worker holds it), or skip it (a cost
    cap): a skipped job waits while other trials run (they may leave room) and is returned
    once none does. A trial whose worker process died is given back to the queue
    (`claims.give_back`); one that runs past `trial_timeout` seconds is stopped and stored
    as failed. A trial another worker took over (`ClaimLost`) is left to it.
    """
    if workers < 1:
        raise ConfigError(f"`workers` must be >= 1, got {workers}")
    admitted = admit or (lambda job: Admission.run)
    store = store or (_store(jobs[0].db_url) if jobs else None)
    skipped: list[TrialJob] = []
    if workers == 1 and trial_timeout is None:
        for job in jobs:
            decision = admitted(job)
            if decision is Admission.skip:
                skipped.append(job)
            if decision is not Admission.run:
                continue
            if on_start is not None:
                on_start(job)
            try:
                outcome = run_trial(job, store=store, on_progress=on_progress)
            except ClaimLost:  # another worker took it over: its result is that worker's
                continue
            on_outcome(outcome)
        return skipped
    assert store is not None
    waiting = list(jobs)
    pool = WorkerPool(workers, run_trial, timeout=trial_timeout)
    try:
        while waiting or pool.busy:
            while waiting and pool.idle:
                decision = admitted(waiting[0])
                if decision is Admission.skip and pool.busy:
                    break  # running trials may end early and leave room
                job = waiting.pop(0)
                if decision is Admission.skip:
                    skipped.append(job)
                elif decision is Admission.run:
                    pool.submit(job)
            for finished in pool.next_finished():
                _settle(store, finished, on_outcome, trial_timeout)
    finally:
        pool.close()
    return skipped


def _settle(
    store: Store,
    finished: Finished,
    on_outcome: Callable[[TrialOutcome], None],
    trial_timeout: float | None,
) -> None:
    """Pass on how a job left its worker: its outcome, or its trial given back or failed."""
    job: TrialJob = finished.job
    if finished.died:
        give_back(store, job.trial_id, job.worker, "its worker process died")
    elif finished.timed_out:
        assert trial_timeout is not None
        on_outcome(_stop_past_limit(store, job, trial_timeout))
    elif isinstance(finished.error, ClaimLost):
        return
    elif finished.error is not None:
        raise finished.error
    else:
        on_outcome(finished.result)
