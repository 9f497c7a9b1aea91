"""The local executor: trials in this process, or in a pool of worker processes.

Every worker opens its own connection to the study's database and writes its trial's points as
they are reported, so a crash or a killed worker loses nothing that was reported; the trial it
was running stays `running` and is run again when the study resumes.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from typing import Any

from optuna.trial import TrialState

from lrbench._files import checkpoint_path, load_checkpoint, save_checkpoint
from lrbench.evaluate import CURVE_PREFIXES, reached, summarize_curve
from lrbench.exceptions import ConfigError, LRBenchError, TargetReached
from lrbench.execution._jobs import StopRule, TrialJob, TrialOutcome, status_of
from lrbench.execution.halving import RungTracker
from lrbench.store import Store, TrialRecord, TrialStatus
from lrbench.tasks import ResolvedTask, load_task
from lrbench.trial import Trial

__all__ = [
    "StopRule",
    "TrialJob",
    "TrialOutcome",
    "WorkerDied",
    "outcome_of",
    "run_local",
    "run_trial",
]


class WorkerDied(LRBenchError):
    """A worker process died (killed or crashed); its trial is re-run when the study resumes."""


@cache
def _store(url: str) -> Store:
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
    store: Store, trial_id: int, on_report: Callable[[int, Mapping[str, float]], None] | None
) -> Callable[[int, Mapping[str, float]], None]:
    def report(step: int, metrics: Mapping[str, float]) -> None:
        store.add_points(trial_id, step, metrics)
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
    """
    store = store or _store(job.db_url)
    resolved = _task(job.task_ref, json.dumps(job.params, sort_keys=True))
    store.start_trial(job.trial_id)
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
        reporter=_reporter(store, job.trial_id, on_report),
        on_progress=on_progress,
        should_prune=_stopping_rule(job, rungs),
        pruned_on=job.metric if rungs is not None or pruned_by_caller else None,
    )
    metrics: dict[str, float] = {}
    ended: Exception | None = None
    try:
        returned = trial.final_metrics(resolved.function(trial))
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


def _quieting() -> tuple[dict[str, int], list[Any]]:
    """The logger levels and warning filters the calling application set, which a worker
    process would not inherit (it forks from a server started before they were set)."""
    levels = {
        name: logger.level
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET
    }
    # A filter on a warning class defined in a script could not be unpickled in the worker.
    filters = [f for f in warnings.filters if getattr(f[2], "__module__", "") != "__main__"]
    return levels, filters


def _init_worker(threads: int, logger_levels: dict[str, int], warning_filters: list[Any]) -> None:
    import torch

    torch.set_num_threads(threads)
    for name, level in logger_levels.items():
        logging.getLogger(name).setLevel(level)
    for action, message, category, module, line in reversed(warning_filters):
        warnings.filterwarnings(action, _pattern(message), category, _pattern(module), line)


def _pattern(part: re.Pattern[str] | str | None) -> str:
    """A warning filter's message or module as `filterwarnings` takes it (the filter list
    holds compiled patterns, plain strings or None)."""
    if isinstance(part, re.Pattern):
        return part.pattern
    return part or ""


def _worker_context() -> Any:
    """Workers fork from a server that has imported torch once (fast start, no inherited
    threads); where there is no forkserver (Windows, macOS spawn-only setups), they spawn."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "lrbench.execution.local", "lrbench.tasks"])
    return context


def run_local(
    jobs: Sequence[TrialJob],
    *,
    workers: int = 1,
    store: Store | None = None,
    on_outcome: Callable[[TrialOutcome], None],
    on_start: Callable[[TrialJob], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    may_start: Callable[[TrialJob], bool] | None = None,
) -> list[TrialJob]:
    """Run `jobs` in this process (`workers=1`) or in `workers` processes, in order.

    `on_outcome` is called in this process as each trial ends; an exception it raises stops
    the run (queued trials are cancelled, running ones finish or stay `running`).
    `on_start` and `on_progress` are called for in-process trials only. `may_start` is asked
    before each job starts (a cost cap): a job it refuses waits while other trials run (they
    may leave room) and is skipped once none does. Returns the jobs skipped.

    Raises:
        WorkerDied: a worker process was killed; run the same command to resume.
    """
    if workers < 1:
        raise ConfigError(f"`workers` must be >= 1, got {workers}")
    allowed = may_start or (lambda job: True)
    skipped: list[TrialJob] = []
    if workers == 1:
        for job in jobs:
            if not allowed(job):
                skipped.append(job)
                continue
            if on_start is not None:
                on_start(job)
            on_outcome(run_trial(job, store=store, on_progress=on_progress))
        return skipped
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = _worker_context()
    waiting = list(jobs)
    with ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_init_worker,
        initargs=(threads, *_quieting()),
    ) as pool:
        pending: set[Future[TrialOutcome]] = set()

        def submit_while_room() -> None:
            while waiting and len(pending) < workers:
                if not allowed(waiting[0]):
                    if pending:  # running trials may end early and leave room
                        return
                    skipped.append(waiting.pop(0))
                    continue
                pending.add(pool.submit(run_trial, waiting.pop(0)))

        try:
            submit_while_room()
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_outcome(future.result())
                submit_while_room()
        except BrokenProcessPool:
            raise WorkerDied(
                "a worker process died; the trials it ran stay unfinished and run again when "
                "you run the same command"
            ) from None
        finally:
            for future in pending:
                future.cancel()
    return skipped
