"""Claims on trials: how workers on any number of machines split one study's trials.

A worker claims a trial before it runs it, with one conditional UPDATE on the trial's
status, attempt and claim as the worker saw them (compare and swap): of all the workers that
saw the trial so, the database lets exactly one through. The claim names the worker; the
worker's heartbeat refreshes `heartbeat_at` while it runs; every point and the final result
are written only while the claim still names the writer, so a worker that lost its claim (it
stalled past the grace period and another took the trial over) writes nothing twice.

SQLite runs each guarded write as one statement (its writers are serialised); PostgreSQL
holds a share lock on the trial row for the write's transaction, so a claim taken meanwhile
waits for the write and then drops its points with the attempt's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from lrbench.exceptions import ClaimLost
from lrbench.store._models import Base, MetricPointRow, StudyRow, TrialRow
from lrbench.store._records import TrialRecord, TrialStatus

__all__ = [
    "abandon",
    "beat",
    "begin",
    "claim",
    "finish",
    "held",
    "insert_points",
    "lost",
    "release",
]

_POINTS = Base.metadata.tables["lrb_metric_point"]
_COLUMNS = ("trial_id", "step", "name", "value")
_RUNNING = TrialStatus.running.value
_Statement = TypeVar("_Statement", sa.Update, sa.Select[Any])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def lost(trial_id: int, worker: str) -> ClaimLost:
    """The error for a write by a worker that no longer holds the trial."""
    return ClaimLost(
        f"trial {trial_id} is no longer claimed by worker {worker}: another worker took it "
        "over after this one stopped beating; nothing more of this attempt is written"
    )


def held(statement: _Statement, trial_id: Any, worker: Any) -> _Statement:
    """`statement` restricted to the trial, and to its running claim by `worker` (if given)."""
    statement = statement.where(TrialRow.id == trial_id)
    if worker is None:
        return statement
    return statement.where(TrialRow.worker == worker, TrialRow.status == _RUNNING)


def claim(connection: sa.Connection, seen: TrialRecord, worker: str) -> bool:
    """Claim the trial for `worker` if it is still as `seen` (status, attempt and claim),
    unfinished; whether it did."""
    if seen.status.finished:
        return False
    previous = TrialRow.worker.is_(None) if seen.worker is None else TrialRow.worker == seen.worker
    claimed = connection.execute(
        sa.update(TrialRow)
        .where(
            TrialRow.id == seen.id,
            TrialRow.status == seen.status.value,
            TrialRow.attempt == seen.attempt,
            previous,
        )
        .values(status=_RUNNING, worker=worker, heartbeat_at=_now())
    )
    return bool(claimed.rowcount) or _holds(connection, seen.id, worker)


def _holds(connection: sa.Connection, trial_id: int, worker: str) -> bool:
    """Whether `worker` holds the running trial: its own claim, committed by a try whose
    answer was lost before the store ran it again."""
    return connection.execute(held(sa.select(TrialRow.id), trial_id, worker)).first() is not None


def finish(connection: sa.Connection, trial_id: int, worker: str | None, **values: Any) -> None:
    """Store the trial's end (`values`: status, metrics, cost...), only while `worker`
    holds it (if given).

    Raises:
        ClaimLost: `worker` no longer holds the trial, and did not store this end itself.
    """
    ended = connection.execute(held(sa.update(TrialRow), trial_id, worker).values(**values))
    if worker is None or ended.rowcount:
        return
    stored = connection.execute(
        sa.select(TrialRow.id).where(
            TrialRow.id == trial_id,
            TrialRow.worker == worker,
            TrialRow.status == values["status"],
            TrialRow.finished_at.is_not(None),
        )
    ).first()
    if stored is None:  # else a try whose answer was lost had stored it
        raise lost(trial_id, worker)


def begin(connection: sa.Connection, trial_id: int, worker: str | None) -> None:
    """Start the trial's next attempt (under `worker`'s claim, if given): running, its
    points of the attempt before dropped.

    Raises:
        ClaimLost: `worker` no longer holds the trial.
    """
    started = connection.execute(
        held(sa.update(TrialRow), trial_id, worker).values(
            status=_RUNNING,
            attempt=TrialRow.attempt + 1,
            started_at=_now(),
            finished_at=None,
            error=None,
        )
    )
    if worker is not None and not started.rowcount:
        raise lost(trial_id, worker)
    connection.execute(sa.delete(MetricPointRow).where(MetricPointRow.trial_id == trial_id))


def insert_points(
    connection: sa.Connection, rows: Sequence[Mapping[str, Any]], worker: str | None
) -> None:
    """Insert metric points of one trial, only while `worker` holds it (if given); a point
    stored already at its (trial, metric, step) takes the new value, so a write run again
    after its answer was lost stores each point once.

    Raises:
        ClaimLost: `worker` no longer holds the trial; nothing was written.
    """
    upsert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    if worker is None:
        connection.execute(_replacing(upsert(_POINTS)), list(rows))
        return
    trial_id = rows[0]["trial_id"]
    if connection.dialect.name == "sqlite":  # one statement: atomic against any claim
        owned = held(sa.select(TrialRow.id), sa.bindparam("trial_id"), sa.bindparam("worker"))
        params: list[sa.ColumnElement[Any]] = [sa.bindparam(column) for column in _COLUMNS]
        values = sa.select(*params).where(owned.exists())
        inserted = connection.execute(
            _replacing(upsert(_POINTS).from_select(_COLUMNS, values)),
            [{**row, "worker": worker} for row in rows],
        )
        if not inserted.rowcount:
            raise lost(trial_id, worker)
        return
    owned = held(sa.select(TrialRow.id), trial_id, worker).with_for_update(read=True)
    if connection.execute(owned).first() is None:
        raise lost(trial_id, worker)
    connection.execute(_replacing(upsert(_POINTS)), list(rows))


def _replacing(insert: postgresql.Insert | sqlite.Insert) -> sa.Insert:
    """`insert`, storing the new value where the point's (trial, metric, step) is stored."""
    return insert.on_conflict_do_update(
        index_elements=["trial_id", "name", "step"], set_={"value": insert.excluded.value}
    )


def beat(connection: sa.Connection, worker: str, study_id: int) -> None:
    """Mark the worker's running trials, and its study, alive now."""
    now = _now()
    connection.execute(
        sa.update(TrialRow)
        .where(TrialRow.worker == worker, TrialRow.status == _RUNNING)
        .values(heartbeat_at=now)
    )
    connection.execute(sa.update(StudyRow).where(StudyRow.id == study_id).values(updated_at=now))


def release(connection: sa.Connection, worker: str, trial_id: int | None = None) -> int:
    """Queue the worker's running trials (or only `trial_id`) again, unclaimed; how many."""
    mine = sa.update(TrialRow).where(TrialRow.worker == worker, TrialRow.status == _RUNNING)
    if trial_id is not None:
        mine = mine.where(TrialRow.id == trial_id)
    released = connection.execute(
        mine.values(status=TrialStatus.queued.value, worker=None, heartbeat_at=None)
    )
    return int(released.rowcount or 0)


def abandon(connection: sa.Connection, trial_id: int, attempt: int, error: str) -> bool:
    """Store the trial as failed with `error` if it is still running at `attempt`."""
    failed = connection.execute(
        sa.update(TrialRow)
        .where(TrialRow.id == trial_id, TrialRow.attempt == attempt, TrialRow.status == _RUNNING)
        .values(status=TrialStatus.failed.value, error=error, finished_at=_now())
    )
    return bool(failed.rowcount)
