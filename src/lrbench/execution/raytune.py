"""The Ray executor: each stored trial runs as a Ray Tune trial, on this machine or a cluster.

    tune(config, executor=RayOptions(address="auto", cpus_per_trial=2, gpus_per_trial=1))

Workers run the same `run_trial` as the local executor and write to the same store, so a study
gives the same leaderboard whichever executor ran it, and resumes from the store under either:
running the study again runs its unfinished trials. Ray's `FailureConfig` retries a trial whose
worker died (a lost node, an out-of-memory kill); an exception in the task itself is recorded as
a failed trial, as locally. Successive halving (`--objective cost`) uses Ray's `ASHAScheduler`.

With workers on several machines the store must be a database server (PostgreSQL): a SQLite
file lives on one machine's disk, and the study refuses to start on a multi-node cluster with one.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from lrbench.exceptions import ConfigError, MissingDependencyError, TrialPruned
from lrbench.execution._jobs import TrialJob, TrialOutcome
from lrbench.execution.local import outcome_of, run_trial
from lrbench.store import Store, TrialRecord, TrialStatus

__all__ = ["RayOptions", "connect", "run_ray"]

_CONNECT_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class RayOptions:
    """How to run a study's trials on Ray.

    Attributes:
        address: A cluster to join (`auto`, `HOST:PORT` or `ray://HOST:PORT`); None starts a
            local Ray on this machine.
        cpus_per_trial, gpus_per_trial: Resources reserved for each trial.
        max_concurrent: Trials running at once (None: as many as the resources allow).
        max_failures: Retries of a trial whose worker died.
    """

    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_concurrent: int | None = None
    max_failures: int = 2


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("ray", "ray") from None
    return ray


def _check_reachable(address: str) -> None:
    """Fail fast and in one line where Ray itself would retry for minutes."""
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ConfigError(
            f"`--ray-address` must be auto, HOST:PORT or ray://HOST:PORT, got {address!r}"
        )
    try:
        socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ConfigError(
            f"cannot reach the Ray cluster at {address!r} ({reason}): start it with "
            "`ray start --head`, or leave out --ray-address to run a local Ray"
        ) from None


def connect(address: str | None = None) -> None:
    """Join the cluster at `address` (or start a local Ray) unless Ray is already running here."""
    ray = _import_ray()
    if ray.is_initialized():
        return
    if address not in (None, "auto"):
        _check_reachable(address)
    try:
        ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    except (ConnectionError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"cannot join the Ray cluster at {address!r}: {reason}") from None


def check_store_for_cluster(store: Store, nodes: int) -> None:
    """Refuse a SQLite store when trials may run on more than one machine."""
    if nodes > 1 and store.engine.url.get_backend_name() == "sqlite":
        raise ConfigError(
            f"the Ray cluster has {nodes} machines but the store is a SQLite file "
            f"({store.display_url}) that only this machine can write: use PostgreSQL "
            "(--db postgresql://USER@HOST/DB) for a study on a cluster"
        )


def _absolute_sqlite(store: Store) -> str:
    """Ray runs trials in their own directories: a relative SQLite path must not move."""
    if store.sqlite_file is None:
        return store.url
    database = str(store.sqlite_file.resolve())
    return store.engine.url.set(database=database).render_as_string(hide_password=False)


def _train_one(config: dict[str, Any], jobs: Sequence[TrialJob], halving: bool) -> None:
    """The Ray Tune trainable: run one stored trial, passing reports of the metric to Tune."""
    from ray import tune

    job = jobs[config["index"]]
    stopped = False

    def to_tune(step: int, metrics: Any) -> None:
        nonlocal stopped
        if job.metric not in metrics:  # Tune's schedulers need the metric in every result
            return
        try:
            tune.report({"step": step, **metrics})
        except SystemExit:  # how Tune stops a trial its scheduler dropped
            stopped = True
            raise TrialPruned(f"trial {job.number} stopped by Ray Tune's scheduler") from None

    run_trial(
        job, on_report=to_tune, pruned_by_caller=halving
    )  # records the pruned trial with its true cost
    if stopped:
        sys.exit(0)  # and ends the thread the way Tune expects of a stopped trial


def _callback(
    store: Store, jobs: Sequence[TrialJob], on_outcome: Callable[[TrialOutcome], None]
) -> Any:
    from ray import tune

    class Outcomes(tune.Callback):
        """Passes each ended trial's stored outcome to the study, in the driver process."""

        def __init__(
            self,
            store: Store,
            jobs: Sequence[TrialJob],
            on_outcome: Callable[[TrialOutcome], None],
        ) -> None:
            self.store, self.jobs, self.on_outcome = store, jobs, on_outcome

        def __getstate__(self) -> dict[str, Any]:
            # Tune pickles its state (callbacks included) for `Tuner.restore`; we resume from
            # the store instead, and the store's engine cannot be pickled.
            return {}

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._ended(trial, failed=False)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._ended(trial, failed=True)

        def _ended(self, trial: Any, *, failed: bool) -> None:
            job = self.jobs[trial.config["index"]]
            record = _recorded_end(self.store, job, trial, failed=failed)
            if record is not None:
                self.on_outcome(outcome_of(job, record))

    return Outcomes(store, jobs, on_outcome)


