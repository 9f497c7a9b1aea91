"""The Store: one entry point to the LR policy database (SQLite by default, or PostgreSQL).

Thread and process safety: every method opens its own short transaction, so many processes may
write to one database at once (SQLite serialises writers through WAL and a busy timeout;
PostgreSQL handles concurrent writers itself). Each reported metric point is committed when it
arrives, so a crash loses nothing that was reported.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lrbench.exceptions import ConfigError, MissingDependencyError, StorageError
from lrbench.store._models import (
    Base,
    MetricPointRow,
    RecipeRow,
    StudyRow,
    TaskRow,
    TrialRow,
)
from lrbench.store._records import (
    PolicyScore,
    RecipeRecord,
    StudyRecord,
    TaskInfo,
    TaskRecord,
    TrialRecord,
    TrialStatus,
)

__all__ = ["DEFAULT_URL", "EXPORT_FORMAT", "Store", "read_export", "resolve_url"]

DEFAULT_URL = "sqlite:///lrbench.db"
EXPORT_FORMAT = "lrbench-study/1"
_INSERT_POINT = sa.insert(Base.metadata.tables["lrb_metric_point"])
_URL_HINT = "e.g. sqlite:///lrbench.db or postgresql+psycopg://user@host:5432/dbname"


def resolve_url(url: str | None = None) -> str:
    """The database URL: the argument, else `$LRBENCH_DB`, else `sqlite:///lrbench.db`."""
    return url or os.environ.get("LRBENCH_DB") or DEFAULT_URL


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@functools.cache
def _head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("lrbench.store") / "migrations"))
    return config


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"`--db` is not a database URL: {url!r} ({_URL_HINT})") from None
    if parsed.drivername == "postgresql":  # the driver we support and install
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": 60})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return sa.create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError:
        raise ConfigError(f"unsupported database URL {url!r} ({_URL_HINT})") from None
    except ImportError as error:
        raise MissingDependencyError(str(error.name or "psycopg"), "postgres") from None


class Store:
    """The LR policy database.

    Args:
        url: SQLAlchemy URL; default `$LRBENCH_DB` or `sqlite:///lrbench.db`.
        create: Create the schema in an empty database (the default: zero set-up).
        check_schema: Refuse a database of another schema revision (off only to upgrade it).

    Raises:
        ConfigError: the URL is malformed.
        StorageError: the database is unreachable, or its schema is older (the message names
            `lrbench db upgrade`) or newer (upgrade LRBench++) than this version's.
    """

    def __init__(
        self, url: str | None = None, *, create: bool = True, check_schema: bool = True
    ) -> None:
        self.url = resolve_url(url)
        self.engine = _make_engine(self.url)
        self.display_url = self.engine.url.render_as_string(hide_password=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._points_connection: sa.Connection | None = None
        if not check_schema:
            return
        current, head = self.schema_revisions()
        if current is None and create and not self._has_tables():
            self.upgrade()
        elif current != head:
            self._refuse(current, head)
        self._seed_recipes()

    # -- schema ---------------------------------------------------------------------------

    def _connect_error(self, error: Exception) -> StorageError:
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        return StorageError(f"cannot connect to the database {self.display_url}: {reason}")

    def schema_revisions(self) -> tuple[str | None, str | None]:
        """(the database's schema revision, the newest this code knows)."""
        head = _head_revision()
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except DBAPIError as error:  # unreachable, refused, or not a database at all
            raise self._connect_error(error) from None
        return current, head

    def _has_tables(self) -> bool:
        return bool(set(sa.inspect(self.engine).get_table_names()) & set(Base.metadata.tables))

    def _refuse(self, current: str | None, head: str | None) -> None:
        script = ScriptDirectory.from_config(_alembic_config())
        known = {revision.revision for revision in script.walk_revisions()}
        if current is not None and current not in known:
            raise StorageError(
                f"the database {self.display_url} was written by a newer LRBench++ (schema "
                f"revision {current}; this version knows up to {head}): upgrade LRBench++ with "
                "`pip install -U lrbenchpp`"
            )
        raise StorageError(
            f"the database {self.display_url} has schema revision {current or 'none'}, older "
            f"than this LRBench++ ({head}): run `lrbench db upgrade --db {self.display_url}`"
        )

    def upgrade(self) -> tuple[str | None, str | None]:
        """Migrate the schema to the newest revision; returns (before, after)."""
        before, head = self.schema_revisions()
        config = _alembic_config()
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return before, head

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
        """The directory for a study's files (pruner journal, phase checkpoints), created.

        Beside a SQLite file `x.db` it is `x.db.artifacts/<study>/`; for a server database it
        is under `$LRBENCH_CACHE` (else `~/.cache/lrbench`), keyed by the database URL. With
        workers on several machines, point `$LRBENCH_CACHE` at a shared file system.
        """
        if self.sqlite_file is not None:
            root = Path(f"{self.sqlite_file}.artifacts")
        else:
            cache = Path(os.environ.get("LRBENCH_CACHE", Path.home() / ".cache" / "lrbench"))
            digest = hashlib.sha256(self.display_url.encode()).hexdigest()[:12]
            root = cache / "artifacts" / digest
        path = root / study
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as error:
            session.rollback()
            raise self._connect_error(error) from None
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
        except OperationalError as error:
            raise self._connect_error(error) from None

    def dispose(self) -> None:
        """Close every connection (call in a worker before it exits)."""
        if self._points_connection is not None:
            self._points_connection.close()
            self._points_connection = None
        self.engine.dispose()

    # -- tasks and studies ----------------------------------------------------------------

    def task(self, info: TaskInfo) -> TaskRecord:
        """The stored task for `info`, created on first use."""
        key = _config_key(dataclasses.asdict(info))
        with self.session() as session:
            row = session.scalar(sa.select(TaskRow).where(TaskRow.config_key == key))
            if row is None:
                row = TaskRow(config_key=key, **dataclasses.asdict(info))
                session.add(row)
                session.flush()
            return _task_record(row)

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
        """Create a study and queue its trials (policy, family, lr, seed, total_steps)."""
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
            session.add_all(
                TrialRow(
                    study_id=study.id,
                    number=number,
                    status=TrialStatus.queued.value,
                    metrics={},
                    **dict(trial),
                )
                for number, trial in enumerate(trials)
            )
            session.flush()
            return _study_record(study)

    def add_trials(self, study_id: int, trials: Sequence[Mapping[str, Any]]) -> None:
        """Queue more trials in a study (adaptive strategies propose them as they go)."""
        with self.session() as session:
            last = session.scalar(
                sa.select(sa.func.max(TrialRow.number)).where(TrialRow.study_id == study_id)
            )
            start = -1 if last is None else int(last)
            session.add_all(
                TrialRow(
                    study_id=study_id,
                    number=start + 1 + index,
                    status=TrialStatus.queued.value,
                    metrics={},
                    **dict(trial),
                )
                for index, trial in enumerate(trials)
            )

    def study(self, name: str) -> StudyRecord | None:
        """The study called `name`, or None."""
        with self.session() as session:
            row = session.scalar(sa.select(StudyRow).where(StudyRow.name == name))
            return None if row is None else _study_record(row)

    def require_study(self, name: str) -> StudyRecord:
        """The study called `name`; the error lists the known studies."""
        study = self.study(name)
        if study is None:
            names = [s.name for s in self.studies()][:10]
            known = f"known: {', '.join(names)}" if names else "the database has no studies"
            raise ConfigError(f"no study named {name!r} in {self.display_url} ({known})")
        return study

    def studies(self) -> list[StudyRecord]:
        """Every study, newest first."""
        with self.session() as session:
            rows = session.scalars(sa.select(StudyRow).order_by(StudyRow.id.desc()))
            return [_study_record(row) for row in rows]

    def set_study_status(self, study_id: int, status: str) -> None:
        """Mark a study running, complete or interrupted."""
        with self.session() as session:
            session.execute(
                sa.update(StudyRow)
                .where(StudyRow.id == study_id)
                .values(status=status, updated_at=_now())
            )

    # -- trials ---------------------------------------------------------------------------

    def trials(self, study_id: int) -> list[TrialRecord]:
        """All trials of a study, by number."""
        with self.session() as session:
            rows = session.scalars(
                sa.select(TrialRow).where(TrialRow.study_id == study_id).order_by(TrialRow.number)
            )
            return [_trial_record(row) for row in rows]

    def trial(self, trial_id: int) -> TrialRecord | None:
        """One trial by its id, or None."""
        with self.session() as session:
            row = session.get(TrialRow, trial_id)
            return None if row is None else _trial_record(row)

    def start_trial(self, trial_id: int) -> None:
        """Mark a trial running for a new attempt; points of an interrupted attempt are dropped."""
        with self._begin() as connection:
            connection.execute(
                sa.delete(MetricPointRow).where(MetricPointRow.trial_id == trial_id)
            )
            connection.execute(
                sa.update(TrialRow)
                .where(TrialRow.id == trial_id)
                .values(
                    status=TrialStatus.running.value,
                    attempt=TrialRow.attempt + 1,
                    started_at=_now(),
                    finished_at=None,
                    error=None,
                )
            )

    def add_points(self, trial_id: int, step: int, metrics: Mapping[str, float]) -> None:
        """Store the metrics reported at `step`, committed at once."""
        if not metrics:
            return
        rows = [
            {"trial_id": trial_id, "step": int(step), "name": name, "value": float(value)}
            for name, value in metrics.items()
        ]
        try:  # Core on a kept connection, not the ORM: this runs in the training loop
            if self._points_connection is None:
                self._points_connection = self.engine.connect()
            with self._points_connection.begin():
                self._points_connection.execute(_INSERT_POINT, rows)
        except OperationalError as error:
            self._points_connection = None
            raise self._connect_error(error) from None

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
    ) -> None:
        """Record a trial's end: its final status, metrics, cost and error if any."""
        clean = {k: float(v) for k, v in metrics.items() if math.isfinite(float(v))}
        with self._begin() as connection:
            connection.execute(
                sa.update(TrialRow)
                .where(TrialRow.id == trial_id)
                .values(
                    status=status.value,
                    metrics=clean,
                    cost_steps=int(cost_steps),
                    cost_seconds=float(cost_seconds),
                    cost_samples=int(cost_samples),
                    cost_tokens=int(cost_tokens),
                    error=error,
                    finished_at=_now(),
                )
            )

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

    def leaderboard(self, study: StudyRecord) -> list[PolicyScore]:
        """The study's configurations ranked by the mean of its metric over seeds.

        Configurations with a completed trial come first, best first; those that never
        completed (all diverged, pruned or failed) follow with a NaN mean.
        """
        query = (
            sa.select(*_LEAN_COLUMNS)
            .where(TrialRow.study_id == study.id)
            .order_by(TrialRow.number)
        )
        # A policy spec without a horizon (`fixed(lr=0.1)`) may run at several budgets in one
        # study (the phases of a compose study): each budget is its own configuration.
        by_policy: dict[tuple[str, int], list[_LeanTrial]] = {}
        with self.session() as session:
            for row in session.execute(query):
                trial = _LeanTrial(*row)
                by_policy.setdefault((trial.policy, trial.total_steps), []).append(trial)
        scores = [_score(trials, study.metric) for trials in by_policy.values()]
        return _rank(scores, study.mode)

    def top_k(
        self, task: TaskInfo, k: int, *, metric: str | None = None, mode: str | None = None
    ) -> list[PolicyScore]:
        """The k best known policy families for a task: its own studies, else the nearest tasks.

        Each family appears once, with its best configuration. Nearest tasks share the most of
        model, dataset, optimizer and domain with `task`. Only studies with `metric` and `mode`
        count when those are given. Empty when nothing is known.
        """
        studies = self.studies()
        own = [s for s in studies if s.task.name == task.name] or _nearest(task, studies)
        own = [
            s for s in own if (not metric or s.metric == metric) and (not mode or s.mode == mode)
        ]
        candidates: list[PolicyScore] = []
        for study in own:
            candidates += [
                dataclasses.replace(s, source=f"study {study.name}")
                for s in self.leaderboard(study)
                if not math.isnan(s.mean)
            ]
        best_per_family: dict[str, PolicyScore] = {}
        for score in _rank(candidates, mode or (own[0].mode if own else "max")):
            best_per_family.setdefault(score.family, score)
        return list(best_per_family.values())[:k]

    def known_task(self, name: str) -> TaskRecord | None:
        """The most recently stored task with this name, or None."""
        with self.session() as session:
            row = session.scalar(
                sa.select(TaskRow).where(TaskRow.name == name).order_by(TaskRow.id.desc()).limit(1)
            )
            return None if row is None else _task_record(row)

    # -- recipes --------------------------------------------------------------------------

    def _seed_recipes(self) -> None:
        with self.session() as session:
            if session.scalar(sa.select(sa.func.count()).select_from(RecipeRow)):
                return
            data = json.loads((resources.files("lrbench.store") / "recipes.json").read_text())
            session.add_all(RecipeRow(**entry) for entry in data)

    def recipes(self) -> list[RecipeRecord]:
        """The published recipes shipped with LRBench++ (priors for top-k)."""
        with self.session() as session:
            rows = session.scalars(sa.select(RecipeRow).order_by(RecipeRow.id))
            return [
                RecipeRecord(
                    name=r.name,
                    model=r.model,
                    domain=r.domain,
                    optimizer=r.optimizer,
                    family=r.family,
                    lr=r.lr,
                    epochs=r.epochs,
                    warmup=r.warmup,
                    source=r.source,
                )
                for r in rows
            ]

    # -- export and import ----------------------------------------------------------------

    def export_study(self, name: str) -> dict[str, Any]:
        """A study with its task, trials and metric points, as JSON-ready data."""
        study = self.require_study(name)
        trials = []
        for trial in self.trials(study.id):
            data = dataclasses.asdict(trial)
            data["status"] = trial.status.value
            for key in ("started_at", "finished_at"):
                data[key] = data[key].isoformat() if data[key] else None
            del data["id"], data["study_id"]
            data["points"] = [list(p) for p in self.points(trial.id)]
            trials.append(data)
        task = dataclasses.asdict(study.task)
        del task["id"]
        return {
            "format": EXPORT_FORMAT,
            "study": {
                "name": study.name,
                "objective": study.objective,
                "metric": study.metric,
                "mode": study.mode,
                "strategy": study.strategy,
                "status": study.status,
                "config": study.config,
            },
            "task": task,
            "trials": trials,
        }

    def import_study(self, data: Mapping[str, Any], *, name: str | None = None) -> StudyRecord:
        """Store an exported study (under `name` if given); refuses to overwrite one."""
        if not isinstance(data, Mapping) or data.get("format") != EXPORT_FORMAT:
            raise ConfigError(f"not an LRBench++ study export (expected format {EXPORT_FORMAT})")
        try:
            meta = dict(data["study"])
            study_name = name or meta["name"]
            if self.study(study_name) is not None:
                raise ConfigError(
                    f"a study named {study_name!r} already exists; import it under another "
                    "name with --name"
                )
            task = self.task(TaskInfo(**data["task"]))
            trial_rows = []
            for trial in data["trials"]:
                fields = {k: v for k, v in trial.items() if k != "points"}
                for key in ("started_at", "finished_at"):
                    fields[key] = dt.datetime.fromisoformat(fields[key]) if fields[key] else None
                trial_rows.append((fields, trial["points"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"malformed study export: {error!r}") from None
        with self.session() as session:
            study = StudyRow(
                name=study_name,
                task_id=task.id,
                objective=meta["objective"],
                metric=meta["metric"],
                mode=meta["mode"],
                strategy=meta["strategy"],
                status=meta["status"],
                config=meta["config"],
            )
            session.add(study)
            session.flush()
            for fields, points in trial_rows:
                row = TrialRow(study_id=study.id, **fields)
                session.add(row)
                session.flush()
                if points:
                    session.execute(
                        sa.insert(MetricPointRow),
                        [
                            {"trial_id": row.id, "step": s, "name": n, "value": v}
                            for s, n, v in points
                        ],
                    )
            return _study_record(study)

    def delete_study(self, name: str) -> None:
        """Delete a study, its trials and their points."""
        study = self.require_study(name)
        with self.session() as session:
            trial_ids = sa.select(TrialRow.id).where(TrialRow.study_id == study.id)
            session.execute(
                sa.delete(MetricPointRow).where(MetricPointRow.trial_id.in_(trial_ids))
            )
            session.execute(sa.delete(TrialRow).where(TrialRow.study_id == study.id))
            session.execute(sa.delete(StudyRow).where(StudyRow.id == study.id))


def _config_key(data: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _task_record(row: TaskRow) -> TaskRecord:
    return TaskRecord(
        id=row.id,
        name=row.name,
        domain=row.domain,
        model=row.model,
        dataset=row.dataset,
        optimizer=row.optimizer,
        batch_size=row.batch_size,
        horizon=row.horizon,
        params=dict(row.params or {}),
    )


def _study_record(row: StudyRow) -> StudyRecord:
    return StudyRecord(
        id=row.id,
        name=row.name,
        task=_task_record(row.task),
        objective=row.objective,
        metric=row.metric,
        mode=row.mode,
        strategy=row.strategy,
        status=row.status,
        config=dict(row.config),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _trial_record(row: TrialRow) -> TrialRecord:
    return TrialRecord(
        id=row.id,
        study_id=row.study_id,
        number=row.number,
        policy=row.policy,
        family=row.family,
        lr=row.lr,
        seed=row.seed,
        total_steps=row.total_steps,
        status=TrialStatus(row.status),
        attempt=row.attempt,
        cost_steps=row.cost_steps,
        cost_samples=row.cost_samples,
        cost_tokens=row.cost_tokens,
        cost_seconds=row.cost_seconds,
        metrics=dict(row.metrics or {}),
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class _LeanTrial(NamedTuple):
    """The columns a leaderboard needs, read without building ORM objects."""

    policy: str
    family: str
    lr: float
    status: str
    metrics: dict[str, Any]
    cost_steps: int
    cost_seconds: float
    total_steps: int


_LEAN_COLUMNS = (
    TrialRow.policy,
    TrialRow.family,
    TrialRow.lr,
    TrialRow.status,
    TrialRow.metrics,
    TrialRow.cost_steps,
    TrialRow.cost_seconds,
    TrialRow.total_steps,
)


def _score(trials: Sequence[_LeanTrial], metric: str) -> PolicyScore:
    complete = TrialStatus.complete.value
    values = [
        t.metrics[metric] for t in trials if t.status == complete and metric in (t.metrics or {})
    ]
    statuses: dict[str, int] = {}
    for trial in trials:
        statuses[trial.status] = statuses.get(trial.status, 0) + 1
    mean = sum(values) / len(values) if values else math.nan
    std = (
        math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
        if len(values) > 1
        else 0.0
    )
    first = trials[0]
    return PolicyScore(
        policy=first.policy,
        family=first.family,
        lr=first.lr,
        metric=metric,
        mean=mean,
        std=std,
        seeds=len(values),
        statuses=statuses,
        cost_steps=sum(t.cost_steps for t in trials),
        cost_seconds=sum(t.cost_seconds for t in trials),
        total_steps=first.total_steps,
    )


def _rank(scores: Iterable[PolicyScore], mode: str) -> list[PolicyScore]:
    sign = -1.0 if mode == "max" else 1.0
    return sorted(
        scores, key=lambda s: (math.isnan(s.mean), 0.0 if math.isnan(s.mean) else sign * s.mean)
    )


def _nearest(target: TaskInfo, studies: Sequence[StudyRecord]) -> list[StudyRecord]:
    def likeness(task: TaskInfo) -> int:
        return sum(
            bool(getattr(task, f)) and getattr(task, f) == getattr(target, f)
            for f in ("model", "dataset", "optimizer", "domain")
        )

    scored = [(likeness(s.task), s) for s in studies if s.task.name != target.name]
    best = max((score for score, _ in scored), default=0)
    return [s for score, s in scored if score == best and score > 0]


def read_export(path: Path) -> dict[str, Any]:
    """Load a study export file, with a clear error for a missing or broken file."""
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"no such file: {str(path)!r}") from None
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise ConfigError(f"{str(path)!r} is not a JSON study export: {error}") from None
