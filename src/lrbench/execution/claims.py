"""Workers and their claims: who runs a trial, whether that worker is still alive.

Any number of `lrbench tune` processes, on any machines, may run one study against one
database: each is a worker with its own name (host, pid and a random tag). A worker claims
each trial before running it (`Store.claim_trial`, atomic), and its heartbeat thread marks
its claims alive every `heartbeat_seconds()`. A claim whose heartbeat is older than
`MISSED_BEATS` beats, or whose worker is a process of this machine that no longer exists, is
given up: the next worker to reach the trial runs it again, up to `MAX_ATTEMPTS` starts,
after which the trial is stored as failed (it keeps killing its workers).

`$LRBENCH_HEARTBEAT` sets the beat in seconds (default 10): shorter takes a dead worker's
trials over sooner, at one small UPDATE per beat per worker.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import secrets
import socket
import threading
from types import TracebackType

from lrbench._env import seconds_from_env
from lrbench.exceptions import StorageError
from lrbench.store import Store, StudyRecord, TrialRecord, TrialStatus

__all__ = [
    "MAX_ATTEMPTS",
    "MISSED_BEATS",
    "Admission",
    "Heartbeat",
    "abandoned",
    "admit",
    "give_back",
    "grace_seconds",
    "heartbeat_seconds",
    "new_worker",
    "study_status",
]

_log = logging.getLogger(__name__)

#: Beats a worker may miss before its claims are given up.
MISSED_BEATS = 6
#: Starts of one trial before it is stored as failed instead of started again.
MAX_ATTEMPTS = 3
_DEFAULT_HEARTBEAT = 10.0


def heartbeat_seconds() -> float:
    """Seconds between a worker's beats: `$LRBENCH_HEARTBEAT`, else 10.

    Raises:
        ConfigError: the variable is not a positive number.
    """
    return seconds_from_env("LRBENCH_HEARTBEAT", _DEFAULT_HEARTBEAT)


def grace_seconds() -> float:
    """How long a claim lives without a beat."""
    return MISSED_BEATS * heartbeat_seconds()


def new_worker() -> str:
    """A name for this process as a worker: `host:pid:tag`, unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def _dead_here(worker: str) -> bool:
    """Whether `worker` is a process of this machine that no longer runs."""
    host, _, rest = worker.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it runs, as another user
        return False
    return False


def abandoned(trial: TrialRecord, now: dt.datetime | None = None) -> bool:
    """Whether a running trial's claim is given up: no claim (stored before claims, or by
    a trial run on its own), a heartbeat older than the grace period, or a dead local worker."""
    if trial.status is not TrialStatus.running:
        return False
    if trial.worker is None or trial.heartbeat_at is None:
        return True
    return _silent_since(trial.heartbeat_at, now) or _dead_here(trial.worker)


def study_status(study: StudyRecord, now: dt.datetime | None = None) -> str:
    """The study's status as it stands: `running` only while a worker beats for it; one
    whose workers all stopped without a word (killed) is `interrupted`."""
    if study.status == "running" and _silent_since(study.updated_at, now):
        return "interrupted"
    return study.status


def _silent_since(beat: dt.datetime, now: dt.datetime | None) -> bool:
    """Whether no beat came for longer than the grace period after `beat`."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return (now - beat).total_seconds() > grace_seconds()


class Admission(enum.Enum):
    """What a worker may do with a trial it reached: run it, leave it to the worker that
    holds it, or skip it (a cost cap does not pay for it)."""

    run = "run"
    taken = "taken"
    skip = "skip"


def admit(store: Store, trial_id: int, worker: str) -> Admission:
    """Claim the trial for `worker` if no live worker holds it (an `Admission`). A trial
    abandoned `MAX_ATTEMPTS` times is stored as failed instead."""
    trial = store.trial(trial_id)
    if trial is None or trial.status.finished:
        return Admission.taken
    if trial.status is TrialStatus.running and (
        not abandoned(trial) or _retired(store, trial, "its worker stopped (killed or lost)")
    ):
        return Admission.taken
    return Admission.run if store.claim_trial(trial, worker) else Admission.taken


def give_back(store: Store, trial_id: int, worker: str | None, why: str) -> None:
    """Queue a trial whose run ended without a result (`why`) for another attempt, or store
    it as failed once it has had `MAX_ATTEMPTS`."""
    trial = store.trial(trial_id)
    if trial is None or trial.status is not TrialStatus.running or trial.worker != worker:
        return
    _log.warning("trial %d: %s", trial.number, why)
    if not _retired(store, trial, why) and worker is not None:
        store.release_trials(worker, trial_id=trial.id)


def _retired(store: Store, trial: TrialRecord, why: str) -> bool:
    """Store a trial that has had `MAX_ATTEMPTS` starts as failed, saying `why` each ended;
    whether it had."""
    if trial.attempt < MAX_ATTEMPTS:
        return False
    store.abandon_trial(trial.id, trial.attempt, f"{why} in each of its {trial.attempt} attempts")
    return True


class Heartbeat:
    """A thread that beats for `worker`'s claims (and its study) until the block ends.

    Args:
        store: The study's store (the thread opens its own connections).
        worker: The worker's name.
        study_id: The study the worker runs.
    """

    def __init__(self, store: Store, worker: str, study_id: int) -> None:
        self.store, self.worker, self.study_id = store, worker, study_id
        self.interval = heartbeat_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lrbench-heartbeat", daemon=True)

    def _run(self) -> None:
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.store.beat(self.worker, self.study_id)
            except StorageError as error:  # keep beating: the database may come back
                if not failing:  # once per outage: the store says when it is back
                    _log.warning("heartbeat of %s failed: %s", self.worker, error)
                failing = True
            else:
                failing = False

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
