"""The Store: one entry point to the LR policy database (SQLite by default, or PostgreSQL).

Thread and process safety: every method opens its own short transaction, so many processes may
write to one database at once (SQLite serialises writers through WAL and a busy timeout;
PostgreSQL handles concurrent writers itself). Each reported metric point is committed when it
arrives, so a crash loses nothing that was reported.

The parts: `_engine` (URLs, schema checks, migrations), this module (records in and out),
`queries` (leaderboard, nearest tasks, top-k), `_export` (export and import), `_mapping`
(row to record).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lrbench._files import study_dir
from lrbench.evaluate import Direction
from lrbench.exceptions import ConfigError, StorageError, StudyExists
from lrbench.store import _claims, _engine, _export, _retry, queries
from lrbench.store._mapping import study_record, task_record, to_record, trial_record
from lrbench.store._models import MetricPointRow, RecipeRow, StudyRow, TaskRow, TrialRow
from lrbench.store._records import (
    PolicyScore,
    RecipeRecord,
    StudyRecord,
    TaskInfo,
    TaskRecord,
    TrialRecord,
    TrialStatus,
)

__all__ = ["Store"]

_Args = ParamSpec("_Args")
_Result = TypeVar("_Result")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _retried(
    method: Callable[Concatenate[Store, _Args], _Result],
) -> Callable[Concatenate[Store, _Args], _Result]:
    """A Store method whose transaction runs again on transient errors (`_retry`)."""

    @functools.wraps(method)
    def run(store: Store, /, *args: _Args.args, **kwargs: _Args.kwargs) -> _Result:
        return store._retrier.run(lambda: method(store, *args, **kwargs))

    return run


def _lost_connection(error: DBAPIError) -> bool:
    """Whether `error` says the database cannot be reached (not that the SQL was wrong)."""
    return isinstance(error, OperationalError) or error.connection_invalidated


class Store:
    """The LR policy database.

    Args:
        url: SQLAlchemy URL; default `$LRBENCH_DB` or `sqlite:///lrbench.db`.
        create: Create the database and its schema where there is none (the default: zero
            set-up); False for reading only: a missing SQLite file is an error, not created.
        check_schema: Refuse a database of another schema revision (off only to upgrade it).

    Raises:
        ConfigError: the URL is malformed.
        StorageError: the database is unreachable, or its schema is older (the message names
            `lrbench db upgrade`) or newer (upgrade LRBench++) than this version's.
    """

    def __init__(
        self, url: str | None = None, *, create: bool = True, check_schema: bool = True
    ) -> None:
        self.url = _engine.resolve_url(url)
        self.engine = _engine.make_engine(self.url)
        _engine.refuse_directory(self.url)
        missing = None if create else _engine.missing_sqlite_file(self.url)
        if missing is not None:  # reading must not leave an empty database behind
            raise StorageError(
                f"no database at {missing}: nothing is stored there yet (a study creates it: "
                "`lrbench tune ... --db URL`); check --db or $LRBENCH_DB"
            )
        self.display_url = self.engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._retrier = _retry.Retrier(self.display_url)
        self._points_connection: sa.Connection | None = None
        self._unsent_points: list[dict[str, Any]] = []
        self._unsent_since: float | None = None
        if not check_schema:
            return
        current, head = self.schema_revisions()
        if current is None and create:
            current = _engine.create_schema(self.engine, self.display_url)
        elif current is None:
            _engine.refuse_foreign(self.engine, self.display_url)
        if current != head:
            raise _engine.refuse_revision(self.display_url, current, head)
        missing_tables = _engine.missing_tables(self.engine)
        if missing_tables:
            raise StorageError(
                f"the database {self.display_url} is at schema revision {current} but lacks "
                f"the tables {', '.join(missing_tables)} (dropped or damaged): restore it from "
                "a backup, or give --db a new database"
            )
        self._seed_recipes()
        self._retrier.reached()

    def _connect_error(self, error: Exception) -> StorageError:
        return _engine.connect_error(error, self.display_url)

    def schema_revisions(self) -> tuple[str | None, str | None]:
        """(the database's schema revision, the newest this code knows)."""
        return _engine.schema_revisions(self.engine, self.display_url)

    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate the schema to the newest revision; returns (before, after)."""
        return _engine.upgrade(self.engine, self.display_url)

    @classmethod
    def open_for_upgrade(cls, url: str | None = None) -> Store:
        """Open without the schema check, to run `upgrade()` on an old database."""
        return cls(url, check_schema=False)

    @property
    def sqlite_file(self) -> Path | None:
        """The database file of a SQLite store (None for a server or an in-memory database)."""
        database = self.engine.url.database
        if self.engine.url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
            return None
        return Path(database)

    def artifact_dir(self, study: str) -> Path:
        """The directory for a study's files (pruner journal, phase checkpoints), created:
        beside a SQLite file, or under `$LRBENCH_CACHE` for a server (`lrbench._files`)."""
        return study_dir(self.sqlite_file, self.display_url, study)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except DBAPIError as error:
            session.rollback()
            if _lost_connection(error):
                raise self._connect_error(error) from None
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A Core transaction (cheaper than a Session, for the per-trial writes)."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except DBAPIError as error:
            if _lost_connection(error):
                raise self._connect_error(error) from None
            raise

    def stop_retrying(self) -> None:
        """Try the next transaction that fails on a transient error once, without waiting
        for the database (until it answers again): for the clean-up of a worker that stops."""
        self._retrier.stop()

    def dispose(self) -> None:
        """Close every connection (call in a worker before it exits)."""
        if self._points_connection is not None:
            self._points_connection.close()
            self._points_connection = None
        self.engine.dispose()

    # -- tasks and studies ----------------------------------------------------------------

    @_retried
    def task(self, info: TaskInfo) -> TaskRecord:
        """The stored task for `info`, created on first use."""
        key = _config_key(dataclasses.asdict(info))
        try:
            with self.session() as session:
                row = session.scalar(sa.select(TaskRow).where(TaskRow.config_key == key))
                if row is None:
                    row = TaskRow(config_key=key, **dataclasses.asdict(info))
                    session.add(row)
                    session.flush()
                return task_record(row)
        except IntegrityError:  # another worker stored it meanwhile
            with self.session() as session:
                return task_record(
                    session.scalars(sa.select(TaskRow).where(TaskRow.config_key == key)).one()
                )

    @_retried
    def create_study(
        self,
        *,
        name: str,
        task: TaskRecord,
        objective: str,
        metric: str,
        mode: str,
        strategy: str,
        config: Mapping[str, Any],
        trials: Sequence[Mapping[str, Any]],
    ) -> StudyRecord:
        """Create a study and queue its trials (policy, family, lr, seed, total_steps).

        Raises:
            StudyExists: a study called `name` is stored (another worker created it first).
        """
        try:
            with self.session() as session:
                study = StudyRow(
                    name=name,
                    task_id=task.id,
                    objective=objective,
                    metric=metric,
                    mode=mode,
                    strategy=strategy,
                    status="running",
                    config=dict(config),
                )
                session.add(study)
                session.flush()
                session.add_all(_queued(study.id, 0, trials))
                session.flush()
                return study_record(study)
        except IntegrityError:
            if self.study(name) is None:
                raise
            raise StudyExists(f"a study named {name!r} already exists") from None

    @_retried
    def add_trials(
        self,
        study_id: int,
        trials: Sequence[Mapping[str, Any]],
        *,
        after: int | None = None,
    ) -> bool:
        """Queue more trials in a study (adaptive strategies propose them as they go).

        `after` is the last trial number the proposer saw: where another worker queued
        trials since, these are not added (it proposed the same round). Returns whether
        they were.
        """
        try:
            with self.session() as session:
                last = session.scalar(
                    sa.select(sa.func.max(TrialRow.number)).where(TrialRow.study_id == study_id)
                )
                if after is not None and (-1 if last is None else last) != after:
                    return False
                session.add_all(_queued(study_id, 0 if last is None else last + 1, trials))
        except IntegrityError:  # another worker took these numbers first
            return False
        return True

    @_retried
    def annotate_study(self, study_id: int, key: str, value: Any) -> None:
        """Keep `value` (JSON) under `key` of the study's stored configuration: what an
        objective found along the way (a fitted law, its predictions). The key `config` (the
        options compared on resume) cannot be changed this way."""
        if key == "config":
            raise ValueError("the study's options (`config`) are not annotations")
        with self.session() as session:
            row = session.get(StudyRow, study_id)
            if row is None:
                raise ConfigError(f"no study with id {study_id}")
            row.config = {**row.config, key: value}  # a new dict: JSON columns track assignment

    @_retried
    def drop_queued_trials(self, trial_ids: Sequence[int]) -> int:
        """Remove trials that never started (a cost cap could not pay for them); trials
        that started are kept. Returns how many were removed."""
        if not trial_ids:
            return 0
        with self.session() as session:
            removed = session.execute(
                sa.delete(TrialRow).where(
                    TrialRow.id.in_(list(trial_ids)),
                    TrialRow.status == TrialStatus.queued.value,
                )
            )
            return int(getattr(removed, "rowcount", 0) or 0)

    @_retried
    def study(self, name: str) -> StudyRecord | None:
        """The study called `name`, or None."""
        with self.session() as session:
            row = session.scalar(sa.select(StudyRow).where(StudyRow.name == name))
            return None if row is None else study_record(row)

    def require_study(self, name: str) -> StudyRecord:
        """The study called `name`; the error lists the known studies."""
        study = self.study(name)
        if study is None:
            names = [s.name for s in self.studies()][:10]
            known = f"known: {', '.join(names)}" if names else "the database has no studies"
            raise ConfigError(f"no study named {name!r} in {self.display_url} ({known})")
        return study

    @_retried
    def studies(self) -> list[StudyRecord]:
        """Every study, newest first."""
        with self.session() as session:
            rows = session.scalars(sa.select(StudyRow).order_by(StudyRow.id.desc()))
            return [study_record(row) for row in rows]

    @_retried
    def set_study_status(self, study_id: int, status: str) -> None:
        """Mark a study running, complete or interrupted."""
        with self.session() as session:
            session.execute(
                sa.update(StudyRow)
                .where(StudyRow.id == study_id)
                .values(status=status, updated_at=_now())
            )

    # -- trials ---------------------------------------------------------------------------

    @_retried
    def trials(self, study_id: int) -> list[TrialRecord]:
        """All trials of a study, by number."""
        with self.session() as session:
            rows = session.scalars(
                sa.select(TrialRow).where(TrialRow.study_id == study_id).order_by(TrialRow.number)
            )
            return [trial_record(row) for row in rows]

    @_retried
    def trial(self, trial_id: int) -> TrialRecord | None:
        """One trial by its id, or None."""
        with self.session() as session:
            row = session.get(TrialRow, trial_id)
            return None if row is None else trial_record(row)

    @_retried
    def start_trial(self, trial_id: int, *, worker: str | None = None) -> None:
        """Start a trial's next attempt: running, the points of an interrupted attempt
        dropped. Under `worker`'s claim where given, else unclaimed (a trial run on its own).

        Raises:
            ClaimLost: `worker` no longer holds the trial.
        """
        self._unsent_points, self._unsent_since = [], None  # an earlier attempt's
        with self._begin() as connection:
            _claims.begin(connection, trial_id, worker)

    @_retried
    def claim_trial(self, seen: TrialRecord, worker: str) -> bool:
        """Claim a trial for `worker` if it is still as `seen` (queued, or running under a
        claim given up): atomic, so of any number of workers that saw it so exactly one
        wins. Whether this one did."""
        with self._begin() as connection:
            return _claims.claim(connection, seen, worker)

    def beat(self, worker: str, study_id: int) -> None:
        """Mark `worker`'s running trials, and the study, alive now."""
        with self._begin() as connection:
            _claims.beat(connection, worker, study_id)

    @_retried
    def release_trials(self, worker: str, *, trial_id: int | None = None) -> int:
        """Give `worker`'s running trials (or the one `trial_id`) back to the queue: it
        stops before they end. Returns how many."""
        with self._begin() as connection:
            return _claims.release(connection, worker, trial_id)

    @_retried
    def abandon_trial(self, trial_id: int, attempt: int, error: str) -> bool:
        """Store a trial whose workers kept dying as failed, if it is still at `attempt`."""
        with self._begin() as connection:
            return _claims.abandon(connection, trial_id, attempt, error)

    def add_points(
        self, trial_id: int, step: int, metrics: Mapping[str, float], *, worker: str | None = None
    ) -> None:
        """Store the metrics reported at `step`, committed at once (a metric reported again at
        a step replaces its value; NaN and infinite values are not stored, on any database).

        While the database is away the points wait here and go with the next report or the
        trial's end: training goes on for up to `$LRBENCH_DB_RETRY` seconds.

        Raises:
            ClaimLost: `worker` no longer holds the trial (nothing is written).
            DatabaseUnavailable: the database has been away for longer than that.
        """
        finite = {name: float(value) for name, value in metrics.items()}
        finite = {name: value for name, value in finite.items() if math.isfinite(value)}
        if not finite:
            return
        self._unsent_points += [
            {"trial_id": trial_id, "step": int(step), "name": name, "value": value}
            for name, value in finite.items()
        ]
        try:  # Core on a kept connection, not the ORM: this runs in the training loop
            if self._points_connection is None:
                self._points_connection = self.engine.connect()
            with self._points_connection.begin():
                _claims.insert_points(self._points_connection, self._unsent_points, worker)
        except DBAPIError as error:
            self._drop_points_connection()
            if not _lost_connection(error):
                raise
            self._unsent_since = self._retrier.failed(
                self._connect_error(error), self._unsent_since
            )
        else:
            self._retrier.reached()
            self._unsent_points, self._unsent_since = [], None

    def _drop_points_connection(self) -> None:
        if self._points_connection is not None:
            self._points_connection.invalidate()
            self._points_connection = None

    @_retried
    def finish_trial(
        self,
        trial_id: int,
        status: TrialStatus,
        *,
        metrics: Mapping[str, float],
        cost_steps: int,
        cost_seconds: float,
        cost_samples: int = 0,
        cost_tokens: int = 0,
        error: str | None = None,
        worker: str | None = None,
    ) -> None:
        """Record a trial's end: its final status, metrics, cost and error if any, with the
        points still waiting for the database.

        Raises:
            ClaimLost: `worker` no longer holds the trial (nothing is written).
        """
        clean = {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}
        with self._begin() as connection:
            if self._unsent_points:
                _claims.insert_points(connection, self._unsent_points, worker)
            _claims.finish(
                connection,
                trial_id,
                worker,
                status=status.value,
                metrics=clean,
                cost_steps=int(cost_steps),
                cost_seconds=float(cost_seconds),
                cost_samples=int(cost_samples),
                cost_tokens=int(cost_tokens),
                error=error,
                finished_at=_now(),
            )
        self._unsent_points, self._unsent_since = [], None

    @_retried
    def points(self, trial_id: int, name: str | None = None) -> list[tuple[int, str, float]]:
        """(step, metric, value) of every stored point of a trial, in step order."""
        query = sa.select(MetricPointRow.step, MetricPointRow.name, MetricPointRow.value).where(
            MetricPointRow.trial_id == trial_id
        )
        if name is not None:
            query = query.where(MetricPointRow.name == name)
        with self.session() as session:
            rows = session.execute(query.order_by(MetricPointRow.step, MetricPointRow.id))
            return [(int(s), str(n), float(v)) for s, n, v in rows]

    # -- queries --------------------------------------------------------------------------

    @_retried
    def leaderboard(self, study: StudyRecord, *, every_budget: bool = False) -> list[PolicyScore]:
        """The study's configurations ranked by the mean of its metric over seeds.

        Configurations with a completed trial come first, best first; those that never
        completed (all diverged, pruned or failed) follow with a NaN mean. A configuration is a
        (policy, budget) pair: `fixed(lr=0.1)` trained for 150 and for 300 steps are two.

        Only the trials trained for the study's full budget (`study.budget`) are ranked, so
        the phase parts of a composed study never stand beside full runs; `every_budget=True`
        ranks the trials of every budget.
        """
        budget = None if every_budget else study.budget
        query = (
            sa.select(*queries.LEAN_COLUMNS)
            .where(TrialRow.study_id == study.id)
            .order_by(TrialRow.number)
        )
        if budget is not None:
            query = query.where(TrialRow.total_steps == int(budget))
        by_configuration: dict[tuple[str, int], list[queries.LeanTrial]] = {}
        with self.session() as session:
            for row in session.execute(query):
                trial = queries.LeanTrial(*row)
                by_configuration.setdefault((trial.policy, trial.total_steps), []).append(trial)
        scores = [queries.score(trials, study.metric) for trials in by_configuration.values()]
        return queries.rank(scores, study.mode)

    def top_k(
        self,
        task: TaskInfo,
        k: int,
        *,
        metric: str | None = None,
        mode: str | Direction | None = None,
    ) -> list[PolicyScore]:
        """The k best known policy families for a task: its own studies, else the nearest tasks.

        Each family appears once, with its best configuration. Nearest tasks share the most of
        model, dataset, optimizer and domain with `task`. Only studies with `metric` and `mode`
        count when those are given. Empty when nothing is known.
        """
        studies = self.studies()
        own = [s for s in studies if s.task.name == task.name] or queries.nearest(task, studies)
        own = [
            s for s in own if (not metric or s.metric == metric) and (not mode or s.mode == mode)
        ]
        candidates: list[PolicyScore] = []
        for study in own:
            candidates += queries.with_source(self.leaderboard(study), f"study {study.name}")
        chosen = mode or (own[0].mode if own else Direction.MAX)
        return queries.best_per_family(candidates, chosen)[:k]

    @_retried
    def known_task(self, name: str) -> TaskRecord | None:
        """The most recently stored task with this name, or None."""
        with self.session() as session:
            row = session.scalar(
                sa.select(TaskRow).where(TaskRow.name == name).order_by(TaskRow.id.desc()).limit(1)
            )
            return None if row is None else task_record(row)

    # -- recipes --------------------------------------------------------------------------

    def _seed_recipes(self) -> None:
        """Add the shipped recipes this database lacks (by name; stored ones are kept)."""
        data = json.loads((resources.files("lrbench.store") / "recipes.json").read_text())
        try:
            with self.session() as session:
                stored = set(session.scalars(sa.select(RecipeRow.name)))
                missing = [entry for entry in data if entry["name"] not in stored]
                if missing:
                    session.add_all(RecipeRow(**entry) for entry in missing)
        except IntegrityError:  # another process, opening the database too, added them
            pass

    @_retried
    def recipes(self) -> list[RecipeRecord]:
        """The published recipes shipped with LRBench++ (priors for top-k)."""
        with self.session() as session:
            rows = session.scalars(sa.select(RecipeRow).order_by(RecipeRow.id))
            return [to_record(row, RecipeRecord) for row in rows]

    # -- export and import ----------------------------------------------------------------

    def export_study(self, name: str) -> dict[str, Any]:
        """A study with its task, trials and metric points, as JSON-ready data."""
        return _export.export_study(self, name)

    @_retried
    def import_study(self, data: Mapping[str, Any], *, name: str | None = None) -> StudyRecord:
        """Store an exported study (under `name` if given); refuses to overwrite one."""
        return _export.import_study(self, data, name=name)


def _queued(
    study_id: int, first_number: int, trials: Sequence[Mapping[str, Any]]
) -> list[TrialRow]:
    """Rows of `trials` (policy, family, lr, seed, total_steps) queued in a study, numbered
    from `first_number`."""
    return [
        TrialRow(
            study_id=study_id,
            number=first_number + index,
            status=TrialStatus.queued.value,
            metrics={},
            **dict(trial),
        )
        for index, trial in enumerate(trials)
    ]


def _config_key(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
