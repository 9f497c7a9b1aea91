"""The storage backends every store test runs against: SQLite, and PostgreSQL when reachable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "LRBENCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_reason() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as error:
        return f"no PostgreSQL server at {POSTGRES_URL}: {str(error.orig).splitlines()[0]}"
    return None


_SKIP_POSTGRES = _postgres_reason()


def reset_postgres() -> None:
    """Drop LRBench++'s tables so each test starts from an empty database."""
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        for table in (
            "lrb_metric_point",
            "lrb_trial",
            "lrb_study",
            "lrb_task",
            "lrb_recipe",
            "alembic_version",
        ):
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lrbench.db'}"
        return
    if _SKIP_POSTGRES:
        pytest.skip(_SKIP_POSTGRES)
    reset_postgres()
    yield POSTGRES_URL
    reset_postgres()
