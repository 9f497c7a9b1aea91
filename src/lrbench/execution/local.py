"""The local executor: trials in this process, or in a pool of worker processes.

Every worker opens its own connection to the study's database and writes its trial's points as
they are reported, so a crash or a killed worker loses nothing that was reported; the trial it
was running stays `running` and is run again when the study resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from typing import Any

from optuna.trial import TrialState

from lrbench.evaluate import reached, summarize_curve
from lrbench.exceptions import ConfigError, Diverged, LRBenchError, TargetReached, TrialPruned
from lrbench.search.compose import checkpoint_path
from lrbench.search.halving import HalvingSpec, RungTracker
from lrbench.store import Store, TrialRecord, TrialStatus
from lrbench.tasks import TaskSpec, load_task
from lrbench.trial import Trial

__all__ = [
    "TrialJob",
    "TrialOutcome",
    "WorkerDied",
    "outcome_of",
    "run_local",
    "run_trial",
]


class WorkerDied(LRBenchError):
    """A worker process died (killed or crashed); its trial is re-run when the study resumes."""


@dataclasses.dataclass(frozen=True)
class TrialJob:
    """Everything a worker needs to run one stored trial (picklable)."""

    trial_id: int
    number: int
    policy: str
    seed: int
    total_steps: int
    task_ref: str
    params: dict[str, Any]
    db_url: str
    metric: str
    mode: str
    target: float | None = None
    halving: HalvingSpec | None = None
    stop_at_target: bool = False
    start_step: int = 0
    resume_from: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_steps: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended: status, objective value (NaN if none), cost, error, metric names."""

    trial_id: int
    number: int
    policy: str
    status: TrialStatus
    value: float
    cost_steps: int
    cost_seconds: float
    error: str | None
    metric_names: tuple[str, ...]


@cache
def _store(url: str) -> Store:
    return Store(url)


@cache
def _task(ref: str, params_key: str) -> TaskSpec:
    return load_task(ref, json.loads(params_key))


def _derived(trial: Trial, job: TrialJob) -> dict[str, float]:
    points = trial.history.get(job.metric, [])
    if not points:
        return {}
    summary = summarize_curve(
        [s for s, _ in points], [v for _, v in points], mode=job.mode, target=job.target
    )
    derived = {f"best_{job.metric}": summary.best, f"auc_{job.metric}": summary.auc}
    if summary.steps_to_target is not None:
        derived["steps_to_target"] = float(summary.steps_to_target)
    return {k: v for k, v in derived.items() if math.isfinite(v)}


def _checkpoint_writer(job: TrialJob) -> Callable[[int, Any], None] | None:
    if job.checkpoint_dir is None:
        return None
    directory = job.checkpoint_dir

    def write(step: int, state: Any) -> None:
        import torch

        path = checkpoint_path(directory, job.trial_id, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(state, partial)
        partial.replace(path)  # atomic: a forked trial never reads half a file

    return write


def _load_checkpoint(path: str | None) -> Any:
    if path is None:
        return None
    import torch

    return torch.load(path, weights_only=True)


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
    if rungs is None and not job.stop_at_target:
        return None

    def should_stop(step: int, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(job.metric)
        if value is None:
            return False
        if job.stop_at_target and job.target is not None and reached(value, job.target, job.mode):
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


def run_trial(
    job: TrialJob,
    *,
    store: Store | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_report: Callable[[int, Mapping[str, float]], None] | None = None,
) -> TrialOutcome:
    """Run one stored trial to its end and record it; exceptions of the task are recorded.

    `on_report` sees each report after it is stored (the Ray executor passes it on to Tune).
    `KeyboardInterrupt` is not caught: the trial stays `running` and is re-run on resume.
    """
    store = store or _store(job.db_url)
    spec = _task(job.task_ref, json.dumps(job.params, sort_keys=True))
    store.start_trial(job.trial_id)
    rungs = RungTracker(job.halving, job.trial_id) if job.halving else None
    trial = Trial(
        start_step=job.start_step,
        checkpoint=_load_checkpoint(job.resume_from),
        checkpoint_steps=job.checkpoint_steps,
        on_checkpoint=_checkpoint_writer(job),
        policy=job.policy,
        total_steps=job.total_steps,
        seed=job.seed,
        params=spec.params,
        number=job.number,
        reporter=_reporter(store, job.trial_id, on_report),
        on_progress=on_progress,
        should_prune=_stopping_rule(job, rungs),
    )
    error = None
    metrics: dict[str, float] = {}
    try:
        metrics = trial.final_metrics(spec.function(trial))
        status = TrialStatus.complete
    except Diverged as diverged:
        status, error = TrialStatus.diverged, str(diverged)
    except TargetReached:
        status = TrialStatus.complete
    except TrialPruned as pruned:
        status, error = TrialStatus.pruned, str(pruned)
    except Exception:
        status, error = TrialStatus.failed, traceback.format_exc()
    if (
        status is TrialStatus.complete
        and job.metric not in metrics
        and job.metric in trial.history
    ):
        metrics[job.metric] = trial.last_reported(job.metric)
    metrics = {**_derived(trial, job), **metrics}
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
        error=error,
    )
    return TrialOutcome(
        job.trial_id,
        job.number,
        job.policy,
        status,
        metrics.get(job.metric, math.nan),
        int(cost["steps"]),
        cost["seconds"],
        error,
        tuple(sorted(set(metrics) | set(trial.history))),
    )


def outcome_of(job: TrialJob, record: TrialRecord) -> TrialOutcome:
    """The outcome of a trial as the store recorded it (for executors that run it elsewhere)."""
    return TrialOutcome(
        record.id,
        record.number,
        record.policy,
        record.status,
        record.metrics.get(job.metric, math.nan),
        record.cost_steps,
        record.cost_seconds,
        record.error,
        tuple(sorted(record.metrics)),
    )


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


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
) -> None:
    """Run `jobs` in this process (`workers=1`) or in `workers` processes.

    `on_outcome` is called in this process as each trial ends; an exception it raises stops
    the run (queued trials are cancelled, running ones finish or stay `running`).
    `on_start` and `on_progress` are called for in-process trials only.

    Raises:
        WorkerDied: a worker process was killed; run the study again to resume.
    """
    if workers < 1:
        raise ConfigError(f"`--workers` must be >= 1, got {workers}")
    if workers == 1:
        for job in jobs:
            if on_start is not None:
                on_start(job)
            on_outcome(run_trial(job, store=store, on_progress=on_progress))
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = _worker_context()
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
    ) as pool:
        pending: set[Future[TrialOutcome]] = {pool.submit(run_trial, job) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_outcome(future.result())
        except BrokenProcessPool:
            raise WorkerDied(
                "a worker process died; the trials it ran stay unfinished and run again when "
                "you run the same command"
            ) from None
        finally:
            for future in pending:
                future.cancel()