def _recorded_end(store: Store, job: TrialJob, trial: Any, *, failed: bool) -> TrialRecord | None:
    """The trial as stored, its end recorded here if its worker could not record it: the
    scheduler stopped it at a rung, or its worker died more often than `FailureConfig` retries."""
    record = store.trial(job.trial_id)
    if record is None or record.status.finished:
        return record
    last = trial.last_result or {}
    store.finish_trial(
        job.trial_id,
        TrialStatus.failed if failed else TrialStatus.pruned,
        metrics={},
        cost_steps=int(last.get("step", 0)),
        cost_seconds=float(last.get("time_total_s", 0.0)),
        error=f"the Ray worker failed: {trial.error_file}" if failed else None,
    )
    return store.trial(job.trial_id)


def run_ray(
    jobs: Sequence[TrialJob],
    *,
    options: RayOptions,
    store: Store,
    run_name: str,
    total_steps: int,
    on_outcome: Callable[[TrialOutcome], None],
) -> None:
    """Run `jobs` as Ray Tune trials; `on_outcome` is called in this process as each ends.

    Jobs whose stop rule carries successive-halving settings run under Ray's
    `ASHAScheduler` instead of Optuna's pruner. Tune writes its own progress to stdout; the
    CLI sends it to stderr.

    Raises:
        ConfigError: the cluster is unreachable, or has several machines and the store is
            a SQLite file.
    """
    if not jobs:
        return
    ray = _import_ray()
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    connect(options.address)
    check_store_for_cluster(store, len([n for n in ray.nodes() if n.get("Alive")]))
    url = _absolute_sqlite(store)
    stop = jobs[0].stop
    halving = stop.halving if stop is not None else None
    # Ray's ASHAScheduler does the halving; the trials keep only the stop at the target.
    local_stop = None if stop is None else dataclasses.replace(stop, halving=None)
    jobs = [dataclasses.replace(job, db_url=url, stop=local_stop) for job in jobs]
    scheduler = (
        ASHAScheduler(
            time_attr="step",
            # one past the budget: ASHA stops a trial at max_t, before it could record its end
            max_t=total_steps + 1,
            grace_period=halving.min_resource,
            reduction_factor=halving.rate,
        )
        if halving is not None
        else FIFOScheduler()
    )
    trainable = tune.with_resources(
        tune.with_parameters(_train_one, jobs=jobs, halving=halving is not None),
        {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial},
    )
    tuner = tune.Tuner(
        trainable,
        param_space={"index": tune.grid_search(list(range(len(jobs))))},
        tune_config=tune.TuneConfig(
            metric=jobs[0].metric,
            mode=jobs[0].direction.value,
            scheduler=scheduler,
            max_concurrent_trials=options.max_concurrent,
            reuse_actors=True,  # a new actor per trial would import torch again each time
        ),
        run_config=tune.RunConfig(
            name=f"{run_name}-{int(time.time())}",
            storage_path=str((store.artifact_dir(run_name) / "ray").resolve()),
            failure_config=tune.FailureConfig(max_failures=options.max_failures),
            callbacks=[_callback(store, jobs, on_outcome)],
            verbose=0,
        ),
    )
    tuner.fit()  # Tune prints to stdout: a caller that needs stdout clean redirects it
