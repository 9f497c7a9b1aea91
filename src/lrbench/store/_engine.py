"""The engine and the schema: URLs, connections, revision checks and migrations."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from lrbench._env import seconds_from_env
from lrbench.exceptions import (
    ConfigError,
    DatabaseUnavailable,
    MissingDependencyError,
    StorageError,
)
from lrbench.store._models import Base
from lrbench.store._retry import is_transient

__all__ = [
    "DEFAULT_URL",
    "connect_error",
    "connect_timeout",
    "create_schema",
    "has_tables",
    "json_text",
    "make_engine",
    "missing_tables",
    "parse_url",
    "refuse_directory",
    "refuse_foreign",
    "refuse_revision",
    "resolve_url",
    "schema_revisions",
    "upgrade",
]

DEFAULT_URL = "sqlite:///lrbench.db"
_LOCK_KEY = 0x4C524231  # "LRB1": the advisory lock of schema changes
_URL_HINT = "e.g. sqlite:///lrbench.db or postgresql+psycopg://user@host:5432/dbname"


def resolve_url(url: str | None = None) -> str:
    """The database URL: the argument, else `$LRBENCH_DB`, else `sqlite:///lrbench.db`."""
    return url or os.environ.get("LRBENCH_DB") or DEFAULT_URL


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def connect_timeout() -> float:
    """Seconds to wait for a database server to answer: `$LRBENCH_CONNECT_TIMEOUT`, else 5.

    Raises:
        ConfigError: the variable is not a positive number.
    """
    return seconds_from_env("LRBENCH_CONNECT_TIMEOUT", 5.0)


def parse_url(url: str) -> URL:
    """The parsed URL, `postgres://` and `postgresql://` meaning psycopg.

    Raises:
        ConfigError: naming what is wrong (the form, or the port).
    """
    try:
        parsed = make_url(url)
        port = parsed.port
    except ArgumentError:
        raise ConfigError(f"`--db` is not a database URL: {url!r} ({_URL_HINT})") from None
    except ValueError:
        raise ConfigError(
            f"`--db` {url!r} has a port that is not a number ({_URL_HINT})"
        ) from None
    if port is not None and not 0 < port < 65536:
        raise ConfigError(f"`--db` {url!r} has port {port}, outside 1..65535 ({_URL_HINT})")
    if parsed.drivername in ("postgresql", "postgres"):  # the driver we support and install
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def json_text(value: Any) -> str:
    """JSON as every database stores it: a NaN or infinite number becomes the string "NaN",
    "Infinity" or "-Infinity" (PostgreSQL refuses those tokens; SQLite would keep JSON that
    other readers refuse)."""
    return json.dumps(_finite(value), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def make_engine(url: str) -> Engine:
    """An engine for `url` (SQLite in WAL mode with a busy timeout; PostgreSQL via psycopg,
    giving up on a server that does not answer within `connect_timeout()`)."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(
                parsed, connect_args={"timeout": 60}, json_serializer=json_text
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if parsed.get_backend_name() == "postgresql":
            timeout = max(1, round(connect_timeout()))  # libpq takes whole seconds
            return sa.create_engine(
                parsed,
                pool_pre_ping=True,
                connect_args={"connect_timeout": timeout},
                json_serializer=json_text,
            )
        return sa.create_engine(parsed, pool_pre_ping=True, json_serializer=json_text)
    except NoSuchModuleError:
        raise ConfigError(f"unsupported database URL {url!r} ({_URL_HINT})") from None
    except ImportError as error:
        raise MissingDependencyError(str(error.name or "psycopg"), "postgres") from None


def refuse_directory(url: str) -> None:
    """Refuse a SQLite URL that names a directory (SQLite's own error is "unable to open").

    Raises:
        StorageError: it does.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if path.is_dir():
            raise StorageError(
                f"{path} is a directory, not a database file: give --db a file path, e.g. "
                f"sqlite:///{path / 'lrbench.db'}"
            )


def missing_sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names where it does not exist (None for other databases, an
    in-memory one, or a file that exists): opening it would create an empty database."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def connect_error(error: Exception, display_url: str) -> StorageError:
    """One line saying the database cannot be reached, and why: a `DatabaseUnavailable`
    where running the transaction again may pass (`_retry.is_transient`)."""
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
    transient = isinstance(error, DBAPIError) and is_transient(error)
    kind = DatabaseUnavailable if transient else StorageError
    return kind(f"cannot connect to the database {display_url}: {reason}")


@functools.cache
def _head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("lrbench.store") / "migrations"))
    return config


def schema_revisions(engine: Engine, display_url: str) -> tuple[str | None, str | None]:
    """(the database's schema revision, the newest this code knows)."""
    head = _head_revision()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as error:  # unreachable, refused, or not a database at all
        raise connect_error(error, display_url) from None
    return current, head


def has_tables(engine: Engine) -> bool:
    """True if the database holds any LRBench++ table."""
    return bool(_table_names(engine) & set(Base.metadata.tables))


def refuse_revision(display_url: str, current: str | None, head: str | None) -> StorageError:
    """The error for a database of another schema revision, naming the command that fixes it."""
    script = ScriptDirectory.from_config(_alembic_config())
    known = {revision.revision for revision in script.walk_revisions()}
    if current is not None and current not in known:
        return StorageError(
            f"the database {display_url} was written by a newer LRBench++ (schema "
            f"revision {current}; this version knows up to {head}): upgrade LRBench++ (`git pull` "
            "and `pip install -e .` in its clone)"
        )
    return StorageError(
        f"the database {display_url} has schema revision {current or 'none'}, older "
        f"than this LRBench++ ({head}): run `lrbench db upgrade --db {display_url}`"
    )


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates a database at a time (workers starting together on a new
    database): a PostgreSQL advisory lock, or a file lock beside a SQLite file."""
    if engine.url.get_backend_name() == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    import fcntl  # POSIX; SQLite files are local to one machine

    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_schema(engine: Engine, display_url: str) -> str | None:
    """Create the schema in an empty database (unless another process just did); the
    revision it has then.

    Raises:
        StorageError: the database holds another application's tables.
    """
    with _migration_lock(engine):
        current, _ = schema_revisions(engine, display_url)
        if current is None:
            refuse_foreign(engine, display_url)
            if not has_tables(engine):
                _migrate(engine)
                current, _ = schema_revisions(engine, display_url)
    return current


def refuse_foreign(engine: Engine, display_url: str) -> None:
    """Refuse a database without an LRBench++ schema that holds another application's tables.

    Raises:
        StorageError: naming some of those tables.
    """
    foreign = sorted(_table_names(engine) - set(Base.metadata.tables))
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise StorageError(
            f"the database {display_url} holds tables that are not LRBench++'s ({shown}): "
            "give --db a new database or an LRBench++ one"
        )


def missing_tables(engine: Engine) -> list[str]:
    """LRBench++ tables a database at our schema revision lacks (dropped or damaged)."""
    return sorted(set(Base.metadata.tables) - _table_names(engine))


def _table_names(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def upgrade(engine: Engine, display_url: str) -> tuple[str | None, str | None]:
    """Migrate the schema to the newest revision; returns (before, after)."""
    with _migration_lock(engine):
        before, head = schema_revisions(engine, display_url)
        _migrate(engine)
    return before, head


def _migrate(engine: Engine) -> None:
    config = _alembic_config()
    sqlite = engine.url.get_backend_name() == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # SQLite migrations copy tables: a cascade would empty their children
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
